"""Streamed runs (``govsim run --stream`` / ``--cases``, ``sim.run(stream=True)``): the same
records, tables and JSON as a normal run, the per-case file, and the errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.cli import main
from sim.engines import vector
from sim.engines.vector.chunked import Cases, run_chunked
from sim.errors import UsageError
from sim.experiments import budget
from sim.experiments.sources import load_model
from sim.experiments.stream import case_rows
from sim.inputs import draw
from sim.model.assembly import Model
from sim.results.records import (
    CASE_COLUMNS,
    COMPLETED,
    ItemSums,
    StageSums,
    StationSums,
    Visits,
    case_table,
    station_table,
)
from tests.test_vector import model_of, scenarios

ROOT = Path(__file__).resolve().parents[1]
CONSTRUCTION = ROOT / "scenarios" / "hohhot-construction-2023.toml"
HOTLINE = ROOT / "scenarios" / "hohhot-12345-hotline.toml"
REFORMED = ROOT / "scenarios" / "hohhot-construction-2023-reformed.toml"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The construction scenario with a quarter of its arrivals (about 1,150 cases)."""
    text = CONSTRUCTION.read_text(encoding="utf-8")
    text, k = re.subn(r"(?m)^rate = 4\.6\b", "rate = 1.15", text)
    assert k == 2
    p = tmp_path_factory.mktemp("stream") / "construction-small.toml"
    p.write_text(text, encoding="utf-8")
    return p


def _chunked_tables(m: Model, rep: int, chunk: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    sums, frames, visits = StationSums(m), [], 0
    stage_sums: list[StageSums] = []
    for piece in run_chunked(m, rep, chunk=chunk):
        if isinstance(piece, Visits):
            sums.add(piece)
            visits += piece.case.size
        elif isinstance(piece, StageSums):
            stage_sums.append(piece)
        elif not isinstance(piece, ItemSums):
            assert isinstance(piece, Cases)
            frames.append(case_rows(m, piece))
    first = [f["case"].iloc[0] for f in frames]
    assert first == sorted(first)  # handed out in case order
    # the per-stage sums, added as cases ended, are those of the whole run's records
    assert len(stage_sums) == 1
    inp = draw(m, rep)
    ref = vector.simulate(m, inp, feedforward=False, stages=True)
    assert ref.t_stages is not None
    whole = StageSums(m)
    whole.add(inp.cls, ref.t_stages, (ref.status == COMPLETED) & (inp.arrival >= m.warmup))
    got, want = stage_sums[0].kpis(), whole.kpis()
    assert got.keys() == want.keys()
    np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-9)
    return pd.concat(frames, ignore_index=True), sums.table(), visits


@pytest.mark.parametrize("path, chunk", [(CONSTRUCTION, 200), (HOTLINE, 97), (REFORMED, 150)])
def test_chunked_records_equal_the_whole_run(path: Path, chunk: int) -> None:
    """Cases equal exactly, stations to 1e-9 (sums in another order), every visit once:
    construction (rework, priorities), the hotline (reneging), the reform (pools, audits)."""
    m = load_model(path)
    inp = draw(m, 1)
    ref = vector.simulate(m, inp, record_visits=True, feedforward=False)
    assert ref.visits is not None
    cases, stations, visits = _chunked_tables(m, 1, chunk)
    pd.testing.assert_frame_equal(cases, case_table(m, inp, ref))
    pd.testing.assert_frame_equal(stations, station_table(m, ref), rtol=1e-9)
    assert visits == ref.visits.case.size
    assert len(cases) > 10 * chunk  # many chunks, so pages were handed back on the way


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), rep=st.integers(0, 3), chunk=st.integers(1, 40))
def test_generated_chunked_runs(data: dict[str, object], rep: int, chunk: int) -> None:
    """Generated scenarios (every feature of the engines): the same records."""
    check_chunked(data, rep, chunk)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), rep=st.integers(0, 3), chunk=st.integers(1, 40))
def test_generated_chunked_runs_many(data: dict[str, object], rep: int, chunk: int) -> None:
    check_chunked(data, rep, chunk)


