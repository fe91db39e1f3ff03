"""Recorded arrivals (docs/model.md, "Recorded arrivals"): a CSV of times replayed as they
are or resampled by a stationary bootstrap of its gaps, with common random numbers for
everything else."""

from __future__ import annotations

import math
import tomllib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tomli_w

import sim
from sim.cli import main
from sim.engines import simulate
from sim.experiments import budget
from sim.inputs import arrival_stream, draw
from sim.model import ONLINE, PROXY, WINDOW, build
from sim.model import scenario as S
from sim.model.recorded import bootstrap_indices
from sim.model.schema import Scenario

ROOT = Path(__file__).resolve().parent.parent


def write(tmp: Path, mini: dict[str, Any], csv: str, **arrivals: Any) -> Path:
    """mini.toml with class 'ordinary' reading arrivals.csv (``csv``) in ``tmp``."""
    cls = mini["classes"]["ordinary"]
    cls.pop("rate", None)
    cls["arrivals"] = {"file": "arrivals.csv", **arrivals}
    (tmp / "arrivals.csv").write_text(csv, encoding="utf-8")
    path = tmp / "mini.toml"
    path.write_text(tomli_w.dumps(mini), encoding="utf-8")
    return path


def poisson_csv(n: int, mean_gap: float, seed: int = 1, start: float = 1.0) -> tuple[str, Any]:
    """A CSV of ``n`` times (hours since the run's start) with exponential gaps."""
    t = start + np.concatenate([[0.0], np.cumsum(
        np.random.default_rng(seed).exponential(mean_gap, n - 1))])
    return "time\n" + "".join(f"{float(x)!r}\n" for x in t), t


def of_class(model: Any, inp: Any, name: str) -> Any:
    return inp.cls == model.class_names.index(name)


def test_replay_gives_exactly_the_file_times(tmp_path: Path, mini: dict[str, Any]) -> None:
    # the scenario's zone is Asia/Shanghai (UTC+8) and hour 0 is 2023-01-01 00:00 there
    csv = ("time\n2023-01-02 09:30\n2023-01-02T02:00:00Z\n2023-01-03\n"
           "2023-01-03T09:15:00+09:00\n2023-06-01 10:00\n")
    path = write(tmp_path, mini, csv)
    with pytest.warns(UserWarning, match=r"classes.ordinary.arrivals: 1 of 5 recorded "
                      r"arrivals lie outside the run's arrival window"):
        m = sim.load_model(path)
    inp = draw(m, 0)
    mine = of_class(m, inp, "ordinary")
    # 24 + 9.5; 02:00 UTC = 10:00 local; 48; 09:15 at +09:00 = 08:15 local; June: left out
    assert inp.arrival[mine].tolist() == [33.5, 34.0, 48.0, 56.25]
    assert inp.key[mine].tolist() == [0, 1, 2, 3]
    # every replication replays the same times; the other class still draws its Poisson ones
    again = draw(m, 1)
    assert again.arrival[of_class(m, again, "ordinary")].tolist() == [33.5, 34.0, 48.0, 56.25]
    assert not np.array_equal(again.arrival[of_class(m, again, "key")],
                              inp.arrival[of_class(m, inp, "key")])


def test_replay_of_hours_since_the_start(tmp_path: Path, mini: dict[str, Any]) -> None:
    path = write(tmp_path, mini, "time\n0\n0.5\n0.5\n7.25\n1439.5\n")
    m = sim.load_model(path)
    a = arrival_stream(m, 0)
    mine = a.cls == m.class_names.index("ordinary")
    assert a.arrival[mine].tolist() == [0.0, 0.5, 0.5, 7.25, 1439.5]
    assert budget.estimate([m], 1).cases == pytest.approx(5 + m.expected_arrivals(1))


@pytest.mark.parametrize("mode", ["replay", "bootstrap"])
def test_both_engines_give_identical_records(tmp_path: Path, mini: dict[str, Any],
                                             mode: str) -> None:
    csv, _ = poisson_csv(150, 8.0)
    m = sim.load_model(write(tmp_path, mini, csv, mode=mode, block=4.0))
    for r in range(2):
        inp = draw(m, r)
        d, v = simulate("des", m, inp), simulate("vector", m, inp)
        assert np.array_equal(d.status, v.status)
        np.testing.assert_allclose(v.end, d.end, rtol=1e-9)
        np.testing.assert_allclose(v.t_queue, d.t_queue, rtol=1e-9, atol=1e-9)


