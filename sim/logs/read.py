"""Reading an event log from a file, by its suffix: XES, CSV or Parquet (see
:func:`read`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.errors import UsageError
from sim.logs.eventlog import EventLog, LogError, build, check_columns
from sim.logs.xes import read_xes

#: what :func:`read` accepts, by suffix
SUFFIXES = (".xes", ".xes.gz", ".csv", ".csv.gz", ".parquet", ".pq")


def log_format(path: str | Path) -> str:
    """``xes``, ``csv`` or ``parquet`` from a path's suffix; a UsageError otherwise."""
    name = Path(path).name.lower()
    for suffix, fmt in ((".xes.gz", "xes"), (".xes", "xes"), (".csv.gz", "csv"),
                        (".csv", "csv"), (".parquet", "parquet"), (".pq", "parquet")):
        if name.endswith(suffix):
            return fmt
    raise UsageError(f"{path}: unknown event-log format (the file name must end in "
                     f"{', '.join(SUFFIXES)})")


def read(path: str | Path, *, case: str = "case:concept:name",
         activity: str = "concept:name", timestamp: str = "time:timestamp",
         resource: str = "org:resource", start_timestamp: str | None = None,
         lifecycle: str = "lifecycle:transition", duplicates: str = "error") -> EventLog:
    """Read and check an event log (.xes, .xes.gz, .csv, .csv.gz, .parquet, .pq).

    The keywords map the log's columns (XES attribute keys) to the canonical ones; a
    ``case:X`` name in an XES log is the trace attribute ``X``. Every rule broken is a
    :class:`~sim.logs.LogError` naming the file, the row and the column.
    ``duplicates`` (``error``, ``keep``, ``drop``): events repeating another's case,
    activity, timestamp, resource and lifecycle; the real BPIC 2015 logs have some
    (same-day entries told apart only by other attributes), so read them with ``keep``.
    """
    p = Path(path)
    fmt = log_format(p)
    source = p.name
    if not p.is_file():
        raise UsageError(f"{p}: no such file" if not p.exists() else f"{p}: not a file")
    mapping: dict[str, str | None] = {
        "case": case, "activity": activity, "timestamp": timestamp, "resource": resource,
        "start_timestamp": start_timestamp, "lifecycle": lifecycle}
    if fmt == "xes":
        return read_xes(p, source, mapping, duplicates)
    raw = _read_csv(p, source, mapping) if fmt == "csv" else _read_parquet(p, source)
    return build(raw, source, mapping, duplicates=duplicates)


def _read_csv(p: Path, source: str, mapping: dict[str, str | None]) -> pd.DataFrame:
    try:
        head = pd.read_csv(p, nrows=0)
    except pd.errors.EmptyDataError:
        raise LogError(source, "", "the log has no events (the file is empty)") from None
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError) as exc:
        raise LogError(source, "", f"cannot be read as CSV ({exc})") from None
    columns = [str(c) for c in head.columns]
    check_columns(columns, source, mapping)
    text = {c: str for c in (mapping["case"], mapping["activity"], mapping["resource"],
                             mapping["timestamp"], mapping["start_timestamp"],
                             mapping["lifecycle"]) if c in columns}
    try:
        return pd.read_csv(p, dtype=text, keep_default_na=True)
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError) as exc:
        raise LogError(source, "", f"cannot be read as CSV ({exc})") from None


def _read_parquet(p: Path, source: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(p, engine="pyarrow")  # pyarrow: the optional parquet extra
    except ImportError:
        raise UsageError(f"{p}: reading Parquet needs pyarrow: "
                         "pip install 'govsim[parquet]'") from None
    except (OSError, ValueError) as exc:
        raise LogError(source, "", f"cannot be read as Parquet ({exc})") from None
