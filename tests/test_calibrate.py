"""``govsim calibrate``: a scenario recovered from its own simulated log (the round trip),
the real BPIC 2015 municipality 1 log, and bad input (one line, exit 2, no file).

Tolerances come from the sample sizes: a rate, a proportion or a mean is within 4
standard errors of the truth (the runs are seeded, so each figure is one fixed draw);
the cycle-time distributions of the original and the recalibrated scenario are not told
apart by a two-sample KS test at the 0.1% level.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.calibrate import calibrate
from sim.cli import main
from sim.logs import EventLog, read
from sim.model.scenario import load
from tests.conftest import DATA, ROOT

ROUND_TRIP = DATA / "calib_roundtrip.toml"
REWORK = ("rework request: check", "resubmission: check")
BPIC1 = ROOT / "data" / "BPIC15_1.xes.gz"
DECISION = ["01_HOOFD_510_1", "01_HOOFD_510_2", "01_HOOFD_515"]


def service_log(result: sim.RunResult) -> pd.DataFrame:
    """What a real system would record: the services (start and complete) and the
    rework request and answer; no arrival, submission or case-end events."""
    df = result.event_log()
    act = df["concept:name"].astype(str)
    keep = ~(act.isin(["arrival", "case end"]) | act.str.startswith("submission: "))
    return df[keep.to_numpy()].reset_index(drop=True)


def cycle_days(df: pd.DataFrame, last: str = "decide") -> np.ndarray:
    """Days from each decided case's first event to its last."""
    t = pd.to_datetime(df["time:timestamp"], utc=True)
    g = pd.DataFrame({"c": df["case:concept:name"].astype(str).to_numpy(), "t": t.to_numpy(),
                      "a": df["concept:name"].astype(str).to_numpy()})
    g = g[g["c"].isin(set(g.loc[g["a"] == last, "c"]))]
    span = g.groupby("c")["t"].agg(lambda x: (x.max() - x.min()) / pd.Timedelta(days=1))
    return span.to_numpy(dtype=float)


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    truth = sim.run(str(ROUND_TRIP), replications=1, seed=11, engine="vector")
    real = service_log(truth)
    log = EventLog.from_frame(real, "roundtrip.csv")
    cal = calibrate(log, rework=REWORK, decision=["decide"], log_name="roundtrip.csv",
                    replications=1)
    path = tmp_path_factory.mktemp("rt") / "calibrated.toml"
    path.write_text(cal.toml())
    again = sim.run(str(path), replications=1, seed=12, engine="vector")
    return {"truth": load(ROUND_TRIP), "real": real, "log": log, "cal": cal, "path": path,
            "again": service_log(again)}


def test_round_trip_arrivals_and_deficiency(round_trip: dict) -> None:
    cal, log = round_trip["cal"], round_trip["log"]
    s = cal.scenario
    n = log.n_cases
    wd = cal.summary["workdays"]
    rate = s.classes["applications"].rate
    assert abs(rate - 4.0) <= 4 * math.sqrt(n) / wd  # Poisson count over the working days
    assert wd == 261  # weekdays of 2024-01-01 .. 2024-12-30 (365 days), no holidays
    q = s.items["check"].deficiency_per_material
    subs = n + sum(log.events["activity"] == REWORK[0])
    assert q is not None and abs(q - 0.3) <= 4 * math.sqrt(0.3 * 0.7 / subs)
    assert s.items["check"].materials == 1
    fix = s.items["check"].fix
    assert fix is not None and fix.unit == "days"
    k = int(sum(log.events["activity"] == REWORK[0]))
    assert fix.mean is not None and abs(fix.mean - 5.0) <= 4 * 5.0 * 0.6 / math.sqrt(k)
    # the request and the answer are folded into the loop, not items
    assert {it.activity for it in s.items.values()} == {"intake", "check", "tech_a",
                                                        "tech_b", "decide"}


def test_round_trip_route_stations_services(round_trip: dict) -> None:
    cal, truth = round_trip["cal"], round_trip["truth"]
    s = cal.scenario
    stages = [(st.mode, st.items) for st in s.routes["main"].stages]
    assert stages[:2] == [("sequential", ["intake"]), ("sequential", ["check"])]
    assert stages[2][0] == "parallel" and sorted(stages[2][1]) == ["tech_a", "tech_b"]
    assert stages[3] == ("sequential", ["decide"])
    n_ref = cal.summary["cases"]
    skip = s.items["tech_b"].skip_probability
    assert abs(skip - 0.3) <= 4 * math.sqrt(0.3 * 0.7 / n_ref)
    for name in ("intake", "check", "tech_a", "decide"):
        assert s.items[name].skip_probability == 0.0
    # stations: one per resource, servers from the most services run at once
    assert {n: st.servers for n, st in s.stations.items()} == {
        n: st.servers for n, st in truth.stations.items()}
    assert {n: it.station for n, it in s.items.items()} == {
        n: it.station for n, it in truth.items.items()}
    office = s.calendars["office"]
    assert office.hours == [("09:00", "17:00")] and office.weekdays == [1, 2, 3, 4, 5]
    # service means within 4 standard errors (cv of each family from the truth)
    events = round_trip["log"].events
    for name, it in truth.items.items():
        got = s.items[name].service
        n = int((events["activity"] == name).sum())
        cv = it.service.cv if it.service.cv is not None else 1.0
        mean = got.mean if got.mean is not None else float(np.mean(got.values))
        assert abs(mean - it.service.mean) <= 4 * it.service.mean * cv / math.sqrt(n), name
    # delays before the parallel reviews, calendar days (exponential: sd = mean)
    for name, true_mean in (("tech_a", 2.0), ("tech_b", 3.0)):
        d = s.items[name].delay
        assert d is not None and d.unit == "days"
        mean = d.mean if d.mean is not None else float(np.mean(d.values))
        n = int((events["activity"] == name).sum())
        assert abs(mean - true_mean) <= 4 * true_mean / math.sqrt(n) + 0.1, name