@pytest.mark.filterwarnings("ignore::sim.model.LoadWarning")
def test_bootstrap_same_seed_same_arrivals_and_replications_differ(
        tmp_path: Path, mini: dict[str, Any]) -> None:
    csv, _ = poisson_csv(200, 2.0)
    m = sim.load_model(write(tmp_path, mini, csv, mode="bootstrap", block=5.0))
    a, b = arrival_stream(m, 0), arrival_stream(m, 0)
    assert np.array_equal(a.arrival, b.arrival) and np.array_equal(a.key, b.key)
    other = arrival_stream(m, 1)
    c = m.class_names.index("ordinary")
    assert not np.array_equal(a.arrival[a.cls == c][:50], other.arrival[other.cls == c][:50])
    assert not np.array_equal(arrival_stream(m, 0, seed=99).arrival[:50], a.arrival[:50])


@pytest.mark.filterwarnings("ignore::sim.model.LoadWarning")  # arrivals alone are checked
def test_bootstrap_mean_gap_within_its_sampling_error(tmp_path: Path,
                                                      mini: dict[str, Any]) -> None:
    """Gaps drawn independently (block 1): each is a recorded gap picked uniformly, so the
    mean of N of them has mean g (the recorded mean gap) and standard error s / sqrt(N)
    (s: the recorded gaps' standard deviation)."""
    csv, t = poisson_csv(400, 0.5)
    mini["run"].update(horizon_days=120, warmup_days=0)
    m = sim.load_model(write(tmp_path, mini, csv, mode="bootstrap", block=1.0))
    gaps = np.diff(t)
    g, s = gaps.mean(), gaps.std()
    c = m.class_names.index("ordinary")
    drawn = [np.diff(arrival_stream(m, r).arrival[arrival_stream(m, r).cls == c])
             for r in range(10)]
    n = sum(x.size for x in drawn)
    assert n > 50_000  # 120 days of 0.5-hour gaps, 10 replications
    mean = np.concatenate(drawn).mean()
    assert abs(mean - g) < 4 * s / math.sqrt(n), (mean, g, s / math.sqrt(n))
    # the window is filled: the last case arrives within a few gaps of its end
    last = arrival_stream(m, 0)
    assert m.arrival_end - last.arrival[last.cls == c][-1] < 20 * gaps.max()


