"""Comparisons on common random numbers, and the seed scenarios: each loads, runs, and says
what the seed says; the hotline matches Erlang A and Erlang C."""

from __future__ import annotations

import importlib.util
import json
import math
import tomllib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim
from sim import engines
from sim.analytic import erlang_a, erlang_c, mmc
from sim.cli import main
from sim.errors import UsageError
from sim.experiments.compare import compare
from sim.inputs import draw
from sim.model import build
from sim.model import scenario as S
from sim.model.schema import Run
from sim.results.stats import ci95
from tests.conftest import DATA, ROOT

MINI = str(DATA / "mini.toml")
SCEN = ROOT / "scenarios"
BASE = SCEN / "hohhot-construction-2023.toml"
REFORMED = SCEN / "hohhot-construction-2023-reformed.toml"
STARTUP = SCEN / "hohhot-business-startup-2023.toml"
HOTLINE = SCEN / "hohhot-12345-hotline.toml"
DISPUTES = SCEN / "hohhot-disputes-2023.toml"
ENGINES = ["des"] + (["vector"] if importlib.util.find_spec("sim.engines.vector") else [])


# --------------------------------------------------------------------------- compare


def test_scenario_compared_with_itself_is_exactly_zero() -> None:
    res = compare([MINI, MINI], replications=3, seed=5)
    d = res.differences[res.labels[1]]
    finite = d.dropna()
    assert len(finite) > 20 and "lead_time_workdays" in finite.index
    assert (finite["mean"] == 0.0).all()
    assert (finite["ci95_lo"] == 0.0).all() and (finite["ci95_hi"] == 0.0).all()
    assert res.labels == ["mini", "mini #2"]


def test_same_seed_everywhere_and_first_differences_zero() -> None:
    res = compare([MINI, f"{MINI}@conditional"], replications=3)
    assert res.seed == 7 and res.replications == 3  # the first scenario's run section
    assert {r.seed for r in res.results} == {7}
    assert (res.differences[res.labels[0]]["mean"].dropna() == 0).all()
    t = res.table()
    assert ("mini@conditional", "diff_ci95_lo") in t.columns
    assert t.loc["supplements", ("mini@conditional", "diff")] > 0


def test_paired_difference_is_the_mean_of_per_replication_differences() -> None:
    res = compare([MINI, f"{MINI}@cut_materials:factor=0.3"], replications=4, seed=2)
    a = res.results[0].per_replication["rework_rounds.mean"].to_numpy()
    b = res.results[1].per_replication["rework_rounds.mean"].to_numpy()
    m, lo, hi = ci95(b - a)
    row = res.differences[res.labels[1]].loc["rework_rounds"]
    assert row["mean"] == pytest.approx(m) and row["ci95_lo"] == pytest.approx(lo)
    assert row["ci95_hi"] == pytest.approx(hi) and hi < 0


def test_common_random_numbers_narrow_the_interval() -> None:
    """The same pair with independent seeds gives a wider interval for the difference."""
    pair = [MINI, f"{MINI}@proxy:windows=4,classes=key"]
    crn = compare(pair, replications=10, seed=11)
    ind = compare(pair, replications=10, seed=11, crn=False)
    assert ind.results[1].seed != ind.results[0].seed
    for kpi in ("lead_time_workdays", "lead_time_days", "rework_rounds"):
        c = crn.differences[crn.labels[1]].loc[kpi]
        i = ind.differences[ind.labels[1]].loc[kpi]
        assert c["ci95_hi"] - c["ci95_lo"] < 0.75 * (i["ci95_hi"] - i["ci95_lo"]), kpi


def test_workers_and_engines_do_not_change_the_numbers() -> None:
    pair = [MINI, f"{MINI}@online:0.9"]
    one = compare(pair, replications=3, workers=1, engine="des").to_dict()
    two = compare(pair, replications=3, workers=2, engine="des").to_dict()
    assert one == two
    for eng in ENGINES[1:]:
        other = compare(pair, replications=3, engine=eng).to_dict()
        for a, b in zip(one["scenarios"], other["scenarios"], strict=True):
            assert a["differences"]["lead_time_workdays"]["mean"] == pytest.approx(
                b["differences"]["lead_time_workdays"]["mean"], abs=1e-9)