def check_chunked(data: dict[str, object], rep: int, chunk: int) -> None:
    m = model_of(data)
    inp = draw(m, rep)
    ref = vector.simulate(m, inp, record_visits=True, feedforward=False)
    assert ref.visits is not None
    if inp.n == 0:
        assert list(run_chunked(m, rep, chunk=chunk)) == []
        return
    cases, stations, visits = _chunked_tables(m, rep, chunk)
    pd.testing.assert_frame_equal(cases, case_table(m, inp, ref))
    pd.testing.assert_frame_equal(stations, station_table(m, ref), rtol=1e-9)
    assert visits == ref.visits.case.size


def test_station_sums_do_not_depend_on_batches() -> None:
    m = load_model(CONSTRUCTION)
    res = vector.simulate(m, draw(m, 0), record_visits=True)
    assert res.visits is not None
    v = res.visits
    sums = StationSums(m)
    cut = np.array_split(np.random.default_rng(1).permutation(v.case.size), 7)
    for idx in cut:
        sums.add(Visits(*(getattr(v, f)[np.sort(idx)] for f in v.__dataclass_fields__)))
    whole = station_table(m, res)
    got = sums.table()
    count_cols = ["servers", "served", "reneged", "waiting_at_horizon", "waiting_at_window_end"]
    pd.testing.assert_frame_equal(got[count_cols], whole[count_cols])
    pd.testing.assert_frame_equal(got, whole, rtol=1e-9)


def _same(a: Any, b: Any, path: str = "") -> None:
    """Equal keys and values: exact but for floats, to 1e-9 relative (costs are summed as
    visits are handed out, not in the canonical order)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, rel=1e-9, nan_ok=True), path
    else:
        assert a == b, path


def test_api_stream_equals_normal_run(small: Path, tmp_path: Path) -> None:
    normal = sim.run(small, replications=2, seed=3)
    out = tmp_path / "cases.parquet"
    streamed = sim.run(small, replications=2, seed=3, cases_out=out)
    _same(streamed.to_dict(), normal.to_dict())
    pd.testing.assert_frame_equal(streamed.per_replication, normal.per_replication)
    pd.testing.assert_frame_equal(streamed.stations, normal.stations, rtol=1e-9)
    written = pd.read_parquet(out)
    assert list(written.columns) == list(normal.cases.columns)
    # a case attribute its class has not is NaN in the table, null (None) in Parquet
    for col in [c for c in written if c.startswith("attr.") and written[c].dtype == object]:
        assert written[col].isna().equals(normal.cases[col].isna()), col
        written[col] = written[col].where(written[col].notna(), np.nan)
    pd.testing.assert_frame_equal(written, normal.cases, rtol=1e-9)
    with pytest.raises(UsageError, match="streamed run keeps no per-case table"):
        _ = streamed.cases


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_cases_file_csv(small: Path, tmp_path: Path, suffix: str) -> None:
    normal = sim.run(small, replications=1, seed=5)
    out = tmp_path / f"cases{suffix}"
    sim.run(small, replications=1, seed=5, cases_out=out)
    got = pd.read_csv(out)
    want = normal.cases
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for col in want.columns:
        if want[col].dtype == object:
            assert (got[col].astype(str) == want[col].astype(str)).all(), col
        else:
            np.testing.assert_allclose(got[col].to_numpy(dtype=float),
                                       want[col].to_numpy(dtype=float), rtol=1e-15,
                                       equal_nan=True, err_msg=col)


def test_cli_json_with_and_without_stream(small: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["run", str(small), "-n", "1", "--seed", "2", "--json", str(a), "-q"]) == 0
    assert main(["run", str(small), "-n", "1", "--seed", "2", "--json", str(b), "-q",
                 "--stream"]) == 0
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    assert da == db
    assert da["cases"]["arrived"] > 100


def _one_line_error(capsys: pytest.CaptureFixture[str], args: list[str], *needles: str) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err
    return err


def test_cli_bad_cases_targets(small: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    base = ["run", str(small), "-n", "1", "-q", "--cases"]
    _one_line_error(capsys, [*base, str(tmp_path / "nope" / "c.csv")], "does not exist")
    folder = tmp_path / "d.csv"
    folder.mkdir()
    _one_line_error(capsys, [*base, str(folder)], "is a folder")
    _one_line_error(capsys, [*base, str(tmp_path / "c.xes")], "must end in")
    _one_line_error(capsys, [*base, str(tmp_path / "c.txt")], "must end in")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a folder the user cannot write (root writes anywhere)")
def test_cli_read_only_folder(small: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        _one_line_error(capsys, ["run", str(small), "-n", "1", "-q", "--cases",
                                 str(ro / "c.parquet")], "cannot write")
    finally:
        ro.chmod(0o755)
    assert not list(ro.iterdir())


def test_cli_unwritable_folder(small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder the writer may not create a file in (as any user: the system says no)."""
    import errno
    import tempfile

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    err = _one_line_error(capsys, ["run", str(small), "-n", "1", "-q", "--cases",
                                   str(tmp_path / "c.parquet")], "cannot write",
                          "Permission denied")
    assert str(tmp_path) in err
    assert not (tmp_path / "c.parquet").exists()


