"""Reading event logs (sim.logs): the real BPIC 2015 log, round trips of small logs the
tests write, and one clear message, naming row and column, for each kind of bad input."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pandas as pd
import pytest

import sim.logs as logs
from sim.errors import UsageError
from sim.logs import EventLog, LogError

DATA = Path(__file__).resolve().parent.parent / "data"
BPIC1 = DATA / "BPIC15_1.xes.gz"

CSV = """case,activity,time,who,size
A,submit,2024-03-01T09:00:00+08:00,ann,1
A,review,2024-03-01T11:30:00+08:00,bob,2.5
B,submit,2024-03-02T00:00:00+08:00,ann,
A,decide,2024-03-04T00:00:00+08:00,cid,3
B,decide,2024-03-01T16:00:00+08:00,bob,4
"""

XES = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <global scope="event"><string key="concept:name" value="UNKNOWN"/></global>
  <string key="concept:name" value="tiny"/>
  <trace>
    <string key="concept:name" value="7"/>
    <float key="fee" value="12.5"/>
    <boolean key="urgent" value="true"/>
    <event>
      <string key="concept:name" value="submit"/>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2015-03-02T09:00:00.000+01:00"/>
      <string key="org:resource" value="r1"/>
      <int key="n" value="3"/>
    </event>
    <event>
      <string key="concept:name" value="check"/>
      <string key="lifecycle:transition" value="start"/>
      <date key="time:timestamp" value="2015-03-02T10:00:00.000+01:00"/>
      <string key="org:resource" value="r2"/>
    </event>
    <event>
      <string key="concept:name" value="check"/>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2015-03-02T12:00:00.000+01:00"/>
      <string key="org:resource" value="r2"/>
      <boolean key="ok" value="false"/>
    </event>
  </trace>
  <trace>
    <string key="concept:name" value="8"/>
    <event>
      <string key="concept:name" value="submit"/>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2015-07-01T00:00:00.000+02:00"/>
    </event>
  </trace>
</log>
"""


@pytest.fixture(scope="module")
def bpic1() -> tuple[EventLog, float]:
    if not BPIC1.exists():
        pytest.skip("data/BPIC15_1.xes.gz is not in this checkout")
    t0 = time.perf_counter()
    log = logs.read(BPIC1, duplicates="keep")
    return log, time.perf_counter() - t0


def test_bpic15_1_counts_zone_and_date_only_share(bpic1: tuple[EventLog, float]) -> None:
    log, seconds = bpic1
    assert log.n_cases == 1199
    assert len(log.events) == 52217
    assert len(log.cases) == 1199
    assert log.date_only_share == pytest.approx(0.46, abs=0.03)  # README: 43-49%
    assert 0.43 <= log.date_only_share <= 0.49
    # offsets +01:00 and +02:00 (summer time) are one civil zone: local days stay local
    assert log.time_zone == "Europe/Amsterdam"
    assert str(log.events["timestamp"].dt.tz) == "Europe/Amsterdam"
    assert log.duplicates == 19  # same case, activity, stamp, resource: kept on request
    assert log.events["start"].isna().all()  # complete events only
    assert set(log.events.columns[:5]) == {"case", "activity", "timestamp", "resource",
                                           "start"}
    assert {"activityNameEN", "action_code", "planned"} <= set(log.events.columns)
    assert {"startDate", "parts", "SUMleges"} <= set(log.cases.columns)
    assert log.cases["SUMleges"].dtype == float
    ev = log.events
    assert ev["case"].is_monotonic_increasing
    assert (ev.groupby("case")["timestamp"].diff().dropna() >= pd.Timedelta(0)).all()
    assert seconds < 30, f"reading BPIC15_1 took {seconds:.1f} s"


def test_bpic15_1_duplicates_are_an_error_by_default() -> None:
    if not BPIC1.exists():
        pytest.skip("data/BPIC15_1.xes.gz is not in this checkout")
    with pytest.raises(LogError) as err:
        logs.read(BPIC1)
    assert str(err.value) == (
        "BPIC15_1.xes.gz: event 9301 (case '2874224'): duplicated event: same case, "
        "activity, timestamp, resource and lifecycle as event 9300 (case '2874224'); the "
        "log has 19 such events (read it with duplicates='keep' or 'drop' to accept them) "
        "(got '2874224, 01_HOOFD_190_2, 2010-11-24T00:00:00+01:00')")


