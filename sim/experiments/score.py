"""Scoring a scenario against a real event log: simulate the log's period, compare.

:func:`score` reads the log (or takes an :class:`~sim.logs.EventLog`), sets the scenario's
clock to the log's period, runs it (the shared settings and pool of :mod:`sim.experiments`),
takes each replication's simulated event log and hands both to
:mod:`sim.calibrate.score`.

The period: cases started from the log's first case's day (or ``from_date``) to its last
event's day (or the day before ``until``), and no later than the log's last case start: a
log extracted by case holds no case started after that day, though its events go on, so
simulated arrivals stop there too. The simulation always starts on the day of the
log's first case, so with ``from_date`` the system is not empty when the compared cases
arrive: the days before ``from_date`` are the run's warm-up (``run.warmup_days``) and the
simulated cases that arrived in it are left out, as the real ones started before
``from_date`` are. Both logs are cut at the end of the period's last day.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim import logs
from sim.calibrate import score as measure
from sim.calibrate.view import parse_date
from sim.errors import UsageError
from sim.experiments.run import run
from sim.experiments.settings import resolve
from sim.experiments.sources import load_scenario
from sim.logs import EventLog
from sim.model.scenario import revalidate
from sim.model.schema import Scenario
from sim.results.result import RunResult


@dataclass
class ScoreResult:
    """A scenario scored against a real log (:func:`score`)."""

    scenario: str
    log: str
    period: measure.Period
    from_date: dt.date | None
    decision: list[str]
    term_days: float | None
    result: measure.Score
    run: RunResult = field(repr=False)
    real: measure.Cases = field(repr=False)
    simulated: list[measure.Cases] = field(repr=False)
    unmatched_events: int = 0
    real_events: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def distances(self) -> pd.DataFrame:
        return self.result.distances

    @property
    def kpis(self) -> pd.DataFrame:
        return self.result.kpis

    @property
    def per_replication(self) -> pd.DataFrame:
        return self.result.per_replication

    def activity_frequency(self) -> pd.DataFrame:
        """Events per matched activity: real count, simulated mean per replication."""
        real = self.real.all_events
        r = (real["activity"].value_counts() if real is not None
             else pd.Series(dtype=float))
        sims = [s.events["activity"].value_counts() for s in self.simulated]
        s = (pd.concat(sims, axis=1).fillna(0).mean(axis=1) if sims
             else pd.Series(dtype=float))
        out = pd.DataFrame({"real": r, "simulated": s}).fillna(0.0)
        out.index.name = "activity"
        return out.sort_values(["real", "simulated"], ascending=False)

    def to_json(self) -> dict[str, Any]:
        """The score as JSON-safe values, stable keys: distances, kpis, period, cases,
        scenario, log (and replications, seed, engine, decision, term_days, notes)."""
        def val(x: Any) -> Any:
            if isinstance(x, float) and math.isnan(x):
                return None
            return x

        dist = {r["metric"]: {"label": r["label"], "value": val(r["value"]),
                              "ci95": [val(r["ci_low"]), val(r["ci_high"])],
                              "unit": r["unit"], "meaning": r["meaning"]}
                for r in self.distances.to_dict("records")}
        kp = {r["kpi"]: {"label": r["label"], "unit": r["unit"], "real": val(r["real"]),
                         "simulated": val(r["simulated"]),
                         "ci95": [val(r["ci_low"]), val(r["ci_high"])],
                         "real_in_ci": r["real_in_ci"]}
              for r in self.kpis.to_dict("records")}
        sim_cases = [len(s.table) for s in self.simulated]
        return {
            "scenario": self.scenario, "log": self.log,
            "period": {"start": self.period.start.isoformat(),
                       "end": self.period.end.isoformat(), "days": self.period.days,
                       "last_case_start": self.period.starts_until.isoformat(),
                       "from": self.from_date.isoformat() if self.from_date else None,
                       "simulation_start": self.run.scenario.run.start_date.isoformat(),
                       "warmup_days": self.run.scenario.run.warmup_days},
            "cases": {"real": len(self.real.table),
                      "simulated_mean": (sum(sim_cases) / len(sim_cases)
                                         if sim_cases else None),
                      "real_events": self.real_events,
                      "unmatched_real_events": self.unmatched_events},
            "distances": dist, "kpis": kp,
            "replications": self.run.replications, "seed": self.run.seed,
            "engine": self.run.engine, "decision": list(self.decision),
            "term_days": self.term_days, "notes": list(self.notes),
        }

    def table(self) -> str:
        """The distances and the KPIs as markdown tables (plain text)."""
        def f(x: Any, share: bool = False) -> str:
            if x is None or (isinstance(x, float) and math.isnan(x)):
                return "-"
            return f"{x:.1%}" if share else f"{x:,.2f}"

        lines = [f"{self.scenario} scored against {self.log}: cases started "
                 f"{self.period.start} to {self.period.end}, {self.run.replications} "
                 "replications", "", "| distance | value | 95% CI | unit |",
                 "| --- | ---: | ---: | --- |"]
        for r in self.distances.to_dict("records"):
            lines.append(f"| {r['label']} | {f(r['value'])} | [{f(r['ci_low'])}, "
                         f"{f(r['ci_high'])}] | {r['unit']} |")
        lines += ["", "| KPI | real | simulated | 95% CI | real in CI |",
                  "| --- | ---: | ---: | ---: | --- |"]
        for r in self.kpis.to_dict("records"):
            sh = r["unit"] == "share"
            inside = {True: "yes", False: "no", None: "-"}[r["real_in_ci"]]
            lines.append(f"| {r['label']} ({r['unit']}) | {f(r['real'], sh)} | "
                         f"{f(r['simulated'], sh)} | [{f(r['ci_low'], sh)}, "
                         f"{f(r['ci_high'], sh)}] | {inside} |")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def activity_map(s: Scenario) -> dict[str, str]:
    """Item name -> the event-log activity it stands for (its ``activity`` or its name)."""
    return {name: (it.activity or name) for name, it in s.items.items()}


def label_of(s: Scenario, source: str | Path | Scenario) -> str:
    """The scenario's name, else its file name."""
    if s.scenario.name:
        return s.scenario.name
    return Path(source).name if not isinstance(source, Scenario) else "<scenario>"


