"""Timestamps of an event log: parsed, zone-checked, with the local wall clock kept.

A column of timestamps becomes a tz-aware pandas column. ISO 8601 text (``2014-04-14``,
``2014-04-14T09:30:00+02:00``, ``...Z``) is read exactly; other text is handed to pandas.
The rules:

- every stamp carries a zone, or none does (a mix is an error naming the first row that
  differs); a log without zones is read as UTC, and :class:`Stamps` says so;
- one offset throughout keeps that offset as the column's zone; offsets that differ
  between stamps (summer time moves them) are matched to an IANA zone that has each
  stamp's offset at its instant (``Europe/Amsterdam`` for BPIC 2015), so local days
  stay local days; failing that, the times are converted to UTC;
- the local wall clock of each stamp (before any conversion) decides whether it is
  date-only (exactly midnight), which :attr:`EventLog.date_only_share` counts.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: ISO 8601 date, optional time, optional zone
_ISO = (r"^(\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?)"
        r"\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$")


class StampError(ValueError):
    """A stamp that breaks a rule: ``row`` (position in the column), rule, value."""

    def __init__(self, row: int, rule: str, value: object) -> None:
        super().__init__(rule)
        self.row = row
        self.rule = rule
        self.value = value


@dataclass(frozen=True)
class Stamps:
    """A parsed column: tz-aware ``values``, ``midnight`` mask (local wall clock),
    the ``zone`` kept and whether it was ``assumed`` (no zone in the log: UTC)."""

    values: pd.Series
    midnight: np.ndarray
    zone: str
    assumed: bool

    def __post_init__(self) -> None:
        # one resolution whatever pandas infers (pandas 3 parses text to microseconds)
        object.__setattr__(self, "values", self.values.dt.as_unit("ns"))


def _offset_minutes(text: str) -> int:
    if text in ("Z", "UTC"):
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4]) if len(digits) >= 4 else 0
    return sign * (hours * 60 + minutes)


def _zone_name(minutes: int) -> str:
    if minutes == 0:
        return "UTC"
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _from_datetimes(col: pd.Series, allow_missing: bool) -> Stamps:
    tz = getattr(col.dtype, "tz", None)
    missing = col.isna().to_numpy()
    if missing.any() and not allow_missing:
        row = int(np.flatnonzero(missing)[0])
        raise StampError(row, "timestamp is missing", None)
    wall = col.dt.tz_localize(None) if tz is not None else col
    midnight = (wall == wall.dt.normalize()).to_numpy() & ~missing
    if tz is None:
        return Stamps(col.dt.tz_localize("UTC"), midnight, "UTC", True)
    return Stamps(col, midnight, str(tz), False)


def parse(col: pd.Series, *, allow_missing: bool = False) -> Stamps:
    """Parse one column of timestamps (text, datetimes or pandas datetime64).

    Raises :class:`StampError` with the position of the first bad stamp.
    """
    col = col.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return _from_datetimes(col, allow_missing)
    text = col.map(lambda v: v.isoformat() if isinstance(v, dt.datetime | pd.Timestamp)
                   else v, na_action="ignore")
    s = text.astype("string").str.strip()
    missing = (s.isna() | (s == "")).to_numpy(dtype=bool)
    if missing.all():
        if allow_missing and len(s):
            nat = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
            return Stamps(nat, np.zeros(len(s), dtype=bool), "UTC", True)
        if len(s):
            raise StampError(0, "timestamp is missing", None)
    if missing.any() and not allow_missing:
        raise StampError(int(np.flatnonzero(missing)[0]), "timestamp is missing", None)
    parts = s.str.extract(_ISO)
    iso = parts[0].notna().to_numpy(dtype=bool)
    present = ~missing
    if (present & ~iso).any():
        return _parse_other(s, missing)
    has_zone = parts[1].notna().to_numpy(dtype=bool)
    zoned, plain = present & has_zone, present & ~has_zone
    if zoned.any() and plain.any():
        first = int(np.flatnonzero(present)[0])
        other = plain if has_zone[first] else zoned
        row = int(np.flatnonzero(other)[0])
        kind = "has no time zone" if has_zone[first] else "has a time zone"
        raise StampError(row, f"mixed time zones: this stamp {kind}, the first stamp "
                         f"(row {first + 1}) {'has one' if has_zone[first] else 'has none'}",
                         str(s.iloc[row]))
    wall = pd.to_datetime(parts[0].str.replace(",", ".", regex=False), format="ISO8601",
                          errors="coerce")
    bad = present & wall.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise StampError(row, "timestamp cannot be parsed", str(s.iloc[row]))
    midnight = present & (wall == wall.dt.normalize()).to_numpy()
    if not zoned.any():
        return Stamps(wall.dt.tz_localize("UTC"), midnight, "UTC", True)
    offsets = pd.Series(0, index=s.index, dtype="int64")
    codes = parts[1][zoned]
    uniq = {c: _offset_minutes(c) for c in codes.unique()}
    offsets[zoned] = codes.map(uniq).to_numpy(dtype="int64")
    utc = (wall - pd.to_timedelta(offsets, unit="min")).dt.tz_localize("UTC")
    minutes = set(uniq.values())
    if len(minutes) == 1:
        (m,) = minutes
        tz = dt.timezone(dt.timedelta(minutes=m)) if m else dt.UTC
        return Stamps(utc.dt.tz_convert(tz), midnight, _zone_name(m), False)
    zone = infer_zone(utc[zoned], offsets[zoned])
    if zone is None:
        return Stamps(utc, midnight, "UTC (the log's offsets vary; converted)", False)
    return Stamps(utc.dt.tz_convert(zone), midnight, zone, False)


#: regions tried first when several zones fit a log's offsets (all fitting zones give
#: the same local times, so the choice only affects the name shown)
_REGIONS = ("Europe/", "America/", "Asia/", "Australia/", "Pacific/", "Africa/")


def infer_zone(utc: pd.Series, offsets: pd.Series) -> str | None:
    """An IANA zone whose UTC offset equals every stamp's, or None.

    Offsets that change with summer time (BPIC 2015: +01:00 and +02:00) belong to one
    civil zone; finding it keeps each stamp's local day, which a conversion to UTC
    would shift for midnight (date-only) stamps.
    """
    samples = pd.DataFrame({"u": utc.to_numpy(), "o": offsets.to_numpy()}) \
        .drop_duplicates("o")
    probes = [(pd.Timestamp(u).to_pydatetime(), int(o)) for u, o in samples.itertuples(
        index=False)]
    names = sorted(zoneinfo.available_timezones(),
                   key=lambda z: (next((k for k, r in enumerate(_REGIONS)
                                        if z.startswith(r)), len(_REGIONS)), z))
    want = offsets.to_numpy()
    for name in names:
        try:
            zone = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        if any(_minutes(u.astimezone(zone)) != o for u, o in probes):
            continue
        local = utc.dt.tz_convert(name)
        have = (local.dt.tz_localize(None) - utc.dt.tz_localize(None)) \
            // pd.Timedelta(minutes=1)
        if (have.to_numpy() == want).all():
            return name
    return None


def _minutes(t: dt.datetime) -> int:
    off = t.utcoffset()
    return 0 if off is None else int(off.total_seconds() // 60)


def _parse_other(s: pd.Series, missing: np.ndarray) -> Stamps:
    """Non-ISO text: pandas guesses one format for the column; the same zone rules."""
    present = ~missing
    try:
        values = pd.to_datetime(s, errors="coerce", format="mixed")
    except (ValueError, TypeError) as exc:  # mixed offsets without utc=True
        if "tz" not in str(exc) and "offset" not in str(exc):
            raise
        values = None
    if values is None or not pd.api.types.is_datetime64_any_dtype(values.dtype):
        raise StampError(int(np.flatnonzero(present)[0]),
                         "mixed time zones (the stamps carry different zones)",
                         str(s[present].iloc[0]))
    bad = present & values.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise StampError(row, "timestamp cannot be parsed", str(s.iloc[row]))
    return _from_datetimes(values, True)


