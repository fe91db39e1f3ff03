"""Sweeps: parsing, setting parameters, the same numbers on 1, 2 processes and Dask,
resuming after an interruption, and clean errors that keep finished points."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sim
from sim import sweep as sweep_mod
from sim.cli import main
from sim.errors import GovsimError, UsageError
from sim.experiments.grid import apply_point, parse_set, parse_values
from sim.experiments.sweep import LOCK_FILE, POINTS_FILE, sweep
from sim.files import FolderLock
from sim.model.scenario import load
from tests.conftest import DATA

MINI = str(DATA / "mini.toml")
GRID = {"stations.front.servers": [1, 2, 3], "classes.key.rate": "1:2:0.5"}  # 9 points


def _numbers(t: pd.DataFrame) -> pd.DataFrame:
    return t.drop(columns=["seconds"]).reset_index(drop=True)


def _short() -> Any:
    s = load(MINI)
    s.run.horizon_days = 25.0
    return s


# --------------------------------------------------------------------------- parsing


def test_parse_values() -> None:
    assert parse_values("2,3,4") == [2, 3, 4]
    assert parse_values("3:6:1") == [3, 4, 5, 6]
    assert parse_values("3:5") == [3, 4, 5]
    assert parse_values("0.5:1:0.25") == [0.5, 0.75, 1.0]
    assert parse_values("0.1:0.3:0.1") == [0.1, 0.2, 0.3]
    assert parse_values("true,false") == [True, False]
    assert parse_values("gamma, lognormal") == ["gamma", "lognormal"]
    assert parse_values("a=1,b=2;a=3") == ["a=1,b=2", "a=3"]
    for bad, msg in (("", "no values"), ("3:1", "empty"), ("1:3:0", "step"),
                     ("1,,2", "empty value"), ("2,2", "twice")):
        with pytest.raises(UsageError, match=msg):
            parse_values(bad)


def test_parse_set() -> None:
    p = parse_set("stations.front.servers=2,3")
    assert (p.path, p.values) == ("stations.front.servers", [2, 3])
    with pytest.raises(UsageError, match="PATH=VALUES"):
        parse_set("stations.front.servers")


def test_apply_point_sets_and_revalidates() -> None:
    base = load(MINI)
    s = apply_point(base, {"stations.front.servers": 5, "items.intake.service.mean": 0.25,
                           "routes.main.stages.1.mode": "sequential"})
    assert s.stations["front"].servers == 5
    assert s.items["intake"].service.mean == 0.25
    assert s.routes["main"].stages[1].mode == "sequential"
    assert base.stations["front"].servers == 2  # the base is untouched
    s = apply_point(base, {"reform.proxy.windows": 3, "reform.proxy.classes": "ordinary"})
    assert s.pools["help_proxy"].agents == 3


@pytest.mark.parametrize(("point", "message"), [
    ({"stations.frnt.servers": 2}, "'frnt' is not in stations (known: front, review)"),
    ({"stations.front.servers": 2.5},
     "--set stations.front.servers=2.5: stations.front.servers must be an integer >= 1 "
     "(got 2.5)"),
    ({"stations.front.servers": 0}, "must be an integer >= 1 (got 0)"),
    ({"classes.key.rate": "fast"}, "classes.key.rate must be a number >= 0 (got 'fast')"),
    ({"stations.front": 3}, "names a whole table"),
    ({"routes.main.stages.7.mode": "parallel"}, "has 2 entries (index 7 is out of range)"),
    ({"routes.main.stages.x.mode": "parallel"}, "index it with a number"),
    ({"items.intake.delay.mean": 1.0}, "items.intake.delay is not set in the scenario"),
    ({"items.intake.station": "nowhere"}, "names an unknown station"),
    ({"reform.fooo": 1}, "unknown reform 'fooo'"),
])
def test_bad_points(point: dict[str, Any], message: str) -> None:
    with pytest.raises(GovsimError) as exc:
        apply_point(load(MINI), point)
    assert message in str(exc.value)


def test_bad_path_stops_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    code = main(["sweep", MINI, "--set", "stations.front.servers=1,2",
                 "--set", "stations.front.sevrers=1", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("govsim: error: --set stations.front.sevrers: 'sevrers' is not in "
                          "stations.front")
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing ran, nothing written


def test_bad_metric(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", MINI, "--set", "stations.front.servers=1", "--metric", "speed",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--metric speed: not a sweep metric" in capsys.readouterr().err


# --------------------------------------------------------------------------- numbers


def test_points_are_runs_with_the_same_seed() -> None:
    res = sweep(_short(), {"stations.front.servers": [2]}, replications=2, workers=1)
    direct = sim.run(_short(), replications=2)
    d = direct.to_dict()["kpis"]
    row = res.table.iloc[0]
    assert row["lead_time_workdays.mean"] == d["lead_time_workdays"]["mean"]
    assert row["lead_time_workdays.p90"] == d["lead_time_workdays"]["p90"]
    assert row["bottleneck"] == direct.bottleneck()
    assert res.computed == 1 and res.resumed == 0


def test_same_numbers_on_one_and_two_processes(tmp_path: Path) -> None:
    one = sweep(_short(), GRID, replications=2, workers=1, out=tmp_path / "one")
    two = sweep(_short(), GRID, replications=2, workers=2, out=tmp_path / "two")
    assert len(one.table) == 9
    pd.testing.assert_frame_equal(_numbers(one.table), _numbers(two.table))
    # grid order: the first parameter varies slowest
    assert list(one.table["stations.front.servers"]) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert list(one.table["classes.key.rate"]) == [1.0, 1.5, 2.0] * 3
    for name in ("results.csv", "results.json", "heatmap.png", POINTS_FILE):
        assert (tmp_path / "one" / name).stat().st_size > 0
    csv = pd.read_csv(tmp_path / "one" / "results.csv")
    assert len(csv) == 9 and "lead_time_workdays.p90" in csv
    js = json.loads((tmp_path / "one" / "results.json").read_text())
    assert len(js["points"]) == 9 and js["settings"]["seed"] == 7


def test_same_numbers_on_a_dask_cluster() -> None:
    distributed = pytest.importorskip("distributed")
    local = sweep(_short(), GRID, replications=2, workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR
                                  ) as cluster:
        remote = sweep(_short(), GRID, replications=2, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(_numbers(local.table), _numbers(remote.table))


def test_heatmap_from_result() -> None:
    res = sweep(_short(), GRID, replications=1, workers=1)
    fig = res.heatmap("lead_time_workdays.mean")
    assert fig.axes[0].images[0].get_array().shape == (3, 3)
    assert "<table" in res._repr_html_()
    assert callable(sim.sweep)  # the module import did not hide the function


# --------------------------------------------------------------------------- resuming


class Stop(Exception):
    pass


def test_interrupted_sweep_resumes(tmp_path: Path) -> None:
    out = tmp_path / "s"
    seen: list[int] = []

    def stop_after_four(point: dict[str, Any], metrics: dict[str, Any], resumed: bool) -> None:
        seen.append(1)
        if len(seen) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(_short(), GRID, replications=1, workers=1, out=out, on_point=stop_after_four)
    lines = (out / POINTS_FILE).read_text().splitlines()
    assert len(lines) == 4
    # the finished points are in the partial results too
    assert len(pd.read_csv(out / "results.csv")) == 4

    computed: list[dict[str, Any]] = []
    res = sweep(_short(), GRID, replications=1, workers=2, out=out,
                on_point=lambda p, m, r: None if r else computed.append(p))
    assert (res.resumed, res.computed) == (4, 5)
    assert len(computed) == 5
    recs = [json.loads(x) for x in (out / POINTS_FILE).read_text().splitlines()]
    assert len(recs) == 9 and len({r["key"] for r in recs}) == 9  # none computed twice
    fresh = sweep(_short(), GRID, replications=1, workers=1)
    pd.testing.assert_frame_equal(_numbers(res.table), _numbers(fresh.table))

    # a third run computes nothing
    again = sweep(_short(), GRID, replications=1, workers=1, out=out)
    assert (again.resumed, again.computed) == (9, 0)


def test_other_settings_do_not_reuse_points(tmp_path: Path) -> None:
    out = tmp_path / "s"
    sweep(_short(), {"stations.front.servers": [1, 2]}, replications=1, workers=1, out=out)
    res = sweep(_short(), {"stations.front.servers": [1, 2]}, replications=1, seed=99,
                workers=1, out=out)
    assert (res.resumed, res.computed) == (0, 2)
    res = sweep(_short(), {"stations.front.servers": [2, 3]}, replications=1, workers=1,
                out=out)
    assert (res.resumed, res.computed) == (1, 1)


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    out = tmp_path / "s"
    sweep(_short(), {"stations.front.servers": [1, 2]}, replications=1, workers=1, out=out)
    log = out / POINTS_FILE
    lines = log.read_text().splitlines()
    log.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # killed mid-write
    res = sweep(_short(), {"stations.front.servers": [1, 2]}, replications=1, workers=1,
                out=out)
    assert (res.resumed, res.computed) == (1, 1)
    res = sweep(_short(), {"stations.front.servers": [1, 2]}, replications=1, workers=1,
                out=out)
    assert (res.resumed, res.computed) == (2, 0)


def test_unreachable_scheduler_keeps_finished_points(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    out = tmp_path / "s"
    args = ["sweep", MINI, "-n", "1", "--out", str(out), "-q"]
    assert main([*args, "--set", "stations.front.servers=1,2", "--workers", "1"]) == 0
    before = (out / POINTS_FILE).read_text()
    code = main([*args, "--set", "stations.front.servers=1,2,3",
                 "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--scheduler tcp://127.0.0.1:9: cannot reach the Dask scheduler" in err
    assert (out / POINTS_FILE).read_text() == before
    assert len(pd.read_csv(out / "results.csv")) == 2  # the finished points, kept


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen[str], limit: float) -> int:
    t0 = time.time()
    while time.time() - t0 < limit:
        if path.exists():
            k = sum(1 for line in path.read_text().splitlines() if line.strip())
            if k >= n:
                return k
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    return 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_cli_sweep_resumes(tmp_path: Path, sig: int) -> None:
    """A CLI sweep on 2 processes, killed after a few points, resumes where it stopped."""
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "sim.cli", "sweep", MINI, "-n", "2", "--workers", "2",
           "--set", "stations.front.servers=1:4", "--set", "classes.key.rate=0.5:2:0.5",
           "--out", str(out), "-q"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        got = _wait_for_lines(out / POINTS_FILE, 3, proc, 60)
        assert got >= 3, proc.communicate()[1] if proc.poll() is not None else "too slow"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
    done = [json.loads(x) for x in (out / POINTS_FILE).read_text().splitlines() if x.strip()
            and x.strip().endswith("}")]
    assert 3 <= len(done) < 16
    res = subprocess.run([*cmd[:-1], "--json", str(tmp_path / "r.json")], capture_output=True,
                         text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["resumed"] >= len(done) and d["resumed"] + d["computed"] == 16
    keys = [json.loads(x)["key"] for x in (out / POINTS_FILE).read_text().splitlines()
            if x.strip().endswith("}")]
    assert len(keys) == len(set(keys)) == 16  # finished points neither lost nor redone


def test_cli_prints_progress_lines(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "sweep", MINI, "-n", "1",
                           "--workers", "1", "--set", "stations.front.servers=1,2",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "point 1/2 done (stations.front.servers=1)" in proc.stderr
    assert "point 2/2 done" in proc.stderr
    assert "Sweep of mini (2 points, 2 computed, 0 resumed" in proc.stdout


def test_module_is_callable() -> None:
    assert callable(sweep_mod)


def test_station_kpis_have_one_spelling_and_the_old_one_is_an_alias(tmp_path: Path) -> None:
    out = tmp_path / "s"
    grid = {"stations.front.servers": [1, 2]}
    res = sweep(_short(), grid, replications=1, workers=1, out=out,
                metric="station.front.utilization")            # the old spelling, accepted
    assert res.settings["metric"] == "stations.front.utilization"
    assert "stations.front.utilization" in res.table.columns
    assert not [c for c in res.table.columns if c.startswith("station.")]
    # a points file written with the old spelling resumes, read under the new one
    log = out / POINTS_FILE
    recs = [json.loads(x) for x in log.read_text().splitlines()]
    for r in recs:
        r["metrics"] = {k.replace("stations.", "station.", 1): v for k, v in r["metrics"].items()}
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    again = sweep(_short(), grid, replications=1, workers=1, out=out)
    assert (again.resumed, again.computed) == (2, 0)
    pd.testing.assert_frame_equal(_numbers(again.table)[list(res.table.columns[:-2])],
                                  _numbers(res.table)[list(res.table.columns[:-2])])


def test_points_without_metrics_are_not_done(tmp_path: Path) -> None:
    out = tmp_path / "s"
    grid = {"stations.front.servers": [1, 2]}
    sweep(_short(), grid, replications=1, workers=1, out=out)
    log = out / POINTS_FILE
    recs = [json.loads(x) for x in log.read_text().splitlines()]
    recs[0]["metrics"], recs[1]["metrics"] = None, {}
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    res = sweep(_short(), grid, replications=1, workers=1, out=out)
    assert (res.resumed, res.computed) == (0, 2)


def test_bytes_that_are_not_utf8_are_recomputed_not_a_traceback(tmp_path: Path) -> None:
    out = tmp_path / "s"
    grid = {"stations.front.servers": [1, 2]}
    sweep(_short(), grid, replications=1, workers=1, out=out)
    log = out / POINTS_FILE
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + b"\xff\xfe{not json\n")  # the second point's line is garbage
    with pytest.warns(UserWarning, match="1 line"):
        res = sweep(_short(), grid, replications=1, workers=1, out=out)
    assert (res.resumed, res.computed) == (1, 1)


def test_a_second_sweep_into_a_held_folder_says_who_holds_it(tmp_path: Path) -> None:
    out = tmp_path / "s"
    out.mkdir()
    held = FolderLock(out, LOCK_FILE)  # another sweep, still running
    try:
        with pytest.raises(UsageError, match=rf"--out {out}: in use by pid {os.getpid()} since"):
            sweep(_short(), {"stations.front.servers": [1, 2]}, replications=1, workers=1,
                  out=out)
        assert not (out / POINTS_FILE).exists()
    finally:
        held.release()
    res = sweep(_short(), {"stations.front.servers": [1, 2]}, replications=1, workers=1, out=out)
    assert res.computed == 2
    res = sweep(_short(), {"stations.front.servers": [1, 2]}, replications=1, workers=1, out=out)
    assert (res.resumed, res.computed) == (2, 0)  # released at the end: the next one resumes
