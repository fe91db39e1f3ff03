"""Staffing to a target: queueing formulas as the start, simulation as the judge."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.analytic import mmc
from sim.cli import main
from sim.errors import UsageError
from sim.experiments.grid import apply_point
from sim.experiments.staffing import Target, parse_target, staff, station_rates
from sim.experiments.sweep import point_metrics
from sim.model import build
from sim.model.scenario import load
from tests.conftest import DATA

MINI = str(DATA / "mini.toml")


def _short() -> Any:
    s = load(MINI)
    s.run.horizon_days = 30.0
    return s


def test_parse_target() -> None:
    s = load(MINI)
    t = parse_target("lead_time_workdays.p90<=120", s)
    assert t == Target("lead_time_workdays.p90", "<=", 120.0)
    assert t.met({"lead_time_workdays.p90": 120.0})
    assert not t.met({"lead_time_workdays.p90": 120.5})
    assert not t.met({"lead_time_workdays.p90": None})  # no completed case: not met
    t = parse_target(" within_limit_share >= 95% ", s)
    assert (t.op, t.value) == (">=", 0.95)
    assert parse_target("lead_time_workdays<10", s).metric == "lead_time_workdays.mean"
    t = parse_target("lead_time_workdays.p90<=5", s, confident=True)
    assert t.column == "lead_time_workdays.p90_ci95_hi"
    assert parse_target("within_limit_share>=0.9", s, True).column == \
        "within_limit_share_ci95_lo"
    assert parse_target("station.review.mean_wait_workhours<=1", s).station == "review"


@pytest.mark.parametrize(("text", "message"), [
    ("lead_time_workdays.p90=<120", "expected METRIC OP VALUE"),
    ("lead_time_workdays.p90 120", "expected METRIC OP VALUE"),
    ("speed<=3", "unknown metric 'speed'"),
    ("station.nowhere.utilization<=0.8", "unknown metric"),
    ("station.helpers.mean_wait_hours<=1", "is an agent pool"),
    ("lead_time_workdays.p90<=1e999", "must be finite"),
])
def test_bad_targets(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_target(text, load(MINI))


def test_station_rates_match_offered_load() -> None:
    model = build(load(MINI))
    rates = station_rates(model)
    load_ = model.offered_load()
    assert set(rates) == set(load_)
    for name, r in rates.items():
        assert r.utilization == pytest.approx(load_[name], rel=1e-12)
        assert r.lam > 0 and r.mean_service > 0
        assert r.min_stable > r.offered >= r.min_stable - 1


def _loaded() -> Any:
    # more ordinary cases than the scenario's servers can take: staffing must grow
    return apply_point(_short(), {"classes.ordinary.rate": 9.0})


def test_meets_target_with_the_fewest_servers() -> None:
    target = "lead_time_workdays.mean<=1.75"
    with pytest.warns(UserWarning):  # the scenario as given is overloaded
        build(_loaded())
    res = staff(_loaded(), target, replications=2)
    assert res.met and res.target.met(res.metrics)
    assert res.value <= 1.75
    steps = [e.step for e in res.evaluations]
    assert steps[0] == "analytic start (Erlang C)"
    assert any(re.match(r"\+\d+ at ", s) for s in steps)  # the simulation asked for more
    # the analytic start: stable, and Erlang C wait within one service time
    rates = station_rates(build(_loaded(), warn=False))
    for k, c in res.analytic.items():
        assert c >= rates[k].min_stable > rates[k].servers
        assert mmc(rates[k].lam, 1 / rates[k].mean_service, c).wq <= rates[k].mean_service
    assert all(res.servers[k] >= res.analytic[k] for k in res.servers) or any(
        s.startswith("-1 at ") for s in steps)

    def simulate(servers: dict[str, int]) -> dict[str, Any]:
        s = apply_point(_loaded(), {f"stations.{k}.servers": v for k, v in servers.items()})
        return point_metrics(sim.run(s, replications=2))

    # confirmed by an independent run of the answer
    assert simulate(res.servers)["lead_time_workdays.mean"] == pytest.approx(res.value)
    # the fewest: one server less at any station misses the target (or is unstable)
    for k, c in res.servers.items():
        if c - 1 < rates[k].min_stable:
            continue
        assert not res.target.met(simulate({**res.servers, k: c - 1})), k
    assert len(res.history) == len(res.evaluations)
    assert "<table" in res._repr_html_()


def test_start_that_meets_is_trimmed() -> None:
    # the analytic start gives a P90 of about 4.6 working days: a target of 8 it meets
    res = staff(_short(), "lead_time_workdays.p90<=8", replications=2)
    assert res.met and res.evaluations[0].met
    assert not any(e.step.startswith("+") for e in res.evaluations)


def test_station_target_staffs_that_station() -> None:
    res = staff(_short(), "station.review.mean_wait_workhours<=1", replications=2)
    assert list(res.servers) == ["review"]
    assert res.met and res.metrics["stations.review.mean_wait_workhours"] <= 1


def test_impossible_target_says_so() -> None:
    with pytest.raises(UsageError) as exc:
        staff(_short(), "lead_time_workdays.p90<=0.5", replications=2, max_servers=4)
    msg = str(exc.value)
    assert msg.startswith("no staffing within the bounds meets lead_time_workdays.p90 <= 0.5: "
                          "even with every station at its bound (--max-servers; 8 servers)")
    assert "with the applicant" in msg


def test_bound_below_the_stable_minimum() -> None:
    s = apply_point(_short(), {"classes.ordinary.rate": 12.0})
    with pytest.raises(UsageError, match=r"station \w+ needs at least \d+ servers to keep up"):
        staff(s, "lead_time_workdays.p90<=100", replications=1, max_servers=2)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "staff.json"
    written = tmp_path / "staffed.toml"
    assert main(["staff", MINI, "--target", "lead_time_workdays.p90<=4.5", "-n", "2",
                 "--json", str(out), "--write", str(written)]) == 0
    d = json.loads(out.read_text())
    assert d["met"] and d["value"] <= 4.5 and d["target"] == "lead_time_workdays.p90 <= 4.5"
    s = load(written)
    assert {k: v.servers for k, v in s.stations.items()} == d["servers"]
    cap = capsys.readouterr()
    assert "Staffing for lead_time_workdays.p90 <= 4.5: met" in cap.out
    assert "analytic start (Erlang C)" in cap.err


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "lead_time_workdays.p90<=0.5", "--max-servers", "3"],
     "no staffing within the bounds meets"),
    (["--target", "p90<=3"], "unknown metric 'p90'"),
    (["--target", "lead_time_workdays.p90<=4", "--stations", "front,helpers"],
     "helpers is an agent pool"),
    (["--target", "lead_time_workdays.p90<=4", "--stations", "nope"],
     "nope is not a service station (known: front, review)"),
    (["--target", "lead_time_workdays.p50<=4", "--confident"], "has no confidence interval"),
])
def test_cli_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staff", MINI, "-n", "2", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
