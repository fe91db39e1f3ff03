"""Reading XES (IEEE 1849-2016) event logs, plain or gzip, streamed.

``xml.etree.ElementTree.iterparse`` walks the file once; each event element is turned
into a row and cleared at once, so memory holds the rows, never the document tree. Trace
attributes become the ``cases`` table (indexed by the trace's ``concept:name``), event
attributes the event columns, each typed by its XES element: ``string``/``id`` as text,
``date`` as a timestamp, ``int``, ``float``, ``boolean``. Nested attributes (children of
an attribute) and containers (``list``) are left out; log-level attributes, globals,
classifiers and extensions describe the log, not its events, and are skipped.
"""

from __future__ import annotations

import contextlib
import gzip
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO, Any

import pandas as pd

from sim.logs import stamps
from sim.logs.eventlog import EventLog, LogError, build, check_columns

_TYPED = {"string", "id", "date", "int", "float", "boolean"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


#: typed XES values: (how to read the text, the rule a bad one breaks)
_NUMBERS: dict[str, tuple[Any, str]] = {
    "int": (int, "an <int> value is not an integer"),
    "float": (float, "a <float> value is not a number"),
}


def _value(kind: str, text: str | None, source: str, where: str, key: str) -> Any:
    if text is None:
        return None
    if kind in _NUMBERS:
        read, rule = _NUMBERS[kind]
        try:
            return read(text)
        except ValueError:
            raise LogError(source, f"{where}, attribute {key!r}", rule, text) from None
    if kind == "boolean":
        low = text.strip().lower()
        if low not in ("true", "false"):
            raise LogError(source, f"{where}, attribute {key!r}",
                           "a <boolean> value is not true or false", text) from None
        return low == "true"
    return text  # string, id, date (dates are parsed per column afterwards)


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":  # opened by name: closing it closes the file too
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def parse(path: Path, source: str) -> tuple[list[dict[str, Any]], list[str],
                                            dict[str, dict[str, Any]], set[str], int]:
    """Walk the file: event rows (each with its trace's id under ``""``), the trace ids in
    file order, the trace attributes by id, the names of date attributes, traces seen."""
    rows: list[dict[str, Any]] = []
    traces: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    dates: set[str] = set()
    stack: list[str] = []
    trace: dict[str, Any] = {}
    trace_rows: list[dict[str, Any]] = []
    event: dict[str, Any] | None = None
    n_traces = 0
    fh = _open(path)
    try:
        for action, elem in ET.iterparse(fh, events=("start", "end")):
            tag = _local(elem.tag)
            if action == "start":
                stack.append(tag)
                if tag == "trace" and len(stack) == 2:
                    trace, trace_rows, n_traces = {}, [], n_traces + 1
                elif tag == "event" and len(stack) == 3 and stack[1] == "trace":
                    event = {}
                continue
            stack.pop()
            depth = len(stack)
            if tag in _TYPED and depth in (2, 3):
                parent = stack[-1]
                key = elem.get("key")
                if key is None:
                    continue
                where = (f"event {len(rows) + len(trace_rows) + 1}" if parent == "event"
                         else f"trace {n_traces}")
                val = _value(tag, elem.get("value"), source, where, key)
                if tag == "date":
                    dates.add(("case:" if parent == "trace" else "") + key)
                if parent == "event" and depth == 3 and event is not None:
                    event[key] = val
                elif parent == "trace" and depth == 2:
                    trace[key] = val
                elem.clear()
            elif tag == "event" and depth == 2 and event is not None:
                trace_rows.append(event)
                event = None
                elem.clear()
            elif tag == "trace" and depth == 1:
                cid = trace.get("concept:name")
                if cid is None:
                    raise LogError(source, f"trace {n_traces}",
                                   "the trace has no concept:name (its case id)")
                cid = str(cid)
                for r in trace_rows:
                    r[""] = cid
                rows.extend(trace_rows)
                if cid not in traces:
                    order.append(cid)
                traces[cid] = trace
                elem.clear()
    except ET.ParseError as exc:
        raise LogError(source, f"line {exc.position[0]}, column {exc.position[1]}",
                       f"not well-formed XML ({str(exc).split(':')[0]})") from None
    except (OSError, EOFError) as exc:
        raise LogError(source, "", f"cannot be read as XES ({exc})") from None
    finally:
        fh.close()
    return rows, order, traces, dates, n_traces


def read_xes(path: Path, source: str, mapping: dict[str, str | None],
             duplicates: str = "error") -> EventLog:
    """Read an XES file into an :class:`EventLog` (see :func:`sim.logs.read`)."""
    rows, order, traces, dates, n_traces = parse(path, source)
    if not rows:
        raise LogError(source, "", f"the log has no events ({n_traces} traces)")
    raw = pd.DataFrame.from_records(rows)
    case_ids = raw.pop("").to_numpy()
    case_col = mapping["case"]
    assert case_col is not None
    trace_keys: set[str] = set()
    for attrs in traces.values():
        trace_keys.update(attrs)
    # a "case:X" mapping names trace attribute X (pm4py's convention)
    for key in ("case", "activity", "timestamp", "resource", "start_timestamp"):
        name = mapping.get(key)
        if name and name.startswith("case:") and name not in raw.columns \
                and name[5:] in trace_keys:
            attr = name[5:]
            raw[name] = [traces[c].get(attr) for c in case_ids]
    check_columns([str(c) for c in raw.columns], source, mapping)

    def label(i: int) -> str:
        return f"event {i + 1} (case {case_ids[i]!r})"

    for col in sorted(d for d in dates if d in raw.columns and d not in mapping.values()):
        with contextlib.suppress(stamps.StampError):  # one that does not parse stays text
            raw[col] = stamps.parse(raw[col], allow_missing=True).values
    cases = pd.DataFrame.from_records([traces[c] for c in order], index=order)
    cases = cases.drop(columns=["concept:name"], errors="ignore")
    for col in cases.columns:
        if f"case:{col}" in dates:
            with contextlib.suppress(stamps.StampError):
                cases[col] = stamps.parse(cases[col], allow_missing=True).values.set_axis(
                    cases.index)
    cases.index.name = "case"
    return build(raw, source, mapping, cases=cases, label=label, duplicates=duplicates)
