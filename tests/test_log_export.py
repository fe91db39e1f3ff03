"""The simulated event log (RunResult.event_log, sim.logs.write, govsim run --log): what
it says agrees with the run's case table, and every format reads back the same."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
import sim.logs as logs
from sim.cli import main
from sim.errors import ScenarioError, UsageError
from sim.logs import EventLog
from sim.model.scenario import load
from sim.results.eventlog import EVENT_COLUMNS, event_chunks

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini.toml"
HOTLINE = ROOT / "scenarios" / "hohhot-12345-hotline.toml"


@pytest.fixture(scope="module")
def result() -> sim.RunResult:
    return sim.run(MINI, replications=2, seed=1)


def _lead_hours(log: EventLog) -> pd.Series:
    ev = log.events
    t = ev.set_index(["case", "activity"])["timestamp"]
    arrival = t.xs("arrival", level="activity")
    end = t.xs("case end", level="activity")
    return ((end - arrival.reindex(end.index)) / pd.Timedelta(hours=1)).sort_index()


def _case_table_lead(result: sim.RunResult) -> pd.Series:
    c = result.cases
    done = c[c["status"] != "open"]
    ids = done["replication"].astype(str) + "-" + done["case"].astype(str)
    return pd.Series(done["lead_hours"].to_numpy(), index=ids).sort_index()


def test_event_log_columns_and_counts_match_the_case_table(result: sim.RunResult) -> None:
    ev = result.event_log()
    assert tuple(ev.columns) == EVENT_COLUMNS
    assert str(ev["time:timestamp"].dt.tz) == "Asia/Shanghai"
    c = result.cases
    names = ev["concept:name"]
    assert (names == "arrival").sum() == len(c)
    assert (names == "case end").sum() == (c["status"] != "open").sum()
    # a rework request is a rework round not fixed by a supplement
    assert names.str.startswith("rework request: ").sum() == \
        int((c["rework_rounds"] - c["supplements"]).sum())
    assert names.str.startswith("resubmission: ").sum() <= \
        names.str.startswith("rework request: ").sum()
    sup = ev[names.str.startswith("supplement: ")]["lifecycle:transition"]
    assert (sup == "start").sum() == (sup == "complete").sum() <= int(c["supplements"].sum())
    # hour 0 is 00:00 local of run.start_date; the first case arrives at its arrival hour
    first = ev.iloc[0]
    start = pd.Timestamp(result.scenario.run.start_date).tz_localize("Asia/Shanghai")
    hours = (first["time:timestamp"] - start) / pd.Timedelta(hours=1)
    assert first["concept:name"] == "arrival"
    assert hours == pytest.approx(c["arrival"].iloc[0], abs=1e-9)
    assert set(ev["replication"]) == {0, 1}
    assert list(result.event_log(replication=1)["replication"].unique()) == [1]
    with pytest.raises(UsageError, match="replication 5 is not in this run"):
        result.event_log(replication=5)
    assert (ev["time:timestamp"] <= start + pd.Timedelta(
        hours=result.model.horizon)).all()


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet", ".xes", ".xes.gz"])
def test_written_log_reads_back_with_the_run_lead_times(result: sim.RunResult,
                                                        tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"log{suffix}"
    n = logs.write(event_chunks(result, chunk_cases=37), path)
    ev = result.event_log()
    assert n == len(ev)
    log = logs.read(path)
    assert log.n_cases == len(result.cases)
    assert len(log.events) == (ev["lifecycle:transition"] == "complete").sum()
    assert log.paired_starts == (ev["lifecycle:transition"] == "start").sum()
    lead = _lead_hours(log)
    want = _case_table_lead(result)
    assert list(lead.index) == list(want.index)
    # the files keep milliseconds: 1 ms is 2.8e-7 hours
    np.testing.assert_allclose(lead.to_numpy(), want.to_numpy(), rtol=0, atol=1e-6)
    assert log.events["start"].notna().sum() == log.paired_starts
    assert list(log.events.columns[:5]) == ["case", "activity", "timestamp", "resource",
                                            "start"]
    assert {"class", "channel", "station", "item", "attempt", "replication"} <= \
        set(log.events.columns)


def test_from_frame_has_the_structure_of_a_real_log(result: sim.RunResult,
                                                    tmp_path: Path) -> None:
    direct = EventLog.from_frame(result.event_log())
    path = tmp_path / "log.parquet"
    logs.write(result.event_log(), path)
    again = logs.read(path)
    pd.testing.assert_frame_equal(direct.events, again.events)
    assert direct.time_zone == again.time_zone == "Asia/Shanghai"
    real = logs.read(ROOT / "data" / "BPIC15_1.xes.gz", duplicates="keep") \
        if (ROOT / "data" / "BPIC15_1.xes.gz").exists() else None
    if real is not None:
        assert list(real.events.columns[:5]) == list(direct.events.columns[:5])
        assert [str(t) for t in real.events.dtypes.iloc[:5]][::2] == \
            ["object", "datetime64[ns, Europe/Amsterdam]", "datetime64[ns, Europe/Amsterdam]"]


def test_xes_is_streamed_valid_and_declares_the_extensions(result: sim.RunResult,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "log.xes.gz"
    logs.write(event_chunks(result, chunk_cases=10), path)
    text = gzip.decompress(path.read_bytes()).decode()
    for prefix in ("concept", "lifecycle", "time", "org"):
        assert f'prefix="{prefix}" uri="http://www.xes-standard.org/{prefix}.xesext"' in text
    assert text.count("<trace>") == text.count("</trace>") == len(result.cases)
    assert text.count("<event>") == len(result.event_log())
    assert 'xes.version="1849-2016"' in text


def test_pm4py_reads_the_xes(result: sim.RunResult, tmp_path: Path) -> None:
    pm4py = pytest.importorskip("pm4py")
    path = tmp_path / "log.xes"
    n = logs.write(result.event_log(), path)
    df = pm4py.read_xes(str(path))
    assert len(df) == n and df["case:concept:name"].nunique() == len(result.cases)
    ours = result.event_log()
    assert sorted(df["concept:name"]) == sorted(ours["concept:name"])
    theirs = pd.to_datetime(df["time:timestamp"], utc=True).sort_values().to_numpy()
    mine = pd.to_datetime(ours["time:timestamp"], utc=True).sort_values().to_numpy()
    np.testing.assert_array_equal(theirs.astype("datetime64[ms]"), mine.astype("datetime64[ms]"))


def test_abandonment_events_on_the_hotline(tmp_path: Path) -> None:
    r = sim.run(HOTLINE, replications=1, seed=3)
    ev = r.event_log()
    c = r.cases
    assert (ev["concept:name"] == "abandonment").sum() == (c["status"] == "abandoned").sum()
    assert (c["status"] == "abandoned").sum() > 0
    log = EventLog.from_frame(ev)
    np.testing.assert_allclose(_lead_hours(log).to_numpy(), _case_table_lead(r).to_numpy(),
                               rtol=0, atol=1e-9)


def test_failed_write_leaves_nothing(result: sim.RunResult, tmp_path: Path) -> None:
    def broken() -> object:
        yield result.event_log()
        raise RuntimeError("disk on fire")

    for suffix in (".csv", ".xes.gz", ".parquet"):
        path = tmp_path / f"x{suffix}"
        with pytest.raises(RuntimeError, match="disk on fire"):
            logs.write(broken(), path)  # type: ignore[arg-type]
        assert list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match="does not exist"):
        logs.write(result.event_log(), tmp_path / "no" / "x.csv")
    with pytest.raises(UsageError, match="unknown event-log format"):
        logs.write(result.event_log(), tmp_path / "x.json")


def test_scenario_time_zone(tmp_path: Path) -> None:
    text = MINI.read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("[scenario]", '[scenario]\ntime_zone = "Mars/Olympus"'))
    with pytest.raises(ScenarioError) as err:
        load(bad)
    assert str(err.value) == ("bad.toml: scenario.time_zone must be an IANA time zone name "
                              "such as 'Asia/Shanghai' (got 'Mars/Olympus')")
    good = tmp_path / "berlin.toml"
    good.write_text(text.replace("[scenario]", '[scenario]\ntime_zone = "Europe/Berlin"'))
    r = sim.run(good, replications=1, seed=1)
    ev = r.event_log()
    assert str(ev["time:timestamp"].dt.tz) == "Europe/Berlin"
    start = pd.Timestamp(r.scenario.run.start_date).tz_localize("Europe/Berlin")
    assert (ev["time:timestamp"].iloc[0] - start) / pd.Timedelta(hours=1) == \
        pytest.approx(r.cases["arrival"].iloc[0], abs=1e-9)


def test_cli_run_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.csv.gz"
    assert main(["run", str(MINI), "-n", "2", "--seed", "1", "--log", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps to the terminal's width
    expected = sim.run(MINI, replications=2, seed=1)
    events = len(expected.event_log())
    assert f"event log written to {path} ({events:,} events, 2 replications)" in out
    log = logs.read(path)
    assert log.n_cases == sum(len(r.cases) for r in expected.reps)
    assert main(["run", str(MINI), "-n", "1", "--log", str(tmp_path / "x.txt")]) == 2
    assert "unknown event-log format" in capsys.readouterr().err