def _period(log: EventLog, from_date: dt.date | None,
            until: dt.date | None) -> tuple[dt.date, measure.Period]:
    t = measure.local_times(log.events["timestamp"])
    first = t.groupby(log.events["case"].to_numpy()).min().min().date()
    last = t.max().date()
    end = last if until is None else min(last, until - dt.timedelta(days=1))
    start = first if from_date is None else from_date
    where = log.source
    if from_date is not None and from_date > last:
        raise UsageError(f"--from {from_date}: after the end of {where} (its last event is "
                         f"on {last})")
    if from_date is not None and from_date < first:
        raise UsageError(f"--from {from_date}: before the first case of {where} "
                         f"(started on {first})")
    if until is not None and until <= start:
        raise UsageError(f"--until {until}: not after the period's start ({start}) in {where}")
    last_start = t.groupby(log.events["case"].to_numpy()).min().max().date()
    return first, measure.Period(start, end, min(end, last_start))


def _clocked(s: Scenario, sim_start: dt.date, period: measure.Period,
             log_zone: str, notes: list[str]) -> Scenario:
    """The scenario with its clock on the log's period (warm-up up to the period start)."""
    data = s.model_dump()
    horizon = float((period.end - sim_start).days + 1)
    arrivals = float((period.starts_until - sim_start).days + 1)
    data["run"].update(start_date=sim_start, horizon_days=horizon, arrival_days=arrivals,
                       warmup_days=float((period.start - sim_start).days))
    if s.scenario.time_zone is None:
        try:
            zoneinfo.ZoneInfo(log_zone)
            data["scenario"]["time_zone"] = log_zone
            notes.append(f"the scenario names no time zone: simulated in the log's "
                         f"({log_zone})")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return revalidate(data, s.scenario.name or "<scenario>")


