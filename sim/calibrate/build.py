"""``calibrate(log, ...)``: the whole discovery, assembled into a scenario whose every
calibrated value says where it came from (``[assumptions]``: ``CALIBRATED from LOG:
method, n = ..., fit = ...``), plus what the schema could not express."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from sim.calibrate import arrivals as arr
from sim.calibrate import route as rt
from sim.calibrate import stations as st
from sim.calibrate import times as tm
from sim.calibrate.fit import Fit, fit
from sim.calibrate.view import View, parse_date, training_view
from sim.calibrate.withdrawn import withdrawn
from sim.errors import UsageError
from sim.logs.eventlog import EventLog
from sim.model import scenario as scenario_mod
from sim.model.schema import (
    Calibration,
    Dist,
    Item,
    Meta,
    Route,
    Run,
    Scenario,
    Stage,
    Station,
)

#: the attribution of the logs shipped in data/ (data/README.md)
SOURCES = {
    "BPIC15_1": "van Dongen, B.F. (2015). BPI Challenge 2015 Municipality 1. "
                "4TU.ResearchData. https://doi.org/10.4121/uuid:a0addfda-2044-4541-a450-"
                "fdcc9fe16d17",
    "BPIC15_2": "van Dongen, B.F. (2015). BPI Challenge 2015 Municipality 2. "
                "4TU.ResearchData. https://doi.org/10.4121/uuid:63a8435a-077d-4ece-97cd-"
                "2c76d394d99c",
    "Receipt_phase_WABO_CoSeLoG": "Buijs, J.C.A.M. (2014). Receipt phase of an "
                                  "environmental permit application process ('WABO'), "
                                  "CoSeLoG project. 4TU.ResearchData. https://doi.org/"
                                  "10.4121/uuid:a07386a5-7be3-4367-9535-70bc9e77dbe6",
}
DEFAULT_MIN_SHARE = 0.2


@dataclass
class Calibrated:
    """The discovered scenario, what it approximates, and summary figures."""

    scenario: Scenario
    approximations: list[str]
    summary: dict[str, Any] = field(default_factory=dict)

    def toml(self) -> str:
        """The scenario as TOML (fields left at their defaults omitted), number lists
        packed ten to a line; it loads back equal to ``scenario``."""
        data = self.scenario.model_dump(mode="python", exclude_none=True,
                                        exclude_defaults=True)
        return _pack(tomli_w.dumps(data))


_NUMBERS = re.compile(r"\[\n((?: {4}[-+0-9.eEinf]+,\n)+)\]")


def _pack(text: str) -> str:
    def packed(m: re.Match[str]) -> str:
        nums = [x.strip().rstrip(",") for x in m.group(1).splitlines()]
        rows = [", ".join(nums[i:i + 10]) for i in range(0, len(nums), 10)]
        if len(rows) == 1:
            return f"[{rows[0]}]"
        return "[\n" + ",\n".join(f"    {r}" for r in rows) + ",\n]"
    return _NUMBERS.sub(packed, text)


def _cal(log_name: str, method: str, n: int, fit_text: str) -> str:
    return f"CALIBRATED from {log_name}: {method}, n = {n}, fit = {fit_text}"


def _term(log: EventLog, view: View,
          office: Any) -> tuple[float | None, float | None, str, int]:
    """(term in calendar days, in working days, text, cases) from startDate and
    endDatePlanned."""
    c = log.cases
    if not {"startDate", "endDatePlanned"} <= set(c.columns):
        return None, None, ("the log records no planned term (no case attributes "
                            "startDate and endDatePlanned): no statutory limit set"), 0
    c = c[c.index.astype(str).isin(set(view.cases.index))]
    s = pd.to_datetime(c["startDate"], utc=True, errors="coerce").dt.tz_convert(view.zone)
    e = pd.to_datetime(c["endDatePlanned"], utc=True, errors="coerce") \
        .dt.tz_convert(view.zone)
    ok = (s.notna() & e.notna() & (e > s)).to_numpy()
    if not ok.any():
        return None, None, ("startDate/endDatePlanned give no positive planned term: no "
                            "statutory limit set"), 0
    s, e = s[ok], e[ok]
    med = float(((e - s) / pd.Timedelta(days=1)).median())
    mask = [d in office.weekdays for d in range(1, 8)]
    work = np.busday_count(s.dt.tz_localize(None).to_numpy().astype("datetime64[D]"),
                           e.dt.tz_localize(None).to_numpy().astype("datetime64[D]"),
                           weekmask=mask, holidays=list(office.closed_dates))
    wd = float(np.median(work))
    text = (f"median of endDatePlanned - startDate over the {int(ok.sum())} training cases "
            f"that record both: {med:g} calendar days; the median of the same terms in "
            f"working days of the office calendar: {wd:g}")
    return med, wd, text, int(ok.sum())


def calibrate(log: EventLog, *, train_until: dt.date | str | None = None,
              decision: Sequence[str] = (), rework: tuple[str, str] | None = None,
              min_share: float = DEFAULT_MIN_SHARE, name: str | None = None,
              log_name: str | None = None, replications: int = 10,
              seed: int = 2015) -> Calibrated:
    """Discover a complete, documented scenario from an event log (docs/calibrate.md)."""
    if not 0.0 < float(min_share) <= 1.0:
        raise UsageError(f"min_share must be a number in (0, 1] (got {min_share!r})")
    until = parse_date(train_until)
    log_name = log_name or log.source
    stem = log_name.split(".")[0]
    view = training_view(log, until)
    decision = list(decision)
    rt.check_activities(view, decision, "--decision")
    approx: list[str] = list(view.notes)
    A: dict[str, str] = {}
    # calendars and arrivals
    staffed = view.events["resource"].notna().to_numpy()
    # staff's events make the calendar (an applicant's answer may come at any hour)
    office_events = view.events[staffed] if staffed.sum() >= 2 else view.events
    pre = arr.observe_calendar(view, office_events, [])
    closed, closed_text = arr.closed_dates(view, list(pre.calendar.weekdays), office_events)
    office = arr.observe_calendar(view, office_events, closed)
    office.calendar.note = f"{office.text}; {closed_text}"
    if until is not None and view.log_end >= until:
        approx.append(f"closed dates are known in the training window only: from "
                      f"{until} to the horizon every working weekday is open")
    if "gaps in the log" in closed_text:
        approx.append(f"calendars.office: {closed_text}")
    A["calendars.office"] = _cal(log_name, f"office calendar from every event: "
                                 f"{office.text}; {closed_text}", office.n_events,
                                 "observed, no fit")
    arrivals = arr.arrivals(view, office.calendar)
    cc = arrivals.case_class
    A["classes.applications.rate"] = _cal(log_name, arrivals.text, arrivals.n, "Poisson MLE")
    A["classes.applications.weekday_profile"] = _cal(log_name, arrivals.profile_text,
                                                     arrivals.n, "relative frequencies")
    A["classes.applications.hour_profile"] = A["classes.applications.weekday_profile"]
    A["classes.applications.online_share"] = (
        "ASSUMPTION: an event log records the office's own steps, not the applicant's "
        "visits: cases and items are online (no visit counted), so the visits KPI is 0")
    # loops, items, route
    n_cases = view.n_cases
    share = view.events.groupby("activity")["case"].nunique() / n_cases
    loop = None
    if rework is not None:
        rt.check_activities(view, list(rework), "--rework")
        loop = rt.rework_loop(view, rework[0], rework[1],
                              set(share.index[share >= min_share]) - set(rework))
    disc = rt.discover(view, min_share=min_share, decision=decision, loop=loop)
    if loop is not None and loop.item_activity not in disc.items.values():
        loop = None
        approx.append("the rework request follows no item: no deficiency modelled")
    # stations
    pools, station_of = st.pools(view, disc.items)
    station_cals: dict[str, Any] = {}
    calendars = {"office": office.calendar}
    stations: dict[str, Station] = {}
    res_events = view.events
    for p in pools:
        mine = res_events[res_events["resource"].astype(str).isin(set(p.resources))] \
            if p.resources else res_events.iloc[:0]
        oc = arr.observe_calendar(view, mine, closed, fallback=office.calendar)
        cname = f"{p.name}_hours"
        calendars[cname] = oc.calendar
        station_cals[p.name] = tm.work_calendar(view, p.name, oc.calendar)
        stations[p.name] = Station(servers=p.servers, calendar=cname, note=p.text)
        A[f"stations.{p.name}.servers"] = _cal(log_name, p.text, p.events, "counted, no fit")
        A[f"calendars.{cname}"] = _cal(log_name, f"the station's resources' events: {oc.text}"
                                       f"; closed dates as the office", oc.n_events,
                                       "observed, no fit")
    stage_of: dict[str, int] = {}
    parallel: set[int] = set()
    for k, members in enumerate(disc.stages):
        for m in members:
            stage_of[m] = k
        if len(members) > 1:
            parallel.add(k)
    smp = tm.samples(view, disc.items, stage_of, parallel, station_of, station_cals,
                     {p.name: p.servers for p in pools})
    items: dict[str, Item] = {}
    fits: dict[str, Fit] = {}
    repeated: list[str] = []
    pooled_items: list[str] = []
    for name_i in disc.order:
        act = disc.items[name_i]
        x = smp.service[name_i]
        how = smp.method
        if len(x) == 0:
            pooled = np.concatenate([smp.service[j] for j in disc.order
                                     if station_of[j] == station_of[name_i]])
            if len(pooled) == 0:
                pooled = np.concatenate([smp.service[j] for j in disc.order])
            x = pooled if len(pooled) else np.array([1.0])
            how += "; no sample of its own: the station's (or all items') samples pooled"
            pooled_items.append(name_i)
        f = fit(x, "hours", positive=True)
        fits[name_i] = f
        A[f"items.{name_i}.service"] = _cal(log_name, how, f.n, f.text)
        pres = disc.presence[name_i]
        skip = float(f"{max(0.0, 1.0 - pres):.4g}")
        A[f"items.{name_i}.skip_probability"] = _cal(
            log_name, f"1 - share of {disc.reference} holding the activity {act!r}",
            disc.n_reference, f"proportion {pres:.3f}")
        d = smp.delay[name_i]
        delay: Dist | None = None
        if len(d) and float(np.max(d)) > 0:
            fd = fit(d, "days")
            delay = fd.dist
            A[f"items.{name_i}.delay"] = _cal(
                log_name, "calendar time from the case's previous event (for a parallel "
                "stage: the last event before the stage) to the first completion, minus the "
                "service estimate", fd.n, fd.text)
        item = Item(station=station_of[name_i], service=f.dist, skip_probability=skip,
                    delay=delay, activity=act, department=station_of[name_i], online=True)
        if name_i in disc.repeats:
            p_rep, gaps, occ = disc.repeats[name_i]
            if len(gaps):
                fr = fit(gaps, "days")
                item.materials = 1
                item.deficiency_per_material = float(f"{p_rep:.4g}")
                item.fix = fr.dist
                A[f"items.{name_i}.deficiency_per_material"] = _cal(
                    log_name, "the activity repeats within a case: (occurrences - cases "
                    "holding it) / occurrences", occ, f"proportion {p_rep:.3f}")
                A[f"items.{name_i}.fix"] = _cal(log_name, "calendar time between "
                                                "consecutive occurrences in a case",
                                                fr.n, fr.text)
                repeated.append(f"{name_i} {p_rep:.0%}")
        items[name_i] = item
    if repeated:
        approx.append(f"{len(repeated)} items repeat within cases (share of occurrences "
                      f"that are repeats: {', '.join(repeated)}): each repeat is a rework "
                      "loop of the item itself, the gap between repeats its fix time")
    if pooled_items:
        approx.append(f"{len(pooled_items)} items have no event with an estimable service "
                      f"({', '.join(pooled_items)}): their station's samples pooled")
    summary: dict[str, Any] = {}
    if loop is not None:
        li = next(n for n, a in disc.items.items() if a == loop.item_activity)
        holding = set(view.events.loc[view.events["activity"] == loop.item_activity, "case"])
        reqs = int(((view.events["activity"] == loop.request)
                    & view.events["case"].isin(holding)).sum())
        subs = len(holding) + reqs
        q = reqs / max(1, subs)
        q = float(f"{min(q, 0.999):.4g}")
        ff = fit(loop.fix_hours, "days") if len(loop.fix_hours) else None
        it = items[li]
        it.materials = 1
        it.deficiency_per_material = q
        A[f"items.{li}.deficiency_per_material"] = _cal(
            log_name, f"requests {loop.request!r} per submission of {li!r} (requests R in "
            f"the H cases holding it: q = R / (H + R), the geometric loop's mean; "
            f"{loop.cases_with} of {n_cases} cases hold a request; {loop.before_share:.0%} "
            f"of requests have it as the nearest item before)", subs,
            f"proportion {q:.3f}")
        if ff is not None:
            it.fix = ff.dist
            A[f"items.{li}.fix"] = _cal(log_name, f"calendar time from {loop.request!r} to "
                                        f"the next {loop.answer!r}", ff.n, ff.text)
            summary["fix_median_days"] = ff.median_hours / 24
        unanswered = loop.requests - loop.answered
        shown = [a for a in loop.folded
                 if a in (loop.request, loop.answer) or share.get(a, 0.0) >= min_share]
        rest = len(loop.folded) - len(shown)
        approx.append(f"rework: {loop.request!r} -> {loop.answer!r} is the deficiency loop "
                      f"of {li!r} (materials = 1, q = {q:.3f}); folded into it: "
                      f"{', '.join(shown)}{f' and {rest} rarer activities' if rest else ''}; "
                      f"{unanswered} requests have no answer "
                      "(left out of the fix time); in the model the item is served again "
                      "after the answer")
        summary["deficiency"] = q
        summary["request_case_share"] = loop.cases_with / n_cases
    # the route
    stages = []
    for k, members in enumerate(disc.stages):
        mode = "parallel" if len(members) > 1 else "sequential"
        stages.append(Stage(name=f"s{k + 1:02d}_{members[0]}"[:60], mode=mode,
                            items=members))
        if len(members) > 1:
            ev = [disc.parallel_evidence.get(pair) for pair in itertools.pairwise(members)]
            A[f"routes.main.stages.{k}.mode"] = _cal(
                log_name, f"consecutive items seen in both strict orders, each in >= "
                f"{rt.PARALLEL_SHARE:.0%} of the cases holding both (cases, a<b, b<a): "
                f"{ev}", ev[0][0] if ev and ev[0] else 0, "counted, no fit")
    term_days, term_wd, term_text, term_n = _term(log, view, office.calendar)
    route = Route(stages=stages, limit_workdays=float(f"{term_wd:.4g}") if term_wd else None,
                  note=term_text)
    A["routes.main"] = _cal(log_name, f"stages in the order of each item's median relative "
                            f"position of its first occurrence; {len(stages)} stages, "
                            f"{len(parallel)} parallel", n_cases, "ordered, no fit")
    if term_wd:
        A["routes.main.limit_workdays"] = _cal(log_name, term_text, term_n, "median")
        A["calibration.term_days"] = A["routes.main.limit_workdays"]
    else:
        approx.append(term_text)
    approx += [
        f"{len(disc.left_out)} activities in < {min_share:g} of the cases were left out "
        f"({disc.left_out_events:.1%} of the events); their time falls into the next "
        "item's delay",
        "skips are independent per item (the schema has no correlated skips); either/or "
        "paths and rare paths are not modelled, each item keeps its presence share",
        "one route in one order: cases that do items in another order follow the "
        "majority order",
        "each station's calendar is one span of hours (breaks inside it are not detected); "
        "closed dates come from the office's events",
        f"servers count the distinct resources of a pool active in the {view.window_days}-"
        "day training window, as if all worked full time throughout",
        "delays include waiting behind the same resource; the simulated queue adds its own",
    ]
    classes = {"applications": cc}
    routes = {"main": route}
    wd = withdrawn(view, decision, route, items, cc)
    if wd is not None:
        assert cc.rate is not None  # a calibrated class has a rate
        decided_rate = float(f"{cc.rate * (1 - wd.share):.6g}")
        classes = {"applications": cc.model_copy(update={"rate": decided_rate}),
                   "withdrawn": wd.case_class}
        routes["withdrawn"] = wd.route
        A["classes.applications.rate"] = _cal(
            log_name, f"{arrivals.text}, times the {1 - wd.share:.1%} of the arrivals that "
            f"reach a decision ({wd.text})", arrivals.n, "Poisson MLE, split by a proportion")
        A["classes.withdrawn.rate"] = _cal(log_name, wd.text, wd.mature,
                                           f"proportion {wd.share:.3f}")
        A["routes.withdrawn"] = _cal(log_name, wd.route.note, wd.undecided,
                                     "proportions, no fit")
        approx.append(f"cases that end without a decision are a second class "
                      f"(withdrawn, {wd.share:.1%} of the arrivals) on the main route without "
                      "its decision items; which cases end so is drawn at arrival, not "
                      "from how the case went")
        summary["withdrawn_share"] = wd.share
    scen = Scenario(
        scenario=Meta(name=name or f"calibrated-{stem}",
                      description=f"Discovered by govsim calibrate from {log_name}: "
                                  f"{n_cases} training cases, {len(view.events)} events.",
                      sources=[SOURCES.get(stem, log_name)], time_zone=view.zone),
        run=Run(start_date=view.start_date, horizon_days=float(view.horizon_days),
                arrival_days=float(view.window_days), replications=replications, seed=seed,
                calendar="office"),
        calendars=calendars, classes=classes, stations=stations, items=items,
        routes=routes,
        calibration=Calibration(
            log=log_name, cases=n_cases, events=len(view.events), train_from=view.train_from,
            train_until=until, log_end=view.log_end, decision=decision,
            term_days=float(f"{term_days:.4g}") if term_days else None,
            method=f"service {smp.method}; arrivals Poisson per working day with weekday "
                   f"and hour profiles; fits by maximum likelihood and AIC, KS as goodness "
                   f"of fit", note=f"{len(approx)} approximations, listed by govsim "
                   "calibrate"),
        assumptions=A)
    scen = scenario_mod.revalidate(scen, log_name)
    summary.update({
        "cases": n_cases, "events": len(view.events), "items": len(items),
        "stages": len(stages), "parallel_stages": len(parallel), "stations": len(stations),
        "servers": sum(s.servers for s in stations.values()), "rate_per_workday":
        arrivals.rate, "workdays": arrivals.workdays, "term_days": term_days,
        "term_workdays": term_wd, "left_out": len(disc.left_out),
        "date_only_first_events": arrivals.date_only,
        "closed_dates": len(closed)})
    if "deficiency" not in summary:
        summary["deficiency"] = None
    if not math.isfinite(arrivals.rate):
        raise UsageError("no arrival rate")
    return Calibrated(scen, approx, summary)
