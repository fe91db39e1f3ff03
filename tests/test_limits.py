"""Statutory limits on the right measure: the whole lead time, government time, and each
item's decisions, in a scenario built so that the three differ and each can be hand-checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.cli import main
from sim.results.kpis import BY_NAME

# an office open 8 hours every day of the week (no holidays): a working day is 8 hours;
# servers so many that nobody queues for a server (only for the office to open);
# the applicant prepares for exactly 10 calendar days before the one submission
HAND = """
[scenario]
name = "hand"
[run]
horizon_days = 80
arrival_days = 40
warmup_days = 5
replications = 3
seed = 5
[calendars.office]
hours = [["09:00", "17:00"]]
weekdays = [1, 2, 3, 4, 5, 6, 7]
holidays = "none"
[classes.c]
rate = 2.0
per = "day"
[stations.desk]
servers = 50
[items.intake]
station = "desk"
service = { dist = "deterministic", mean = 1 }
limit_workdays = 0.5
limit_hours = 0.5
[items.review]
station = "desk"
service = { dist = "deterministic", mean = 2 }
delay = { dist = "deterministic", mean = 10, unit = "days" }
limit_workdays = 0.2
limit_hours = 24
[routes.main]
limit_workdays = 5
stages = [{ name = "intake", items = ["intake"] }, { name = "review", items = ["review"] }]
"""


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("limits") / "hand.toml"
    p.write_text(HAND)
    return p


def test_lead_time_fails_the_limit_government_time_keeps_it(hand: Path) -> None:
    r = sim.run(str(hand))
    c = r.cases
    done = c[(c["status"] == "completed") & ~c["warmup"]]
    assert len(done) > 100
    # 10 calendar days with the applicant = 10 working days of an every-day office > 5
    assert (done["lead_workdays"] > 10).all()
    assert not done["within_limit"].any()
    # government: 1 h + 2 h of service and at most a night's wait for the office to open,
    # twice: at most 2 x 16 + 3 calendar hours of 24 x 10+ -> under a working day
    gov_h = done["service_hours"] + done["queue_hours"]
    assert (gov_h <= 2 * 16 + 3 + 1e-9).all()
    assert (done["service_hours"] >= 3 - 1e-9).all()
    expect = done["lead_workdays"] * gov_h / done["lead_hours"]
    assert np.allclose(done["gov_workdays"], expect)
    assert (done["gov_workdays"] < 1.0).all()
    assert done["within_limit_government"].all()
    k = r.to_dict()["kpis"]
    assert k["within_limit_share"] == 0.0
    assert k["within_limit_share_government"] == 1.0
    assert k["limit_workdays"] == 5.0
    assert "whole lead time" in BY_NAME["within_limit_share"].label
    assert "government time" in BY_NAME["within_limit_share_government"].label


def test_item_decisions_within_their_limits(hand: Path) -> None:
    """No queue for a server: a submission is decided exactly its service after it joined,
    in working time (a wait for the office to open is not working time): intake 1 h =
    0.125 working days (limit 0.5: all within), review 2 h = 0.25 (limit 0.2: none)."""
    r = sim.run(str(hand))
    t = r.items
    assert set(t.columns) >= {"replication", "item", "limit_workdays", "decisions",
                              "decision_workdays", "within_limit_share"}
    items = r.to_dict()["items"]
    assert items["intake"]["decision_workdays"] == pytest.approx(1 / 8, abs=1e-9)
    assert items["review"]["decision_workdays"] == pytest.approx(2 / 8, abs=1e-9)
    assert items["intake"]["within_limit_share"] == 1.0
    assert items["review"]["within_limit_share"] == 0.0
    assert items["intake"]["limit_workdays"] == 0.5
    assert items["intake"]["decisions"] > 100
    # in calendar hours: the service plus any wait for the office to open (at most the
    # 16 closed hours of a night): intake >= 1 h > 0.5 h (none within), review <= 18 h
    # <= 24 h (all within)
    assert items["intake"]["within_limit_hours_share"] == 0.0
    assert items["review"]["within_limit_hours_share"] == 1.0
    assert 1.0 <= items["intake"]["decision_hours"] <= 17.0
    assert (t["decision_hours"] >= t["decision_workdays"] * 8 - 1e-9).all()


def test_disputes_scenario_reports_the_seed_step_limits(tmp_path: Path) -> None:
    out = tmp_path / "d.json"
    path = Path(__file__).resolve().parents[1] / "scenarios" / "hohhot-disputes-2023.toml"
    assert main(["run", str(path), "-n", "2", "--seed", "1", "--json", str(out), "-q"]) == 0
    d = json.loads(out.read_text())
    items = d["items"]
    # the seed's step limits: reception the same day, documents within 3 days, the asset
    # inquiry within 24 hours, simple cases within 30 days (scenario comments cite them)
    for name, lim in (("enforcement_reception", 1), ("legal_documents", 3),
                      ("asset_inquiry", 1), ("fast_execution", 21)):
        assert items[name]["limit_workdays"] == lim
        share = items[name]["within_limit_share"]
        assert share is None or 0.0 <= share <= 1.0
    assert items["asset_inquiry"]["limit_hours"] == 24
    assert 0.0 <= items["asset_inquiry"]["within_limit_hours_share"] <= 1.0
    k = d["kpis"]
    assert 0.0 <= k["within_limit_share_government"] <= 1.0
    assert k["within_limit_share_government"] >= k["within_limit_share"]