def test_round_trip_cycle_time(round_trip: dict) -> None:
    a = cycle_days(round_trip["real"])
    b = cycle_days(round_trip["again"])
    n, m = len(a), len(b)
    assert n > 900 and m > 900
    ks = stats.ks_2samp(a, b).statistic
    assert ks < 1.95 * math.sqrt((n + m) / (n * m))  # not rejected at the 0.1% level
    iqr = float(np.subtract(*np.percentile(a, [75, 25])))
    assert abs(np.median(a) - np.median(b)) <= 2 * 1.58 * iqr * math.sqrt(1 / n + 1 / m)
    assert stats.wasserstein_distance(a, b) < 0.1 * float(np.median(a))


def test_round_trip_documented_and_runs_on_both_engines(round_trip: dict) -> None:
    s = round_trip["cal"].scenario
    text = Path(round_trip["path"]).read_text()
    assert tomllib.loads(text)["calibration"]["log"] == "roundtrip.csv"
    assert load(round_trip["path"]) == s  # the written file is the scenario, nothing lost
    for name in s.items:
        assert s.assumptions[f"items.{name}.service"].startswith(
            "CALIBRATED from roundtrip.csv: observed from start events")
    for name in s.stations:
        assert s.assumptions[f"stations.{name}.servers"].startswith("CALIBRATED from")
    assert "n = " in s.assumptions["classes.applications.rate"]
    for engine in ("vector", "des"):
        r = sim.run(str(round_trip["path"]), replications=1, seed=3, engine=engine)
        assert r.cases["status"].eq("completed").sum() > 900


@pytest.fixture(scope="module")
def bpic() -> tuple[EventLog, object]:
    if not BPIC1.is_file():
        pytest.skip(f"{BPIC1} is not here")
    log = read(BPIC1, duplicates="keep")
    return log, calibrate(log, decision=DECISION, rework=("08_AWB45_020_1", "08_AWB45_030"),
                          log_name=BPIC1.name)


def test_bpic15_1(bpic: tuple[EventLog, object], tmp_path: Path) -> None:
    _, cal = bpic
    s = cal.scenario  # type: ignore[attr-defined]
    summary = cal.summary  # type: ignore[attr-defined]
    assert len(s.items) > 10 and 1 <= len(s.stations) <= 25
    assert summary["cases"] == 1199 and summary["events"] == 52217
    # ~1 application per working day (data/README.md); measured 1.09 over 1,098 workdays
    rate = sum(c.rate for c in s.classes.values())  # decided + ending without a decision
    assert abs(rate - 1199 / summary["workdays"]) < 1e-3 and 0.9 <= rate <= 1.3
    # cases that end without a decision: a second class with the measured share of the
    # cases started at least a year before the log's end (data/README.md: 24% of all
    # cases undecided, some only cut off by the log's end)
    w = summary["withdrawn_share"]
    assert 0.15 <= w <= 0.3
    assert s.classes["withdrawn"].rate == pytest.approx(rate * w, rel=1e-4)
    assert s.classes["withdrawn"].route == "withdrawn"
    dec = set(s.calibration.decision)
    assert not {s.items[i].activity for st in s.routes["withdrawn"].stages
                for i in st.items} & dec
    # the deficiency: requests per submission of the loop's item, near the request share
    req_share = summary["request_case_share"]
    assert 0.18 <= req_share <= 0.31  # data/README.md: requests in 18-31% of cases
    assert abs(summary["deficiency"] - req_share) <= 0.05
    # every item, station and class value documented
    for name, it in s.items.items():
        assert s.assumptions[f"items.{name}.service"].startswith(
            "CALIBRATED from BPIC15_1.xes.gz: estimated from gaps between completions")
        assert f"items.{name}.skip_probability" in s.assumptions
        assert it.activity
    for name in s.stations:
        assert s.assumptions[f"stations.{name}.servers"].startswith("CALIBRATED from BPIC15_1")
    # every value is CALIBRATED from the log, but the one choice the log cannot show
    assumed = {k for k, v in s.assumptions.items() if v.startswith("ASSUMPTION: ")}
    assert assumed == {"classes.applications.online_share"}
    assert all(v.startswith("CALIBRATED from BPIC15_1.xes.gz: ") and ", n = " in v
               and ", fit = " in v for k, v in s.assumptions.items() if k not in assumed)
    assert s.calibration.term_days == 95.0  # median endDatePlanned - startDate
    assert s.routes["main"].limit_workdays == 66.0  # the same terms in working days
    assert s.scenario.time_zone == "Europe/Amsterdam"
    assert any("left out" in a for a in cal.approximations)  # type: ignore[attr-defined]
    path = tmp_path / "bpic1.toml"
    path.write_text(cal.toml())  # type: ignore[attr-defined]
    assert load(path) == s
    r = sim.run(str(path), replications=2, seed=1, engine="vector")
    assert r.replications == 2 and len(r.cases) > 2000


