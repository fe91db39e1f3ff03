"""Where the lead time goes, by stage and by station, and the answer in words."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import sim
from sim.model.scenario import parse
from sim.results.drivers import duration

MONDAY = "2024-01-01"


def tandem(lam: float, mus: list[float], days: float = 330.0) -> dict[str, Any]:
    """Poisson(lam/h) arrivals through M/M/1 stations, one stage each, always open."""
    n = len(mus)
    return {
        "scenario": {"name": "tandem"},
        "run": {"horizon_days": days + 30, "arrival_days": days, "warmup_days": 10,
                "calendar": "always", "seed": 5, "replications": 8, "start_date": MONDAY},
        "classes": {"c": {"rate": lam, "per": "hour"}},
        "stations": {f"s{k}": {"servers": 1, "calendar": "always"} for k in range(n)},
        "items": {f"i{k}": {"station": f"s{k}",
                            "service": {"dist": "exponential", "mean": 1.0 / mus[k]}}
                  for k in range(n)},
        "routes": {"main": {"stages": [{"name": f"at_s{k}", "items": [f"i{k}"]}
                                       for k in range(n)]}},
    }


def per_rep_mean(r: sim.RunResult, col: str) -> tuple[float, float]:
    """Grand mean over replications and its standard error (independent replications)."""
    x = r.per_replication[col].to_numpy(dtype=np.float64)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def test_stage_split_follows_the_tandem_jackson_network() -> None:
    """Stage k of an M/M/1 tandem: sojourn 1/(mu_k - lam), of it service 1/mu_k; tests
    accept |mean - theory| < 4 standard errors of the replication means."""
    lam, mus = 0.6, [1.0, 1.25, 0.9]
    r = sim.run(parse(tandem(lam, mus), "<tandem>"), engine="vector")
    stages = r.time_by_stage()
    assert list(stages["name"]) == ["at_s0", "at_s1", "at_s2"]
    for k, mu in enumerate(mus):
        name = f"main/at_s{k}"
        for part, theory in (("service", 1.0 / mu), ("queue", lam / (mu * (mu - lam)))):
            mean, se = per_rep_mean(r, f"stage.{name}.{part}_days")
            assert abs(mean * 24 - theory) < 4 * se * 24, (name, part, mean * 24, theory)
            assert se * 24 < 0.1 * theory  # the test has teeth
        assert stages.loc[name, "applicant"] == 0.0
        assert stages.loc[name, "total"] * 24 == pytest.approx(1.0 / (mu - lam), rel=0.1)
    # the stages add up to the whole lead time (the same cases, the same critical path)
    d = r.to_dict()
    whole = sum(d["kpis"]["lead_time_split_days"][p]["mean"]
                for p in ("service", "queue", "applicant"))
    assert stages["total"].sum() == pytest.approx(whole, rel=1e-9)
    assert stages["share"].sum() == pytest.approx(1.0, rel=1e-9)
    # station 2 is the slowest: cases queue longest there, and the sentence says so
    assert "queueing longest at s2" in d["answer"]
    st = d["stations"]
    for k, mu in enumerate(mus):  # per case: queue + service at its one item
        assert st[f"s{k}"]["hours_per_case"] == pytest.approx(1.0 / (mu - lam), rel=0.1)


def two_stages(delay_days: float, rho: float) -> dict[str, Any]:
    """Stage 'prep' (the applicant prepares for ``delay_days``, then a quick check) and
    stage 'review' at an M/M/1 station offered ``rho``."""
    d = tandem(0.5, [5.0, 0.5 / rho], days=200)
    if delay_days > 0:
        d["items"]["i0"]["delay"] = {"dist": "exponential", "mean": delay_days, "unit": "days"}
    d["routes"]["main"]["stages"] = [{"name": "prep", "items": ["i0"]},
                                     {"name": "review", "items": ["i1"]}]
    d["run"]["replications"] = 4
    return d


def test_answer_names_the_part_and_the_stage_that_dominate() -> None:
    slow_applicant = sim.run(parse(two_stages(10.0, 0.5), "<a>"))
    text = slow_applicant.answer()
    assert text.startswith("Lead time ")
    assert "is with the applicant (preparation and fixes), most in stage prep" in text
    stages = slow_applicant.time_by_stage()
    assert stages.loc["main/prep", "applicant"] == pytest.approx(10.0, rel=0.05)
    # no preparation, a busy review: the queue dominates, in the review stage
    busy = sim.run(parse(two_stages(0.0, 0.85), "<b>"))
    text = busy.answer()
    assert "is government queues, most in stage review" in text, text
    assert "queueing longest at s1" in text
    # M/M/1: the queue's share of the sojourn at the review is rho
    st = busy.time_by_stage().loc["main/review"]
    assert st["queue"] / st["total"] == pytest.approx(0.85, abs=0.05)


def test_json_carries_the_split_by_stage_and_the_answer(tmp_path: Any) -> None:
    src = tmp_path / "two.toml"
    import tomli_w

    src.write_text(tomli_w.dumps(two_stages(3.0, 0.6)))
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, "-m", "sim", "run", str(src), "-n", "2", "--json",
                        str(out)], capture_output=True, text=True, check=True)
    d = json.loads(out.read_text())
    # govsim run leads with the answer
    first = [x for x in p.stdout.splitlines() if x.strip()][2]
    assert first.startswith("Lead time ") and d["answer"].startswith(first.strip()[:40])
    stages = d["kpis"]["lead_time_by_stage"]
    assert list(stages) == ["main/prep", "main/review"]
    for v in stages.values():
        assert set(v) >= {"service", "queue", "applicant", "total", "share", "route_share"}
        assert v["total"]["mean"] == pytest.approx(
            sum(v[p]["mean"] for p in ("service", "queue", "applicant")), rel=1e-9)
        assert len(v["total"]["ci95"]) == 2
    assert "Where the lead time goes" in p.stdout
    for name in ("s0", "s1"):
        assert d["stations"][name]["queue_hours_per_case"] <= d["stations"][name][
            "hours_per_case"]


def test_des_and_vector_give_the_same_split() -> None:
    data = two_stages(2.0, 0.7)
    data["run"]["horizon_days"] = 60
    data["run"]["arrival_days"] = 50
    a = sim.run(parse(data, "<x>"), engine="des", replications=2)
    b = sim.run(parse(data, "<x>"), engine="vector", replications=2)
    cols = [c for c in a.per_replication if c.startswith("stage.")]
    assert len(cols) == 2 * 3  # two stages x three parts
    np.testing.assert_allclose(a.per_replication[cols], b.per_replication[cols], rtol=1e-9)
    assert a.answer() == b.answer()


@pytest.mark.parametrize(("days", "text"), [(3.25, "3.2 days"), (0.5, "12.0 hours"),
                                           (3.0 / 1440, "3.0 minutes"), (7 / 86400, "7 seconds")])
def test_duration_reads_in_the_best_unit(days: float, text: str) -> None:
    assert duration(days) == text
