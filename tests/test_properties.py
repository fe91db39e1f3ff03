"""Model-level properties on common random numbers (both engines)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sim
from sim.engines import simulate
from sim.inputs import draw
from sim.model import build
from sim.model import scenario as S
from sim.results.records import case_costs


@pytest.mark.parametrize("engine", ["des", "vector"])
def test_rework_lengthens_lead_time(mini: dict[str, Any], engine: str) -> None:
    no_rework = S.parse({**mini, "rework": {**mini["rework"], "deficiency_per_material": 0.0}})
    with_rework = S.parse(mini)
    a = sim.run(no_rework, replications=3, engine=engine).per_replication
    b = sim.run(with_rework, replications=3, engine=engine).per_replication
    assert (a["rework_rounds.mean"] == 0).all() and (b["rework_rounds.mean"] > 0).all()
    # same arrivals and first submissions (common random numbers): every replication is
    # slower with rework, not just the mean
    assert (b["lead_time_workdays.mean"] > a["lead_time_workdays.mean"]).all()


def test_first_submission_numbers_do_not_depend_on_max_attempts(mini: dict[str, Any]) -> None:
    m1 = build(S.parse(mini))
    mini["run"]["max_attempts"] = 2
    m2 = build(S.parse(mini))
    a, b = draw(m1, 0), draw(m2, 0)
    assert a.service.shape[2] == 6 and b.service.shape[2] == 2
    assert np.array_equal(a.service[:, :, :2], b.service)
    assert np.array_equal(a.deficient[:, :, :2], b.deficient)


def test_engines_agree_on_every_shipped_scenario_start() -> None:
    """Both engines, the first 30 days of each seed scenario: identical case records."""
    from pathlib import Path

    for path in sorted(Path("scenarios").glob("*.toml")):
        s = sim.load(path)
        horizon = min(30.0, s.run.horizon_days)
        s.run = s.run.model_copy(update={"warmup_days": 0.0, "horizon_days": horizon,
                                         "arrival_days": horizon * 2 / 3})
        m = build(s, warn=False)
        inp = draw(m, 0)
        d, v = simulate("des", m, inp), simulate("vector", m, inp)
        assert np.array_equal(d.status, v.status), path
        np.testing.assert_allclose(v.end, d.end, rtol=1e-9, err_msg=str(path))
        np.testing.assert_allclose(v.t_queue, d.t_queue, rtol=1e-9, atol=1e-9)
        if m.has_costs:  # costs come from the records: the engines agree on them too
            for x, y in zip(case_costs(m, inp, d), case_costs(m, inp, v), strict=True):
                np.testing.assert_allclose(y, x, rtol=1e-9, err_msg=str(path))
                assert x.sum() > 0, path