# ------------------------------------------------------------------ bad input via the CLI


def _csv(tmp_path: Path, rows: list[tuple[str, str, str]], name: str = "log.csv") -> Path:
    p = tmp_path / name
    df = pd.DataFrame(rows, columns=["case:concept:name", "concept:name", "time:timestamp"])
    df["org:resource"] = "clerk"
    df.to_csv(p, index=False)
    return p


def _good(tmp_path: Path) -> Path:
    rows = []
    for c in range(30):
        day = pd.Timestamp("2024-03-04T09:00:00+01:00") + pd.Timedelta(days=c)
        for k, a in enumerate(("register", "review", "decide")):
            rows.append((f"c{c}", a, (day + pd.Timedelta(hours=2 * k)).isoformat()))
    return _csv(tmp_path, rows)


@pytest.mark.parametrize(("case", "flags", "needle"), [
    ("one_case", [], "at least 2 cases"),
    ("unique", [], "no activity occurs in >= 0.2"),
    ("good", ["--case", "caseid"], "column 'caseid': not found in the log"),
    ("good", ["--decision", "approve"], "--decision 'approve': names no activity"),
    ("good", ["--train-until", "2024-13-01"], "--train-until must be a date"),
    ("good", ["--train-until", "2020-01-01"], "leaves 0 training case"),
    ("good", ["--rework", "review"], "--rework must be REQUEST:ANSWER"),
    ("good", ["--min-share", "0"], "--min-share must be a number in (0, 1]"),
])
def test_bad_input_one_line_exit_2_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           case: str, flags: list[str], needle: str) -> None:
    if case == "one_case":
        log = _csv(tmp_path, [("c1", "a", "2024-03-04T09:00:00+01:00"),
                              ("c1", "b", "2024-03-04T10:00:00+01:00")])
    elif case == "unique":
        log = _csv(tmp_path, [(f"c{i}", f"act{i}", f"2024-03-{4 + i:02d}T09:00:00+01:00")
                              for i in range(10)])
    else:
        log = _good(tmp_path)
    out = tmp_path / "out.toml"
    assert main(["calibrate", str(log), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [log.name]


def test_cli_writes_a_scenario_that_loads(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "small.toml"
    assert main(["calibrate", str(_good(tmp_path)), "--out", str(out), "--name", "small"]) == 0
    printed = capsys.readouterr().out
    assert "scenario written to" in printed and "Approximations" in printed
    s = load(out)
    assert s.scenario.name == "small" and [st.items for st in s.routes["main"].stages] == [
        ["register"], ["review"], ["decide"]]
    # 30 cases on 30 consecutive days: 22 of them weekdays of the office calendar
    assert s.calibration is not None and s.calibration.cases == 30


def test_cli_start_timestamp_mapping_observes_services(tmp_path: Path) -> None:
    """With --start-timestamp the services are observed: 30 minutes each, exactly."""
    rows = []
    for c in range(40):
        day = pd.Timestamp("2024-03-04T09:00:00+01:00") + pd.Timedelta(days=c)
        for k, a in enumerate(("register", "review", "decide")):
            end = day + pd.Timedelta(hours=2 * k + 1)
            rows.append((f"c{c}", a, end.isoformat(),
                         (end - pd.Timedelta(minutes=30)).isoformat()))
    p = tmp_path / "started.csv"
    pd.DataFrame(rows, columns=["id", "step", "done", "begun"]).to_csv(p, index=False)
    out = tmp_path / "s.toml"
    assert main(["calibrate", str(p), "--out", str(out), "-q", "--case", "id", "--activity",
                 "step", "--timestamp", "done", "--start-timestamp", "begun"]) == 0
    s = load(out)
    for name, it in s.items.items():
        assert it.service.dist == "deterministic" and it.service.mean == 0.5, name
        assert s.assumptions[f"items.{name}.service"].startswith(
            "CALIBRATED from started.csv: observed from start events")
