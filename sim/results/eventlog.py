"""The simulated event log: what a run did, one row per event, in process-mining names.

A replication keeps its visits (:class:`VisitLog`: compact numpy arrays, with what the
inputs decided about each submission: accepted, sent back for rework, or accepted on
condition of a supplement). :func:`event_log` turns them, with the case table, into the
log described in docs/logs.md; :func:`event_chunks` yields the same rows a slice of cases
at a time, so a writer can stream a log too big to hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from sim.errors import UsageError
from sim.inputs import Inputs
from sim.model.assembly import Model
from sim.results.records import RepResult, Visits

#: the columns of the log, in order (docs/logs.md)
EVENT_COLUMNS = ("case:concept:name", "concept:name", "lifecycle:transition",
                 "time:timestamp", "org:resource", "class", "channel", "station", "item",
                 "attempt", "replication")
#: submission outcomes
ACCEPTED, REWORK, SUPPLEMENT = 0, 1, 2
#: rows per slice of cases when streaming
CHUNK_CASES = 20_000


@dataclass
class VisitLog:
    """The visits of one replication, sorted by (case, kind, item, attempt), compact."""

    case: np.ndarray  # int32
    item: np.ndarray  # int16, -1 for a pool slot
    attempt: np.ndarray  # int16
    station: np.ndarray  # int16
    kind: np.ndarray  # int8: 0 submission, 1 audit, 2 pool slot
    joined: np.ndarray  # float64 hours since the epoch
    start: np.ndarray
    end: np.ndarray
    reneged: np.ndarray  # bool
    outcome: np.ndarray  # int8: ACCEPTED, REWORK, SUPPLEMENT (submissions)
    result: np.ndarray  # float64: when the outcome is known (service end + lag)
    supplement_end: np.ndarray  # float64: result + fix for a supplement, else nan

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in self.__dataclass_fields__)


def visit_log(model: Model, inp: Inputs, res: RepResult,
              outcome_at: Callable[[np.ndarray, np.ndarray, np.ndarray],
                                   tuple[np.ndarray, np.ndarray]] | None = None,
              ) -> VisitLog:
    """The visits of ``res`` with each submission's outcome, from the inputs drawn.
    ``outcome_at(case, item, attempt)``: the deficiency (False for the last submission)
    and fix of those submissions, given instead of ``inp.deficient`` and ``inp.fix``
    (the streaming engine keeps them in its own form)."""
    v = res.visits.sorted() if res.visits is not None else Visits.empty()
    sub = v.kind == 0
    c, j, k = v.case[sub], v.item[sub], v.attempt[sub]
    end = v.end[sub]
    done = np.isfinite(end) & ~v.reneged[sub]
    result = v.end.copy()
    lag = np.asarray(inp.lag[c, j, k]) if len(c) else np.zeros(0)
    res_sub = end.copy()
    for s in np.unique(v.station[sub][done & (lag > 0)]):
        m = done & (lag > 0) & (v.station[sub] == s)
        cal = model.calendars[int(model.station_calendar[s])]
        res_sub[m] = cal.to_abs(cal.to_work(end[m]) + lag[m])
    result[sub] = res_sub
    K = inp.service.shape[2]
    deficient = np.zeros(len(c), dtype=bool)
    fix = np.zeros(len(c))
    if len(c) and outcome_at is not None:
        deficient, fix = outcome_at(c, j, k)
        deficient = np.asarray(deficient, dtype=bool) & (k < K - 1) & done
    elif len(c):
        deficient = np.asarray(inp.deficient[c, j, k]) & (k < K - 1) & done
        fix = np.asarray(inp.fix[c, j, k])
    supp = deficient & model.item_conditional[j] & (fix <= model.item_deadline_hours[j])
    outcome = np.zeros(len(v.case), dtype=np.int8)
    outcome[np.flatnonzero(sub)[deficient & ~supp]] = REWORK
    outcome[np.flatnonzero(sub)[supp]] = SUPPLEMENT
    supp_end = np.full(len(v.case), np.nan)
    supp_end[np.flatnonzero(sub)[supp]] = res_sub[supp] + fix[supp]
    return VisitLog(v.case.astype(np.int32), v.item.astype(np.int16),
                    v.attempt.astype(np.int16), v.station.astype(np.int16),
                    v.kind.astype(np.int8), v.joined, v.start, v.end, v.reneged, outcome,
                    result, supp_end)


class _Rep(Protocol):
    replication: int
    cases: pd.DataFrame
    visits: VisitLog | None


class _Run(Protocol):
    model: Model

    @property
    def reps(self) -> Sequence[_Rep]: ...


def epoch(model: Model) -> pd.Timestamp:
    """Hour 0 of the run: 00:00 local time of ``run.start_date`` in the scenario's zone."""
    return pd.Timestamp(model.scenario.run.start_date).tz_localize(model.scenario.scenario.zone)