@pytest.mark.parametrize("name", ["tiny.csv", "tiny.csv.gz"])
def test_csv_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(CSV.encode()))
    else:
        path.write_text(CSV)
    log = logs.read(path, case="case", activity="activity", timestamp="time",
                    resource="who")
    ev = log.events
    assert list(ev["case"]) == ["A", "A", "A", "B", "B"]
    assert list(ev["activity"]) == ["submit", "review", "decide", "decide", "submit"]
    assert log.reordered == 1  # B's decide comes after its submit in time, before in file
    assert log.time_zone == "+08:00"
    assert ev["timestamp"].iloc[0] == pd.Timestamp("2024-03-01T01:00:00Z")
    assert log.date_only_share == pytest.approx(2 / 5)
    assert list(ev["size"].iloc[:3]) == [1.0, 2.5, 3.0]
    assert log.cases.empty and log.source == name
    again = EventLog.from_frame(pd.read_csv(path), case="case", activity="activity",
                                timestamp="time", resource="who")
    pd.testing.assert_frame_equal(again.events, ev)


def test_xes_round_trip_starts_typed_values_and_cases(tmp_path: Path) -> None:
    for name, data in (("tiny.xes", XES.encode()), ("tiny.xes.gz", gzip.compress(
            XES.encode()))):
        path = tmp_path / name
        path.write_bytes(data)
        log = logs.read(path)
        ev = log.events
        assert list(ev["case"]) == ["7", "7", "8"]
        assert list(ev["activity"]) == ["submit", "check", "submit"]
        assert log.paired_starts == 1
        assert ev["start"].iloc[1] == pd.Timestamp("2015-03-02T09:00:00Z")
        assert ev["start"].iloc[[0, 2]].isna().all()
        assert log.time_zone == "Europe/Amsterdam"
        assert ev["resource"].iloc[2] is None
        assert ev["n"].iloc[0] == 3 and ev["ok"].iloc[1] is False
        assert log.cases.loc["7", "fee"] == 12.5 and bool(log.cases.loc["7", "urgent"])
        assert log.date_only_share == pytest.approx(1 / 3)


