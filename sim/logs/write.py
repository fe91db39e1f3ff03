"""Writing event logs by suffix: CSV (plain or gzip), Parquet, XES (plain or gzip).

:func:`write` takes one DataFrame or an iterable of them (``sim.results.eventlog.
event_chunks`` gives a simulated log a slice of cases at a time) and streams every
format chunk by chunk into a temporary file in the target's folder, renamed over the
target when the whole log is written: a reader never sees half a log, and a failed write
leaves nothing behind. Timestamps are ISO 8601 with their offset (``2023-01-10T09:00:00
.000+08:00``). XES follows IEEE 1849-2016 with the concept, lifecycle, time and org
extensions declared; each case is a trace (the rows of a case must be contiguous, as
``event_chunks`` gives them); columns named ``case:X`` become trace attribute ``X``.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from sim.errors import UsageError
from sim.files import open_atomic
from sim.logs.read import log_format

CASE = "case:concept:name"
#: the XES extensions a govsim log uses (name, prefix, uri)
EXTENSIONS = (("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
              ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
              ("Time", "time", "http://www.xes-standard.org/time.xesext"),
              ("Organizational", "org", "http://www.xes-standard.org/org.xesext"))


@contextlib.contextmanager
def atomic_stream(path: Path, compress: bool) -> Iterator[IO[bytes]]:
    """A binary file that becomes ``path`` only if the block ends without an error (the one
    atomic writer, :func:`sim.files.open_atomic`), gzip-compressed when asked."""
    with open_atomic(path) as raw:
        if compress:
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                yield gz  # type: ignore[misc]
        else:
            yield raw


def _chunks(data: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    if isinstance(data, pd.DataFrame):
        yield data
        return
    for chunk in data:
        if not isinstance(chunk, pd.DataFrame):
            raise UsageError(f"an event log to write is a DataFrame or an iterable of "
                             f"them (got an item of type {type(chunk).__name__})")
        yield chunk


def iso(col: pd.Series) -> np.ndarray:
    """Datetimes as ISO 8601 text to the millisecond, with the offset when tz-aware."""
    tz = getattr(col.dtype, "tz", None)
    local = col.dt.tz_localize(None) if tz is not None else col
    text = np.datetime_as_string(local.to_numpy(dtype="datetime64[ns]"), unit="ms")
    out = text.astype(object)
    if tz is not None:
        utc = col.dt.tz_convert("UTC").dt.tz_localize(None)
        minutes = ((local - utc) // pd.Timedelta(minutes=1)).to_numpy()
        ok = ~np.isnat(local.to_numpy())
        for m in np.unique(minutes[ok]):
            sign = "-" if m < 0 else "+"
            suffix = f"{sign}{abs(int(m)) // 60:02d}:{abs(int(m)) % 60:02d}"
            sel = ok & (minutes == m)
            out[sel] = out[sel] + suffix
    out[np.isnat(local.to_numpy())] = None
    return out


def write(data: pd.DataFrame | Iterable[pd.DataFrame], path: str | Path) -> int:
    """Write an event log to ``path`` (format by suffix); returns the events written."""
    p = Path(path)
    fmt = log_format(p)
    compress = p.name.lower().endswith(".gz")
    if fmt == "parquet":
        return _write_parquet(_chunks(data), p)
    with atomic_stream(p, compress) as fh:
        if fmt == "csv":
            return _write_csv(_chunks(data), fh)
        return _write_xes(_chunks(data), fh)


def _write_csv(chunks: Iterator[pd.DataFrame], fh: IO[bytes]) -> int:
    n = 0
    header: list[str] | None = None
    for chunk in chunks:
        out = chunk.copy()
        for c in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[c].dtype):
                out[c] = iso(out[c])
        if header is None:
            header = [str(c) for c in out.columns]
        elif [str(c) for c in out.columns] != header:
            raise UsageError("every chunk of an event log must have the same columns")
        fh.write(out.to_csv(index=False, header=n == 0, lineterminator="\n")
                 .encode("utf-8"))
        n += len(out)
    return n


def _write_parquet(chunks: Iterator[pd.DataFrame], p: Path) -> int:
    try:
        import pyarrow as pa  # optional dependency: the parquet extra
        import pyarrow.parquet as pq  # optional dependency: the parquet extra
    except ImportError:
        raise UsageError(f"{p}: writing Parquet needs pyarrow: "
                         "pip install 'govsim[parquet]'") from None
    n = 0
    with atomic_stream(p, False) as fh:
        writer: Any = None
        try:
            for chunk in chunks:
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                if writer is None:  # a column all NA in the first chunk: text
                    schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type)
                                        else f for f in table.schema],
                                       metadata=table.schema.metadata)
                    writer = pq.ParquetWriter(fh, schema)
                writer.write_table(table.cast(writer.schema))
                n += len(chunk)
            if writer is None:
                raise UsageError(f"{p}: the event log to write has no events")
        finally:
            if writer is not None:
                writer.close()
    return n


def _esc(values: np.ndarray) -> np.ndarray:
    s = pd.Series(values, dtype=object).astype(str)
    if s.str.contains(r'[&<>"]', regex=True).any():
        s = (s.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
             .str.replace(">", "&gt;", regex=False).str.replace('"', "&quot;", regex=False))
    return s.to_numpy(dtype=object)


def _attributes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Per row, its XES attribute elements as one string (NA attributes left out)."""
    out = np.full(len(frame), "", dtype=object)
    for c in columns:
        col = frame[c]
        dtype = col.dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            tag, text = "date", iso(col)
        elif pd.api.types.is_bool_dtype(dtype):
            tag, text = "boolean", np.where(col.to_numpy(dtype=bool), "true", "false")
        elif pd.api.types.is_integer_dtype(dtype):
            tag, text = "int", col.astype("string").to_numpy(dtype=object)
        elif pd.api.types.is_float_dtype(dtype):
            tag, text = "float", col.map(repr).to_numpy(dtype=object)
        else:
            tag, text = "string", col.to_numpy(dtype=object)
        missing = col.isna().to_numpy()
        text = np.asarray(text, dtype=object)
        key = _esc(np.asarray([c]))[0]
        elems = f'<{tag} key="{key}" value="' + _esc(np.where(missing, "", text)) + '"/>'
        out = out + np.where(missing, "", elems)
    return out