def test_cli_stream_refuses_what_it_cannot_do(small: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    base = ["run", str(small), "-n", "1", "-q", "--stream"]
    _one_line_error(capsys, [*base, "--engine", "des"], "--stream", "vector engine", "des")
    _one_line_error(capsys, [*base, "--log", str(tmp_path / "l.csv")], "--log")
    _one_line_error(capsys, [*base, "--out", str(tmp_path / "r")], "--out")
    _one_line_error(capsys, [*base, "--workers", "2"], "--workers 2")
    with pytest.raises(UsageError, match="vector engine"):
        sim.run(small, replications=1, engine="des", stream=True)


def test_streamed_estimate_is_its_own() -> None:
    """A run refused whole is accepted streamed (the limit between the two estimates)."""
    m = load_model(CONSTRUCTION)
    whole = budget.estimate([m], 10)
    streamed = budget.estimate_streamed([m], 10)
    assert streamed.bytes < whole.bytes
    limit = (whole.bytes + streamed.bytes) / 2 / budget.GB
    with pytest.raises(UsageError, match="--max-memory"):
        budget.check([m], 10, 1, limit)
    assert budget.check([m], 10, 1, limit, streamed=True).bytes == streamed.bytes
    assert "streamed" in streamed.describe()
    with pytest.raises(UsageError, match=r"or stream it \(--stream"):
        sim.run(m, replications=10, max_memory=limit)
    # one replication at a time: the streamed estimate does not grow with replications
    assert budget.estimate_streamed([m], 100).bytes == streamed.bytes


def test_benchmark_helper_measures_a_fresh_streamed_run() -> None:
    """``benchmarks.stream``: the scaled scenario keeps the loads; the helper's child runs
    ``sim.run(stream=True)`` and reports what it measured."""
    from benchmarks.stream import construction_scenario, streamed_run_peak_rss

    m0 = load_model(CONSTRUCTION)
    m = load_model(construction_scenario(20_000))
    n = sum(m.expected_arrivals(c) for c in range(len(m.class_rate)))
    assert n == pytest.approx(20_000, rel=1e-9)
    # servers scaled by the rates' factor, rounded up: each load at most the scenario's
    load0, load = m0.offered_load(), m.offered_load()
    assert all(load[k] <= load0[k] + 1e-9 and load[k] > 0.9 * load0[k] for k in load0)
    got = streamed_run_peak_rss(2_000)
    assert got["cases"] == 2_000
    # about half the cases arrive after the warm-up (365 of 730 days); Poisson(2,000)
    assert 800 < got["cases_arrived_after_warmup"] < 1_200
    assert got["peak_rss_mb"] > 100 and got["seconds"] > 0
    assert got["within_2gb"] is (got["peak_rss_mb"] <= 2048.0)


def test_pages_hand_back_only_pages_of_free_cases() -> None:
    """A page is given back (reads as zeros again) only when every case on it is free;
    pages shared with a case still in the system keep their values."""
    from sim.engines.vector.chunked import PAGE, Pages

    pages = Pages()
    n, per_case = 1000, 56  # rows that straddle pages
    a = pages.zeros((n, per_case // 8), np.float64)
    a[:] = 1.0
    free = np.zeros(n, dtype=np.bool_)
    free[100:900] = True
    pages.release(a, free)
    flat = a.reshape(-1).view(np.uint8)
    first_page = -(-100 * per_case // PAGE)  # the first page after case 99's last byte
    last_page = (900 * per_case) // PAGE     # the page case 900's first byte is on
    assert (a[:100] == 1.0).all() and (a[900:] == 1.0).all()
    assert not flat[first_page * PAGE:last_page * PAGE].any()
    # the cases' rows on a shared page are kept
    assert (a[100:(first_page * PAGE) // per_case] == 1.0).all()
    free[:] = True
    pages.release(a, free)
    assert not a[: (n * per_case) // PAGE * PAGE // per_case].any()


@pytest.mark.parametrize("per_case", [8, 56, 1024, 3000, 9000])
def test_pages_near_the_cases_just_freed_are_all_that_can_go(per_case: int) -> None:
    """Looking only at the pages of the cases freed since the last call (what a streamed
    run does at every stop) hands back exactly what a scan of every page does, for
    cases smaller than a page, straddling pages and spanning several; rows as well."""
    from sim.engines.vector.chunked import PAGE, Pages, busy_before

    rng = np.random.default_rng(per_case)
    n = 3000
    counts = rng.integers(0, 9, n)
    ptr = np.concatenate([[0], np.cumsum(counts)])
    near_pages, scan_pages = Pages(), Pages()
    arrays = [(p.zeros((n, per_case // 8), np.float64), p.zeros((int(ptr[-1]), 3), np.float64))
              for p in (near_pages, scan_pages)]
    for a, r in arrays:
        a[:] = 1.0
        r[:] = 1.0
    free = np.zeros(n, dtype=np.bool_)
    for k in range(13):  # cases end out of order, a batch at a time; all by the last
        idx = np.flatnonzero(~free & ((rng.random(n) < 0.15) | (k == 12)))
        free[idx] = True
        busy = busy_before(free)
        near_pages.release(arrays[0][0], free, idx, busy)
        near_pages.release_rows(arrays[0][1], free, ptr, int(ptr[-1]), idx, busy)
        scan_pages.release(arrays[1][0], free)
        scan_pages.release_rows(arrays[1][1], free, ptr, int(ptr[-1]))
        for x, y in zip(arrays[0], arrays[1], strict=True):
            np.testing.assert_array_equal(x, y)
        if k == 6 and per_case >= 1024:  # a few cases a page: some pages gone, some not
            assert (arrays[0][0] == 0.0).any() and (arrays[0][0] == 1.0).any()
    assert not arrays[0][0][: n * per_case // PAGE * PAGE // per_case].any()


def test_no_arrivals(tmp_path: Path) -> None:
    """A replication without cases: the same JSON, and a file with the columns, no rows."""
    text = CONSTRUCTION.read_text(encoding="utf-8")
    path = tmp_path / "none.toml"
    path.write_text(re.sub(r"(?m)^rate = 4\.6\b", "rate = 0.0", text), encoding="utf-8")
    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.csv"
    assert main(["run", str(path), "-n", "1", "--json", str(a), "-q"]) == 0
    assert main(["run", str(path), "-n", "1", "--json", str(b), "-q", "--cases", str(out)]) == 0
    assert json.loads(a.read_text()) == json.loads(b.read_text())
    got = pd.read_csv(out)
    # the construction scenario has costs: their two columns follow the case columns, and
    # then its case attributes'
    assert list(got.columns) == [*CASE_COLUMNS, "gov_cost", "applicant_cost", "attr.in_park",
                                 "attr.prepared", "attr.complexity"] and len(got) == 0
