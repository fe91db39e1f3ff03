"""Processing times and the waiting no resource explains.

With start events the service is the working time from start to complete. With complete
events only, an event's start is estimated as the later of the case's previous event and
the same resource's previous completion (the resource was busy until then); the service
is the station calendar's working time between, on events whose stamps (the event, the
case's previous event, the resource's previous completion) carry a clock time, and only
where it is at most one working day (longer, the clerk did other work the log does not
show: no service sample).

The applicant/extraneous delay before an item is the calendar time from the previous
event of the case (for an item of a parallel stage: the last event before its stage) to
the item's first completion, minus the service estimate (the sample's own span, or the
item's median service where none could be estimated); never below 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calibrate.view import View
from sim.model.calendar import WorkCalendar
from sim.model.schema import Calendar

#: hours within which two stamps are one instant (3.6 ms: logs keep milliseconds)
EPS = 1e-6


@dataclass
class Samples:
    service: dict[str, np.ndarray]  # item -> working hours
    delay: dict[str, np.ndarray]  # item -> calendar hours
    method: str


def work_calendar(view: View, name: str, cal: Calendar) -> WorkCalendar:
    return WorkCalendar.build(name, view.start_date, view.horizon_days + 2,
                              [(a, b) for a, b in cal.hours],
                              weekdays=tuple(d - 1 for d in cal.weekdays), holidays="none",
                              closed_dates=tuple(cal.closed_dates))


def queued_since(starts: np.ndarray, ends: np.ndarray, at: np.ndarray,
                 servers: int) -> np.ndarray:
    """For each service start in ``at``: where all ``servers`` were busy just before it
    (with the services ``[starts, ends)``), the latest other start at the station before
    it, taken as the time the case joined the queue; the start itself where a server was
    free. The join is only known to lie between the start of the busy period and the
    start itself; the latest other start is a heuristic inside that range (on the round
    trip it gives the delays within 5-25% of the truth, the busy period's start 30-40%
    short)."""
    t = np.concatenate([starts, ends])
    d = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.argsort(t, kind="stable")
    t, level = t[order], np.cumsum(d[order])
    # the level after every change at one instant (an end and the next start at the same
    # time leave no free moment between them)
    last = np.r_[t[1:] != t[:-1], True]
    t, level = t[last], level[last]
    full = level >= servers  # on [t[i], t[i+1])
    # the segment just before each query: the last change point strictly before it
    # (stamps rounded to the millisecond: a change within EPS of ``at`` counts as at it)
    q = np.asarray(at, dtype=np.float64)
    k = np.searchsorted(t, q - EPS, side="left") - 1
    hit = (k >= 0) & full[np.maximum(k, 0)]
    st = np.sort(starts)
    j = np.searchsorted(st, q - EPS, side="left") - 1
    out = q.copy()
    m = hit & (j >= 0)
    out[m] = np.minimum(st[np.maximum(j, 0)][m], q[m])
    return out


def samples(view: View, items: dict[str, str], stage_of: dict[str, int],
            parallel: set[int], station_of: dict[str, str],
            calendars: dict[str, WorkCalendar], servers: dict[str, int]) -> Samples:
    ev = view.events
    n = len(ev)
    act_item = {a: i for i, a in items.items()}
    item = ev["activity"].map(act_item).to_numpy(dtype=object)
    t = ev["hour"].to_numpy()
    timed = ev["timed"].to_numpy(dtype=bool)
    case = ev["case"].to_numpy()
    stage = np.array([stage_of.get(x, -1) if x is not None else -1 for x in item]
                     if n else [], dtype=np.int64)
    # the reference event: previous event of the case (before the stage for parallel items)
    new_case = np.r_[True, case[1:] != case[:-1]]
    ref = np.arange(n) - 1
    ref[new_case] = -1
    for i in np.flatnonzero(np.isin(stage, list(parallel))):
        j = ref[i]
        while j >= 0 and stage[j] == stage[i]:
            j = -1 if new_case[j] else j - 1
        ref[i] = j
    # the same resource's previous completion (resource order: time, then log order)
    rprev = np.full(n, -1)
    res = ev["resource"].to_numpy(dtype=object)
    staffed = np.flatnonzero(pd.notna(res))
    if len(staffed):
        frame = pd.DataFrame({"r": res[staffed].astype(str), "t": t[staffed], "i": staffed})
        frame = frame.sort_values(["r", "t", "i"], kind="stable")
        same = frame["r"].to_numpy()[1:] == frame["r"].to_numpy()[:-1]
        idx = frame["i"].to_numpy()
        rprev[idx[1:][same]] = idx[:-1][same]
    has_ref, has_r = ref >= 0, rprev >= 0
    t_ref = np.where(has_ref, t[np.maximum(ref, 0)], -np.inf)
    t_r = np.where(has_r, t[np.maximum(rprev, 0)], -np.inf)
    ok_ref = ~has_ref | timed[np.maximum(ref, 0)]
    ok_r = ~has_r | timed[np.maximum(rprev, 0)]
    if view.has_starts:
        st = view.hours(ev["start"])
        est = st
        valid = np.isfinite(st)
        method = "observed from start events (working hours of the station's calendar)"
    else:
        est = np.maximum(t_ref, t_r)
        valid = timed & ok_ref & ok_r & (has_ref | has_r) & np.isfinite(est)
        method = ("estimated from gaps between completions: start = the later of the case's "
                  "previous event and the resource's previous completion, on stamps with a "
                  "clock time, working hours of the station's calendar, at most one "
                  "working day")
    work = np.full(n, np.nan)
    for name, cal in calendars.items():
        m = valid & np.array([x is not None and station_of.get(x) == name for x in item],
                             dtype=bool)
        if m.any():
            w = cal.to_work(t[m]) - cal.to_work(np.minimum(est[m], t[m]))
            if not view.has_starts:
                w = np.where(w <= cal.hours_per_day + 1e-9, w, np.nan)
            work[m] = w
    service = {i: work[(item == i) & np.isfinite(work)] for i in items}
    med = {i: float(np.median(v)) if len(v) else 0.0 for i, v in service.items()}
    # delays: first occurrence of each item in its case, from the reference event
    opened = est.copy()
    if view.has_starts:
        for name, cal in calendars.items():
            m = np.isfinite(est) & np.array([x is not None and station_of.get(x) == name
                                             for x in item], dtype=bool)
            if m.any():
                q = queued_since(est[m], t[m], est[m], servers.get(name, 1))
                w = np.maximum(cal.to_work(q) - EPS, 0.0)
                opened[m] = np.minimum(cal.to_abs(w) + EPS, q)
    first = pd.Series(item).notna().to_numpy() & ~pd.DataFrame(
        {"c": case, "a": item}).duplicated().to_numpy()
    delay: dict[str, np.ndarray] = {}
    ok_span = np.isfinite(work)
    span = np.where(ok_span, t - np.where(np.isfinite(est), est, t), np.nan)
    for name_i in items:
        m = first & (item == name_i) & has_ref
        gap = t[m] - t_ref[m]
        sp = np.where(ok_span[m], span[m], med[name_i])
        if view.has_starts:  # a start at an opening: the delay may have ended at closing
            sp = np.where(np.isfinite(est[m]), t[m] - opened[m], med[name_i])
        delay[name_i] = np.maximum(gap - sp, 0.0)
    return Samples(service, delay, method)
