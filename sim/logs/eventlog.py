"""An event log, real or simulated, in one canonical shape, and the checks that admit one.

:class:`EventLog` holds ``events``: one row per *complete* event with the canonical
columns ``case`` (str), ``activity`` (str), ``timestamp`` (tz-aware), ``resource`` (str or
NA), ``start`` (tz-aware or NaT: the paired start event's time, or the start-timestamp
column), then every other event attribute under its own name; rows sorted by (case,
timestamp), file order breaking ties. ``cases`` holds the trace attributes (XES) indexed
by case id. :meth:`EventLog.from_frame` builds one from any DataFrame with a column
mapping; :func:`sim.logs.read` builds one from a file. Every rule broken is a
:class:`LogError` naming the file, the row (or event) and the column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import GovsimError, UsageError, format_value
from sim.logs import stamps

#: the canonical columns, in order
CANONICAL = ("case", "activity", "timestamp", "resource", "start")
#: the default column mapping (the process-mining names pm4py and XES use)
DEFAULTS: dict[str, str | None] = {
    "case": "case:concept:name", "activity": "concept:name", "timestamp": "time:timestamp",
    "resource": "org:resource", "start_timestamp": None,
    "lifecycle": "lifecycle:transition",
}
#: what to do with duplicated events
DUPLICATES = ("error", "keep", "drop")
#: mapping keys as the command line spells them
FLAGS = {"case": "--case", "activity": "--activity", "timestamp": "--timestamp",
         "resource": "--resource", "start_timestamp": "--start-timestamp",
         "lifecycle": "--lifecycle"}


class LogError(GovsimError):
    """An event log breaks a rule: the message names the file, the row and the column."""

    def __init__(self, source: str, where: str, rule: str, value: object = ...) -> None:
        self.source = source
        self.where = where
        self.rule = rule
        self.value = value
        got = "" if value is ... else f" (got {format_value(value)})"
        place = f"{where}: " if where else ""
        super().__init__(f"{source}: {place}{rule}{got}")


def row_label(i: int) -> str:
    """Where row ``i`` (0-based, file order) of a table is: ``row 3`` is the third data row."""
    return f"row {i + 1}"


@dataclass
class EventLog:
    """A checked event log (see the module docstring for the shape)."""

    events: pd.DataFrame
    cases: pd.DataFrame
    source: str
    #: events that came out of (case, timestamp) order in the file and were sorted
    reordered: int = 0
    #: the timestamps' zone ("UTC", "+02:00", "Asia/Shanghai", or UTC when offsets vary)
    time_zone: str = "UTC"
    #: True when the log carries no zone and was read as UTC
    zone_assumed: bool = False
    #: start events paired with their complete (folded into ``start``)
    paired_starts: int = 0
    #: events of other lifecycle transitions (schedule, suspend, ...) left out
    dropped: int = 0
    #: events repeating another's case, activity, timestamp, resource and lifecycle
    duplicates: int = 0
    #: per row of ``events``: its stamp was exactly midnight on the local wall clock
    midnight: np.ndarray | None = field(default=None, repr=False)

    @property
    def date_only_share(self) -> float:
        """Share of timestamps at exactly midnight local time (date-only stamps)."""
        if self.midnight is None:
            ts = self.events["timestamp"]
            wall = ts.dt.tz_localize(None)
            self.midnight = (wall == wall.dt.normalize()).to_numpy()
        return float(np.mean(self.midnight)) if len(self.midnight) else 0.0

    @property
    def n_cases(self) -> int:
        return int(self.events["case"].nunique())

    def arrivals_csv(self) -> str:
        """The case starts (each case's first event) as a recorded-arrivals CSV: a ``time``
        column of ISO 8601 stamps with their offset, sorted (docs/model.md, "Recorded
        arrivals")."""
        starts = self.events.groupby("case")["timestamp"].min().sort_values(kind="stable")
        return "time\n" + "".join(f"{t.isoformat()}\n" for t in starts)

    def __len__(self) -> int:
        return len(self.events)

    def summary(self) -> str:
        """One line: cases, events, span, zone, date-only share."""
        ts = self.events["timestamp"]
        zone = f"{self.time_zone} (assumed: the log has no zones)" if self.zone_assumed \
            else self.time_zone
        return (f"{self.source}: {self.n_cases} cases, {len(self)} events, "
                f"{ts.min():%Y-%m-%d} to {ts.max():%Y-%m-%d}, zone {zone}, "
                f"{self.date_only_share:.0%} date-only stamps")

    @classmethod
    def from_frame(cls, df: pd.DataFrame, source: str = "<frame>", *,
                   case: str = "case:concept:name", activity: str = "concept:name",
                   timestamp: str = "time:timestamp", resource: str = "org:resource",
                   start_timestamp: str | None = None,
                   lifecycle: str = "lifecycle:transition",
                   duplicates: str = "error") -> EventLog:
        """Check ``df`` and build the log (mapping as :func:`sim.logs.read`)."""
        mapping = {"case": case, "activity": activity, "timestamp": timestamp,
                   "resource": resource, "start_timestamp": start_timestamp,
                   "lifecycle": lifecycle}
        return build(df, source, mapping, duplicates=duplicates)


def check_columns(columns: list[str], source: str, mapping: dict[str, str | None],
                  case_columns: tuple[str, ...] = ()) -> None:
    """A mapping that names a column the log does not have is an error, one line."""
    have = set(columns) | set(case_columns)
    for key in ("case", "activity", "timestamp", "resource", "lifecycle", "start_timestamp"):
        name = mapping.get(key)
        if name is None or name in have:
            continue
        if key in ("resource", "lifecycle") and name == DEFAULTS[key]:
            continue  # optional when left at its default
        shown = ", ".join(repr(c) for c in columns[:12]) + (", ..." if len(columns) > 12
                                                           else "")
        raise LogError(source, f"column {name!r}",
                       f"not found in the log (named by {FLAGS[key]}; the log has "
                       f"columns {shown or 'none'})")


def _where(label: Callable[[int], str], i: int, column: str) -> str:
    return f"{label(i)}, column {column!r}"


def _text(col: pd.Series, source: str, label: Callable[[int], str], name: str,
          required: bool) -> pd.Series:
    """A column of ids/names as str (NA kept where allowed)."""
    missing = col.isna().to_numpy()
    text = col.astype("string").str.strip()
    missing = missing | (text == "").fillna(True).to_numpy(dtype=bool)
    if required and missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise LogError(source, _where(label, i, name), "value is missing")
    out = text.astype(object)
    out[missing] = None
    return out


def _parse(col: pd.Series, source: str, label: Callable[[int], str], name: str,
           allow_missing: bool = False) -> stamps.Stamps:
    try:
        return stamps.parse(col, allow_missing=allow_missing)
    except stamps.StampError as exc:
        raise LogError(source, _where(label, exc.row, name), exc.rule,
                       exc.value if exc.value is not None else ...) from None


def build(raw: pd.DataFrame, source: str, mapping: dict[str, str | None],
          cases: pd.DataFrame | None = None,
          label: Callable[[int], str] = row_label, duplicates: str = "error") -> EventLog:
    """Check ``raw`` (rows in file order) and build the :class:`EventLog`.

    ``duplicates``: what to do with events that repeat another's case, activity,
    timestamp, resource and lifecycle: ``error`` (a LogError naming both rows), ``keep``
    or ``drop`` (the later copies); the number found is ``EventLog.duplicates``.
    """
    if duplicates not in DUPLICATES:
        raise UsageError(f"duplicates must be one of {', '.join(DUPLICATES)} "
                         f"(got {duplicates!r})")
    columns = [str(c) for c in raw.columns]
    check_columns(columns, source, mapping)
    if len(raw) == 0:
        raise LogError(source, "", "the log has no events")
    raw = raw.reset_index(drop=True)
    c_case, c_act, c_ts = mapping["case"], mapping["activity"], mapping["timestamp"]
    c_res, c_life, c_start = mapping["resource"], mapping["lifecycle"], \
        mapping["start_timestamp"]
    assert c_case is not None and c_act is not None and c_ts is not None
    used = {c for c in (c_case, c_act, c_ts, c_res, c_start) if c is not None}
    extras = [c for c in raw.columns if c not in used]
    for c in extras:
        if c in CANONICAL:
            raise LogError(source, f"column {c!r}",
                           "has a canonical column's name and is not mapped to it; "
                           f"map it (e.g. --{'start-timestamp' if c == 'start' else c} "
                           f"{c}) or rename it")
    case = _text(raw[c_case], source, label, c_case, True)
    act = _text(raw[c_act], source, label, c_act, True)
    res = (_text(raw[c_res], source, label, c_res, False)
           if c_res is not None and c_res in raw.columns
           else pd.Series([None] * len(raw), dtype=object))
    ts = _parse(raw[c_ts], source, label, c_ts)
    n = len(raw)
    life: np.ndarray
    if c_life is not None and c_life in raw.columns:
        life = raw[c_life].astype("string").str.strip().str.lower() \
            .fillna("complete").to_numpy(dtype=object)
    else:
        life = np.full(n, "complete", dtype=object)
    key = pd.DataFrame({"c": case, "a": act, "t": ts.values, "r": res, "l": life})
    dup = key.duplicated(keep="first").to_numpy()
    n_dup = int(dup.sum())
    if n_dup and duplicates == "error":
        i = int(np.flatnonzero(dup)[0])
        filled = key.astype(str)
        first = int(np.flatnonzero((filled == filled.iloc[i]).all(axis=1))[0])
        raise LogError(source, label(i),
                       f"duplicated event: same case, activity, timestamp, resource and "
                       f"lifecycle as {label(first)}; the log has {n_dup} such events "
                       "(read it with duplicates='keep' or 'drop' to accept them)",
                       f"{case[i]}, {act[i]}, {ts.values.iloc[i].isoformat()}")
    if n_dup and duplicates == "drop":
        life = np.where(dup, "duplicate", life)
    is_start = np.asarray(life == "start", dtype=bool)
    is_complete = np.asarray(life == "complete", dtype=bool)
    start = pd.Series(pd.NaT, index=raw.index, dtype=ts.values.dtype)
    paired = 0
    if is_start.any():
        start, paired = _pair_starts(key, is_start, is_complete, source, label)
    if c_start is not None:
        st = _parse(raw[c_start], source, label, c_start, allow_missing=True)
        start = st.values.dt.tz_convert(ts.values.dt.tz)
        late = (start > ts.values).fillna(False).to_numpy(dtype=bool)
        if late.any():
            i = int(np.flatnonzero(late)[0])
            raise LogError(source, _where(label, i, c_start),
                           f"start is after the event's {c_ts}",
                           f"{start.iloc[i].isoformat()} > {ts.values.iloc[i].isoformat()}")
    keep = is_complete
    if not keep.any():
        raise LogError(source, "", "the log has no complete events "
                       f"(lifecycle column {c_life!r})")
    events = pd.DataFrame({"case": case, "activity": act, "timestamp": ts.values,
                           "resource": res, "start": start})
    for c in extras:
        events[str(c)] = raw[c].to_numpy()
    events["_row"] = np.arange(n)
    events = events[keep]
    reordered = _out_of_order(events)
    events = events.sort_values(["case", "timestamp", "_row"], kind="stable")
    order = events["_row"].to_numpy()
    midnight = ts.midnight[order]
    events = events.drop(columns="_row").reset_index(drop=True)
    if cases is None:
        cases = pd.DataFrame(index=pd.Index([], name="case", dtype=object))
    return EventLog(events=events, cases=cases, source=source, reordered=reordered,
                    time_zone=ts.zone, zone_assumed=ts.assumed, paired_starts=paired,
                    dropped=int((~is_start & ~is_complete).sum()), duplicates=n_dup,
                    midnight=midnight)


def _out_of_order(events: pd.DataFrame) -> int:
    """Events whose time is earlier than an event before them (file order) in their case."""
    t = events["timestamp"].astype("int64")
    running = t.groupby(events["case"].to_numpy()).cummax()
    return int((t < running.groupby(events["case"].to_numpy()).shift(1)).sum())


def _pair_starts(key: pd.DataFrame, is_start: np.ndarray, is_complete: np.ndarray,
                 source: str, label: Callable[[int], str]) -> tuple[pd.Series, int]:
    """Pair the k-th start of (case, activity), in time order, with the k-th complete."""
    frame = key.assign(_row=np.arange(len(key)))
    order = ["c", "a", "t", "_row"]
    starts = frame[is_start].sort_values(order, kind="stable")
    comps = frame[is_complete].sort_values(order, kind="stable")
    starts = starts.assign(k=starts.groupby(["c", "a"]).cumcount())
    comps = comps.assign(k=comps.groupby(["c", "a"]).cumcount())
    merged = starts.merge(comps, on=["c", "a", "k"], how="left", suffixes=("", "_c"))
    lone = merged["_row_c"].isna().to_numpy()
    if lone.any():
        i = int(merged["_row"].to_numpy()[lone].min())
        raise LogError(source, label(i), "a start event without a complete event "
                       "(same case and activity, at or after it)", f"{key['c'][i]}, "
                       f"{key['a'][i]}")
    late = (merged["t"] > merged["t_c"]).to_numpy()
    if late.any():
        i = int(merged["_row"].to_numpy()[late].min())
        raise LogError(source, label(i), "a start event after the complete event it "
                       "pairs with (same case and activity)", f"{key['c'][i]}, {key['a'][i]}")
    start = pd.Series(pd.NaT, index=key.index, dtype=key["t"].dtype)
    rows = merged["_row_c"].to_numpy(dtype=np.int64)
    start.iloc[rows] = merged["t"].to_numpy()
    return start, len(merged)


def extra_columns(log: EventLog) -> list[str]:
    """The event attributes beyond the canonical columns."""
    return [c for c in log.events.columns if c not in CANONICAL]


def as_mapping(**kwargs: Any) -> dict[str, str | None]:
    """The full mapping: defaults overridden by the non-None keywords given."""
    out = dict(DEFAULTS)
    out.update({k: v for k, v in kwargs.items() if k in DEFAULTS})
    return out