def _write_xes(chunks: Iterator[pd.DataFrame], fh: IO[bytes]) -> int:
    head = ['<?xml version="1.0" encoding="UTF-8" ?>',
            '<log xes.version="1849-2016" xes.features="" '
            'xmlns="http://www.xes-standard.org/">']
    head += [f'<extension name="{n}" prefix="{p}" uri="{u}"/>' for n, p, u in EXTENSIONS]
    head += ['<classifier name="Activity" keys="concept:name lifecycle:transition"/>',
             '<string key="concept:name" value="govsim event log"/>', ""]
    fh.write("\n".join(head).encode("utf-8"))
    n = 0
    current: object = None
    for chunk in chunks:
        if CASE not in chunk.columns:
            raise UsageError(f"an event log to write as XES needs a {CASE!r} column "
                             f"(got columns {', '.join(map(str, chunk.columns))})")
        if not len(chunk):
            continue
        frame = chunk.reset_index(drop=True)
        case = frame[CASE].astype(str).to_numpy(dtype=object)
        trace_cols = [c for c in frame.columns if str(c).startswith("case:") and c != CASE]
        event_cols = [c for c in frame.columns if c != CASE and c not in trace_cols]
        events = "<event>" + _attributes(frame, event_cols) + "</event>\n"
        new = np.ones(len(frame), dtype=bool)
        new[1:] = case[1:] != case[:-1]
        new[0] = case[0] != current
        starts = np.flatnonzero(new)
        trace_attrs = _attributes(frame.iloc[starts].rename(
            columns={c: str(c)[5:] for c in trace_cols}), [str(c)[5:] for c in trace_cols])
        opening = ('<trace><string key="concept:name" value="' + _esc(case[starts]) + '"/>'
                   + trace_attrs + "\n")
        closing = np.full(len(starts), "</trace>\n", dtype=object)
        if current is None:
            closing[0] = ""  # the log's first trace closes nothing
        openers = np.full(len(frame), "", dtype=object)
        openers[starts] = closing + opening
        fh.write("".join((openers + events).tolist()).encode("utf-8"))
        current = case[-1]
        n += len(frame)
    fh.write(("</trace>\n" if current is not None else "").encode("utf-8") + b"</log>\n")
    return n