def test_reforms_for_all_and_per_source() -> None:
    a = compare([MINI, MINI], replications=2, reforms=["online:1.0"],
                reforms_per_source=[[], ["conditional"]])
    b = compare([f"{MINI}@online:1.0", f"{MINI}@online:1.0@conditional"], replications=2)
    assert a.labels == ["mini", "mini@conditional"]
    for x, y in zip(a.to_dict()["scenarios"], b.to_dict()["scenarios"], strict=True):
        assert x["kpis"] == y["kpis"]
    assert a.reforms == [[], ["conditional"]]


def test_compare_accepts_scenarios_and_models() -> None:
    s = sim.load(MINI)
    res = compare([s, build(s, warn=False)], replications=2)
    assert (res.differences[res.labels[1]]["mean"].dropna() == 0).all()
    with pytest.raises(UsageError, match="at least two scenarios"):
        compare([s])


def test_cli_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp.json"
    assert main(["compare", MINI, f"{MINI}@conditional", "-n", "3", "--seed", "4",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[1] - [0]" in printed and "lead time, working days" in printed
    d = json.loads(out.read_text())
    assert d["seed"] == 4 and d["replications"] == 3 and d["baseline"] == "mini"
    assert d["common_random_numbers"] is True
    assert [s["label"] for s in d["scenarios"]] == ["mini", "mini@conditional"]
    for k, s in enumerate(d["scenarios"]):
        assert {"scenario", "engine", "replications", "seed", "cases", "kpis",
                "stations"} <= set(s)
        assert s["seed"] == 4
        for kpi in ("lead_time_workdays", "lead_time_days", "visits", "rework_rounds",
                    "within_limit_share", "stations.front.utilization"):
            diff = s["differences"][kpi]
            assert set(diff) == {"mean", "ci95"} and len(diff["ci95"]) == 2
            if k == 0:
                assert diff == {"mean": 0.0, "ci95": [0.0, 0.0]}
    assert d["scenarios"][1]["reforms"] == ["conditional"]
    lt = d["scenarios"][1]["differences"]["lead_time_workdays"]
    assert lt["ci95"][0] <= lt["mean"] <= lt["ci95"][1]
    # the top level holds the differences of `compare A B` (B against A)
    assert d["differences"] == d["scenarios"][1]["differences"]
    assert d["differences_by_scenario"] == {"mini@conditional": d["differences"]}


def test_alone_takes_a_reform_package_apart(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    pkg = tmp_path / "package.toml"
    pkg.write_text((DATA / "mini.toml").read_text().replace(
        "[scenario]", 'reforms = ["conditional", "online:0.9"]\n\n[scenario]'))
    out = tmp_path / "alone.json"
    assert main(["compare", MINI, str(pkg), "--alone", "-n", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "paired differences to [0] mini" in printed  # the compact table
    d = json.loads(out.read_text())
    labels = [s["label"] for s in d["scenarios"]]
    assert labels == ["mini", "package", "package only conditional", "package only online:0.9"]
    direct = compare([MINI, f"{MINI}@online:0.9"], replications=2).to_dict()
    assert d["scenarios"][3]["kpis"] == direct["scenarios"][1]["kpis"]
    assert main(["compare", MINI, "--alone"]) == 2
    assert "no scenario file has a reforms list" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["compare", MINI], "at least two scenarios"),
    (["compare", MINI, f"{MINI}@bogus"], "unknown reform 'bogus'"),
    (["compare", MINI, f"{MINI}@merge_items:items=intake+ghost"], "item 'ghost' does not exist"),
    (["compare", MINI, "nowhere.toml"], "nowhere.toml: file not found"),
    (["compare", MINI, MINI, "--engine", "warp"], "unknown engine 'warp'"),
    (["compare", MINI, MINI, "--reform", "online:share=7"], "share must be a probability"),
    (["compare", MINI, f"{MINI}@"], "an empty reform after '@'"),
])
def test_cli_bad_input_exit_2(argv: list[str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("govsim: error: ") and message in err, err


# --------------------------------------------------------------------------- seed scenarios


def _raw(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


SCENARIOS = [BASE, REFORMED, STARTUP, HOTLINE, DISPUTES]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_seed_scenarios_load_and_document_themselves(path: Path) -> None:
    s = sim.load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*holiday schedule.*")
        build(s, path.name)  # no station offered 100% or more
    text = path.read_text(encoding="utf-8")
    assert "SEED" in text and "ASSUMPTION" in text
    assert s.scenario.sources and s.assumptions


def test_reformed_construction_is_the_baseline_plus_its_reforms() -> None:
    raw_base, raw_ref = _raw(BASE), _raw(REFORMED)
    for key in set(raw_base) | set(raw_ref):
        if key in ("scenario", "reforms", "assumptions"):
            continue
        assert raw_ref.get(key) == raw_base.get(key), (
            f"[{key}] differs from the baseline: re-derive the reformed file from "
            "hohhot-construction-2023.toml (below [run] it is the baseline verbatim)")
    assert raw_base.get("assumptions", {}).items() <= raw_ref["assumptions"].items()
    s = sim.load(REFORMED)
    assert len(S.load(BASE).items) == 53 and len(s.items) == 37          # SEED: 53 -> 37
    assert sum(i.materials for i in s.items.values()) == 145               # SEED: 145
    assert sum(i.materials for i in S.load(BASE).items.values()) > 500     # SEED: 500+
    assert all(i.online for i in s.items.values())                         # SEED: 37 online
    pool = s.pools["help_proxy"]
    assert pool.agents == 32 and pool.caseload == 28                       # SEED: 32, 896/32
    assert s.classes["key"].proxy_share == 1.0
    assert {n for n, i in s.items.items() if i.conditional} == {
        "forest_land_use", "grassland_use", "energy_review"}               # SEED: 林草, 能评
    assert {n for n, i in s.items.items() if i.audit_probability > 0} == {
        "water_abstraction_permit", "soil_water_conservation"}             # SEED: 取水水保
    # staff moved with the work: the reform reorganised, it did not hire
    assert sum(x.servers for x in s.stations.values()) == sum(
        x.servers for x in S.load(BASE).stations.values())


def test_startup_hotline_and_disputes_carry_the_seed_figures() -> None:
    st = sim.load_model(STARTUP)
    assert st.expected_arrivals(0) == pytest.approx(7529, rel=0.01)       # SEED: 7,529 firms
    assert st.scenario.items["collect"].skip_probability == pytest.approx(974 / 7529, abs=1e-3)
    hot = sim.load(HOTLINE)
    assert hot.calendars["always"].always and hot.stations["agents"].patience is not None
    assert hot.classes["call"].per == "hour"
    dis = sim.load_model(DISPUTES)
    assert dis.expected_arrivals(dis.class_names.index("mediation")) == pytest.approx(
        10372, rel=0.01)                                                  # SEED: 10,372
    assert dis.scenario.stations["mediators"].servers == 262              # SEED: 262
    out = next(x for x in dis.scenario.routes["pre_litigation"].stages if x.name == "outcome")
    settled = next(b for b in out.branches or [] if b.name == "settled")
    assert settled.probability == pytest.approx(6478 / 10372, abs=1e-3)  # SEED: 62% settled
    assert dis.scenario.routes["fast_enforcement"].limit_workdays == 21   # SEED: 30 days


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_seed_scenarios_run(path: Path) -> None:
    """A short smoke run of each (the full runs are in the slow test below)."""
    s = sim.load(path)
    if s.run.arrival_days and s.run.arrival_days > 60:
        s.run = Run.model_validate({**s.run.model_dump(), "arrival_days": 30.0,
                                    "warmup_days": 5.0})
    r = sim.run(s, replications=1, engine=ENGINES[-1])
    per = r.per_replication.iloc[0]
    assert per["arrived"] > 0 and per["completed"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_seed_scenarios_run_in_full(path: Path) -> None:
    r = sim.run(path, replications=2, engine=ENGINES[-1])
    tot = r.to_dict()["cases"]
    # nearly every case ends by the horizon (hotline callers may end by hanging up)
    assert tot["completed"] + tot["abandoned"] > 0.95 * tot["arrived"]
    assert tot["completed"] > 0.5 * tot["arrived"]


@pytest.mark.slow
def test_construction_reform_is_real_and_large() -> None:
    res = compare([BASE, REFORMED])
    d = res.differences[res.labels[1]]
    assert d.loc["lead_time_workdays", "ci95_hi"] < -20
    assert d.loc["visits", "ci95_hi"] < -40
    assert d.loc["rework_rounds", "ci95_hi"] < 0


# --------------------------------------------------------------------------- hotline vs Erlang


def _call_centre(s: Any, engine: str, reps: int, seed: int = 1) -> np.ndarray:
    """Per replication: mean wait over ALL calls (hours), abandoned share, P(wait > 0)."""
    m = build(s, warn=False)
    rows = []
    for r in range(reps):
        inp = draw(m, r, seed)
        v = engines.simulate(engine, m, inp, record_visits=True).visits
        assert v is not None
        left = np.where(v.reneged, v.end, v.start)  # when the call left the queue
        ok = (v.joined >= m.warmup) & np.isfinite(left)
        wait = (left - v.joined)[ok]
        rows.append((wait.mean(), v.reneged[ok].mean(), (wait > 1e-12).mean()))
    return np.asarray(rows)


def _close(x: np.ndarray, theory: float, rel: float) -> bool:
    """Within 4 standard errors of the replication means, plus a relative bias allowance
    for the finite week and the warm-up."""
    se = x.std(ddof=1) / math.sqrt(len(x))
    return abs(x.mean() - theory) <= 4 * se + rel * abs(theory)


@pytest.mark.parametrize("engine", ENGINES)
def test_hotline_matches_erlang_a(engine: str) -> None:
    s = sim.load(HOTLINE)
    lam = s.classes["call"].rate
    mu = 60 / 4.0
    theta = 60 / 3.0
    c = s.stations["agents"].servers
    x = _call_centre(s, engine, reps=4)
    a = erlang_a(lam, mu, theta, c)
    assert _close(x[:, 1], a.p_abandon, 0.05), (x[:, 1].mean(), a.p_abandon)
    assert _close(x[:, 0], a.wq, 0.05), (x[:, 0].mean(), a.wq)
    assert _close(x[:, 2], a.p_wait, 0.05), (x[:, 2].mean(), a.p_wait)


@pytest.mark.parametrize("engine", ENGINES)
def test_hotline_without_patience_matches_erlang_c(engine: str) -> None:
    s = sim.load(HOTLINE)
    s.stations["agents"].patience = None
    lam, mu, c = s.classes["call"].rate, 60 / 4.0, s.stations["agents"].servers
    x = _call_centre(s, engine, reps=4)
    assert (x[:, 1] == 0).all()
    assert _close(x[:, 2], erlang_c(c, lam / mu), 0.05), (x[:, 2].mean(), erlang_c(c, lam / mu))
    assert _close(x[:, 0], mmc(lam, mu, c).wq, 0.08), (x[:, 0].mean(), mmc(lam, mu, c).wq)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("servers", [7, 8, 10])
def test_hotline_erlang_a_across_staffing(engine: str, servers: int) -> None:
    s = sim.load(HOTLINE)
    s.stations["agents"].servers = servers
    s.run.horizon_days = s.run.arrival_days = 15.0
    x = _call_centre(s, engine, reps=10, seed=3)
    a = erlang_a(100.0, 15.0, 20.0, servers)
    assert _close(x[:, 1], a.p_abandon, 0.03)
    assert _close(x[:, 0], a.wq, 0.03)
