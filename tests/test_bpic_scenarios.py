"""The shipped scenarios calibrated from real event logs (scenarios/bpic15-municipality-*.toml):
each is exactly what ``govsim calibrate`` makes of its log with the recipe in
scenarios/README.md, documents every value, and runs on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
#: the recipe of scenarios/README.md
RECIPE = ["--train-until", "2014-01-01",
          "--decision", "01_HOOFD_510_1,01_HOOFD_510_2,01_HOOFD_515",
          "--rework", "08_AWB45_020_1:08_AWB45_030", "--duplicates", "keep"]
DECISION = ["01_HOOFD_510_1", "01_HOOFD_510_2", "01_HOOFD_515"]


def _scenario(m: int) -> Path:
    return ROOT / "scenarios" / f"bpic15-municipality-{m}.toml"


@pytest.mark.parametrize("m", [1, 2])
def test_documented_and_calibrated(m: int) -> None:
    s = sim.load(_scenario(m))
    assert s.calibration is not None and s.calibration.log == f"BPIC15_{m}.xes.gz"
    assert s.calibration.decision == DECISION
    assert str(s.calibration.train_until) == "2014-01-01"
    assert s.scenario.time_zone == "Europe/Amsterdam"
    assert any("4TU.ResearchData" in src for src in s.scenario.sources)  # the attribution
    calibrated = [v for v in s.assumptions.values() if v.startswith("CALIBRATED from ")]
    assumed = [k for k, v in s.assumptions.items() if v.startswith("ASSUMPTION: ")]
    assert len(calibrated) + len(assumed) == len(s.assumptions) and len(assumed) == 1
    for name, item in s.items.items():
        assert item.activity, name
        assert f"items.{name}.service" in s.assumptions
    decided = {i.activity for i in s.items.values()} & set(DECISION)
    assert decided, "a decision activity must be an item, or score has no decision"


@pytest.mark.parametrize("m", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_the_file_is_what_calibrate_makes_of_its_log(m: int, tmp_path: Path) -> None:
    log = DATA / f"BPIC15_{m}.xes.gz"
    if not log.exists():
        pytest.skip(f"{log} is not in this checkout")
    out = tmp_path / "again.toml"
    assert main(["calibrate", str(log), "--out", str(out), "--name",
                 f"bpic15-municipality-{m}", "-q", *RECIPE]) == 0
    assert out.read_text(encoding="utf-8") == _scenario(m).read_text(encoding="utf-8")


@pytest.mark.parametrize("m", [1, 2])
def test_runs_on_both_engines_with_the_same_cases(m: int) -> None:
    s = sim.load(_scenario(m))
    s.run = s.run.model_copy(update={"horizon_days": 400.0, "arrival_days": 200.0})
    vec = sim.run(s, replications=1, seed=3, engine="vector")
    des = sim.run(s, replications=1, seed=3, engine="des")
    assert len(vec.cases) == len(des.cases) > 20
    assert (vec.cases["status"].to_numpy() == des.cases["status"].to_numpy()).all()
    assert vec.to_dict()["kpis"]["visits"]["mean"] == 0.0  # office steps, not visits
    assert "lead time" in repr(vec)
