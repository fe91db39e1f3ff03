"""Staffing over time: a station's schedule of server counts (docs/model.md, "Staffing
over time").

:class:`ScheduleEntry` is the schema of one entry (the first validation stage: each field
as it loads); :func:`check_overlaps` is the second stage (no two entries cover one hour);
:func:`change_instants` turns a schedule into the instants where the count changes, from
the run's start date to its horizon, which is all the engines read; :func:`server_hours`
is the scheduled server-working-hours of a window (the utilization's denominator).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Annotated

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator

from sim.errors import ScenarioError
from sim.model.calendar import WorkCalendar
from sim.model.fields import Date, NonNegInt, Strict, Text

TimeOfDay = Annotated[str, Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")]
ISO_WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


class ScheduleEntry(Strict):
    """Servers on duty in the hours ``[from, to)`` of the days of ``weekdays`` (ISO,
    Mon = 1) within ``dates`` (first and last date, both included); each left out means
    every day, weekday or hour."""

    servers: NonNegInt = Field(description="servers on duty while the entry is in force")
    dates: tuple[Date, Date] | None = Field(
        None, description="[first, last] date the entry is in force (both included)")
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] | None = Field(
        None, description="ISO weekdays (Mon=1) the entry is in force (default all)")
    hours: tuple[TimeOfDay, TimeOfDay] | None = Field(
        None, description="[from, to) time of day, e.g. ['09:00','12:00'] (default all day)")
    note: Text = ""

    @field_validator("hours")
    @classmethod
    def _hours_increase(cls, v: tuple[str, str] | None) -> tuple[str, str] | None:
        if v is None:
            return v
        a, b = _minutes(v[0]), _minutes(v[1])
        if a >= 24 * 60 or b > 24 * 60:
            raise ValueError("must be times of day from 00:00 to 24:00")
        if a >= b:
            raise ValueError("must be an increasing period [from, to)")
        return v

    @model_validator(mode="after")
    def _dates_increase(self) -> ScheduleEntry:
        if self.dates is not None and self.dates[0] > self.dates[1]:
            raise ValueError(f"needs dates [first, last] with first <= last (got "
                             f"{self.dates[0].isoformat()} > {self.dates[1].isoformat()})")
        if self.weekdays is not None and not self.weekdays:
            raise ValueError("needs at least one weekday in 'weekdays' (or leave it out)")
        return self

    def minute_range(self) -> tuple[int, int]:
        if self.hours is None:
            return 0, 24 * 60
        return _minutes(self.hours[0]), _minutes(self.hours[1])

    def days(self) -> set[int]:
        return set(self.weekdays) if self.weekdays is not None else set(ISO_WEEKDAYS)

    def describe(self) -> str:
        d = ("every date" if self.dates is None
             else f"{self.dates[0].isoformat()} to {self.dates[1].isoformat()}")
        w = "every weekday" if self.weekdays is None else f"weekdays {sorted(self.days())}"
        h = "all day" if self.hours is None else f"{self.hours[0]}-{self.hours[1]}"
        return f"{d}, {w}, {h}"


def _overlap(a: ScheduleEntry, b: ScheduleEntry) -> bool:
    """Whether some day is in both entries' dates and weekdays, with hours in common."""
    days = a.days() & b.days()
    spans = [e.dates for e in (a, b) if e.dates is not None]
    if spans:
        lo, hi = max(s[0] for s in spans), min(s[1] for s in spans)
        if lo > hi:
            return False
        if (hi - lo).days < 7:  # the weekdays the common dates have
            days &= {(lo + dt.timedelta(days=k)).isoweekday()
                     for k in range((hi - lo).days + 1)}
    if not days:
        return False
    (a0, a1), (b0, b1) = a.minute_range(), b.minute_range()
    return a0 < b1 and b0 < a1


def check_overlaps(station: str, entries: Sequence[ScheduleEntry], source: str) -> None:
    """Second stage: no two entries of a station's schedule cover one hour."""
    for k, e in enumerate(entries):
        for m in range(k):
            if _overlap(entries[m], e):
                raise ScenarioError(
                    source, f"stations.{station}.schedule[{k}]",
                    f"overlaps schedule[{m}] ({entries[m].describe()}): entries must not "
                    f"cover the same hour", e.describe())


def change_instants(base: int, entries: Sequence[ScheduleEntry], start: dt.date,
                    horizon: float) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The instants in ``[0, horizon]`` (hours since ``start`` 00:00) where the count
    changes, and the count from each on (the count before the first is ``base``)."""
    if not entries:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    pieces: list[tuple[float, float, int]] = []  # [t0, t1) at count n, disjoint
    n_days = math.ceil(horizon / 24.0) + 1
    for d in range(n_days):
        day = start + dt.timedelta(days=d)
        wd = day.isoweekday()
        for e in entries:
            if e.dates is not None and not e.dates[0] <= day <= e.dates[1]:
                continue
            if wd not in e.days():
                continue
            m0, m1 = e.minute_range()
            pieces.append((24.0 * d + m0 / 60.0, 24.0 * d + m1 / 60.0, e.servers))
    pieces.sort()
    times: list[float] = []
    counts: list[int] = []
    cur = base

    def change(t: float, n: int) -> None:
        nonlocal cur
        if n == cur or t > horizon:
            return
        if times and times[-1] == t:
            counts[-1] = n
        else:
            times.append(t)
            counts.append(n)
        cur = n

    for t0, t1, n in pieces:
        change(t0, n)
        change(t1, base)
    # two pieces back to back (12:00 to 13:30, then 13:30 on) change twice at 13:30: the
    # last write holds; drop a change that restores the count before it
    out_t: list[float] = []
    out_n: list[int] = []
    prev = base
    for t, n in zip(times, counts, strict=True):
        if n != prev:
            out_t.append(t)
            out_n.append(n)
            prev = n
    return np.asarray(out_t, dtype=np.float64), np.asarray(out_n, dtype=np.int64)


def all_changes(stations: Sequence[tuple[int, Sequence[ScheduleEntry]]], start: dt.date,
                horizon: float) -> tuple[NDArray[np.float64], NDArray[np.int64],
                                         NDArray[np.int64]]:
    """Every station's count changes (its base count and schedule, by station index),
    sorted by (time, station): times, stations, new counts."""
    rows = sorted((float(x), k, int(c)) for k, (base, entries) in enumerate(stations)
                  for x, c in zip(*change_instants(base, entries, start, horizon),
                                  strict=True))
    return (np.asarray([r[0] for r in rows], dtype=np.float64),
            np.asarray([r[1] for r in rows], dtype=np.int64),
            np.asarray([r[2] for r in rows], dtype=np.int64))


def server_hours(cal: WorkCalendar, base: int, times: NDArray[np.float64],
                 counts: NDArray[np.int64], t0: float, t1: float) -> float:
    """Scheduled server-working-hours in ``[t0, t1]``: the integral of the count over the
    calendar's working time (``base x (W(t1) - W(t0))`` without changes)."""
    if times.size == 0:
        return float(base * (cal.to_work(t1) - cal.to_work(t0)))
    edges = np.concatenate([[t0], np.clip(times, t0, t1), [t1]])
    n = np.concatenate([[base], counts])
    w = np.asarray(cal.to_work(edges), dtype=np.float64)
    return float(np.sum(n * np.diff(w)))
