"""Recorded arrivals: the CSV file a class's ``arrivals.file`` names, read and checked once
when the scenario loads, and the stationary bootstrap of its gaps (docs/model.md,
"Recorded arrivals").

The file has a ``time`` column: ISO 8601 date-times (``2024-03-01``, ``2024-03-01 09:30``,
with or without a zone: naive ones are on the scenario's wall clock, zoned ones are turned
to it), or numbers (hours since the run's start). Rows must be sorted by time. An optional
``class`` column says whose case each row is (else every row is the naming class's), an
optional ``channel`` column its channel (``window``, ``online``, ``proxy``). Every rule
broken is one :class:`~sim.errors.ScenarioError`: the scenario file, the field, the arrival
file and row, the rule, the value.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.files import unreadable
from sim.model.schema import CHANNEL_NAMES, RecordedArrivals, Scenario

#: the largest arrival file read (1,199 BPIC 2015 case starts take 25 kB; a million
#: rows with classes and channels about 40 MB)
MAX_ARRIVAL_BYTES = 200_000_000
#: the columns an arrival file may have
COLUMNS = ("time", "class", "channel")

#: ISO 8601 date, optional time, optional zone (as sim.logs.stamps reads event logs)
_ISO = (r"^(\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?)"
        r"\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$")
_TIME_RULE = ("time must be an ISO date-time (naive: the scenario's zone) or hours since the "
              "run's start, sorted ascending")
_EPOCH = pd.Timestamp("1970-01-01")

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Recorded:
    """What an arrival file says: per row its time, class (None: no class column) and
    channel (None: no channel column); ``clock`` ``wall`` (hours on the wall clock since
    1970-01-01 00:00) or ``run`` (hours since the run's start)."""

    hours: F64
    clock: str
    classes: list[str] | None
    channels: list[str] | None


def _offset_minutes(text: str) -> int:
    if text in ("Z", "UTC"):
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0))


def _times(col: pd.Series, zone: str) -> tuple[F64, str, int | None]:
    """Hours of each row, the clock, and the first row that breaks the rule (or None)."""
    text = col.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isfinite(numbers).any() and not np.isnan(numbers[0]):
        bad = ~np.isfinite(numbers)
        return numbers, "run", int(np.flatnonzero(bad)[0]) if bad.any() else None
    parts = text.str.extract(_ISO)
    wall = pd.to_datetime(parts[0].str.replace(",", ".", regex=False), format="ISO8601",
                          errors="coerce")
    bad = wall.isna().to_numpy()
    zoned = parts[1].notna().to_numpy(dtype=bool) & ~bad
    if zoned.any():
        off = parts[1][zoned].map(_offset_minutes).to_numpy(dtype=np.int64)
        utc = (wall[zoned] - pd.to_timedelta(off, unit="min")).dt.tz_localize("UTC")
        wall = wall.copy()
        wall[zoned] = utc.dt.tz_convert(zoneinfo.ZoneInfo(zone)).dt.tz_localize(None)
    hours = np.full(len(col), np.nan)
    ok = ~bad
    hours[ok] = (wall[ok] - _EPOCH).dt.total_seconds().to_numpy(dtype=np.float64) / 3600.0
    return hours, "wall", int(np.flatnonzero(bad)[0]) if bad.any() else None


def read(path: Path, source: str, field: str, zone: str) -> Recorded:
    """Read and check an arrival file (see the module's text)."""
    name = path.name

    def fail(rule: str, value: object = ...) -> ScenarioError:
        return ScenarioError(source, field, f"{name}: {rule}", value)

    why = unreadable(path, MAX_ARRIVAL_BYTES)
    if why is not None:
        raise ScenarioError(source, field, f"{path}: {why}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise fail("the file is empty: it needs a header with a 'time' column and one row "
                   "per arrival") from None
    except (UnicodeDecodeError, pd.errors.ParserError, OSError) as exc:
        raise fail(f"cannot be read as CSV ({exc})") from None
    columns = [str(c).strip() for c in raw.columns]
    raw.columns = pd.Index(columns)
    if "time" not in columns:
        raise fail(f"needs a 'time' column (the file has {', '.join(map(repr, columns))})")
    extra = [c for c in columns if c not in COLUMNS]
    if extra:
        raise fail(f"has an unknown column (known: {', '.join(COLUMNS)})", extra[0])
    if raw.empty:
        raise fail("has no arrivals (a header and no rows)")
    hours, clock, bad = _times(raw["time"], zone)
    if bad is None:
        back = np.flatnonzero(np.diff(hours) < 0)
        bad = int(back[0]) + 1 if back.size else None
    if bad is not None:
        raise fail(f"row {bad + 1}: {_TIME_RULE}", str(raw["time"].iloc[bad]))
    classes = channels = None
    if "class" in columns:
        classes = [c.strip() for c in raw["class"]]
        empty = [k for k, c in enumerate(classes) if not c]
        if empty:
            raise fail(f"row {empty[0] + 1}: class is missing")
    if "channel" in columns:
        channels = [c.strip().lower() for c in raw["channel"]]
        wrong = [k for k, c in enumerate(channels) if c not in CHANNEL_NAMES]
        if wrong:
            raise fail(f"row {wrong[0] + 1}: channel must be one of {', '.join(CHANNEL_NAMES)}",
                       str(raw["channel"].iloc[wrong[0]]))
    return Recorded(hours, clock, classes, channels)


