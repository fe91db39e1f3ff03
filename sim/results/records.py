"""What an engine returns for one replication, and the per-case and per-station tables.

Engines fill a :class:`RepResult` (raw arrays, documented in ``docs/model.md``); the
functions here derive the documented tables from it, the same way for every engine:
:func:`case_table` (one row per case) and :func:`station_table` (one row per station).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.inputs import Inputs
from sim.model.assembly import CHANNELS, Model
from sim.model.order import canonical_order
from sim.results.stages import StageSums as StageSums
from sim.results.stages import max_route_stages as max_route_stages
from sim.results.stages import stage_parts as stage_parts

OPEN, COMPLETED, ABANDONED = 0, 1, 2
STATUS = ("open", "completed", "abandoned")
SUBMISSION, AUDIT, POOL = 0, 1, 2

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass
class Visits:
    """One row per queue visit (submission, audit or pool slot)."""

    case: I64
    item: I64
    attempt: I64
    station: I64
    kind: I64
    joined: F64
    start: F64
    end: F64
    reneged: NDArray[np.bool_]

    @classmethod
    def empty(cls) -> Visits:
        z = np.zeros(0, dtype=np.int64)
        f = np.zeros(0)
        return cls(z, z, z, z, z, f, f, f, np.zeros(0, dtype=np.bool_))

    def sorted(self) -> Visits:
        """Rows in the canonical order (case, kind, item, attempt); computed once."""
        done: Visits | None = self if "_is_sorted" in vars(self) else vars(self).get("_sorted")
        if done is None:
            o = self._order()
            done = Visits(*(getattr(self, f)[o] for f in self.__dataclass_fields__))
            done.__dict__["_is_sorted"] = True  # not a cycle: freed once dropped, no GC pass
            self.__dict__["_sorted"] = done
        return done

    def _order(self) -> I64:
        return canonical_order(self.case, self.kind, self.item, self.attempt)

    def frame(self, model: Model) -> pd.DataFrame:
        names = np.asarray(model.station_names, dtype=object)
        items = np.asarray((*model.item_names, ""), dtype=object)
        return pd.DataFrame({
            "case": self.case, "kind": np.asarray(("submission", "audit", "pool"),
                                                  dtype=object)[self.kind],
            "item": items[self.item], "attempt": self.attempt, "station": names[self.station],
            "joined": self.joined, "start": self.start, "end": self.end,
            "wait_hours": self.start - self.joined, "reneged": self.reneged,
        })


@dataclass
class RepResult:
    """Raw output of one replication (see docs/model.md, "Records")."""

    replication: int
    status: I64
    end: F64
    visits_count: I64
    rework: I64
    supplements: I64
    t_service: F64
    t_queue: F64
    t_applicant: F64
    visits: Visits | None = None
    #: with ``stages``: (n, P, 3) the critical-path triple (service, queue, applicant
    #: hours) at the end of each route stage ``p`` of the case (NaN: not ended)
    t_stages: F64 | None = None


CASE_COLUMNS: dict[str, str] = {
    "replication": "replication number",
    "case": "index of the case in arrival order within the replication",
    "class": "case class",
    "channel": "window, online or proxy",
    "arrival": "arrival time (hours since the epoch)",
    "completion": "completion or abandonment time (hours since the epoch; NaN while open)",
    "status": "completed, abandoned, or open at the horizon",
    "warmup": "arrived during the warm-up (left out of KPIs)",
    "lead_hours": "completion - arrival in calendar hours",
    "lead_days": "lead time in calendar days (what the World Bank counts)",
    "lead_workdays": "lead time in working days of the reporting calendar (what the "
                     "120-working-day target counts)",
    "limit_workdays": "statutory limit of the case's route",
    "within_limit": "lead_workdays <= limit_workdays (the whole lead time)",
    "gov_workdays": "government time (service + queue + government lag on the critical path) "
                    "in working days: lead_workdays x (service_hours + queue_hours) / "
                    "lead_hours, the government share of the case's working days",
    "within_limit_government": "gov_workdays <= limit_workdays (government time only)",
    "visits": "in-person submissions",
    "rework_rounds": "submissions found deficient and sent back",
    "supplements": "deficiencies fixed in parallel under conditional acceptance",
    "service_hours": "calendar hours in service on the critical path (government work)",
    "queue_hours": "calendar hours waiting in queues on the critical path",
    "applicant_hours": "calendar hours with the applicant (preparing, fixing) on the critical path",
    "audits": "audits after completion",
    "revoked": "approvals revoked by an audit",
}


#: the columns a case table adds when the scenario has a ``[costs]`` section
ATTR = "attr."  #: the case table's column of case attribute NAME is ATTR + NAME
PATH = "path."  #: the case table's column of the branch taken at choice stage NAME
COST_COLUMNS: dict[str, str] = {
    "gov_cost": "staff cost of every service the case began (submissions and audits): "
                "working hours of service x the station's cost per hour",
    "applicant_cost": "in-person visits x cost per visit + calendar days of applicant time "
                      "on the critical path x cost per day + the fee and intermediary cost "
                      "of every item the case submitted",
}


def visit_costs(model: Model, v: Visits, service: np.ndarray,
                audit_service: np.ndarray) -> tuple[F64, F64]:
    """Per visit: the government cost of its service (its drawn working hours x its
    station's cost per hour; 0 if it never began) and what it makes the applicant pay in
    fees and intermediary costs (an item's first submission: each item once)."""
    sub = v.kind == SUBMISSION
    began = np.isfinite(v.start)
    hours = np.zeros(len(v.case))
    _, J, K = service.shape
    # flat indices: one gather instead of three-index fancy indexing, but only on arrays
    # laid out whole (np.take of a broadcast view would copy all of it first)
    m = sub & began
    hours[m] = (np.take(service, (v.case[m] * J + v.item[m]) * K + v.attempt[m])
                if service.flags.c_contiguous else service[v.case[m], v.item[m], v.attempt[m]])
    m = (v.kind == AUDIT) & began
    hours[m] = (np.take(audit_service, v.case[m] * J + v.item[m])
                if audit_service.flags.c_contiguous else audit_service[v.case[m], v.item[m]])
    first = sub & (v.attempt == 0)
    per_item = model.item_fee + model.item_intermediary
    paid = np.where(first, per_item[np.where(first, v.item, 0)], 0.0) if len(per_item) \
        else np.zeros(len(v.case))
    return hours * model.station_cost_per_hour[v.station], paid


def applicant_costs(model: Model, res: RepResult, paid: F64) -> F64:
    """Every case's applicant cost from its records and the fees it ``paid``."""
    return np.asarray(model.applicant_per_visit * res.visits_count.astype(np.float64)
                      + model.applicant_per_day * (res.t_applicant / 24.0) + paid,
                      dtype=np.float64)


def case_costs(model: Model, inp: Inputs, res: RepResult) -> tuple[F64, F64]:
    """Government and applicant cost of every case (docs/model.md, "Costs").

    Computed from the visit records (which services began, at which station, which items
    were submitted) and the case records (visits, applicant time); a service's working
    hours are its drawn duration ``inputs.service`` (audits ``inputs.audit_service``),
    exactly what the engine served (:func:`visit_costs`). Rows are summed in the
    canonical visit order, so both engines give the same sums.
    """
    if res.visits is None:
        raise ValueError("costs need visit records (record_visits=True)")
    v = res.visits.sorted()
    gov_v, paid_v = visit_costs(model, v, inp.service, inp.audit_service)
    gov = np.bincount(v.case, weights=gov_v, minlength=inp.n).astype(np.float64)
    paid = np.bincount(v.case, weights=paid_v, minlength=inp.n).astype(np.float64)
    return gov, applicant_costs(model, res, paid)


def case_table(model: Model, inp: Inputs, res: RepResult) -> pd.DataFrame:
    """One row per case, with the columns of :data:`CASE_COLUMNS` (and
    :data:`COST_COLUMNS` when the scenario has costs)."""
    table = case_frame(model, res, inp.arrival, inp.cls, inp.channel,
                       inp.audit.sum(axis=1), inp.revoked.sum(axis=1))
    if model.has_costs:
        table["gov_cost"], table["applicant_cost"] = case_costs(model, inp, res)
    return add_attributes(model, table, inp.attrs)


def case_frame(model: Model, res: RepResult, arrival: F64, cls: I64, channel: I64,
               audits: NDArray[np.integer], revoked: NDArray[np.integer],
               first: int = 0) -> pd.DataFrame:
    """The rows of :func:`case_table` for cases ``first ..`` (``res`` and the arrays hold
    just those cases): what a streamed run writes a slice of cases at a time, with each
    case's audits and revocations counted as its inputs were drawn (the case attributes'
    columns are added by :func:`add_attributes`)."""
    rep = model.report
    n = int(arrival.shape[0])
    done = res.status != OPEN
    end = np.where(done, res.end, np.nan)
    lead = end - arrival
    wd = np.full(n, np.nan)
    if done.any():
        wd[done] = np.asarray(rep.workdays(arrival[done], end[done]))
    limit = model.route_limit_workdays[model.class_route[cls]]
    completed = res.status == COMPLETED
    with np.errstate(invalid="ignore", divide="ignore"):
        gov = np.where(lead > 0, wd * (res.t_service + res.t_queue) / lead, 0.0)
    gov = np.where(done, gov, np.nan)
    return pd.DataFrame({
        "replication": np.full(n, res.replication),
        "case": np.arange(first, first + n),
        "class": np.asarray(model.class_names, dtype=object)[cls],
        "channel": np.asarray(CHANNELS, dtype=object)[channel],
        "arrival": arrival,
        "completion": end,
        "status": np.asarray(STATUS, dtype=object)[res.status],
        "warmup": arrival < model.warmup,
        "lead_hours": lead,
        "lead_days": lead / 24.0,
        "lead_workdays": wd,
        "limit_workdays": limit,
        "within_limit": completed & (wd <= limit),
        "gov_workdays": gov,
        "within_limit_government": completed & (gov <= limit),
        "visits": res.visits_count,
        "rework_rounds": res.rework,
        "supplements": res.supplements,
        "service_hours": res.t_service,
        "queue_hours": res.t_queue,
        "applicant_hours": res.t_applicant,
        "audits": (audits * completed).astype(np.int64),
        "revoked": (revoked * completed).astype(np.int64),
    })


def add_attributes(model: Model, frame: pd.DataFrame, attrs: F64 | None) -> pd.DataFrame:
    """The case attributes' columns ``attr.NAME``, after the others (NaN where missing),
    then each choice stage's ``path.STAGE``: the branch the case took (NaN: none)."""
    am, n = model.attributes, len(frame)
    have = attrs if attrs is not None and attrs.shape[0] == n else None
    for a, name in enumerate(am.names if am is not None else ()):
        frame[ATTR + name] = am.label(a, have) if (  # type: ignore[union-attr]
            have is not None) else np.full(n, np.nan)
    n_attr = am.n if am is not None else 0
    for p, name in enumerate(model.path_names):
        col = np.full(n, np.nan, dtype=object)
        if have is not None:
            x = have[:, n_attr + p]
            ok = ~np.isnan(x)
            col[ok] = np.asarray(model.path_labels[p], dtype=object)[x[ok].astype(np.intp)]
        frame[PATH + name] = col
    return frame


ITEM_COLUMNS: dict[str, str] = {
    "item": "approval item",
    "limit_workdays": "the item's statutory limit (NaN when it has none)",
    "decisions": "submissions of the item decided (service and any government lag ended) "
                 "that joined its station's queue in the measurement window",
    "decision_workdays": "mean working days of the station's calendar from a submission to "
                         "its decision (queue + service + government lag)",
    "within_limit_share": "share of those decisions made within the item's limit",
    "limit_hours": "the item's limit in calendar hours (NaN when it has none)",
    "decision_hours": "mean calendar hours from a submission to its decision",
    "within_limit_hours_share": "share of those decisions made within limit_hours",
}


def item_table(model: Model, inp: Inputs, res: RepResult) -> pd.DataFrame:
    """Per item: how long each submission took to be decided, and the share within the
    item's statutory limit (docs/model.md, "Statutory limits")."""
    v = res.visits
    if v is None:
        raise ValueError("item figures need visit records (record_visits=True)")
    sums = ItemSums(model)
    sums.add(v, inp.lag)
    return sums.table()


class ItemSums:
    """The sums :func:`item_table` is made of, added up one batch of visits at a time (a
    streamed run adds each chunk's finished visits): counts and sums over submissions, so
    the table does not depend on the batches."""

    def __init__(self, model: Model) -> None:
        self.model = model
        J = model.n_items
        self.n = np.zeros(J, dtype=np.int64)
        self.work = np.zeros(J)
        self.hours = np.zeros(J)
        self.within = np.zeros(J, dtype=np.int64)
        self.within_h = np.zeros(J, dtype=np.int64)

    def add(self, v: Visits, lag: np.ndarray) -> None:
        """Add a batch of final visits; ``lag``: the drawn government lags (n, J, K) of
        (at least) their cases."""
        model = self.model
        t0, t1 = model.window
        m = (v.kind == SUBMISSION) & np.isfinite(v.start) & np.isfinite(v.end) & (
            v.joined >= t0) & (v.joined < t1)
        case, item, attempt = v.case[m], v.item[m], v.attempt[m]
        joined, end = v.joined[m], v.end[m]
        lg = np.asarray(lag[case, item, attempt], dtype=np.float64) if case.size else end * 0
        J = model.n_items
        lim, lim_h = np.asarray(model.item_limit_workdays), np.asarray(model.item_limit_hours)
        cal_of = [model.calendar_of(int(model.item_station[j])) for j in range(J)]
        # one pass per calendar, over the submissions of every item its stations keep
        for cal in {id(c): c for c in cal_of}.values():
            mj = np.asarray([c is cal for c in cal_of])[item]  # a lookup, not np.isin
            if not mj.any():
                continue
            j = item[mj]
            w_end = np.asarray(cal.to_work(end[mj])) + lg[mj]
            work = (w_end - np.asarray(cal.to_work(joined[mj]))) / cal.hours_per_day
            # the decision: the service end, or after the lag the end of its working hours
            hours = np.where(lg[mj] > 0, np.asarray(cal.to_abs(w_end)), end[mj]) - joined[mj]
            self.n += np.bincount(j, minlength=J)
            self.work += np.bincount(j, weights=work, minlength=J)
            self.hours += np.bincount(j, weights=hours, minlength=J)
            # a tiny tolerance: a same-instant decision must not fail a zero limit by rounding
            self.within += np.bincount(j[work <= lim[j] + 1e-9], minlength=J)
            self.within_h += np.bincount(j[hours <= lim_h[j] + 1e-9], minlength=J)

    def table(self) -> pd.DataFrame:
        rows = []
        for j, name in enumerate(self.model.item_names):
            n = int(self.n[j])
            lim = float(self.model.item_limit_workdays[j])
            lim_h = float(self.model.item_limit_hours[j])
            rows.append({
                "item": name, "limit_workdays": lim, "decisions": n,
                "decision_workdays": self.work[j] / n if n else np.nan,
                "within_limit_share": self.within[j] / n if n and np.isfinite(lim) else np.nan,
                "limit_hours": lim_h,
                "decision_hours": self.hours[j] / n if n else np.nan,
                "within_limit_hours_share": (self.within_h[j] / n if n and np.isfinite(lim_h)
                                             else np.nan),
            })
        return pd.DataFrame(rows, columns=list(ITEM_COLUMNS))


STATION_COLUMNS: dict[str, str] = {
    "station": "station or agent pool",
    "servers": "servers (pool: agents x caseload slots)",
    "utilization": "busy working hours / (servers x working hours) over the measurement window "
                   "(end of warm-up to end of arrivals); with a schedule, / the scheduled "
                   "server-working-hours; at sessions, services started / seats held",
    "mean_wait_hours": "mean calendar hours from joining to service start, over visits that "
                       "joined in the measurement window and started by the horizon",
    "mean_wait_workhours": "the same in working hours of the station's calendar",
    "mean_queue_length": "time-average number waiting over the measurement window",
    "served": "services started in the measurement window",
    "throughput_per_day": "services started per calendar day in the measurement window",
    "reneged": "visits that gave up waiting",
    "waiting_at_horizon": "visits still waiting at the horizon",
    "waiting_at_window_end": "visits waiting at the end of the measurement window",
    "wait_hours_total": "calendar hours waited in all, over the visits of mean_wait_hours",
    "hours_total": "calendar hours from joining to the end of service (queue + service) in "
                   "all, over the visits to the station's items that joined in the "
                   "measurement window and ended (none for a pool)",
}


def station_table(model: Model, res: RepResult) -> pd.DataFrame:
    """Per-station figures over the measurement window [warm-up, horizon]."""
    v = res.visits
    if v is None:
        raise ValueError("station figures need visit records (record_visits=True)")
    sums = StationSums(model)
    sums.add(v)
    return sums.table()


class StationSums:
    """The sums :func:`station_table` is made of, added up one batch of visits at a time
    (a streamed run adds each chunk's finished visits and keeps no visit records); every
    figure is a sum or a count over visits, so the table does not depend on the batches."""

    _FIELDS = ("busy", "area", "wait", "wait_work", "waited", "served", "reneged",
               "waiting_at_horizon", "waiting_at_window_end", "spent")

    def __init__(self, model: Model) -> None:
        self.model = model
        S = len(model.station_names)
        self.sums = {f: np.zeros(S) for f in self._FIELDS}

    def add(self, v: Visits) -> None:
        """Add a batch of visits (each visit once, with its final times)."""
        model, acc = self.model, self.sums
        t0, t1 = model.window
        S = len(model.station_names)
        station, joined, start, end = v.station, v.joined, v.start, v.end
        started = np.isfinite(start)
        en = np.where(np.isfinite(end), end, t1)
        # waits of the visits that joined in the window, whenever they started (a wait cut
        # off at the window's end would bias the mean down)
        w_in = started & (joined >= t0) & (joined < t1)
        # busy hours inside the window: pool slots in hours held, services in working hours
        # of their station's calendar (one pass per calendar over its stations' visits)
        busy = np.zeros(len(station))
        pool = started & (station >= model.n_service_stations)
        busy[pool] = np.clip(np.minimum(en[pool], t1) - np.maximum(start[pool], t0), 0, None)
        wwork = np.zeros(len(station))
        cals = [model.calendar_of(k) for k in range(model.n_service_stations)]
        for cal in {id(c): c for c in cals}.values():
            # the calendar's stations, by a lookup on the station code (pools: never)
            mine = np.zeros(model.n_stations, dtype=np.bool_)
            mine[[k for k, c in enumerate(cals) if c is cal]] = True
            group = mine[station]
            a = group & started
            # to_work is non-decreasing: to_work(max(x, t0)) == max(to_work(x), to_work(t0))
            # exactly, so the starts' working hours serve both sums
            w0, w1 = cal.to_work(np.array([t0, t1]))
            w_start = np.full(len(station), np.nan)
            w_start[a] = cal.to_work(start[a])
            busy[a] = np.clip(np.minimum(np.asarray(cal.to_work(en[a])), w1)
                              - np.maximum(w_start[a], w0), 0, None)
            b = group & w_in  # w_in: started, so b is within a
            wwork[b] = w_start[b] - np.asarray(cal.to_work(joined[b]))
        waits = np.where(w_in, start - joined, 0.0)
        q_end = np.where(started, start, np.where(v.reneged, end, t1))
        area = np.clip(np.minimum(q_end, t1) - np.maximum(joined, t0), 0, None)
        after = started & (start >= t0) & (start < t1)
        ended = w_in & ~pool & np.isfinite(end)
        spent = np.where(ended, end - joined, 0.0)
        for name, x in (("busy", busy), ("area", area), ("wait", waits), ("wait_work", wwork),
                        ("spent", spent),
                        ("waited", w_in), ("served", after), ("reneged", v.reneged),
                        ("waiting_at_horizon", ~started & ~v.reneged),
                        ("waiting_at_window_end", (joined < t1) & (q_end > t1))):
            acc[name] += np.bincount(station, weights=np.asarray(x, dtype=np.float64),
                                     minlength=S)

    def table(self) -> pd.DataFrame:
        """One row per station, with the columns of :data:`STATION_COLUMNS`."""
        model, acc = self.model, self.sums
        t0, t1 = model.window
        rows = []
        for s, name in enumerate(model.station_names):
            if s >= model.n_service_stations:
                avail = model.station_servers[s] * (t1 - t0)
            else:  # servers x working hours, or what the schedule says
                avail = model.server_hours(s, t0, t1)
            k = int(acc["waited"][s])
            rows.append({
                "station": name,
                "servers": int(model.station_servers[s]),
                "utilization": acc["busy"][s] / avail if avail > 0 else np.nan,
                "mean_wait_hours": acc["wait"][s] / k if k else np.nan,
                "mean_wait_workhours": acc["wait_work"][s] / k if k else np.nan,
                "mean_queue_length": acc["area"][s] / (t1 - t0),
                "served": int(acc["served"][s]),
                "throughput_per_day": float(acc["served"][s]) / ((t1 - t0) / 24.0),
                "reneged": int(acc["reneged"][s]),
                "waiting_at_horizon": int(acc["waiting_at_horizon"][s]),
                "waiting_at_window_end": int(acc["waiting_at_window_end"][s]),
                "wait_hours_total": float(acc["wait"][s]),
                "hours_total": float(acc["spent"][s]),
            })
        return model.sessions.seat_share(pd.DataFrame(rows), t0, t1)