def test_bootstrap_blocks_follow_the_recorded_order() -> None:
    """With a block far longer than the draw, the gaps are the recorded ones in order from
    one random place, wrapping around; with block 1 every position starts a block."""
    u_new = np.full(12, 0.5)
    idx = bootstrap_indices(5, 1e9, u_new, np.full(12, 0.61))
    assert idx.tolist() == [3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    pick = np.linspace(0.0, 0.99, 12)
    assert bootstrap_indices(5, 1.0, u_new, pick).tolist() == np.floor(pick * 5).astype(
        int).tolist()
    # a new block where u_new < 1 / block (here block 2: below 0.5)
    u = np.array([0.9, 0.9, 0.1, 0.9])
    assert bootstrap_indices(5, 2.0, u, np.array([0.0, 0.9, 0.5, 0.9])).tolist() == [0, 1, 2, 3]


def test_changing_the_mode_keeps_every_case_s_other_numbers(tmp_path: Path,
                                                            mini: dict[str, Any]) -> None:
    csv, _ = poisson_csv(150, 8.0)
    replay = sim.load_model(write(tmp_path, mini, csv, mode="replay"))
    boot = sim.load_model(write(tmp_path, mini, csv, mode="bootstrap", block=3.0))
    a, b = draw(replay, 0), draw(boot, 0)
    c = replay.class_names.index("ordinary")
    ka, kb = a.key[a.cls == c], b.key[b.cls == c]
    assert not np.array_equal(a.arrival[a.cls == c][1:20], b.arrival[b.cls == c][1:20])
    common = np.intersect1d(ka, kb)
    assert common.size > 100
    ia = np.flatnonzero(a.cls == c)[np.searchsorted(ka, common)]
    ib = np.flatnonzero(b.cls == c)[np.searchsorted(kb, common)]
    made = a.run_item[ia] & b.run_item[ib]
    for name in ("service", "deficient", "fix", "channel", "run_item", "delay"):
        x, y = getattr(a, name)[ia], getattr(b, name)[ib]
        if name in ("service", "deficient", "fix"):
            x, y = x[made], y[made]
        assert np.array_equal(x, y), name
    # the other class is untouched: its arrivals and every number of its cases
    o = replay.class_names.index("key")
    assert np.array_equal(a.arrival[a.cls == o], b.arrival[b.cls == o])
    assert np.array_equal(a.service[a.cls == o], b.service[b.cls == o])


def test_recorded_channels_and_the_shares_they_replace(tmp_path: Path,
                                                       mini: dict[str, Any]) -> None:
    mini["classes"]["ordinary"].update(online_share=0.0, agent_pool="helpers")
    csv = "time,channel\n1,window\n2,online\n3,PROXY\n4,online\n"
    m = sim.load_model(write(tmp_path, mini, csv))
    inp = draw(m, 0)
    assert inp.channel[of_class(m, inp, "ordinary")].tolist() == [WINDOW, ONLINE, PROXY, ONLINE]
    mini["classes"]["ordinary"]["online_share"] = 0.3
    path = write(tmp_path, mini, csv)
    with pytest.raises(sim.GovsimError, match=r"classes.ordinary.online_share conflicts with "
                       r"the channels classes.ordinary.arrivals records"):
        sim.load(path)


def test_a_class_column_splits_one_file(tmp_path: Path, mini: dict[str, Any]) -> None:
    mini["classes"]["key"].pop("rate")
    mini["classes"]["key"]["arrivals"] = {"file": "arrivals.csv"}
    path = write(tmp_path, mini, "time,class\n1,key\n2,ordinary\n3,key\n")
    m = sim.load_model(path)
    a = arrival_stream(m, 0)
    assert [m.class_names[c] for c in a.cls] == ["key", "ordinary", "key"]
    assert a.key.tolist() == [0, 0, 1]


def test_the_times_survive_edits_workers_and_writing(tmp_path: Path,
                                                     mini: dict[str, Any]) -> None:
    csv, _ = poisson_csv(50, 3.0)
    s = sim.load(write(tmp_path, mini, csv))
    t0 = build(s).recorded(0)
    assert t0 is not None and t0.shape == (50,)
    # revalidated after an edit, and as the JSON a worker process receives
    for again in (S.revalidate(s), Scenario.model_validate_json(s.model_dump_json())):
        t = build(again).recorded(0)
        assert t is not None and np.array_equal(t, t0)
    # the TOML written back names the file, not its 50 times, and loads the same
    text = S.to_toml(s)
    assert tomllib.loads(text)["classes"]["ordinary"]["arrivals"] == {
        "file": "arrivals.csv", "mode": "replay", "block": 1.0, "note": ""}
    (tmp_path / "back.toml").write_text(text, encoding="utf-8")
    t = build(sim.load(tmp_path / "back.toml")).recorded(0)
    assert t is not None and np.array_equal(t, t0)
    # a start date moved by a day: hours since the start stay, date-times move back 24 hours
    s2 = s.model_copy(deep=True)
    s2.run.start_date = s2.run.start_date.replace(day=2)
    moved = build(S.revalidate(s2)).recorded(0)
    assert moved is not None and np.array_equal(moved, t0)
    iso = sim.load(write(tmp_path, mini, "time\n2023-01-03 10:00\n"))
    iso2 = iso.model_copy(deep=True)
    iso2.run.start_date = iso2.run.start_date.replace(day=2)
    assert build(iso).recorded(0).tolist() == [58.0]  # type: ignore[union-attr]
    assert build(S.revalidate(iso2)).recorded(0).tolist() == [34.0]  # type: ignore[union-attr]


BAD: list[tuple[str, str, dict[str, Any], str]] = [
    ("unparsable", "time\n2024-01-01\n2024-01-02\n2024-13-01\n", {},
     "mini.toml: classes.ordinary.arrivals.file arrivals.csv: row 3: time must be an ISO "
     "date-time (naive: the scenario's zone) or hours since the run's start, sorted "
     "ascending (got '2024-13-01')"),
    ("unsorted", "time\n2024-01-01 10:00\n2024-01-03\n2024-01-02\n", {},
     "mini.toml: classes.ordinary.arrivals.file arrivals.csv: row 3: time must be an ISO "
     "date-time (naive: the scenario's zone) or hours since the run's start, sorted "
     "ascending (got '2024-01-02')"),
    ("unsorted hours", "time\n1\n5\n2\n", {}, "row 3: time must be an ISO date-time"),
    ("hours then text", "time\n1\n5\nsoon\n", {}, "row 3: time must be an ISO date-time "
     "(naive: the scenario's zone) or hours since the run's start, sorted ascending "
     "(got 'soon')"),
    ("missing column", "when\n2024-01-01\n", {},
     "arrivals.csv: needs a 'time' column (the file has 'when')"),
    ("unknown column", "time,colour\n1,red\n", {},
     "arrivals.csv: has an unknown column (known: time, class, channel) (got 'colour')"),
    ("unknown class", "time,class\n1,ordinary\n2,vip\n", {},
     "arrivals.csv: row 2: class names an unknown class (known: ordinary, key) (got 'vip')"),
    ("class of another source", "time,class\n1,ordinary\n2,key\n", {},
     "row 2: class 'key' does not take its arrivals from this file (give "
     "classes.key.arrivals.file)"),
    ("no rows of the class", "time,class\n1,elsewhere\n", {}, "class names an unknown class"),
    ("empty", "", {}, "arrivals.csv: the file is empty: it needs a header with a 'time' "
     "column and one row per arrival"),
    ("header only", "time\n", {}, "arrivals.csv: has no arrivals (a header and no rows)"),
    ("bad channel", "time,channel\n1,fax\n", {"online_share": 0.0},
     "row 1: channel must be one of window, online, proxy (got 'fax')"),
    ("bootstrap of one time", "time\n1\n", {"mode": "bootstrap"},
     "classes.ordinary.arrivals arrivals.csv: needs at least two recorded times that differ "
     "to bootstrap their gaps (got 1 time)"),
    ("rate as well", "time\n1\n", {"rate": 2.0},
     "mini.toml: classes.ordinary has recorded 'arrivals', which conflict with 'rate': the "
     "recorded times replace the rate and its profiles (remove one)"),
    ("block below 1", "time\n1\n2\n", {"block": 0.5},
     "classes.ordinary.arrivals.block must be a number >= 1 (got 0.5)"),
    ("no file", "time\n1\n", {"file": None}, "not found"),
]


@pytest.mark.parametrize(("csv", "edit", "message"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_arrival_files_exit_2_with_one_line(tmp_path: Path, mini: dict[str, Any],
                                                capsys: pytest.CaptureFixture[str], csv: str,
                                                edit: dict[str, Any], message: str) -> None:
    arrivals: dict[str, Any] = {}
    if "mode" in edit or "block" in edit:
        arrivals = {k: edit.pop(k) for k in ("mode", "block") if k in edit}
    path = write(tmp_path, mini, csv, **arrivals)
    if "file" in edit:
        (tmp_path / "arrivals.csv").unlink()
    elif edit:
        mini["classes"]["ordinary"].update(edit)
        path.write_text(tomli_w.dumps(mini), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert "\n" not in err and "Traceback" not in err


def test_a_scenario_built_in_python_needs_the_times(mini: dict[str, Any]) -> None:
    mini["classes"]["ordinary"].pop("rate")
    mini["classes"]["ordinary"]["arrivals"] = {"file": "arrivals.csv"}
    with pytest.raises(sim.GovsimError, match=r"classes\.ordinary\.arrivals\.file was not read"):
        S.parse(mini, "mini.toml")
    mini["classes"]["ordinary"]["arrivals"] = {"hours": [1.0, 2.0, 4.0], "mode": "replay"}
    m = build(S.parse(mini, "mini.toml"))
    assert m.expected_arrivals(0) == 3
    mini["classes"]["ordinary"]["arrivals"] = {"hours": [1.0, 4.0, 2.0]}
    with pytest.raises(sim.GovsimError, match=r"needs hours sorted ascending \(hours\[2\] = 2"):
        S.parse(mini, "mini.toml")


def test_the_shipped_example_replays_the_bpic15_case_starts() -> None:
    path = ROOT / "scenarios" / "bpic15-municipality-1-recorded-arrivals.toml"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every recorded start lies in the window
        m = sim.load_model(path)
    a = arrival_stream(m, 0)
    assert a.n == 1199  # the log's cases (data/README.md)
    # the first case started 2010-10-05 00:00 +02:00 (Amsterdam): hour 0; the last
    # 2015-02-26 00:00 +01:00, 1,605 days later
    assert a.arrival[0] == 0.0 and a.arrival[-1] == 1605 * 24.0
    assert np.array_equal(a.arrival, arrival_stream(m, 3).arrival)
    assert budget.estimate([m], 1).cases == 1199
    readme = (ROOT / "scenarios" / "data" / "README.md").read_text(encoding="utf-8")
    assert "10.4121/uuid:a0addfda-2044-4541-a450-fdcc9fe16d17" in readme


def test_calibrate_writes_the_case_starts_to_replay(tmp_path: Path) -> None:
    rows = ["case,activity,timestamp"]
    for c in range(30):
        day = pd.Timestamp("2024-03-04T09:00:00+01:00") + pd.Timedelta(days=c)
        for k, a in enumerate(("register", "review", "decide")):
            rows.append(f"c{c},{a},{(day + pd.Timedelta(hours=2 * k)).isoformat()}")
    log = tmp_path / "log.csv"
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out, csv = tmp_path / "small.toml", tmp_path / "starts.csv"
    assert main(["calibrate", str(log), "--out", str(out), "--arrivals-out", str(csv), "-q",
                 "--case", "case", "--activity", "activity", "--timestamp", "timestamp"]) == 0
    lines = csv.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "time" and len(lines) == 31
    assert lines[1] == "2024-03-04T09:00:00+01:00"
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    cls = data["classes"]["applications"]
    for key in ("rate", "weekday_profile", "hour_profile"):
        cls.pop(key, None)
    cls["arrivals"] = {"file": "starts.csv"}
    out.write_text(tomli_w.dumps(data), encoding="utf-8")
    m = sim.load_model(out)
    t = m.recorded(m.class_names.index("applications"))
    assert t is not None
    # hour 0 is the first case's day, 00:00 on the log's clock: 09:00 every day after
    assert t.tolist() == [9.0 + 24.0 * k for k in range(30)]
    assert main(["calibrate", str(log), "--out", str(out), "--arrivals-out",
                 str(tmp_path / "starts.txt")]) == 2


def test_a_bootstrap_of_tiny_gaps_is_refused_not_drawn(mini: dict[str, Any]) -> None:
    mini["classes"]["ordinary"].pop("rate")
    mini["classes"]["ordinary"]["arrivals"] = {"hours": [0.0, 1e-280], "mode": "bootstrap"}
    with pytest.raises(sim.GovsimError, match=r"classes\.ordinary\.arrivals has a recorded "
                       r"mean gap of 1e-280 hours: bootstrapped, it would bring 1\.44e\+283 "
                       r"cases to the arrival window \(at most 1,000,000,000\)"):
        build(S.parse(mini, "mini.toml"))


def test_a_class_reading_a_file_without_its_rows(tmp_path: Path, mini: dict[str, Any],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    mini["classes"]["key"].pop("rate")
    mini["classes"]["key"]["arrivals"] = {"file": "arrivals.csv"}
    path = write(tmp_path, mini, "time,class\n1,key\n2,key\n")
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "govsim: error: mini.toml: classes.ordinary.arrivals.file arrivals.csv: has no rows "
        "of class 'ordinary'")
