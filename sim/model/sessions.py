"""Review sessions (batching): a station that decides its cases only at scheduled
sessions, up to a capacity each (docs/model.md, "Review sessions (batching)").

:class:`SessionEntry` is the schema of one entry (the first validation stage: each field
as it loads); :func:`check_sessions` is the second stage (no two entries meet at one
instant); :func:`session_instants` turns a station's entries into the instants a session
is held, from the run's start date to its horizon, on the station's calendar, which is all
the engines read.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator

from sim.errors import ScenarioError
from sim.model.calendar import WorkCalendar
from sim.model.fields import Date, PosInt, Strict, Text
from sim.model.schedule import ScheduleEntry, TimeOfDay, _minutes, _overlap


class SessionEntry(Strict):
    """A session at ``at`` on the days of ``weekdays`` (ISO, Mon = 1) within ``dates``
    (first and last date, both included), taking at most ``capacity`` waiting cases."""

    at: TimeOfDay = Field(description="time of day the session sits, e.g. '10:00'")
    capacity: PosInt = Field(description="most cases one session takes")
    dates: tuple[Date, Date] | None = Field(
        None, description="[first, last] date sessions are held (both included)")
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] | None = Field(
        None, description="ISO weekdays (Mon=1) sessions are held (default all)")
    note: Text = ""

    @field_validator("at")
    @classmethod
    def _before_midnight(cls, v: str) -> str:
        if _minutes(v) >= 24 * 60:
            raise ValueError("must be a time of day from 00:00 to 23:59")
        return v

    @model_validator(mode="after")
    def _dates_increase(self) -> SessionEntry:
        if self.dates is not None and self.dates[0] > self.dates[1]:
            raise ValueError(f"needs dates [first, last] with first <= last (got "
                             f"{self.dates[0].isoformat()} > {self.dates[1].isoformat()})")
        if self.weekdays is not None and not self.weekdays:
            raise ValueError("needs at least one weekday in 'weekdays' (or leave it out)")
        return self

    def _as_minute(self) -> ScheduleEntry:
        """The entry as a schedule entry covering the minute it sits (for overlaps)."""
        m = _minutes(self.at) + 1
        return ScheduleEntry(servers=0, dates=self.dates, weekdays=self.weekdays,
                             hours=(self.at, f"{m // 60:02d}:{m % 60:02d}"))

    def describe(self) -> str:
        d = ("every date" if self.dates is None
             else f"{self.dates[0].isoformat()} to {self.dates[1].isoformat()}")
        w = ("every weekday" if self.weekdays is None
             else f"weekdays {sorted(set(self.weekdays))}")
        return f"{d}, {w}, at {self.at}"


def check_sessions(station: str, entries: Sequence[SessionEntry], source: str) -> None:
    """Second stage: no two entries of a station meet at one instant."""
    for k, e in enumerate(entries):
        for m in range(k):
            if _overlap(entries[m]._as_minute(), e._as_minute()):
                raise ScenarioError(
                    source, f"stations.{station}.sessions[{k}]",
                    f"meets at the same instant as sessions[{m}] ({entries[m].describe()}): "
                    "two sessions of a station must not sit at once", e.describe())


def session_instants(entries: Sequence[SessionEntry], cal: WorkCalendar, start: dt.date,
                     horizon: float) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The instants in ``[0, horizon]`` (hours since ``start`` 00:00) a session is held
    (the calendar open then), in order, and each one's capacity."""
    rows: list[tuple[float, int]] = []
    for d in range(math.ceil(horizon / 24.0) + 1):
        day = start + dt.timedelta(days=d)
        wd = day.isoweekday()
        for e in entries:
            if e.dates is not None and not e.dates[0] <= day <= e.dates[1]:
                continue
            if e.weekdays is not None and wd not in e.weekdays:
                continue
            t = 24.0 * d + _minutes(e.at) / 60.0
            if t <= horizon and cal.is_open(t):
                rows.append((t, e.capacity))
    rows.sort()
    return (np.asarray([r[0] for r in rows], dtype=np.float64),
            np.asarray([r[1] for r in rows], dtype=np.int64))


@dataclass(frozen=True, eq=False)
class Sessions:
    """Every session a model holds, sorted by (time, station): ``time``, ``station`` and
    ``capacity`` (empty without sessions). The engines read these three arrays only."""

    time: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    station: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    capacity: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    def at(self, s: int) -> bool:
        """Whether station ``s`` decides at sessions."""
        return bool((self.station == s).any())

    def seats(self, s: int, t0: float, t1: float) -> float:
        """The capacity of station ``s``'s sessions held in ``[t0, t1)``."""
        on = (self.station == s) & (self.time >= t0) & (self.time < t1)
        return float(self.capacity[on].sum())

    def seat_share(self, table: Any, t0: float, t1: float) -> Any:
        """The station table (:class:`~sim.results.records.StationSums`) with a session
        station's utilization the share of seats taken: the services started in the
        window ``[t0, t1)`` over the capacity of the sessions held in it."""
        for k in np.unique(self.station).tolist():
            n = self.seats(k, t0, t1)
            table.loc[k, "utilization"] = table.loc[k, "served"] / n if n else math.nan
        return table

    def offered(self, model: Any, load: dict[str, float]) -> dict[str, float]:
        """``load`` (:meth:`~sim.model.assembly.Model.offered_load`) with each session
        station's share of seats asked for: its expected submissions over the arrival
        window divided by the seats of the sessions held in it."""
        if self.time.size == 0:
            return load
        subs = np.bincount(model.item_station, weights=model.expected_submissions(),
                           minlength=model.n_stations)
        out = dict(load)
        for k in np.unique(self.station).tolist():
            n = self.seats(k, 0.0, model.arrival_end)
            out[model.station_names[k]] = float(subs[k] / n) if n else math.inf
        return out


def all_sessions(stations: Sequence[tuple[str, Sequence[SessionEntry], WorkCalendar]],
                 start: dt.date, horizon: float, source: str) -> Sessions:
    """Every station's sessions (by station index) in the run. A station whose entries
    hold no session in the run is an error."""
    rows: list[tuple[float, int, int]] = []
    for k, (name, entries, cal) in enumerate(stations):
        if not entries:
            continue
        times, caps = session_instants(entries, cal, start, horizon)
        if times.size == 0:
            raise ScenarioError(
                source, f"stations.{name}.sessions",
                f"hold no session in the run (from {start.isoformat()} for "
                f"{horizon / 24.0:g} days; a session is held only while the station's "
                f"calendar '{cal.name}' is open)", "; ".join(e.describe() for e in entries))
        rows.extend((float(t), k, int(c)) for t, c in zip(times, caps, strict=True))
    if not rows:
        return Sessions()
    rows.sort()
    return Sessions(np.asarray([r[0] for r in rows], dtype=np.float64),
                    np.asarray([r[1] for r in rows], dtype=np.int64),
                    np.asarray([r[2] for r in rows], dtype=np.int64))
