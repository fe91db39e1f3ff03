"""The comparison of a simulated event log with a real one: distances and KPIs, at day
resolution.

Pure comparison, no simulation (that is :mod:`sim.experiments.score`). The real log is an
:class:`~sim.logs.EventLog`; the simulated log is :meth:`RunResult.event_log` of one
replication (the process-mining columns of docs/logs.md). Both are reduced to one shape,
:class:`Cases`: per case its start day, its decision day (NaT when undecided) and its last
day, and the case's sequence of *matched* activities (real activities some scenario item
stands for; simulated service completions mapped item -> activity). Days are local
calendar dates in each log's own zone: the BPIC 2015 logs stamp 43-49% of their events at
midnight (date only), so nothing finer than a day is compared, except the circadian
distance, which reads only the real events that carry a time of day.

The distances are those of the ``log-distance-measures`` package (Chapela-Campa et al.,
the metric set Simod and Prosimos are evaluated with), computed per replication against
the real log; each one's mean over replications is reported with its 95% t interval.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from log_distance_measures.config import AbsoluteTimestampType, EventLogIDs, discretize_to_day

from sim.logs import EventLog
from sim.results.stats import ci95

#: the column names of the frames handed to log-distance-measures
IDS = EventLogIDs(case="case", activity="activity", start_time="start", end_time="end")
DAY = dt.timedelta(days=1)
#: the n of the n-gram distance
N_GRAM = 3

#: (key, label, unit, what it measures) of every distance, in the order reported
DISTANCES: tuple[tuple[str, str, str, str], ...] = (
    ("cycle_time", "cycle-time distribution", "days",
     "Wasserstein distance between the cases' durations (first to last event, local days)"),
    ("case_arrival", "case-arrival distribution", "days",
     "Wasserstein distance between the cases' start days (days since the period's start)"),
    ("circadian", "circadian event distribution", "hours",
     "Wasserstein distance between the events' hours of day, per weekday, averaged over the "
     "7 weekdays (23 for a weekday only one log has); real events with a time of day only"),
    ("ngram", f"{N_GRAM}-gram control flow", "share [0, 1]",
     f"sum of absolute differences of the {N_GRAM}-gram frequencies over their total, on the "
     "matched activities (0: the same sequences, 1: none in common)"),
    ("ngram_all", f"{N_GRAM}-gram control flow, all real activities", "share [0, 1]",
     "the same over every real activity (the ones no item stands for count as misses)"),
)

#: (key, label, unit) of every KPI, in the order reported
KPIS: tuple[tuple[str, str, str], ...] = (
    ("cases_started", "cases started", "cases"),
    ("decided_share", "share decided by the end", "share"),
    ("open_share", "share open at the end (no decision)", "share"),
    ("decision_median", "median time to decision", "days"),
    ("decision_p90", "P90 time to decision", "days"),
    ("decision_mean", "mean time to decision", "days"),
    ("within_term_share", "share decided within the legal term", "share"),
)


@dataclass
class Cases:
    """One log reduced to what the score reads (every time a naive local datetime)."""

    #: one row per case: start, decision (NaT: undecided), last (all local days)
    table: pd.DataFrame
    #: matched events: case, activity, end (exact local time, for the order and the hour)
    events: pd.DataFrame
    #: events with a time of day (for the circadian distance): end
    timed: pd.DataFrame
    #: every event of the case, activities as they are (real logs only: ngram_all)
    all_events: pd.DataFrame | None = None


@dataclass
class Period:
    """The days compared: cases started on ``start`` .. ``last_start`` (default ``end``,
    inclusive), the logs as extracted at the end of ``end``. A real log extracted by case
    holds no case started after its last one, though its events go on: cases simulated to
    start after ``last_start`` have no real counterpart and are left out."""

    start: dt.date
    end: dt.date
    last_start: dt.date | None = None

    @property
    def starts_until(self) -> dt.date:
        return self.end if self.last_start is None else min(self.end, self.last_start)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class Score:
    """Distances and KPIs of the simulated replications against the real log."""

    distances: pd.DataFrame
    kpis: pd.DataFrame
    per_replication: pd.DataFrame
    real: dict[str, float]


# --------------------------------------------------------------------------- reducing the logs


def local_times(ts: pd.Series) -> pd.Series:
    """tz-aware stamps -> naive local wall-clock times (a local day is then 24 hours)."""
    s = pd.Series(pd.to_datetime(ts), index=ts.index)
    if s.dt.tz is not None:
        s = s.dt.tz_localize(None)
    return s.astype("datetime64[ns]")


def _ordered(ev: pd.DataFrame) -> pd.DataFrame:
    """Events with an ``end`` made strictly increasing within a case by a nanosecond per
    row (the package sorts with an unstable sort: equal day stamps keep the log's order)."""
    ev = ev.reset_index(drop=True)
    pos = ev.groupby("case", sort=False).cumcount().to_numpy()
    ev["end"] = ev["end"] + pd.to_timedelta(pos, unit="ns")
    ev["start"] = ev["end"]
    return ev


def _case_table(case: pd.Series, time: pd.Series, begun: pd.Series,
                decided: pd.Series) -> pd.DataFrame:
    """Per case: first day (of ``begun``: a start stamp where the log has one), first
    decision day, last day."""
    day = time.dt.normalize()
    f = pd.DataFrame({"case": case.to_numpy(), "day": day.to_numpy(),
                      "begun": begun.dt.normalize().to_numpy(),
                      "decision": day.where(decided.to_numpy(dtype=bool)).to_numpy()})
    g = f.groupby("case", sort=False)
    return pd.DataFrame({"start": g["begun"].min(), "decision": g["decision"].min(),
                         "last": g["day"].max()})


def real_cases(log: EventLog, decision: Sequence[str], matched: Iterable[str],
               period: Period | None = None) -> Cases:
    """The real log reduced: a case's start is its first event (its start stamp where the
    log has them), its decision the first
    completion of a ``decision`` activity (none given: its last event); only cases
    started in ``period`` are kept, and only events by its end."""
    ev = log.events
    t = local_times(ev["timestamp"])
    keep = np.ones(len(ev), dtype=bool)
    if period is not None:
        keep = (t < pd.Timestamp(period.end) + pd.Timedelta(days=1)).to_numpy()
    ev, t = ev[keep], t[keep]
    act = ev["activity"].astype(object)
    dec = act.isin(list(decision)) if decision else pd.Series(False, index=ev.index)
    begun = t
    if "start" in ev.columns and ev["start"].notna().any():
        begun = local_times(ev["start"]).fillna(t)
    table = _case_table(ev["case"], t, begun, dec)
    if not decision:
        table["decision"] = table["last"]
    if period is not None:
        s = table["start"]
        table = table[(s >= pd.Timestamp(period.start))
                      & (s <= pd.Timestamp(period.starts_until))]
    inside = ev["case"].isin(table.index).to_numpy()
    frame = pd.DataFrame({"case": ev["case"].to_numpy()[inside],
                          "activity": act.to_numpy()[inside],
                          "end": t.to_numpy()[inside]})
    frame = _ordered(frame)
    midnight = frame["end"].dt.floor("s") == frame["end"].dt.normalize()
    timed = frame.loc[~midnight.to_numpy(), ["end"]].copy()
    timed["start"] = timed["end"]
    m = frame["activity"].isin(set(matched)).to_numpy()
    return Cases(table, frame[m].reset_index(drop=True), timed, all_events=frame)


def simulated_cases(log: pd.DataFrame, activity: Mapping[str, str], decision: Sequence[str],
                    period: Period | None = None, from_day: dt.date | None = None) -> Cases:
    """A simulated replication's log reduced: a case starts at its ``arrival``; its decision
    is the first service completion of an item whose activity is a ``decision`` activity
    (none given: its ``case end``); matched events are the service completions, named by
    ``activity`` (item -> the real log's activity). Cases arriving before ``from_day``
    (the warm-up) are left out. Events after the ``period``'s end are left out too, as a
    log extracted at the end of that day would not hold them (a run of whole 24-hour days
    ends at 01:00 local time once summer time has begun)."""
    if period is not None:
        end = pd.Timestamp(period.end) + pd.Timedelta(days=1)
        log = log[(local_times(log["time:timestamp"]) < end).to_numpy()]
    name = log["concept:name"].astype(object)
    item = log["item"].astype(object)
    life = log["lifecycle:transition"].astype(object)
    t = local_times(log["time:timestamp"])
    service = ((name == item) & (life == "complete")).to_numpy()
    mapped = item.map(dict(activity)).to_numpy(dtype=object)
    arrival = (name == "arrival").to_numpy()
    if decision:
        dec = service & pd.Series(mapped).isin(list(decision)).to_numpy()
    else:
        dec = (name == "case end").to_numpy()
    day = t.dt.normalize().to_numpy()
    f = pd.DataFrame({"case": log["case:concept:name"].to_numpy(),
                      "start": np.where(arrival, day, np.datetime64("NaT")),
                      "decision": np.where(dec, day, np.datetime64("NaT")), "day": day})
    g = f.groupby("case", sort=False)
    table = pd.DataFrame({"start": g["start"].min(), "decision": g["decision"].min(),
                          "last": g["day"].max()})
    table = table[table["start"].notna()]
    if from_day is not None:
        table = table[table["start"] >= pd.Timestamp(from_day)]
    if period is not None:
        table = table[table["start"] <= pd.Timestamp(period.starts_until)]
    inside = f["case"].isin(table.index).to_numpy()
    m = service & inside
    frame = _ordered(pd.DataFrame({"case": f["case"].to_numpy()[m], "activity": mapped[m],
                                   "end": t.to_numpy()[m]}))
    done = inside & (life == "complete").to_numpy()
    timed = pd.DataFrame({"end": t.to_numpy()[done]})
    timed = timed[(timed["end"] != timed["end"].dt.normalize()).to_numpy()]
    timed["start"] = timed["end"]
    return Cases(table, frame, timed)


# --------------------------------------------------------------------------- KPIs


def kpis(cases: Cases, period: Period, term_days: float | None) -> dict[str, float]:
    """The KPIs of one log (definitions: docs/logs.md, "Scoring").

    Time to decision is ``decision day - start day`` in calendar days, over the decided
    cases (median and P90 by linear interpolation between order statistics). The share
    within the term counts the cases decided within ``term_days`` of their start among the
    cases that had ``term_days`` to run before the end of the period.
    """
    tb = cases.table
    n = len(tb)
    decided = tb["decision"].notna().to_numpy()
    days = (tb["decision"] - tb["start"]).dt.days.to_numpy(dtype=float, na_value=np.nan)
    d = days[decided]
    out = {"cases_started": float(n),
           "decided_share": float(decided.mean()) if n else math.nan,
           "open_share": float(1 - decided.mean()) if n else math.nan,
           "decision_median": float(np.percentile(d, 50)) if d.size else math.nan,
           "decision_p90": float(np.percentile(d, 90)) if d.size else math.nan,
           "decision_mean": float(d.mean()) if d.size else math.nan,
           "within_term_share": math.nan}
    if term_days is not None and n:
        end = pd.Timestamp(period.end)
        eligible = (end - tb["start"]).dt.days.to_numpy(dtype=float) >= term_days
        within = decided & (np.nan_to_num(days, nan=math.inf) <= term_days)
        if eligible.any():
            out["within_term_share"] = float(within[eligible].mean())
    return out


# --------------------------------------------------------------------------- distances


def _span(tb: pd.DataFrame) -> pd.DataFrame:
    """One row per case, start = its first day and end = its last: what the package's
    cycle-time and arrival distances read (max end - min start per case), without
    grouping every event."""
    return pd.DataFrame({"case": tb.index.to_numpy(), "activity": "",
                         "start": tb["start"].to_numpy(), "end": tb["last"].to_numpy()})


def distances(real: Cases, sim: Cases) -> dict[str, float]:
    """The distances of one simulated replication from the real log."""
    # heavy: the distance modules import scipy.stats (0.4 s), which only scoring needs
    from log_distance_measures import case_arrival_distribution as arrival  # heavy: as above
    from log_distance_measures import circadian_event_distribution as circadian  # heavy
    from log_distance_measures import cycle_time_distribution as cycle  # heavy: as above
    from log_distance_measures import n_gram_distribution as ngram  # heavy: as above

    out: dict[str, float] = {}
    rs, ss = _span(real.table), _span(sim.table)
    if len(rs) and len(ss):
        out["cycle_time"] = float(cycle.cycle_time_distribution_distance(rs, IDS, ss, IDS, DAY))
        out["case_arrival"] = float(arrival.case_arrival_distribution_distance(
            rs, IDS, ss, IDS, discretize_event=discretize_to_day))
    else:
        out["cycle_time"] = out["case_arrival"] = math.nan
    if len(real.timed) and len(sim.timed):
        out["circadian"] = float(circadian.circadian_event_distribution_distance(
            real.timed, IDS, sim.timed, IDS, discretize_type=AbsoluteTimestampType.END))
    else:
        out["circadian"] = math.nan
    for key, ev in (("ngram", real.events), ("ngram_all", real.all_events)):
        if ev is not None and (len(ev) or len(sim.events)):
            out[key] = float(ngram.n_gram_distribution_distance(ev, IDS, sim.events, IDS, n=N_GRAM))
        else:
            out[key] = math.nan
    return out


def _ci_row(values: pd.Series, lo: float = 0.0,
            hi: float = math.inf) -> tuple[float, float, float]:
    """Mean and 95% t interval, clipped to the range the figure can take (a distance is
    >= 0, a share in [0, 1])."""
    m, a, b = ci95(np.asarray(values, dtype=float))
    return m, min(max(a, lo), hi), min(max(b, lo), hi)


def compare(real: Cases, sims: Sequence[Cases], period: Period,
            term_days: float | None) -> Score:
    """Every replication against the real log: per-replication distances and KPIs, their
    means with 95% t intervals, and the real KPIs (whether each lies in its interval)."""
    rows = []
    for r, sim in enumerate(sims):
        row: dict[str, float] = {"replication": float(r)}
        row.update(distances(real, sim))
        row.update({f"kpi.{k}": v for k, v in kpis(sim, period, term_days).items()})
        rows.append(row)
    per = pd.DataFrame(rows)
    per["replication"] = per["replication"].astype(int)
    dist = []
    for key, label, unit, what in DISTANCES:
        m, lo, hi = _ci_row(per[key], hi=1.0 if key.startswith("ngram") else math.inf)
        dist.append({"metric": key, "label": label, "value": m, "ci_low": lo, "ci_high": hi,
                     "unit": unit, "meaning": what})
    rk = kpis(real, period, term_days)
    table = []
    for key, label, unit in KPIS:
        m, lo, hi = _ci_row(per[f"kpi.{key}"], hi=1.0 if unit == "share" else math.inf)
        x = rk[key]
        inside = None if (math.isnan(lo) or math.isnan(x)) else bool(lo <= x <= hi)
        table.append({"kpi": key, "label": label, "unit": unit, "real": x, "simulated": m,
                      "ci_low": lo, "ci_high": hi, "real_in_ci": inside})
    return Score(pd.DataFrame(dist), pd.DataFrame(table), per, rk)
