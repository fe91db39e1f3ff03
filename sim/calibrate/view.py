"""The training view of an event log: the cases calibration learns from, with their whole
traces, and the per-event facts every later step reads (local wall clock, whether a stamp
carries a clock time, hours since the scenario's epoch).

A case is in the training view when its first event is before ``train_until`` (all cases
when it is None). Open cases (no decision, no end by the log's end) are kept: dropping
them would bias every duration short.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.errors import UsageError
from sim.logs.eventlog import EventLog, LogError

#: the schema's Name pattern, and what sanitizing replaces
NAME_BAD = re.compile(r"[^A-Za-z0-9_.\-]")


def sanitize(name: str, taken: set[str]) -> str:
    """``name`` made a valid scenario name (unique among ``taken``, which it joins)."""
    out = NAME_BAD.sub("_", name.strip()) or "item"
    if not re.match(r"[A-Za-z0-9_]", out[0]):
        out = "a_" + out
    base, k = out, 2
    while out in taken:
        out = f"{base}_{k}"
        k += 1
    taken.add(out)
    return out


def zone_name(zone: str) -> tuple[str, str]:
    """An IANA zone for the log's zone text, and a note when it had to be approximated."""
    try:
        zoneinfo.ZoneInfo(zone)
        return zone, ""
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    m = re.fullmatch(r"([+-])(\d\d):(\d\d)", zone)
    if m and m.group(3) == "00":
        h = int(m.group(2))
        name = "UTC" if h == 0 else f"Etc/GMT{'-' if m.group(1) == '+' else '+'}{h}"
        return name, ""
    return "UTC", f"the log's zone {zone!r} has no IANA name: the scenario runs in UTC"


@dataclass
class View:
    """The training cases' events, sorted by (case, timestamp), and the case table."""

    events: pd.DataFrame  # case, activity, ts, resource, start, timed, hour (since epoch)
    cases: pd.DataFrame  # index case: first, last (tz-aware), n_events
    source: str
    zone: str
    start_date: dt.date
    train_from: dt.date
    train_until: dt.date | None
    log_end: dt.date
    #: whether the log has start events (service observed directly)
    has_starts: bool
    notes: list[str]

    @property
    def n_cases(self) -> int:
        return len(self.cases)

    def hours(self, ts: pd.Series) -> np.ndarray:
        """Wall-clock hours since 00:00 of ``start_date`` (the model's time axis)."""
        wall = ts.dt.tz_convert(self.zone).dt.tz_localize(None)
        epoch = pd.Timestamp(self.start_date)
        return ((wall - epoch) / pd.Timedelta(hours=1)).to_numpy(dtype=np.float64)

    @property
    def window_days(self) -> int:
        """Days of the arrival window: first training case to train_until (or the last
        training case's start + 1)."""
        end = self.train_until or (self.cases["first_day"].max() + dt.timedelta(days=1))
        return max(1, (end - self.train_from).days)

    @property
    def horizon_days(self) -> int:
        """Days from the first training case to the day after the log's last event."""
        return max(self.window_days, (self.log_end - self.train_from).days + 1)


def parse_date(text: str | dt.date | None, what: str = "--train-until") -> dt.date | None:
    """A date from ``YYYY-MM-DD`` text; a UsageError naming ``what`` otherwise."""
    if text is None or isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise UsageError(f"{what} must be a date YYYY-MM-DD (got {str(text)!r})") from None


def training_view(log: EventLog, train_until: dt.date | None) -> View:
    """The cases whose first event is before ``train_until`` (local date), whole traces."""
    source = log.source
    if log.n_cases < 2:
        raise LogError(source, "", "calibration needs a log of at least 2 cases (one case "
                       "shows no arrival rate and no variation)", log.n_cases)
    zone, note = zone_name(log.time_zone)
    ev = log.events
    midnight = log.midnight if log.midnight is not None else np.zeros(len(ev), dtype=bool)
    if log.midnight is None:
        _ = log.date_only_share
        midnight = log.midnight if log.midnight is not None else midnight
    ts = ev["timestamp"].dt.tz_convert(zone)
    frame = pd.DataFrame({
        "case": ev["case"].astype(str).to_numpy(), "activity": ev["activity"].astype(str)
        .to_numpy(), "ts": ts.to_numpy(), "resource": ev["resource"].to_numpy(dtype=object),
        "start": ev["start"].dt.tz_convert(zone).to_numpy(),
        "timed": ~np.asarray(midnight, dtype=bool)})
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(zone)
    frame["start"] = pd.to_datetime(frame["start"], utc=True).dt.tz_convert(zone)
    day = frame["ts"].dt.tz_localize(None).dt.normalize()
    frame["day"] = day
    first = frame.groupby("case", sort=False)["day"].min()
    log_end = frame["day"].max().date()
    if train_until is not None:
        keep_cases = first.index[first < pd.Timestamp(train_until)]
        if len(keep_cases) < 2:
            raise UsageError(f"{source}: --train-until {train_until} leaves "
                             f"{len(keep_cases)} training case(s) (the log's first case "
                             f"starts {first.min().date()}); calibration needs at least 2")
        frame = frame[frame["case"].isin(set(keep_cases))]
    frame = frame.reset_index(drop=True)
    g = frame.groupby("case", sort=True)
    cases = pd.DataFrame({"first": g["ts"].min(), "last": g["ts"].max(),
                          "first_day": g["day"].min().dt.date, "n_events": g.size()})
    start_date = cases["first_day"].min()
    view = View(events=frame, cases=cases, source=source, zone=zone, start_date=start_date,
                train_from=start_date, train_until=train_until, log_end=log_end,
                has_starts=bool(frame["start"].notna().any()), notes=[note] if note else [])
    view.events["hour"] = view.hours(frame["ts"])
    return view


def first_events(view: View) -> pd.DataFrame:
    """Each training case's first event (its arrival), with its clock-time flag."""
    ev = view.events
    idx = ev.groupby("case", sort=True).head(1).index
    return ev.loc[idx]