def timestamps(model: Model, hours: np.ndarray) -> pd.DatetimeIndex:
    """Hours since the epoch as tz-aware timestamps (to the nanosecond)."""
    ns = epoch(model).value + np.round(np.asarray(hours) * 3.6e12).astype(np.int64)
    return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC") \
        .tz_convert(model.scenario.scenario.zone)


def _names(model: Model) -> tuple[np.ndarray, dict[str, int]]:
    """Activity names and the offset of each family in them."""
    items = list(model.item_names)
    fams = ("", "submission: ", "resubmission: ", "rework request: ", "supplement: ",
            "audit: ")
    names = [f + it for f in fams for it in items]
    names += ["arrival", "abandonment", "case end", "agent pool"]
    base = {f: k * len(items) for k, f in enumerate(fams)}
    J = len(fams) * len(items)
    base.update({"arrival": J, "abandonment": J + 1, "case end": J + 2, "pool": J + 3})
    return np.asarray(names, dtype=object), base


def _rep_events(model: Model, rep: _Rep, lo: int, hi: int) -> pd.DataFrame:
    """The events of cases ``lo <= case < hi`` of one replication."""
    vl = rep.visits
    if vl is None:
        raise UsageError("this run result kept no visits, so it has no event log "
                         "(run it with event_log=True, the default of sim.run, or "
                         "govsim run --log)")
    names, base = _names(model)
    cases = rep.cases.iloc[lo:hi]
    a, b = np.searchsorted(vl.case, [lo, hi])
    v = {f: getattr(vl, f)[a:b] for f in vl.__dataclass_fields__}
    horizon = model.horizon
    parts: list[tuple[np.ndarray, ...]] = []

    def add(mask: np.ndarray, act: np.ndarray | int, life: int, time: np.ndarray,
            key: np.ndarray | float, seq: int, staffed: bool,
            case: np.ndarray | None = None, station: np.ndarray | None = None,
            item: np.ndarray | None = None, attempt: np.ndarray | None = None) -> None:
        m = mask & (time <= horizon)
        n = int(m.sum())
        if not n:
            return

        def full(x: object, d: float) -> np.ndarray:
            if x is None:
                return np.full(n, d)
            return np.broadcast_to(np.asarray(x), mask.shape)[m]

        st = full(station, -1).astype(np.int64)
        parts.append((full(case, 0).astype(np.int64), full(act, 0).astype(np.int64),
                      np.full(n, life), time[m], full(key, 0.0).astype(float),
                      np.full(n, seq), st, st if staffed else np.full(n, -1),
                      full(item, -1).astype(np.int64), full(attempt, -1).astype(np.int64)))

    ci = cases["case"].to_numpy()
    arr = cases["arrival"].to_numpy()
    add(np.ones(len(ci), bool), base["arrival"], 1, arr, arr, 0, False, case=ci)
    fin = np.isfinite(cases["completion"].to_numpy())
    comp = np.where(fin, cases["completion"].to_numpy(), np.inf)
    add(fin, base["case end"], 1, comp, 1e300, 9, False, case=ci)
    vc, vi, vk, vs = v["case"], v["item"].astype(np.int64), v["attempt"], v["station"]
    kind, joined, start, end = v["kind"], v["joined"], v["start"], v["end"]
    sub, aud, pool = kind == 0, kind == 1, kind == 2
    it = np.maximum(vi, 0)
    done = np.isfinite(end) & ~v["reneged"]
    ends = np.where(done, end, np.inf)
    kw = {"case": vc, "station": vs, "item": vi, "attempt": vk}
    first = np.where(vk == 0, base["submission: "], base["resubmission: "]) + it
    add(sub, first, 1, joined, joined, 1, False, **kw)
    add(sub & (ends <= horizon), base[""] + it, 0, start, joined, 2, True, **kw)
    add(sub, base[""] + it, 1, ends, joined, 3, True, **kw)
    add(sub & (v["outcome"] == REWORK), base["rework request: "] + it, 1, v["result"],
        joined, 4, True, **kw)
    supp = sub & (v["outcome"] == SUPPLEMENT)
    sup_end = np.where(supp, v["supplement_end"], np.inf)
    add(supp & (sup_end <= horizon), base["supplement: "] + it, 0, v["result"], joined, 5,
        False, **kw)
    add(supp, base["supplement: "] + it, 1, sup_end, joined, 6, False, **kw)
    add(v["reneged"], base["abandonment"], 1, end, joined, 7, False, **kw)
    add(aud & (ends <= horizon), base["audit: "] + it, 0, start, np.inf, 2, True, **kw)
    add(aud, base["audit: "] + it, 1, ends, np.inf, 3, True, **kw)
    pool_kw = {"case": vc, "station": vs}
    add(pool & (ends <= horizon), base["pool"], 0, start, joined, 2, True, **pool_kw)
    add(pool, base["pool"], 1, ends, joined, 8, True, **pool_kw)
    return _frame(model, rep, cases, parts, names)


