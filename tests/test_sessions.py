"""Review sessions (docs/model.md, "Review sessions (batching)"): a station that decides
its cases only at scheduled sessions, up to a capacity each.

* the instants a station's entries hold on its calendar (a closed day or hour holds none);
* a hand-checked run on both engines: a binding capacity, an entry joining at the
  session's instant, a resubmission waiting for the next session, a cancelled session,
  exact queue times, the share of seats taken;
* theory: Poisson arrivals to a daily session of capacity K. The number waiting just
  before a session is the Markov chain ``X' = max(X - K, 0) + A`` (``A`` Poisson(λT)), so
  the mean wait is ``T/2 + E[(X - K)+] / λ`` (Little's law over the waiting room): ``T/2``
  when the capacity never binds;
* bad entries: one line naming file, field, rule and value, exit code 2;
* ``--set stations.X.sessions[0].capacity``; staffing and levers leave the station out.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

from sim.cli import main
from sim.engines import des, vector
from sim.engines.vector import feedforward
from sim.errors import UsageError
from sim.experiments.grid import apply_point
from sim.experiments.levers import candidates
from sim.experiments.staffing import staff
from sim.experiments.uncertainty import assumptions
from sim.inputs import draw
from sim.model import build
from sim.model.scenario import parse
from sim.results.records import station_table
from tests.test_vector import assert_same, hand_inputs

MONDAY = dt.date(2023, 1, 2)


def _panel(sessions: list[dict[str, Any]], days: float = 21.0,
           calendar: str = "always", **run: Any) -> dict[str, Any]:
    return {
        "run": {"start_date": MONDAY, "horizon_days": days, "calendar": calendar, **run},
        "calendars": {"office": {"hours": [["09:00", "17:00"]], "holidays": "none",
                                 "closed_dates": [MONDAY + dt.timedelta(days=8)]}},
        "classes": {"c": {"rate": 1.0, "per": "day"}},
        "stations": {"panel": {"calendar": calendar, "sessions": sessions}},
        "items": {"a": {"station": "panel",
                        "service": {"dist": "deterministic", "mean": 3.0}}},
        "routes": {"main": {"stages": [{"name": "g", "items": ["a"]}]}},
    }


def test_sessions_held_on_the_calendar() -> None:
    """Tuesdays 10:00 on a Monday-Friday 9-17 office whose Tuesday 10 January is closed;
    Thursdays at 18:00, after closing, are never held; a daily 09:00 from 16 January."""
    data = _panel([{"weekdays": [2], "at": "10:00", "capacity": 2},
                   {"weekdays": [4], "at": "18:00", "capacity": 5},
                   {"dates": [MONDAY + dt.timedelta(days=14), MONDAY + dt.timedelta(days=30)],
                    "at": "09:00", "capacity": 1}], calendar="office")
    m = build(parse(data, "<test>"), "<test>", warn=False)
    day = [14, 15, 16, 17, 18]  # Mon 16 to Fri 20 January: 9:00; Tue 17 also 10:00
    expect = sorted([(24.0 + 10.0, 2)] + [(24.0 * d + 9.0, 1) for d in day]
                    + [(24.0 * 15 + 10.0, 2)])
    assert m.sessions.time.tolist() == [t for t, _ in expect]
    assert m.sessions.capacity.tolist() == [c for _, c in expect]
    assert m.sessions.station.tolist() == [0] * len(expect)
    assert m.sessions.seats(0, 0.0, 24.0 * 15) == 2 + 1  # Tue 3 Jan, Mon 16 Jan
    # the servers the file may leave out count for nothing: the offered load is the
    # submissions over the seats (21 days x 1 a day over 2 + 2 + 5 seats)
    assert m.offered_load()["panel"] == pytest.approx(21.0 / 9.0)


def test_hand_checked_run_on_both_engines() -> None:
    """Tuesdays 10:00 (34 h, 370 h; 10 January closed), capacity 2; 3 working hours.

    Case 0 (1 h), 1 (5 h), 2 (6 h) and 3 (joins at 34 h, the session's instant): the
    session at 34 h takes cases 0 and 1 (key order); both decided at 37 h. Case 0 was
    deficient: fixed in 1 h, it resubmits at 38 h and waits. On 10 January no session.
    At 370 h cases 2 and 3 are taken (decided at 373 h); case 0's resubmission, the third
    waiting, waits for 24 January (538 h), past the 504 h horizon: open.
    """
    data = _panel([{"weekdays": [2], "at": "10:00", "capacity": 2}], calendar="office")
    m = build(parse(data, "<test>"), "<test>", warn=False)
    assert m.sessions.time.tolist() == [34.0, 370.0]
    deficient = np.zeros((4, 1, 2), dtype=np.bool_)
    deficient[0, 0, 0] = True
    inp = hand_inputs(m, [1.0, 5.0, 6.0, 34.0], np.full((4, 1, 2), 3.0),
                      deficient=deficient, fix=np.ones((4, 1, 2)))
    assert feedforward.feedforward_plan(m, inp) is None  # the event loop runs it
    for res in (des.simulate(m, inp), vector.simulate(m, inp)):
        v = res.visits
        assert v is not None
        order = np.lexsort((v.attempt, v.case))
        np.testing.assert_array_equal(v.case[order], [0, 0, 1, 2, 3])
        np.testing.assert_array_equal(v.start[order], [34.0, np.nan, 34.0, 370.0, 370.0])
        np.testing.assert_array_equal(v.joined[order], [1.0, 38.0, 5.0, 6.0, 34.0])
        np.testing.assert_array_equal(res.status, [0, 1, 1, 1])
        np.testing.assert_array_equal(res.end, [np.nan, 37.0, 373.0, 373.0])
        np.testing.assert_array_equal(res.t_queue, [33.0, 29.0, 364.0, 336.0])
        np.testing.assert_array_equal(res.t_service, [3.0, 3.0, 3.0, 3.0])
        np.testing.assert_array_equal(res.t_applicant, [1.0, 0.0, 0.0, 0.0])
        np.testing.assert_array_equal(res.rework, [1, 0, 0, 0])
        row = station_table(m, res).iloc[0]
        assert row["utilization"] == 1.0  # 4 services started, 2 sessions x 2 seats
        assert row["served"] == 4 and row["waiting_at_horizon"] == 1
    assert_same(des.simulate(m, inp), vector.simulate(m, inp), exact=True)
    # a capacity of 4: the first session takes all four, case 3 the instant it joins
    data["stations"]["panel"]["sessions"][0]["capacity"] = 4
    m = build(parse(data, "<test>"), "<test>", warn=False)
    for res in (des.simulate(m, inp), vector.simulate(m, inp)):
        np.testing.assert_array_equal(res.t_queue, [33.0 + 332.0, 29.0, 28.0, 0.0])
        row = station_table(m, res).iloc[0]
        assert row["utilization"] == 5.0 / 8.0


def test_priority_and_patience_at_a_session() -> None:
    """A session takes the smaller priority first; an entry whose patience runs out
    before the session leaves; one that runs out at the session's instant leaves too
    (step (1) before the dispatch)."""
    data = _panel([{"at": "10:00", "capacity": 1}], days=2.0)
    data["stations"]["panel"].update(priority=True,
                                     patience={"dist": "deterministic", "mean": 9.0})
    data["classes"] = {"low": {"rate": 1.0, "per": "day", "priority": 1},
                       "high": {"rate": 1.0, "per": "day", "priority": 0}}
    m = build(parse(data, "<test>"), "<test>", warn=False)
    patience = np.full((3, 1, 1), 50.0)
    patience[1, 0, 0] = 9.0  # joins at 1 h: gives up at 10 h, the session's instant
    inp = hand_inputs(m, [0.0, 1.0, 2.0], np.full((3, 1), 3.0), patience=patience,
                      cls=[0, 0, 1])
    for res in (des.simulate(m, inp), vector.simulate(m, inp)):
        # 10 h: case 2 (high, joined 2 h) before case 0 (low, 0 h); case 1 reneged at 10 h;
        # 34 h: case 0
        np.testing.assert_array_equal(res.status, [1, 2, 1])
        np.testing.assert_array_equal(res.end, [37.0, 10.0, 13.0])
    assert_same(des.simulate(m, inp), vector.simulate(m, inp), exact=True)


def test_an_entry_a_pool_grant_brings_at_the_instant_is_in_the_session() -> None:
    """Case 0 holds the one proxy slot until 10 h, the session's instant; case 1 (proxy)
    waits for it: at 10 h the session opens with nobody waiting, case 0 ends, the slot
    is granted to case 1 in (2), its route joins the panel in the repeated (1), and the
    repeated (2) takes it into the session (capacity 2, one seat still left)."""
    data = _panel([{"at": "10:00", "capacity": 2}], days=2.0)
    data["stations"]["desk"] = {"servers": 1, "calendar": "always"}
    data["items"]["b"] = {"station": "desk", "service": {"dist": "deterministic",
                                                          "mean": 1.0}}
    data["routes"] = {"main": {"stages": [{"name": "g", "items": ["a"]}]},
                      "quick": {"stages": [{"name": "h", "items": ["b"]}]}}
    data["pools"] = {"helpers": {"agents": 1}}
    data["classes"] = {
        "p": {"rate": 1.0, "per": "day", "route": "main", "proxy_share": 1.0,
              "agent_pool": "helpers"},
        "q": {"rate": 1.0, "per": "day", "route": "quick", "proxy_share": 1.0,
              "agent_pool": "helpers"}}
    m = build(parse(data, "<test>"), "<test>", warn=False)
    service = np.zeros((2, 2))
    service[0, 1] = 1.0  # case 0 (class q) at the desk 9-10 h
    service[1, 0] = 3.0  # case 1 (class p) at the panel
    run_item = np.array([[False, True], [True, False]])
    inp = hand_inputs(m, [9.0, 9.5], service, cls=[1, 0], channel=[2, 2], run_item=run_item)
    for res in (des.simulate(m, inp), vector.simulate(m, inp)):
        np.testing.assert_array_equal(res.end, [10.0, 13.0])
        np.testing.assert_array_equal(res.t_queue, [0.0, 0.5])  # the pool wait only
    assert_same(des.simulate(m, inp), vector.simulate(m, inp), exact=True)


def _embedded_chain_wait(lam: float, T: float, K: int, n: int = 400) -> float:
    """Mean wait at a session every ``T`` hours of capacity ``K`` with Poisson arrivals
    of rate ``lam`` an hour: ``T/2 + E[(X - K)+] / lam``, ``X`` the stationary number
    waiting just before a session (``X' = max(X - K, 0) + A``, ``A`` Poisson(lam T)),
    the chain truncated at ``n`` (the mass beyond it is below 1e-12 here)."""
    from scipy.stats import poisson

    pa = poisson.pmf(np.arange(n), lam * T)
    P = np.zeros((n, n))
    for x in range(n):
        b = max(x - K, 0)
        P[x, b:] = pa[:n - b]
    P[:, -1] += 1.0 - P.sum(axis=1)
    A = np.vstack([P.T - np.eye(n), np.ones(n)])
    pi = np.linalg.lstsq(A, np.r_[np.zeros(n), 1.0], rcond=None)[0]
    return T / 2.0 + float(pi @ np.maximum(np.arange(n) - K, 0)) / lam


@pytest.mark.parametrize("capacity", [1000, 10])
def test_mean_wait_meets_the_bulk_service_queue(capacity: int) -> None:
    """Daily sessions at 10:00 (T = 24 h, always open), 8 arrivals a day (λT = 8): with a
    capacity that never binds the mean wait is T/2 = 12 h; with K = 10 (ρ = 0.8) the
    embedded chain's value (14.64 h). Waits of the visits that joined after a 20-day
    warm-up and 10 days before the end of arrivals; tolerance 4 standard errors of the
    mean over replications."""
    data = _panel([{"at": "10:00", "capacity": capacity}], days=300.0, arrival_days=290.0,
                  warmup_days=20.0)
    data["classes"]["c"]["rate"] = 8.0
    m = build(parse(data, "<test>"), "<test>", warn=False)
    theory = _embedded_chain_wait(8.0 / 24.0, 24.0, capacity)
    if capacity >= 100:
        assert theory == pytest.approx(12.0, rel=1e-9)
    R = 10
    means = []
    for r in range(R):
        res = vector.simulate(m, draw(m, r, 11))
        v = res.visits
        assert v is not None
        sel = (v.joined >= 20 * 24.0) & (v.joined < 280 * 24.0)
        assert np.isfinite(v.start[sel]).all()
        means.append(float(np.mean(v.start[sel] - v.joined[sel])))
    x = np.asarray(means)
    se = x.std(ddof=1) / math.sqrt(R)
    assert abs(x.mean() - theory) <= 4 * se, (x.mean(), theory, se)
    # the same draws on the reference engine (one replication: the engines agree)
    inp = draw(m, 0, 11)
    assert_same(des.simulate(m, inp), vector.simulate(m, inp))


@pytest.mark.parametrize(("entry", "field", "rule"), [
    ({"capacity": 0}, "stations.panel.sessions[0].capacity",
     "must be an integer >= 1 (got 0)"),
    ({"capacity": 2.5}, "stations.panel.sessions[0].capacity",
     "must be an integer >= 1 (got 2.5)"),
    ({"at": "25:00"}, "stations.panel.sessions[0].at",
     "must be a time of day HH:MM (got '25:00')"),
    ({"at": "24:00"}, "stations.panel.sessions[0].at",
     "must be a time of day from 00:00 to 23:59 (got '24:00')"),
    ({"weekdays": [0]}, "stations.panel.sessions[0].weekdays[0]",
     "must be >= 1 (got 0)"),
])
def test_bad_entries_name_field_rule_and_value(tmp_path: Path, capsys: Any,
                                               entry: dict[str, Any], field: str,
                                               rule: str) -> None:
    data = _panel([{"at": "10:00", "capacity": 2, **entry}])
    p = tmp_path / "bad.toml"
    p.write_text(tomli_w.dumps(data))
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"bad.toml: {field} {rule}" in " ".join(err.split()), err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["stations"]["panel"].update(schedule=[{"servers": 2}]),
     "bad.toml: stations.panel has both 'sessions' and a 'schedule': a station that "
     "decides at sessions has no servers on duty to schedule (remove one)"),
    (lambda d: d["run"].update(horizon_days=1.0),
     "bad.toml: stations.panel.sessions hold no session in the run (from 2023-01-02 for 1 "
     "days; a session is held only while the station's calendar 'always' is open) (got "
     "'every date, weekdays [2], at 10:00')"),
    (lambda d: d["stations"]["panel"]["sessions"].append(
        {"weekdays": [1, 2], "at": "10:00", "capacity": 3}),
     "bad.toml: stations.panel.sessions[1] meets at the same instant as sessions[0] (every "
     "date, weekdays [2], at 10:00): two sessions of a station must not sit at once (got "
     "'every date, weekdays [1, 2], at 10:00')"),
])
def test_bad_stations_are_one_clear_line(tmp_path: Path, capsys: Any, edit: Any,
                                         message: str) -> None:
    data = _panel([{"weekdays": [2], "at": "10:00", "capacity": 2}])
    edit(data)
    p = tmp_path / "bad.toml"
    p.write_text(tomli_w.dumps(data))
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert " ".join(err.split()) == f"govsim: error: {message}", err


def test_set_sweeps_a_capacity_and_staffing_leaves_sessions_out(tmp_path: Path) -> None:
    data = _panel([{"at": "10:00", "capacity": 2}], days=5.0)
    data["stations"]["desk"] = {"servers": 1, "calendar": "always"}
    data["items"]["b"] = {"station": "desk", "service": {"dist": "exponential", "mean": 1.0}}
    data["routes"]["main"]["stages"].append({"name": "h", "items": ["b"]})
    base = parse(data, "<test>")
    for path in ("stations.panel.sessions[0].capacity", "stations.panel.sessions.0.capacity"):
        assert apply_point(base, {path: 7}).stations["panel"].sessions[0].capacity == 7
    with pytest.raises(Exception, match=r"sessions\[0\]\.capacity must be an integer >= 1"):
        apply_point(base, {"stations.panel.sessions[0].capacity": 0})
    p = tmp_path / "s.toml"
    p.write_text(tomli_w.dumps(data))
    assert main(["sweep", str(p), "--set", "stations.panel.sessions[0].capacity=1,3",
                 "-n", "1", "--out", str(tmp_path / "o"), "-q"]) == 0
    # an [uncertainty] range on the same path: integer, its ends checked against the field
    data["uncertainty"] = {"stations.panel.sessions[0].capacity": {"low": 1, "high": 6}}
    (a,) = assumptions(parse(data, "u.toml"))
    assert a.integer and a.base == 2.0
    data["uncertainty"]["stations.panel.sessions[0].capacity"]["low"] = 0
    with pytest.raises(Exception, match=r"low end 0 is not a value the field takes"):
        assumptions(parse(data, "u.toml"))
    del data["uncertainty"]
    levers, skipped = candidates(base)
    assert [lv.target for lv in levers if lv.kind == "servers"] == ["desk"]
    assert {"lever": "+1 server: panel", "kind": "servers",
            "reason": "it decides at review sessions (no servers)"} in skipped
    with pytest.raises(UsageError, match="panel decides at review sessions"):
        staff(base, "lead_time_days <= 100", stations=["panel"], replications=1)
    # the scenario written back reads the same
    from sim.model.scenario import to_toml
    again = parse(__import__("tomllib").loads(to_toml(base)), "<again>")
    assert again.stations["panel"].sessions == base.stations["panel"].sessions
