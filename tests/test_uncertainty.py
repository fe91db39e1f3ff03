"""Uncertainty in the assumptions (sim.experiments.uncertainty, govsim run --uncertainty):
Latin hypercube sets, common random numbers, the two intervals, the swings, bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.errors import ScenarioError, UsageError
from sim.experiments.uncertainty import assumptions, lhs_points, uncertainty
from sim.model.scenario import load
from sim.model.schema import Range
from tests.conftest import DATA

MINI = DATA / "mini.toml"
RANGES = '''
[uncertainty]
"items.review_a.service.mean" = { low = 0.75, high = 3.0, reason = "half to twice" }
"stations.front.servers" = { low = 2, high = 4 }
"items.intake.limit_workdays" = { low = 0.5, high = 3, mode = 1 }
'''


@pytest.fixture()
def scen(tmp_path: Path) -> Path:
    p = tmp_path / "unsure.toml"
    p.write_text(MINI.read_text(encoding="utf-8") + RANGES, encoding="utf-8")
    return p


def quiet(*args, **kw):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return uncertainty(*args, **kw)


def test_latin_hypercube_puts_one_value_in_each_slice(scen: Path) -> None:
    items = assumptions(load(scen))
    n = 12
    pts = lhs_points(items, n, seed=3)
    svc = np.array([p["items.review_a.service.mean"] for p in pts])
    # uniform: each of the n equal slices of [0.75, 3] holds exactly one value
    assert sorted(np.floor((svc - 0.75) / (3.0 - 0.75) * n).astype(int)) == list(range(n))
    servers = [p["stations.front.servers"] for p in pts]
    assert all(isinstance(s, int) and 2 <= s <= 4 for s in servers)
    lim = np.array([p["items.intake.limit_workdays"] for p in pts])
    assert lim.min() >= 0.5 and lim.max() <= 3.0
    # triangular with mode 1: the slices are of equal probability, so more values below
    # the middle of the range than above it (its median is 1.38)
    assert (lim < 1.75).sum() > (lim > 1.75).sum()
    assert lhs_points(items, n, seed=3) == pts  # the seed decides the sets


def test_the_sets_share_random_numbers_and_intervals_say_what_they_cover(scen: Path) -> None:
    res = quiet(scen, 6, replications=3, seed=11)
    assert len(res.sets) == 6
    # common random numbers: a set that moves only an item's limit has the scenario's
    # own lead times exactly (set 0 is the scenario itself, run with the same seed)
    base = res.base.per_replication["lead_time_workdays.mean"].mean()
    d = res.to_dict()
    iv = d["kpis"]["lead_time_workdays.mean"]
    assert iv["simulation_only"]["mean"] == pytest.approx(base, rel=1e-12)
    assert "simulation noise" in iv["simulation_only"]["covers"]
    assert "assumptions" in iv["with_assumptions"]["covers"]
    lo, hi = iv["with_assumptions"]["interval95"]
    means = res.sets["lead_time_workdays.mean"]
    assert lo == pytest.approx(np.quantile(means, 0.025)) and hi == pytest.approx(
        np.quantile(means, 0.975))
    # a slower review moves the lead time up; the limit does not move it at all
    sens = res.sensitivity("lead_time_workdays.mean").set_index("assumption")
    assert sens.loc["items.review_a.service.mean", "spearman"] > 0.8
    assert sens.loc["items.review_a.service.mean", "swing"] > 0
    assert abs(sens.loc["items.intake.limit_workdays", "swing"]) < 0.2 * abs(
        sens.loc["items.review_a.service.mean", "swing"])
    assert res.sensitivity("lead_time_workdays.mean")["assumption"].iloc[0] == \
        "items.review_a.service.mean"


def test_a_limit_only_set_keeps_every_lead_time(tmp_path: Path) -> None:
    p = tmp_path / "limit.toml"
    p.write_text(MINI.read_text(encoding="utf-8") + '\n[uncertainty]\n'
                 '"items.intake.limit_workdays" = { low = 0.5, high = 3 }\n', encoding="utf-8")
    res = quiet(p, 4, replications=2, seed=5)
    base = float(res.base.per_replication["lead_time_workdays.mean"].mean())
    assert np.array_equal(res.sets["lead_time_workdays.mean"].to_numpy(),
                          np.full(4, base))


def test_cli_reports_both_intervals(scen: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "u.json"
    assert main(["run", str(scen), "-n", "2", "--uncertainty", "4", "--json", str(out),
                 "--workers", "1"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "How sure: 4 parameter sets over the [uncertainty] ranges" in text
    assert "What moves" in text and "Spearman" in text  # the tornado table
    d = json.loads(out.read_text())
    assert d["uncertainty"]["sets"] == 4 and "kpis" in d["uncertainty"]
    assert d["kpis"]["lead_time_workdays"]["mean"] == pytest.approx(
        d["uncertainty"]["kpis"]["lead_time_workdays.mean"]["simulation_only"]["mean"])


@pytest.mark.parametrize(("extra", "message"), [
    ('"items.nope.service.mean" = { low = 1, high = 2 }',
     "uncertainty items.nope.service.mean: 'nope' is not in items"),
    ('"items.review_a.service.mean" = { low = 2, high = 3 }',
     "uncertainty items.review_a.service.mean: the scenario's value 1.5 is outside its "
     "range [2, 3]"),
    ('"items.review_a.service" = { low = 1, high = 2 }', "not a number"),
    ('"stations.front.servers" = { low = 0, high = 3 }', "servers must be an integer >= 1"),
])
def test_bad_ranges_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         extra: str, message: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(MINI.read_text(encoding="utf-8") + "\n[uncertainty]\n" + extra + "\n",
                 encoding="utf-8")
    assert main(["run", str(p), "-n", "2", "--uncertainty", "4", "--workers", "1",
                 "-q"]) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_other_bad_input(scen: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="low must be < high"):
        Range(low=3, high=2)
    with pytest.raises(UsageError, match="no \\[uncertainty\\] table"):
        quiet(MINI, 4)
    with pytest.raises(UsageError, match=r"--uncertainty must be an integer in \[2"):
        quiet(scen, 1)
    assert main(["run", str(scen), "--uncertainty", "4", "--stream", "-q"]) == 2
    assert "does not go with --stream" in capsys.readouterr().err


def test_a_range_in_the_file_is_checked_on_load(tmp_path: Path) -> None:
    p = tmp_path / "r.toml"
    p.write_text(MINI.read_text(encoding="utf-8") + '\n[uncertainty]\n'
                 '"stations.front.servers" = { low = 3, high = 2 }\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="low must be < high"):
        load(p)


def test_compare_gives_each_effect_both_intervals(scen: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.json"
    # the scenario against itself: the same parameter sets on both sides
    assert main(["compare", str(scen), str(scen), "-n", "2", "--uncertainty", "4",
                 "--workers", "1", "--json", str(out), "-q"]) == 0
    eff = json.loads(out.read_text())["uncertainty"]["effects"]
    (row,) = eff.values()
    iv = row["lead_time_workdays.mean"]
    # a scenario against itself: zero effect, in both intervals, exactly
    assert iv["simulation_only"]["mean"] == 0.0
    assert iv["with_assumptions"]["interval95"] == [0.0, 0.0]
    other = tmp_path / "other.toml"
    other.write_text(scen.read_text(encoding="utf-8").replace("high = 3.0", "high = 2.5"),
                     encoding="utf-8")
    assert main(["compare", str(scen), str(other), "-n", "2", "--uncertainty", "4",
                 "--workers", "1", "-q"]) == 2
    assert "give different [uncertainty] tables" in " ".join(capsys.readouterr().err.split())
