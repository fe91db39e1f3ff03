"""The office calendar observed in a log, and the arrivals (rate per working day, weekday
and hour profiles) over the training window.

Working weekdays are the ISO weekdays that hold at least ``WEEKDAY_SHARE`` of the events;
the opening hours are the half-hour span covering the central ``HOUR_COVER`` of the events
that carry a clock time; closed dates are working weekdays of the training window without
a single event when a normal working day has at least ``BUSY_DAY`` events (public holidays,
office closures). No country's holiday list is assumed (``holidays = "none"``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.calibrate.view import View, first_events
from sim.model.schema import Calendar, CaseClass

WEEKDAY_SHARE = 0.02
HOUR_COVER = 0.98
BUSY_DAY = 5.0
#: empty working days in a row beyond which a closure is a gap in the log
LONG_RUN = 5
#: events with a clock time below which a station's hours are the office's
MIN_TIMED = 200


@dataclass
class ObservedCalendar:
    calendar: Calendar
    n_events: int
    n_timed: int
    text: str
    closed: list[dt.date] = field(default_factory=list)


def _clock(hours: float) -> str:
    h = int(hours)
    return f"{h:02d}:{round((hours - h) * 60):02d}"


def hours_span(clock: np.ndarray) -> tuple[str, str]:
    """The half-hour-rounded span covering the central HOUR_COVER of clock hours."""
    tail = (1 - HOUR_COVER) / 2
    lo = math.floor(float(np.quantile(clock, tail)) * 2) / 2
    hi = math.ceil(float(np.quantile(clock, 1 - tail)) * 2) / 2
    if hi <= lo:
        hi = lo + 0.5
    return _clock(lo), _clock(min(hi, 24.0))


def clock_hours(ts: pd.Series) -> np.ndarray:
    wall = ts.dt.tz_localize(None)
    return ((wall - wall.dt.normalize()) / pd.Timedelta(hours=1)).to_numpy(dtype=np.float64)


def closed_dates(view: View, weekdays: list[int],
                 events: pd.DataFrame) -> tuple[list[dt.date], str]:
    """Working weekdays of the training window with no event, when a normal one is busy."""
    days = events["day"].dt.date
    counts = days.value_counts()
    end = view.train_until or view.cases["first_day"].max()
    all_days = pd.date_range(view.train_from, end, freq="D").date
    work = [d for d in all_days if d.isoweekday() in weekdays]
    per_day = np.array([counts.get(d, 0) for d in work], dtype=float)
    median = float(np.median(per_day)) if len(per_day) else 0.0
    if median < BUSY_DAY:
        return [], (f"no closed dates inferred: a median working day has {median:g} events "
                    f"(< {BUSY_DAY:g}), too few to tell a holiday from a quiet day")
    closed = [d for d, c in zip(work, per_day, strict=True) if c == 0]
    text = (f"{len(closed)} working weekdays without any event closed (a median working "
            f"day has {median:g} events)")
    runs = long_runs(work, per_day == 0)
    if runs:
        n_long = sum(k for _, _, k in runs)
        shown = ", ".join(f"{a}..{b}" for a, b, _ in runs[:3]) + (", ..." if len(runs) > 3
                                                                 else "")
        text += (f"; {n_long} of them in runs of more than {LONG_RUN} working days "
                 f"({shown}): gaps in the log rather than holidays, closed so that no case "
                 "arrives where the log has none")
    return closed, text


def long_runs(days: list[dt.date], empty: np.ndarray) -> list[tuple[dt.date, dt.date, int]]:
    """Runs of more than LONG_RUN consecutive empty working days: (first, last, length)."""
    out, start = [], None
    for i, e in enumerate([*empty.tolist(), False]):
        if e and start is None:
            start = i
        elif not e and start is not None:
            if i - start > LONG_RUN:
                out.append((days[start], days[i - 1], i - start))
            start = None
    return out


def observe_calendar(view: View, events: pd.DataFrame, closed: list[dt.date],
                     fallback: Calendar | None = None, note: str = "") -> ObservedCalendar:
    """The calendar of ``events`` (all of an office, or one station's resources')."""
    iso = events["day"].dt.day_of_week.to_numpy() + 1
    share = np.bincount(iso, minlength=8)[1:] / max(1, len(iso))
    weekdays = [d + 1 for d in range(7) if share[d] >= WEEKDAY_SHARE]
    timed = events[events["timed"].to_numpy(dtype=bool)]
    n_timed = len(timed)
    if n_timed >= MIN_TIMED or (fallback is None and n_timed > 0):
        clock = clock_hours(timed["ts"])
        starts = timed["start"].dropna()
        if len(starts):  # a service's start is working time too
            clock = np.concatenate([clock, clock_hours(starts)])
        lo, hi = hours_span(clock)
        how = f"hours {lo}-{hi} cover {HOUR_COVER:.0%} of {n_timed} events with a clock time"
    elif fallback is not None:
        (lo, hi), = fallback.hours[:1]
        how = f"hours {lo}-{hi} of the office ({n_timed} events with a clock time here)"
    else:
        lo, hi = "09:00", "17:00"
        how = "hours 09:00-17:00 assumed: no event carries a clock time"
    if fallback is not None and not weekdays:
        weekdays = list(fallback.weekdays)
    if not weekdays:
        weekdays = [1, 2, 3, 4, 5]
    text = (f"weekdays {weekdays} hold >= {WEEKDAY_SHARE:.0%} of {len(events)} events; {how}")
    cal = Calendar(hours=[(lo, hi)], weekdays=weekdays, holidays="none",
                   closed_dates=sorted(closed), note=note or text)
    return ObservedCalendar(cal, len(events), n_timed, text, closed)


def workdays(view: View, cal: Calendar) -> int:
    """Working days of ``cal`` in the arrival window."""
    closed = set(cal.closed_dates)
    days = pd.date_range(view.train_from, periods=view.window_days, freq="D").date
    return sum(1 for d in days if d.isoweekday() in cal.weekdays and d not in closed)


@dataclass
class Arrivals:
    case_class: CaseClass
    rate: float
    n: int
    workdays: int
    date_only: int
    text: str
    profile_text: str


def arrivals(view: View, office: Calendar) -> Arrivals:
    """One class: the training cases per working day, weekday and hour profiles."""
    first = first_events(view)
    n = len(first)
    wd = max(1, workdays(view, office))
    rate = n / wd
    iso = first["day"].dt.day_of_week.to_numpy()
    wk = np.bincount(iso, minlength=7).astype(float)
    weekday = [float(f"{w / max(wk.max(), 1):.4g}") for w in wk]
    timed = first[first["timed"].to_numpy(dtype=bool)]
    hour: list[float] | None = None
    lo, hi = (int(h[:2]) + int(h[3:]) / 60 for h in office.hours[0])
    inside = 0
    if len(timed):
        hrs = np.floor(clock_hours(timed["ts"])).astype(int)
        hc = np.bincount(hrs, minlength=24)[:24].astype(float)
        inside = int(sum(hc[h] for h in range(24) if h + 1 > lo and h < hi))
        if inside > 0:
            hour = [float(f"{w / hc.max():.4g}") for w in hc]
    date_only = n - len(timed)
    if hour is not None and not any(weekday[d] > 0 for d in range(7)
                                    if d + 1 in office.weekdays):
        weekday = [1.0 if d + 1 in office.weekdays else 0.0 for d in range(7)]
    se = math.sqrt(n) / wd
    text = (f"{n} training cases (first events) over {wd} working days of the office "
            f"calendar: {rate:.4g} per working day (Poisson standard error {se:.2g})")
    ptext = (f"weekday profile from the {n} first events' dates; hour profile from the "
             f"{len(timed)} first events with a clock time ({date_only} were date-only"
             + (", so no hour profile)" if hour is None else ")"))
    # the log's events are the office's own steps: no applicant visit is recorded, so the
    # cases are online and so are the items (the visits KPI stays 0, not one per step)
    cc = CaseClass(rate=float(f"{rate:.6g}"), per="workday", weekday_profile=weekday,
                   hour_profile=hour, online_share=1.0, note=text)
    return Arrivals(cc, rate, n, wd, date_only, text, ptext)
