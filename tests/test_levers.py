"""``govsim levers`` / ``sim.levers``: what each small change buys, ranked, on common random
numbers; each lever's effect is the paired difference of two runs with the same seed."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim
from sim.cli import main
from sim.errors import UsageError
from sim.experiments.levers import FACTOR, LeversResult, candidates, levers
from sim.model import scenario as S
from sim.results.stats import ci95
from tests.conftest import DATA

MINI = str(DATA / "mini.toml")
N, SEED = 3, 11


@pytest.fixture(scope="module")
def res() -> LeversResult:
    return levers(MINI, replications=N, seed=SEED)


def _lead(result: Any) -> np.ndarray:
    return result.per_replication["lead_time_workdays.mean"].to_numpy(dtype=np.float64)


def test_ranked_by_effect_lower_is_better(res: LeversResult) -> None:
    eff = [r["effect"] for r in res.levers]
    assert all(math.isfinite(e) for e in eff)
    assert eff == sorted(eff)  # lead time: the most negative (the biggest saving) first
    assert [r["rank"] for r in res.levers] == list(range(1, len(eff) + 1))
    assert res.biggest is res.levers[0]
    assert sim.levers is levers  # the package face
    kinds = {r["kind"] for r in res.levers}
    assert {"servers", "pool", "applicant_time", "deficiency", "reform"} <= kinds


def test_higher_is_better_kpi_ranks_descending() -> None:
    r = levers(MINI, kpi="throughput_per_day", replications=N, seed=SEED,
               kinds=("servers", "deficiency"))
    eff = [x["effect"] for x in r.levers]
    assert eff == sorted(eff, reverse=True)
    assert {x["kind"] for x in r.levers} == {"servers", "deficiency"}


def test_station_lever_is_the_difference_of_two_runs(res: LeversResult) -> None:
    """The effect of +1 server at review is sim.run(variant) - sim.run(base), paired, same seed."""
    raw = S.load(MINI)
    more = raw.model_copy(deep=True)
    more.stations["review"].servers += 1
    base = sim.run(raw, replications=N, seed=SEED)
    variant = sim.run(more, replications=N, seed=SEED)
    d = _lead(variant) - _lead(base)
    m, lo, hi = ci95(d)
    row = next(r for r in res.levers if r["lever"] == "+1 server: review")
    assert row["effect"] == pytest.approx(m, rel=1e-12, abs=1e-12)
    assert row["ci95"] == pytest.approx([lo, hi], rel=1e-12, abs=1e-12)
    assert row["mean"] == pytest.approx(_lead(variant).mean(), rel=1e-12)
    assert row["relative"] == pytest.approx(m / _lead(base).mean(), rel=1e-12)
    util = base.station_summary()["utilization"]["review"]
    assert row["utilization"] == pytest.approx(util, rel=1e-12)
    after = variant.station_summary()["utilization"]["review"]
    assert row["utilization_after"] == pytest.approx(after, rel=1e-12)
    # one more of 2 servers: the same work on 3 servers (utilization drops by about a third)
    assert after < util


def test_common_random_numbers_a_server_changes_no_input() -> None:
    """Adding a server draws exactly the same inputs: the arrivals of both runs agree."""
    raw = S.load(MINI)
    more = raw.model_copy(deep=True)
    more.stations["front"].servers += 1
    a = sim.run(raw, replications=2, seed=SEED).cases
    b = sim.run(more, replications=2, seed=SEED).cases
    assert np.array_equal(a["arrival"].to_numpy(), b["arrival"].to_numpy())
    assert np.array_equal(a["class"].to_numpy(), b["class"].to_numpy())


def test_variants_change_what_they_say() -> None:
    raw = S.load(MINI)
    found, skipped = candidates(raw)
    by = {lv.lever: lv for lv in found}
    fix = by["applicant time -10%: review"].scenario
    assert fix.items["review_a"].delay is not None
    assert fix.items["review_a"].delay.mean == pytest.approx(1 * FACTOR)
    assert fix.items["review_a"].fix is not None
    assert fix.items["review_a"].fix.mean == pytest.approx(2 * FACTOR)  # from rework.fix
    assert fix.items["intake"] == raw.items["intake"]  # another stage: untouched
    q = by["deficiency -10%: intake"].scenario
    assert q.items["intake"].deficiency_per_material == pytest.approx(0.02 * FACTOR)
    assert by["+1 agent: helpers"].scenario.pools["helpers"].agents == 3
    # reforms that need arguments are skipped with the reason, not an error
    reasons = {s["lever"]: s["reason"] for s in skipped}
    assert "required" in reasons["reform: cut_items"]


def test_json_contract_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "levers.json"
    rep = tmp_path / "report"
    code = main(["levers", MINI, "-n", "2", "--seed", "3", "--workers", "1", "--json",
                 str(out), "--out", str(rep), "--kind", "servers", "--kind", "reform", "-q"])
    assert code == 0
    d = json.loads(out.read_text())
    assert {"scenario", "kpi", "replications", "seed", "baseline", "levers", "biggest",
            "skipped"} <= set(d)
    assert d["scenario"] == "mini" and d["replications"] == 2 and d["seed"] == 3
    assert {"mean", "ci95", "utilization"} <= set(d["baseline"])
    for r in d["levers"]:
        assert {"lever", "kind", "effect", "ci95", "relative", "rank"} <= set(r)
        assert ("utilization" in r) == (r["kind"] in ("servers", "pool"))
    assert d["biggest"] == d["levers"][0]["lever"]
    html = (rep / "report.html").read_text()
    assert "Levers, ranked" in html and "biggest lever" in html and "busiest station" in html
    assert (rep / "figures" / "levers.png").stat().st_size > 1000
    assert json.loads((rep / "levers.json").read_text())["levers"] == d["levers"]


def test_bad_kpi_exit_2_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["levers", MINI, "--kpi", "lead_time_fortnights", "-n", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--kpi 'lead_time_fortnights'" in err[0] and "lead_time_workdays.mean" in err[0]
    with pytest.raises(UsageError, match=r"stations\.nowhere\.utilization"):
        levers(MINI, kpi="stations.nowhere.utilization", replications=2)


def test_station_kpi_and_kpi_spellings() -> None:
    a = levers(MINI, kpi="lead_time_workdays", replications=2, seed=1, kinds=("servers",))
    b = levers(MINI, kpi="lead_time_workdays.mean", replications=2, seed=1, kinds=("servers",))
    assert [r["effect"] for r in a.levers] == [r["effect"] for r in b.levers]
    w = levers(MINI, kpi="stations.review.mean_wait_hours", replications=2, seed=1,
               kinds=("servers",))
    row = next(r for r in w.levers if r["target"] == "review")
    assert row["effect"] < 0  # one more reviewer: shorter waits at review