def _frame(model: Model, rep: _Rep, cases: pd.DataFrame,
           parts: list[tuple[np.ndarray, ...]], names: np.ndarray) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    case, act, life, time, key, seq, st, res, item, att = (np.concatenate(c)
                                                           for c in zip(*parts, strict=True))
    o = np.lexsort((seq, key, time, case))
    case, act, life, time, st, res, item, att = (x[o] for x in (case, act, life, time, st,
                                                                res, item, att))
    stations = np.asarray((*model.station_names, None), dtype=object)
    items = np.asarray((*model.item_names, None), dtype=object)
    row = case - int(cases["case"].iloc[0]) if len(cases) else case
    cls = cases["class"].to_numpy()[row]
    chan = cases["channel"].to_numpy()[row]
    r = rep.replication
    ids = np.char.add(f"{r}-", case.astype(str)).astype(object)
    return pd.DataFrame({
        "case:concept:name": ids,
        "concept:name": names[act],
        "lifecycle:transition": np.asarray(("start", "complete"), dtype=object)[life],
        "time:timestamp": timestamps(model, time),
        "org:resource": stations[res],
        "class": cls, "channel": chan, "station": stations[st], "item": items[item],
        "attempt": pd.arrays.IntegerArray(np.maximum(att, 0), att < 0),
        "replication": np.full(len(case), r, dtype=np.int64),
    })


def event_chunks(result: _Run, replication: int | None = None,
                 chunk_cases: int = CHUNK_CASES) -> Iterator[pd.DataFrame]:
    """The event log a slice of cases at a time (all replications, or one)."""
    reps = list(result.reps)
    if replication is not None:
        reps = [r for r in reps if r.replication == replication]
        if not reps:
            have = ", ".join(str(r.replication) for r in result.reps)
            raise UsageError(f"replication {replication} is not in this run (it has {have})")
    for rep in reps:
        n = len(rep.cases)
        for lo in range(0, max(n, 1), chunk_cases):
            frame = _rep_events(result.model, rep, lo, min(n, lo + chunk_cases))
            if len(frame):
                yield frame


def event_log(result: _Run, replication: int | None = None) -> pd.DataFrame:
    """The simulated event log of a run, one row per event (docs/logs.md)."""
    frames = list(event_chunks(result, replication))
    if not frames:
        return _frame(result.model, result.reps[0], pd.DataFrame(), [], np.zeros(0))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