def _csv(tmp_path: Path, text: str, name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_column_names_the_flag(tmp_path: Path) -> None:
    path = _csv(tmp_path, CSV)
    with pytest.raises(LogError) as err:
        logs.read(path, case="case", activity="activity", timestamp="when")
    assert str(err.value) == (
        "bad.csv: column 'when': not found in the log (named by --timestamp; the log has "
        "columns 'case', 'activity', 'time', 'who', 'size')")
    with pytest.raises(LogError, match=r"column 'who2': not found .*--resource"):
        logs.read(path, case="case", activity="activity", timestamp="time",
                  resource="who2")
    with pytest.raises(LogError, match=r"column 'begin': not found .*--start-timestamp"):
        logs.read(path, case="case", activity="activity", timestamp="time",
                  start_timestamp="begin")


def test_unparsable_timestamp_names_row_and_column(tmp_path: Path) -> None:
    path = _csv(tmp_path, "c,a,t\nx,s,2024-01-01T10:00:00\nx,d,2024-13-45T10:00:00\n")
    with pytest.raises(LogError) as err:
        logs.read(path, case="c", activity="a", timestamp="t")
    assert str(err.value) == ("bad.csv: row 2, column 't': timestamp cannot be parsed "
                              "(got '2024-13-45T10:00:00')")
    path = _csv(tmp_path, "c,a,t\nx,s,yesterday\n")
    with pytest.raises(LogError, match=r"row 1, column 't': timestamp cannot be parsed"):
        logs.read(path, case="c", activity="a", timestamp="t")


def test_mixed_zones_missing_values_and_empty_logs(tmp_path: Path) -> None:
    path = _csv(tmp_path, "c,a,t\nx,s,2024-01-01T10:00:00Z\nx,d,2024-01-02T10:00:00\n")
    with pytest.raises(LogError) as err:
        logs.read(path, case="c", activity="a", timestamp="t")
    assert str(err.value) == (
        "bad.csv: row 2, column 't': mixed time zones: this stamp has no time zone, the "
        "first stamp (row 1) has one (got '2024-01-02T10:00:00')")
    path = _csv(tmp_path, "c,a,t\nx,s,2024-01-01T10:00:00Z\nx,,2024-01-02T10:00:00Z\n")
    with pytest.raises(LogError, match=r"^bad.csv: row 2, column 'a': value is missing$"):
        logs.read(path, case="c", activity="a", timestamp="t")
    path = _csv(tmp_path, "c,a,t\nx,s,\n")
    with pytest.raises(LogError, match=r"^bad.csv: row 1, column 't': timestamp is missing$"):
        logs.read(path, case="c", activity="a", timestamp="t")
    path = _csv(tmp_path, "c,a,t\n")
    with pytest.raises(LogError) as err:
        logs.read(path, case="c", activity="a", timestamp="t")
    assert str(err.value) == "bad.csv: the log has no events"
    path = _csv(tmp_path, "")
    with pytest.raises(LogError, match="no events"):
        logs.read(path)
    xes = tmp_path / "empty.xes"
    xes.write_text('<log xmlns="http://www.xes-standard.org/"><trace>'
                   '<string key="concept:name" value="1"/></trace></log>')
    with pytest.raises(LogError, match=r"^empty.xes: the log has no events \(1 traces\)$"):
        logs.read(xes)


def test_no_zone_is_read_as_utc_and_says_so(tmp_path: Path) -> None:
    path = _csv(tmp_path, "c,a,t\nx,s,2024-01-01\nx,d,2024-01-02 10:30\n")
    log = logs.read(path, case="c", activity="a", timestamp="t")
    assert log.zone_assumed and log.time_zone == "UTC"
    assert "assumed: the log has no zones" in log.summary()
    assert log.date_only_share == 0.5


def test_duplicates_and_lone_starts(tmp_path: Path) -> None:
    text = ("c,a,t,r\nx,s,2024-01-01T10:00Z,ann\nx,d,2024-01-02T10:00Z,bob\n"
            "x,d,2024-01-02T10:00Z,bob\n")
    path = _csv(tmp_path, text)
    with pytest.raises(LogError, match=r"^bad.csv: row 3: duplicated event: same case, "
                       r"activity, timestamp, resource and lifecycle as row 2; the log has "
                       r"1 such events"):
        logs.read(path, case="c", activity="a", timestamp="t", resource="r")
    kept = logs.read(path, case="c", activity="a", timestamp="t", resource="r",
                     duplicates="keep")
    dropped = logs.read(path, case="c", activity="a", timestamp="t", resource="r",
                        duplicates="drop")
    assert (len(kept.events), kept.duplicates, len(dropped.events)) == (3, 1, 2)
    path = _csv(tmp_path, "c,a,t,l\nx,s,2024-01-01T10:00Z,complete\n"
                "x,d,2024-01-02T10:00Z,start\n")
    with pytest.raises(LogError) as err:
        logs.read(path, case="c", activity="a", timestamp="t", lifecycle="l")
    assert str(err.value) == ("bad.csv: row 2: a start event without a complete event "
                              "(same case and activity, at or after it) (got 'x, d')")


def test_start_timestamp_column_and_bad_xes(tmp_path: Path) -> None:
    path = _csv(tmp_path, "c,a,b,t\nx,s,2024-01-01T09:00Z,2024-01-01T10:00Z\n"
                "x,d,,2024-01-02T10:00Z\ny,s,2024-01-03T11:00Z,2024-01-03T10:00Z\n")
    with pytest.raises(LogError, match=r"row 3, column 'b': start is after the event's t"):
        logs.read(path, case="c", activity="a", timestamp="t", start_timestamp="b")
    path = _csv(tmp_path, "c,a,b,t\nx,s,2024-01-01T09:00Z,2024-01-01T10:00Z\n"
                "x,d,,2024-01-02T10:00Z\n")
    log = logs.read(path, case="c", activity="a", timestamp="t", start_timestamp="b")
    assert log.events["start"].iloc[0] == pd.Timestamp("2024-01-01T09:00Z")
    assert pd.isna(log.events["start"].iloc[1])
    bad = tmp_path / "broken.xes"
    bad.write_text(XES[:900])
    with pytest.raises(LogError, match=r"^broken.xes: line \d+, column \d+: not well-formed"):
        logs.read(bad)
    typed = tmp_path / "typed.xes"
    typed.write_text(XES.replace('<int key="n" value="3"/>', '<int key="n" value="3.5"/>'))
    with pytest.raises(LogError) as err:
        logs.read(typed)
    assert str(err.value) == ("typed.xes: event 1, attribute 'n': an <int> value is not an "
                              "integer (got '3.5')")
    with pytest.raises(UsageError, match="unknown event-log format"):
        logs.read(tmp_path / "log.txt")
