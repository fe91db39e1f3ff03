"""Working calendars: mapping between absolute time and working time.

All simulation times are floats in hours since the scenario epoch (00:00 local
time of the scenario's ``start_date``).  A :class:`WorkCalendar` is a sorted set
of disjoint working intervals ``[open[k], close[k])``; its *working time* at an
absolute time ``t`` is the number of working hours elapsed between the epoch and
``t``.

The scalar arithmetic of :func:`to_work_scalar`, :func:`to_abs_scalar` and
:func:`next_open_scalar` is the reference that every engine (pure Python and
numba) re-implements; the vectorized methods of :class:`WorkCalendar` use the
very same floating-point operations, so they agree bit for bit.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib.resources import files
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from sim.model.dayindex import DayWalk, day_walk, open_index

__all__ = [
    "ALWAYS_OPEN_END",
    "WorkCalendar",
    "datetime_of",
    "hours_of",
    "next_open_scalar",
    "to_abs_scalar",
    "to_work_scalar",
]

FloatArray = NDArray[np.float64]
Table = Sequence[float] | FloatArray

ALWAYS_OPEN_END = 1e12
"""End (abs hours) of the single interval of :meth:`WorkCalendar.always_open`."""

_HOLIDAY_SETS = ("cn", "none")
#: the weekdays of China's working week (Monday 0 .. Friday 4); a swapped working day
#: opens a calendar only if the calendar works all of them
_NATIONAL_WEEK = frozenset(range(5))


# --------------------------------------------------------------------------- #
# Scalar reference arithmetic (hot path of the DES engine)
# --------------------------------------------------------------------------- #


def to_work_scalar(open: Table, close: Table, cum: Table, cend: Table, t: float) -> float:
    """Working hours elapsed between the epoch and absolute time ``t``.

    ``k = searchsorted(open, t, 'right') - 1``; ``0.0`` if ``k < 0``;
    ``cend[k]`` if ``t >= close[k]``; else ``cum[k] + (t - open[k])``.
    Fastest when the tables are Python lists (see
    :attr:`WorkCalendar.scalar_tables`); numpy arrays are accepted too.
    """
    if isinstance(open, np.ndarray):
        k = int(open.searchsorted(t, "right")) - 1
    else:
        k = bisect_right(open, t) - 1
    if k < 0:
        return 0.0
    if t >= close[k]:
        return float(cend[k])
    return float(cum[k] + (t - open[k]))


def to_abs_scalar(cend: Table, open: Table, cum: Table, w: float) -> float:
    """Earliest absolute time at which ``w >= 0`` working hours have elapsed.

    ``k = searchsorted(cend, w, 'left')``; ``inf`` if ``k == n``; else
    ``open[k] + (w - cum[k])``.  Left inverse of :func:`to_work_scalar`.
    """
    k = int(cend.searchsorted(w, "left")) if isinstance(cend, np.ndarray) else bisect_left(cend, w)
    if k == len(cend):
        return float("inf")
    return float(open[k] + (w - cum[k]))


def next_open_scalar(open: Table, close: Table, t: float) -> float:
    """Earliest time ``>= t`` at which the office is working (``inf`` if never).

    ``k = searchsorted(close, t, 'right')``; ``inf`` if ``k == n``; else
    ``max(t, open[k])``.
    """
    if isinstance(close, np.ndarray):
        k = int(close.searchsorted(t, "right"))
    else:
        k = bisect_right(close, t)
    if k == len(close):
        return float("inf")
    o = float(open[k])
    return t if t >= o else o


# --------------------------------------------------------------------------- #
# Epoch helpers
# --------------------------------------------------------------------------- #


def hours_of(when: date | datetime, start_date: date) -> float:
    """Absolute hours from the epoch (00:00 of ``start_date``) to ``when``.

    A plain ``date`` means 00:00 of that day.  Time zones are not handled:
    ``when`` must be a naive local datetime.
    """
    moment = when if isinstance(when, datetime) else datetime(when.year, when.month, when.day)
    epoch = datetime(start_date.year, start_date.month, start_date.day)
    return (moment - epoch) / timedelta(hours=1)


def datetime_of(hours: float, start_date: date) -> datetime:
    """Naive local datetime at ``hours`` absolute hours after the epoch.

    Inverse of :func:`hours_of` (up to microsecond rounding).
    """
    epoch = datetime(start_date.year, start_date.month, start_date.day)
    return epoch + timedelta(hours=hours)


# --------------------------------------------------------------------------- #
# Holiday data and day-period parsing
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _HolidaySchedule:
    """Days off and swapped working days of an official holiday schedule."""

    years: frozenset[int]
    off: frozenset[date]
    work: frozenset[date]


def _date_list(value: Any, where: str) -> list[date]:
    """Validate a TOML array of local dates."""
    if not isinstance(value, list) or not all(
        isinstance(d, date) and not isinstance(d, datetime) for d in value
    ):
        raise ValueError(f"cn_holidays.toml: {where} must be an array of dates")
    return value


@lru_cache(maxsize=1)
def _cn_schedule() -> _HolidaySchedule:
    """Load and validate ``sim/data/cn_holidays.toml`` (cached)."""
    text = files("sim").joinpath("data/cn_holidays.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    years: set[int] = set()
    off: set[date] = set()
    work: set[date] = set()
    for key, table in raw.items():
        if not key.isdigit() or not isinstance(table, dict):
            raise ValueError(f"cn_holidays.toml: unexpected entry {key!r}")
        years.add(int(key))
        off.update(_date_list(table.get("off", []), f"[{key}].off"))
        work.update(_date_list(table.get("work", []), f"[{key}].work"))
    both = off & work
    if both:
        raise ValueError(f"cn_holidays.toml: dates both off and work: {sorted(both)}")
    return _HolidaySchedule(frozenset(years), frozenset(off), frozenset(work))


def _parse_clock(text: str, *, allow_24: bool) -> float:
    """Parse ``"HH:MM"`` into hours after midnight (``"24:00"`` only if allowed)."""
    parts = text.split(":") if isinstance(text, str) and text.isascii() else []
    if (
        len(parts) != 2
        or not (parts[0].isdigit() and 1 <= len(parts[0]) <= 2)
        or not (parts[1].isdigit() and len(parts[1]) == 2)
    ):
        raise ValueError(f"invalid time {text!r}: expected 'HH:MM'")
    hh, mm = int(parts[0]), int(parts[1])
    if hh == 24 and mm == 0 and allow_24:
        return 24.0
    if hh > 23 or mm > 59:
        raise ValueError(
            f"invalid time {text!r}: must be 00:00-23:59" + (" or 24:00" if allow_24 else "")
        )
    return hh + mm / 60.0


def _parse_periods(hours: Iterable[tuple[str, str]]) -> list[tuple[float, float]]:
    """Parse and validate the opening periods of one working day."""
    periods: list[tuple[float, float]] = []
    for item in hours:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"invalid opening period {item!r}: expected ('HH:MM', 'HH:MM')")
        start = _parse_clock(item[0], allow_24=False)
        end = _parse_clock(item[1], allow_24=True)
        if end <= start:
            raise ValueError(f"opening period {tuple(item)!r} ends before it starts")
        if periods and start < periods[-1][1]:
            raise ValueError(
                f"opening period {tuple(item)!r} overlaps or precedes the previous one;"
                " periods must be increasing and non-overlapping"
            )
        periods.append((start, end))
    if not periods:
        raise ValueError("no opening periods given: 'hours' must list at least one period")
    return periods


# --------------------------------------------------------------------------- #
# The calendar
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False)
class WorkCalendar:
    """Sorted disjoint working intervals ``[open[k], close[k])`` in abs hours.

    ``cum[k]`` is the working time before ``open[k]`` and
    ``cend[k] = cum[k] + (close[k] - open[k])`` the working time at
    ``close[k]``.  Before ``open[0]`` and after ``close[-1]`` the office is
    closed.  ``uncovered_years`` lists the years of the covered range that the
    requested holiday schedule does not know (only weekdays applied there).
    Equality and hashing are by identity.
    """

    name: str
    open: FloatArray
    close: FloatArray
    cum: FloatArray
    cend: FloatArray
    hours_per_day: float
    uncovered_years: tuple[int, ...] = ()
    _open_l: list[float] = field(init=False, repr=False)
    _close_l: list[float] = field(init=False, repr=False)
    _cum_l: list[float] = field(init=False, repr=False)
    _cend_l: list[float] = field(init=False, repr=False)
    _walk: DayWalk = field(init=False, repr=False)  # for array lookups (sim.model.dayindex)

    def __post_init__(self) -> None:
        """Validate the interval tables and cache list copies for scalar calls."""
        arrays = (self.open, self.close, self.cum, self.cend)
        if not all(
            isinstance(a, np.ndarray) and a.dtype == np.float64 and a.ndim == 1 for a in arrays
        ):
            raise ValueError("open, close, cum, cend must be 1-D float64 numpy arrays")
        n = len(self.open)
        if n == 0 or any(len(a) != n for a in arrays):
            raise ValueError("open, close, cum, cend must be non-empty and of equal length")
        if not (np.all(self.open < self.close) and np.all(self.close[:-1] <= self.open[1:])):
            raise ValueError("intervals must satisfy open[k] < close[k] <= open[k+1]")
        if self.cum[0] != 0.0 or not np.array_equal(self.cend, self.cum + (self.close - self.open)):
            raise ValueError("cum must start at 0 and cend must equal cum + (close - open)")
        if not (np.isfinite(self.hours_per_day) and self.hours_per_day > 0):
            raise ValueError("hours_per_day must be a positive finite number")
        object.__setattr__(self, "_open_l", self.open.tolist())
        object.__setattr__(self, "_close_l", self.close.tolist())
        object.__setattr__(self, "_cum_l", self.cum.tolist())
        object.__setattr__(self, "_cend_l", self.cend.tolist())
        object.__setattr__(self, "_walk", day_walk(self.open))

    # ---- constructors ---------------------------------------------------- #

    @classmethod
    def from_intervals(
        cls,
        name: str,
        intervals: Sequence[tuple[float, float]],
        hours_per_day: float,
        uncovered_years: tuple[int, ...] = (),
    ) -> WorkCalendar:
        """Calendar from sorted ``(open, close)`` pairs in abs hours.

        ``cum`` is accumulated left to right so that ``cum[k+1] == cend[k]``
        exactly.
        """
        if not intervals:
            raise ValueError(f"calendar {name!r} has no working time at all")
        cum: list[float] = []
        cend: list[float] = []
        acc = 0.0
        for o, c in intervals:
            cum.append(acc)
            acc = acc + (c - o)
            cend.append(acc)
        return cls(
            name=name,
            open=np.array([o for o, _ in intervals], dtype=np.float64),
            close=np.array([c for _, c in intervals], dtype=np.float64),
            cum=np.array(cum, dtype=np.float64),
            cend=np.array(cend, dtype=np.float64),
            hours_per_day=float(hours_per_day),
            uncovered_years=uncovered_years,
        )

    @classmethod
    def always_open(cls, name: str = "always", horizon_hours: float | None = None) -> WorkCalendar:
        """Calendar open around the clock: one interval ``[0, 1e12)``.

        ``to_work(t) == t`` and ``to_abs(w) == w`` exactly inside it.
        ``horizon_hours`` only checks that the run fits in that interval.
        """
        if horizon_hours is not None and not horizon_hours <= ALWAYS_OPEN_END:
            raise ValueError(
                f"horizon {horizon_hours!r} h exceeds the always-open calendar"
                f" ({ALWAYS_OPEN_END:g} h)"
            )
        return cls.from_intervals(name, [(0.0, ALWAYS_OPEN_END)], 24.0)

    @classmethod
    def build(
        cls,
        name: str,
        start_date: date,
        days: int,
        hours: Sequence[tuple[str, str]],
        weekdays: Iterable[int] = (0, 1, 2, 3, 4),
        holidays: str = "cn",
        closed_dates: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
    ) -> WorkCalendar:
        """Office calendar covering ``days`` calendar days from ``start_date``.

        A day is working if its ``weekday()`` is in ``weekdays``, then the
        holiday schedule applies (``"cn"``: official PRC days off become
        closed, and swapped weekend days 调休 become working in a calendar
        that works the whole national week, every one of Monday to Friday;
        ``"none"``: nothing), then ``closed_dates`` close and ``extra_workdays`` open
        days.  Each working day is open during ``hours``, a list of
        ``("HH:MM", "HH:MM")`` periods (``"24:00"`` allowed as an end).
        ``hours_per_day`` is the sum of the period lengths.  Years of the
        range missing from the holiday file get weekdays only and are listed
        in ``uncovered_years``.

        Raises ``ValueError`` for malformed arguments or a calendar with no
        working time.
        """
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise ValueError(f"days must be a positive integer, got {days!r}")
        if holidays not in _HOLIDAY_SETS:
            raise ValueError(f"unknown holidays {holidays!r}: expected one of {_HOLIDAY_SETS}")
        periods = _parse_periods(hours)
        work_weekdays = frozenset(weekdays)
        if not work_weekdays <= frozenset(range(7)):
            raise ValueError(
                f"weekdays must be integers 0 (Mon) to 6 (Sun), got {sorted(work_weekdays)}"
            )
        closed = frozenset(closed_dates)
        extra = frozenset(extra_workdays)
        conflict = closed & extra
        if conflict:
            raise ValueError(
                f"dates both in closed_dates and extra_workdays: "
                f"{', '.join(d.isoformat() for d in sorted(conflict))}"
            )
        schedule = (
            _cn_schedule()
            if holidays == "cn"
            else _HolidaySchedule(frozenset(), frozenset(), frozenset())
        )

        # a swapped working day (调休上班) is a normal working day of the national week: the
        # notices do not say which weekday it stands for, so it opens only a calendar that
        # works all of Monday to Friday (docs/model.md, "Calendars")
        swaps_open = _NATIONAL_WEEK.issubset(work_weekdays)
        intervals: list[tuple[float, float]] = []
        uncovered: set[int] = set()
        for i in range(days):
            day = start_date + timedelta(days=i)
            working = day.weekday() in work_weekdays
            if holidays == "cn":
                if day.year not in schedule.years:
                    uncovered.add(day.year)
                elif day in schedule.off:
                    working = False
                elif day in schedule.work and swaps_open:
                    working = True
            if day in closed:
                working = False
            elif day in extra:
                working = True
            if working:
                base = i * 24.0
                intervals.extend((base + s, base + e) for s, e in periods)
        if not intervals:
            raise ValueError(
                f"calendar {name!r} has no working time at all in the {days} day(s)"
                f" from {start_date.isoformat()}: check weekdays, holidays,"
                " closed_dates and extra_workdays"
            )
        hours_per_day = sum(e - s for s, e in periods)
        return cls.from_intervals(name, intervals, hours_per_day, tuple(sorted(uncovered)))

    # ---- properties ------------------------------------------------------- #

    @property
    def end_hours(self) -> float:
        """Last covered absolute time (``close[-1]``); closed forever after it."""
        return float(self.close[-1])

    @property
    def scalar_tables(self) -> tuple[list[float], list[float], list[float], list[float]]:
        """``(open, close, cum, cend)`` as Python lists, for the fast scalar functions."""
        return self._open_l, self._close_l, self._cum_l, self._cend_l

    # ---- conversions ------------------------------------------------------ #

    @overload
    def to_work(self, t: float) -> float: ...
    @overload
    def to_work(self, t: FloatArray) -> FloatArray: ...

    def to_work(self, t: float | FloatArray) -> float | FloatArray:
        """Working hours elapsed from the epoch to absolute time(s) ``t``."""
        if not isinstance(t, np.ndarray):
            return to_work_scalar(self._open_l, self._close_l, self._cum_l, self._cend_l, t)
        t = t.astype(np.float64, copy=False)
        k = open_index(self._walk, self.open, t)
        kc = np.maximum(k, 0)
        inside = self.cum[kc] + (t - self.open[kc])
        res = np.where(t >= self.close[kc], self.cend[kc], inside)
        return np.where(k < 0, 0.0, res)

    @overload
    def to_abs(self, w: float) -> float: ...
    @overload
    def to_abs(self, w: FloatArray) -> FloatArray: ...

    def to_abs(self, w: float | FloatArray) -> float | FloatArray:
        """Earliest absolute time(s) at which ``w >= 0`` working hours have elapsed.

        ``inf`` beyond the calendar's total working time.
        """
        if not isinstance(w, np.ndarray):
            return to_abs_scalar(self._cend_l, self._open_l, self._cum_l, w)
        w = w.astype(np.float64, copy=False)
        n = len(self.cend)
        k = np.searchsorted(self.cend, w, side="left")
        kc = np.minimum(k, n - 1)
        return np.where(k == n, np.inf, self.open[kc] + (w - self.cum[kc]))

    @overload
    def next_open(self, t: float) -> float: ...
    @overload
    def next_open(self, t: FloatArray) -> FloatArray: ...

    def next_open(self, t: float | FloatArray) -> float | FloatArray:
        """Earliest time(s) ``>= t`` at which the office is working (``inf`` if never)."""
        if not isinstance(t, np.ndarray):
            return next_open_scalar(self._open_l, self._close_l, t)
        t = t.astype(np.float64, copy=False)
        n = len(self.close)
        k = np.searchsorted(self.close, t, side="right")
        kc = np.minimum(k, n - 1)
        return np.where(k == n, np.inf, np.maximum(t, self.open[kc]))

    @overload
    def is_open(self, t: float) -> bool: ...
    @overload
    def is_open(self, t: FloatArray) -> NDArray[np.bool_]: ...

    def is_open(self, t: float | FloatArray) -> bool | NDArray[np.bool_]:
        """Whether the office is working at absolute time(s) ``t``."""
        if not isinstance(t, np.ndarray):
            j = bisect_right(self._open_l, t) - 1
            return j >= 0 and t < self._close_l[j]
        k = open_index(self._walk, self.open, np.asarray(t, dtype=np.float64))
        kc = np.maximum(k, 0)
        return (k >= 0) & (t < self.close[kc])

    @overload
    def working_hours_between(self, t0: float, t1: float) -> float: ...
    @overload
    def working_hours_between(self, t0: float | FloatArray, t1: FloatArray) -> FloatArray: ...
    @overload
    def working_hours_between(self, t0: FloatArray, t1: float | FloatArray) -> FloatArray: ...

    def working_hours_between(
        self, t0: float | FloatArray, t1: float | FloatArray
    ) -> float | FloatArray:
        """Working hours between absolute times ``t0`` and ``t1`` (negative if ``t1 < t0``)."""
        return self.to_work(t1) - self.to_work(t0)

    @overload
    def workdays(self, t0: float, t1: float) -> float: ...
    @overload
    def workdays(self, t0: float | FloatArray, t1: FloatArray) -> FloatArray: ...
    @overload
    def workdays(self, t0: FloatArray, t1: float | FloatArray) -> FloatArray: ...

    def workdays(self, t0: float | FloatArray, t1: float | FloatArray) -> float | FloatArray:
        """Working time between ``t0`` and ``t1`` in standard working days.

        ``(to_work(t1) - to_work(t0)) / hours_per_day``.
        """
        return self.working_hours_between(t0, t1) / self.hours_per_day