def _known(names: list[str]) -> str:
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")


def attach(s: Scenario, source: str, base: Path | None) -> None:
    """Read every class's arrival file (each file once) into its ``hours``, ``clock`` and
    ``channels``, and check what the times say of the rest of the scenario.

    With ``base`` (a scenario loaded from its file), a class with a ``file`` reads it, from
    ``base`` when the path is relative; without it (a scenario built in Python, or dumped
    and validated anew after an edit) the times must already be there.
    """
    users: dict[Path, list[str]] = {}
    for name, cls in s.classes.items():
        a = cls.arrivals
        if a is None or a.file is None:
            continue
        field = f"classes.{name}.arrivals"
        if base is not None:
            if a.hours is not None:
                raise ScenarioError(source, f"{field}.hours", "conflicts with "
                                    f"{field}.file: give the times in a file or as hours, "
                                    "not both")
            p = Path(a.file)
            users.setdefault(p if p.is_absolute() else base / p, []).append(name)
        elif a.hours is None:
            raise ScenarioError(source, f"{field}.file", "was not read: load the scenario "
                                "from its file (sim.load) so the arrival file is found "
                                "beside it, or give the times as hours", a.file)
    for path, names in users.items():
        field = f"classes.{names[0]}.arrivals.file"
        rec = read(path, source, field, s.scenario.zone)
        rows = {n: np.arange(rec.hours.shape[0]) for n in names}
        if rec.classes is not None:
            known = list(s.classes)
            for k, c in enumerate(rec.classes):
                if c not in s.classes:
                    raise ScenarioError(source, field, f"{path.name}: row {k + 1}: class "
                                        f"names an unknown class (known: {_known(known)})", c)
                if c not in names:
                    raise ScenarioError(source, field, f"{path.name}: row {k + 1}: class "
                                        f"'{c}' does not take its arrivals from this file "
                                        f"(give classes.{c}.arrivals.file)", c)
            cls_col = np.asarray(rec.classes, dtype=object)
            rows = {n: np.flatnonzero(cls_col == n) for n in names}
        for n in names:
            if rows[n].size == 0:
                raise ScenarioError(source, f"classes.{n}.arrivals.file",
                                    f"{path.name}: has no rows of class '{n}'")
            a = s.classes[n].arrivals
            assert a is not None
            data = {**a.model_dump(), "hours": rec.hours[rows[n]].tolist(), "clock": rec.clock,
                    "channels": None if rec.channels is None
                    else [rec.channels[k] for k in rows[n]]}
            try:
                s.classes[n].arrivals = RecordedArrivals.model_validate(data)
            except ValidationError as exc:
                err = exc.errors()[0]
                rule = str((err.get("ctx") or {}).get("error", err["msg"]))
                raise ScenarioError(source, f"classes.{n}.arrivals", f"{path.name}: {rule}") \
                    from None
    for name, cls in s.classes.items():
        a = cls.arrivals
        if a is None or a.channels is None:
            continue
        field = f"classes.{name}.arrivals"
        if cls.online_share > 0 or cls.proxy_share > 0:
            raise ScenarioError(source, f"classes.{name}.online_share",
                                f"conflicts with the channels {field} records: the recorded "
                                "channel of each case replaces the shares (remove one)")
        if "proxy" in a.channels and cls.agent_pool is None:
            k = a.channels.index("proxy")
            raise ScenarioError(source, f"classes.{name}.agent_pool", "is required: the "
                                f"recorded arrivals have proxy cases (the first: the "
                                f"class's arrival {k + 1})")


def run_hours(hours: F64, clock: str, start: dt.date) -> F64:
    """Recorded hours on the run's axis: hours since ``start`` 00:00 on the wall clock."""
    if clock == "run":
        return np.asarray(hours, dtype=np.float64)
    offset = (pd.Timestamp(start) - _EPOCH).total_seconds() / 3600.0
    return np.asarray(hours, dtype=np.float64) - offset


def bootstrap_indices(m: int, block: float, u_new: F64, u_pick: F64) -> NDArray[np.int64]:
    """The stationary bootstrap's indices into ``m`` gaps (Politis and Romano, 1994).

    Position ``k`` starts a new block when ``u_new[k] < 1 / block`` (always at ``k = 0``),
    at index ``floor(u_pick[k] * m)``; otherwise it takes the gap after the one before,
    wrapping around. Blocks are geometric with mean ``block``; every gap is equally likely
    at every position, so the resampled series is stationary with the recorded gaps'
    distribution. Index ``k`` depends only on the uniforms up to ``k``: a longer draw
    begins with a shorter one.
    """
    n = u_new.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = u_new < 1.0 / block
    new[0] = True
    pick = np.minimum((u_pick * m).astype(np.int64), m - 1)
    start = np.flatnonzero(new)
    seg = np.cumsum(new) - 1
    return np.asarray((pick[start][seg] + np.arange(n) - start[seg]) % m, dtype=np.int64)