def score(scenario: str | Path | Scenario, log: str | Path | EventLog, *,
          from_date: dt.date | str | None = None, until: dt.date | str | None = None,
          replications: int | None = None, seed: int | None = None,
          engine: str = "vector", workers: int = 1,
          mapping: Mapping[str, Any] | None = None,
          progress: Callable[[int], None] | None = None,
          max_memory: float | None = None) -> ScoreResult:
    """Simulate ``scenario`` over the period of the real ``log`` and score it.

    ``log`` is a path (read with :func:`sim.logs.read` and ``mapping``: case, activity,
    timestamp, resource, start_timestamp, duplicates) or an :class:`EventLog`. The
    scenario's ``[calibration]`` names the decision activities and the legal term; without
    it the decision is the case's end and there is no term (a note says so).
    """
    f, u = parse_date(from_date, "--from"), parse_date(until, "--until")
    s = load_scenario(scenario)
    resolve(s.run, replications=replications, seed=seed, engine=engine, workers=workers)
    real_log = log if isinstance(log, EventLog) else logs.read(log, **dict(mapping or {}))
    notes: list[str] = []
    cal = s.calibration
    decision = list(cal.decision) if cal is not None else []
    term = cal.term_days if cal is not None else None
    if cal is None:
        notes.append("the scenario has no [calibration]: the decision is the case's last "
                     "event (real) / its end (simulated), and there is no legal term")
    elif not decision:
        notes.append("[calibration] names no decision activities: the decision is the "
                     "case's last event (real) / its end (simulated)")
    amap = activity_map(s)
    matched = set(amap.values())
    unmodelled = [d for d in decision if d not in matched]
    if decision and len(unmodelled) == len(decision):
        raise UsageError(f"{label_of(s, scenario)}: calibration.decision: no item stands for "
                         f"any of {', '.join(decision)} (items' activities: "
                         f"{', '.join(sorted(matched))}), so no simulated case is decided")
    acts = real_log.events["activity"].astype(object)
    unmatched = int((~acts.isin(matched)).sum())
    if unmatched:
        kinds = int(acts[~acts.isin(matched)].nunique())
        warnings.warn(f"{real_log.source}: {unmatched:,} of {len(acts):,} events "
                      f"({unmatched / len(acts):.0%}, {kinds} activities) match no "
                      "scenario item's activity: they count only in the all-activities "
                      "n-gram distance", stacklevel=2)
    missing = sorted(matched - set(acts.unique()))
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        warnings.warn(f"{len(missing)} scenario activities never occur in "
                      f"{real_log.source}: {shown}", stacklevel=2)
    absent = [d for d in decision if d not in set(acts.unique())]
    if decision and len(absent) == len(decision):
        raise UsageError(f"{real_log.source}: none of the decision activities "
                         f"({', '.join(decision)}) occurs in the log")
    sim_start, period = _period(real_log, f, u)
    s2 = _clocked(s, sim_start, period, real_log.time_zone, notes)
    result = run(s2, replications=replications, seed=seed, engine=engine, workers=workers,
                 progress=progress, max_memory=max_memory)
    real = measure.real_cases(real_log, decision, matched, period)
    if not len(real.table):
        raise UsageError(f"{real_log.source}: no case started between {period.start} and "
                         f"{period.end}")
    sims = [measure.simulated_cases(result.event_log(replication=rep.replication), amap,
                                    decision, period, period.start)
            for rep in result.reps]
    sc = measure.compare(real, sims, period, term)
    return ScoreResult(label_of(s, scenario), Path(real_log.source).name, period, f,
                       decision, term, sc, result, real, sims, unmatched, len(acts), notes)
