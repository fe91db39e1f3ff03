"""Tests of the SimPy reference engine (sim/engines/des.py) against docs/model.md.

Three kinds: toy cases computed by hand (inputs written by hand, not drawn), invariants
on drawn scenarios, and queueing theory (M/M/1, M/M/c, Little, a Jackson tandem).
"""

from __future__ import annotations

import copy
import itertools
import math
from datetime import date
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.inputs as I
import sim.model as M
import sim.model.scenario as S
from sim.engines import des
from sim.results.records import (
    ABANDONED,
    AUDIT,
    COMPLETED,
    OPEN,
    POOL,
    SUBMISSION,
    RepResult,
    station_table,
)

try:  # written by another helper; fall back to the textbook formulas
    from sim import analytic
except ImportError:  # pragma: no cover
    analytic = None  # type: ignore[assignment]

OFFICE = {"hours": [["09:00", "12:00"], ["13:30", "17:30"]], "holidays": "none"}
MONDAY = date(2024, 1, 1)  # a Monday; the office calendar above works Mon-Fri


def det(h: float) -> dict[str, Any]:
    return {"dist": "deterministic", "mean": h}


def expo(mean: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean": mean}


def scenario(**parts: Any) -> dict[str, Any]:
    """A one-station, one-item scenario on the always-open calendar.

    ``parts`` replace whole sections, except ``run``, whose keys are updated.
    """
    d: dict[str, Any] = {
        "run": {"horizon_days": 10, "calendar": "always", "seed": 1, "replications": 1,
                "start_date": MONDAY},
        "classes": {"c": {"rate": 1.0, "per": "hour"}},
        "stations": {"s": {"servers": 1, "calendar": "always"}},
        "items": {"a": {"station": "s", "service": det(1.0)}},
        "routes": {"main": {"stages": [{"name": "one", "items": ["a"]}]}},
    }
    for k, v in parts.items():
        d[k] = {**d[k], **v} if k == "run" else v
    return d


def build(data: dict[str, Any]) -> M.Model:
    return M.build(S.parse(copy.deepcopy(data)), warn=False)


def hand_inputs(model: M.Model, arrival: list[float], service: Any, K: int = 1,
                **over: Any) -> I.Inputs:
    """Inputs written by hand: ``service`` is (n, J) or (n, J, K); ``over`` sets any array."""
    n, J = len(arrival), model.n_items
    svc = np.asarray(service, dtype=np.float64).reshape(n, J, -1)
    if svc.shape[2] != K:
        svc = np.repeat(svc[:, :, :1], K, axis=2)
    d: dict[str, Any] = {
        "arrival": np.asarray(arrival, dtype=np.float64),
        "cls": np.zeros(n, dtype=np.int64), "channel": np.zeros(n, dtype=np.int64),
        "key": np.arange(n, dtype=np.int64), "run_item": np.ones((n, J), dtype=np.bool_),
        "visit": np.ones((n, J), dtype=np.bool_), "delay": np.zeros((n, J)), "service": svc,
        "deficient": np.zeros((n, J, K), dtype=np.bool_), "fix": np.zeros((n, J, K)),
        "patience": np.full((n, J, K), np.inf), "audit": np.zeros((n, J), dtype=np.bool_),
        "audit_service": np.zeros((n, J)), "revoked": np.zeros((n, J), dtype=np.bool_),
        "lag": np.zeros((n, J, K)),
    }
    for k, v in over.items():
        d[k] = np.asarray(v, dtype=d[k].dtype).reshape(d[k].shape)
    return I.Inputs(replication=0, **d)


def rows(res: RepResult, case: int, kind: int = SUBMISSION) -> list[tuple[Any, ...]]:
    """(item, attempt, joined, start, end, reneged) of a case's visits of one kind, sorted."""
    v = res.visits
    assert v is not None
    m = (v.case == case) & (v.kind == kind)
    out = [(int(v.item[r]), int(v.attempt[r]), float(v.joined[r]), float(v.start[r]),
            float(v.end[r]), bool(v.reneged[r])) for r in np.flatnonzero(m)]
    return sorted(out, key=lambda x: (x[0], x[1]))


def triple(res: RepResult, i: int) -> tuple[float, float, float]:
    return float(res.t_service[i]), float(res.t_queue[i]), float(res.t_applicant[i])


# --------------------------------------------------------------------------- toy cases


def test_single_server_fcfs_by_hand() -> None:
    m = build(scenario())
    res = des.simulate(m, hand_inputs(m, [0.0, 0.5, 3.0], [[1.0], [1.0], [1.0]]))
    assert res.status.tolist() == [COMPLETED] * 3
    assert res.end.tolist() == [1.0, 2.0, 4.0]
    assert rows(res, 1) == [(0, 0, 0.5, 1.0, 2.0, False)]
    assert triple(res, 1) == (1.0, 0.5, 0.0)
    assert res.visits_count.tolist() == [1, 1, 1]


def test_saturday_arrival_waits_for_monday_and_skips_lunch() -> None:
    m = build(scenario(calendars={"office": OFFICE}, run={"calendar": "office"},
                       stations={"s": {"servers": 1, "calendar": "office"}}))
    sat_10h = 5 * 24 + 10.0  # Saturday 6 Jan 2024, 10:00
    res = des.simulate(m, hand_inputs(m, [sat_10h], [[4.0]]))
    mon_9h = 7 * 24 + 9.0
    # 3 h in the morning, lunch 12:00-13:30, 1 h more: ends 14:30
    assert rows(res, 0) == [(0, 0, sat_10h, mon_9h, 7 * 24 + 14.5, False)]
    assert triple(res, 0) == (5.5, mon_9h - sat_10h, 0.0)
    assert res.end[0] == 7 * 24 + 14.5


def test_clerk_free_at_closing_takes_next_case_at_once() -> None:
    m = build(scenario(calendars={"office": OFFICE}, run={"calendar": "office"},
                       stations={"s": {"servers": 1, "calendar": "office"}}))
    res = des.simulate(m, hand_inputs(m, [16.5, 16.6], [[1.0], [1.0]]))
    assert rows(res, 0)[0][3:5] == (16.5, 17.5)
    # dispatched at 17:30 (closing): reported start is Tuesday 09:00, ends 10:00
    assert rows(res, 1)[0][3:5] == (24 + 9.0, 24 + 10.0)


def test_government_lag_runs_in_working_time_without_staff() -> None:
    m = build(scenario(calendars={"office": OFFICE}, run={"calendar": "office"},
                       stations={"s": {"servers": 1, "calendar": "office"}},
                       items={"a": {"station": "s", "service": det(1.0),
                                    "lag": {"dist": "deterministic", "mean": 1.0,
                                            "unit": "days"}}}))
    assert m.item_lag[0] is not None and m.item_lag[0].mean == 7.0  # one working day
    inp = hand_inputs(m, [9.0, 9.0], [[1.0], [1.0]], lag=[[7.0], [7.0]])
    res = des.simulate(m, inp)
    # service 09:00-10:00 Monday, then 7 working hours of lag: 10-12 (2 h), 13:30-17:30
    # (4 h), Tuesday 09:00-10:00 (1 h); the clerk is free at 10:00 for the second case
    assert res.end.tolist() == [24 + 10.0, 24 + 11.0]
    assert rows(res, 1)[0][3:5] == (10.0, 11.0)
    assert triple(res, 0) == (24 + 1.0, 0.0, 0.0)


def test_dispatch_waits_for_every_event_of_the_instant() -> None:
    # priority station: a release at t=1 and the arrival of an urgent case at t=1; the
    # urgent case (priority 0) must get the server, not the one waiting since 0.5
    d = scenario(classes={"low": {"rate": 1.0, "per": "hour", "priority": 1},
                          "high": {"rate": 1.0, "per": "hour", "priority": 0}},
                 stations={"s": {"servers": 1, "calendar": "always", "priority": True}})
    m = build(d)
    inp = hand_inputs(m, [0.0, 0.5, 1.0], [[1.0], [1.0], [1.0]], cls=[0, 0, 1])
    res = des.simulate(m, inp)
    assert res.end.tolist() == [1.0, 3.0, 2.0]
    # without priority: first come first served, ties by case index
    m2 = build(scenario())
    res2 = des.simulate(m2, hand_inputs(m2, [0.0, 0.5, 1.0, 1.0], [[1.0]] * 4))
    assert res2.end.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_renege_wins_over_a_release_at_the_same_instant() -> None:
    m = build(scenario(stations={"s": {"servers": 1, "calendar": "always",
                                       "patience": det(1.0)}}))
    inp = hand_inputs(m, [0.0, 1.0, 1.5], [[2.0], [1.0], [1.0]], patience=[[[1.0]], [[1.0]],
                                                                           [[9.0]]])
    res = des.simulate(m, inp)
    # case 1 joined at 1, gives up at 2 = when case 0 frees the server; case 2 is served
    (r1,) = rows(res, 1)
    assert r1[:3] == (0, 0, 1.0) and math.isnan(r1[3]) and r1[4:] == (2.0, True)
    assert res.status.tolist() == [COMPLETED, ABANDONED, COMPLETED]
    assert res.end.tolist() == [2.0, 2.0, 3.0]
    assert triple(res, 1) == (0.0, 1.0, 0.0)


def test_horizon_events_at_the_horizon_are_processed() -> None:
    m = build(scenario(run={"horizon_days": 1}))
    h = m.horizon
    res = des.simulate(m, hand_inputs(m, [h - 0.5, h], [[0.5], [1.0]]))
    assert res.status.tolist() == [COMPLETED, OPEN]
    assert res.end[0] == h and math.isnan(res.end[1])
    # the case arriving at the horizon joins and is dispatched at the horizon
    assert rows(res, 1) == [(0, 0, h, h, h + 1.0, False)]
    assert res.visits_count.tolist() == [1, 1]


def test_deficient_submission_is_reworked_and_resubmitted() -> None:
    m = build(scenario(rework={"deficiency_per_material": 0.5},
                       items={"a": {"station": "s", "service": det(1.0), "materials": 1}}))
    inp = hand_inputs(m, [0.0], [[1.0]], K=3, deficient=[[[True, True, True]]],
                      fix=[[[2.0, 3.0, 4.0]]], delay=[[0.25]])
    res = des.simulate(m, inp)
    # 0.25 delay, served 0.25-1.25, fix 2 -> 3.25-4.25, fix 3 -> 7.25-8.25; the third
    # (last allowed) submission is accepted even though deficient
    assert [r[:5] for r in rows(res, 0)] == [(0, 0, 0.25, 0.25, 1.25), (0, 1, 3.25, 3.25, 4.25),
                                              (0, 2, 7.25, 7.25, 8.25)]
    assert res.rework[0] == 2 and res.supplements[0] == 0 and res.visits_count[0] == 3
    assert triple(res, 0) == (3.0, 0.0, 5.25)
    assert res.end[0] == 8.25


def test_conditional_acceptance_runs_the_fix_in_parallel() -> None:
    item = {"station": "s", "service": det(1.0), "materials": 1, "conditional": True,
            "supplement_deadline_days": 0.5}
    m = build(scenario(rework={"deficiency_per_material": 0.5}, items={"a": item}))
    inp = hand_inputs(m, [0.0, 0.0], [[1.0], [1.0]], K=2, deficient=[[[True, False]]] * 2,
                      fix=[[[5.0, 0.0]], [[13.0, 0.0]]])
    res = des.simulate(m, inp)
    # case 0: fix 5 h <= 12 h deadline: accepted at 1, supplement until 6, no resubmission
    assert len(rows(res, 0)) == 1
    assert (res.rework[0], res.supplements[0], res.end[0]) == (1, 1, 6.0)
    assert triple(res, 0) == (1.0, 0.0, 5.0)
    # case 1: fix 13 h > deadline: ordinary rework, resubmitted at 2 + 13
    assert [r[:4] for r in rows(res, 1)] == [(0, 0, 0.0, 1.0), (0, 1, 15.0, 15.0)]
    assert (res.rework[1], res.supplements[1], res.end[1]) == (1, 0, 16.0)


def test_parallel_stage_keeps_the_latest_branch_first_on_ties() -> None:
    d = scenario(stations={"s": {"servers": 1, "calendar": "always"},
                           "t": {"servers": 1, "calendar": "always"}},
                 items={"a": {"station": "s", "service": det(1.0)},
                        "b": {"station": "t", "service": det(1.0)}},
                 routes={"main": {"stages": [{"name": "p", "mode": "parallel",
                                              "items": ["a", "b"]}]}})
    m = build(d)
    # a: delay 1 + service 1 = ends 2; b: service 2 ends 2: tie, a's triple is kept
    res = des.simulate(m, hand_inputs(m, [0.0], [[1.0, 2.0]], delay=[[1.0, 0.0]]))
    assert res.end[0] == 2.0 and triple(res, 0) == (1.0, 0.0, 1.0)
    # b ends last: b's triple
    res = des.simulate(m, hand_inputs(m, [0.0], [[1.0, 2.5]], delay=[[1.0, 0.0]]))
    assert res.end[0] == 2.5 and triple(res, 0) == (2.5, 0.0, 0.0)
    # a skipped: the stage is b alone; both skipped: the case completes at arrival
    res = des.simulate(m, hand_inputs(m, [0.0, 1.0], [[1.0, 2.0]] * 2,
                                      run_item=[[False, True], [False, False]]))
    assert res.end.tolist() == [2.0, 1.0] and triple(res, 1) == (0.0, 0.0, 0.0)


def test_parallel_renege_abandons_after_the_other_branch() -> None:
    d = scenario(stations={"s": {"servers": 1, "calendar": "always", "patience": det(1.0)},
                           "t": {"servers": 1, "calendar": "always"}},
                 items={"a": {"station": "s", "service": det(1.0)},
                        "b": {"station": "t", "service": det(1.0)}},
                 routes={"main": {"stages": [{"name": "p", "mode": "parallel",
                                              "items": ["a", "b"]},
                                             {"name": "q", "items": ["b2"]}]}})
    d["items"]["b2"] = {"station": "t", "service": det(1.0)}
    m = build(d)
    # case 0 holds s for 5 h; case 1 (a reneges at 1.5, b served 0.5..3.5) abandons at 3.5
    inp = hand_inputs(m, [0.0, 0.5], [[5.0, 0.0, 0.0], [1.0, 3.0, 1.0]],
                      run_item=[[True, False, False], [True, True, True]],
                      patience=np.full((2, 3, 1), 1.0))
    res = des.simulate(m, inp)
    assert res.status[1] == ABANDONED and res.end[1] == 3.5
    assert triple(res, 1) == (3.0, 0.0, 0.0)  # b ended last
    assert [r[:2] for r in rows(res, 1)] == [(0, 0), (1, 0)]  # b2 never submitted


def test_agent_pool_slot_is_held_until_the_case_ends() -> None:
    d = scenario(classes={"c": {"rate": 1.0, "per": "hour", "proxy_share": 1.0,
                                "agent_pool": "agents"}},
                 pools={"agents": {"agents": 1}},
                 stations={"s": {"servers": 5, "calendar": "always"}})
    m = build(d)
    inp = hand_inputs(m, [0.0, 0.5], [[1.0], [1.0]], channel=[2, 2], visit=[[False], [False]])
    res = des.simulate(m, inp)
    assert res.end.tolist() == [1.0, 2.0]
    assert triple(res, 1) == (1.0, 0.5, 0.0)
    assert rows(res, 1, POOL) == [(-1, 0, 0.5, 1.0, 2.0, False)]
    assert res.visits_count.tolist() == [0, 0]
    v = res.visits
    assert v is not None and set(v.station[v.kind == POOL].tolist()) == {m.n_service_stations}


def test_a_pool_grant_joins_in_a_second_dispatch_round() -> None:
    # at t=1 case 0 completes (freeing its pool slot and the server) and case 2 arrives;
    # round 1 grants the slot to case 1 and the server to case 2 (the only one waiting);
    # case 1 then joins at t=1 with a smaller key than case 2, but too late: round 2
    d = scenario(classes={"c": {"rate": 1.0, "per": "hour", "proxy_share": 0.5,
                                "agent_pool": "agents"}},
                 pools={"agents": {"agents": 1}})
    m = build(d)
    res = des.simulate(m, hand_inputs(m, [0.0, 0.5, 1.0], [[1.0]] * 3, channel=[2, 2, 0]))
    assert res.end.tolist() == [1.0, 3.0, 2.0]
    assert triple(res, 1) == (1.0, 1.5, 0.0)
    assert rows(res, 1, POOL)[0][2:5] == (0.5, 1.0, 3.0)


def test_audits_follow_completion_in_item_order() -> None:
    d = scenario(stations={"s": {"servers": 1, "calendar": "always"},
                           "audit": {"servers": 1, "calendar": "always"}},
                 items={"a": {"station": "s", "service": det(1.0), "audit_probability": 1.0,
                              "audit_station": "audit", "audit_service": det(2.0)},
                        "b": {"station": "s", "service": det(1.0), "audit_probability": 1.0,
                              "audit_station": "audit", "audit_service": det(2.0)}},
                 routes={"main": {"stages": [{"name": "one", "items": ["a", "b"]}]}})
    m = build(d)
    res = des.simulate(m, hand_inputs(m, [0.0], [[1.0, 1.0]], audit=[[True, True]],
                                      audit_service=[[2.0, 3.0]]))
    assert res.end[0] == 2.0 and triple(res, 0) == (2.0, 0.0, 0.0)
    assert rows(res, 0, AUDIT) == [(0, 0, 2.0, 2.0, 4.0, False), (1, 0, 2.0, 4.0, 7.0, False)]


@settings(max_examples=200, deadline=None)
@given(st.floats(-30.0, 24.0 * 400), st.floats(1e-6, 200.0))
def test_station_serve_is_the_calendar_reference(t: float, s: float) -> None:
    from sim.model.calendar import WorkCalendar, next_open_scalar, to_abs_scalar, to_work_scalar
    cal = WorkCalendar.build("office", MONDAY, 366, [("09:00", "12:00"), ("13:30", "17:30")],
                             holidays="none")
    for T in (t, float(cal.open[int(abs(t)) % len(cal.open)]),
              float(cal.close[int(abs(t)) % len(cal.close)])):
        o, c, cum, cend = cal.scalar_tables
        want = (next_open_scalar(o, c, T), to_abs_scalar(cend, o, cum,
                                                         to_work_scalar(o, c, cum, cend, T) + s))
        station = des.Station.__new__(des.Station)
        station.open, station.close, station.cum, station.cend = o, c, cum, cend
        station.always = False
        assert station.serve(T, s) == want
    # the always-open shortcut (start = T, end = T + s) is the same arithmetic
    always = WorkCalendar.always_open()
    o, c, cum, cend = always.scalar_tables
    station.open, station.close, station.cum, station.cend = o, c, cum, cend
    station.always = True
    T = abs(t)
    assert station.serve(T, s) == (next_open_scalar(o, c, T), to_abs_scalar(
        cend, o, cum, to_work_scalar(o, c, cum, cend, T) + s))


# --------------------------------------------------------------------------- invariants


def busy_ok(res: RepResult, model: M.Model) -> None:
    """At no time more [start, end) intervals at a station than it has servers."""
    v = res.visits
    assert v is not None
    for s in range(model.n_stations):
        m = (v.station == s) & np.isfinite(v.start)
        st_, en = v.start[m], np.where(np.isfinite(v.end[m]), v.end[m], np.inf)
        t = np.concatenate([st_, en])
        step = np.concatenate([np.ones(st_.size), -np.ones(en.size)])
        o = np.lexsort((step, t))  # at equal times, ends before starts
        assert (np.cumsum(step[o]).max(initial=0) <= model.station_servers[s])


def check_invariants(model: M.Model, inp: I.Inputs, res: RepResult) -> None:
    done = res.status == COMPLETED
    lead = res.end - inp.arrival
    total = res.t_service + res.t_queue + res.t_applicant
    np.testing.assert_allclose(total[done], lead[done], rtol=1e-9, atol=1e-9)
    assert np.isnan(res.end[res.status == OPEN]).all()
    assert (res.end[res.status != OPEN] <= model.horizon).all()
    assert (res.t_service >= 0).all() and (res.t_queue >= -1e-9).all()
    v = res.visits
    assert v is not None
    assert (v.joined <= model.horizon).all()
    busy_ok(res, model)
    sub = v.kind == SUBMISSION
    # visits: one per submission that is an in-person visit
    counted = np.bincount(v.case[sub], weights=inp.visit[v.case[sub], v.item[sub]],
                          minlength=inp.n)
    assert np.array_equal(counted, res.visits_count)
    # submissions of a completed case: one per item run, plus one per rework round that
    # was not a supplement
    n_sub = np.bincount(v.case[sub], minlength=inp.n)
    expect = inp.run_item.sum(axis=1) + res.rework - res.supplements
    assert np.array_equal(n_sub[done], expect[done])
    # service starts at an open instant; ends at an open instant or a closing time
    for s in range(model.n_service_stations):
        cal = model.calendar_of(s)
        m = (v.station == s) & np.isfinite(v.start)
        assert np.all(cal.is_open(v.start[m]))
        e = v.end[m]
        assert np.all(cal.is_open(e) | np.isin(e, cal.close))
        assert np.all(v.end[m] > v.start[m])
    # started visits: start >= joined; reneged ones have no start
    started = np.isfinite(v.start)
    assert np.all(v.start[started] >= v.joined[started])
    assert np.all(~started[v.reneged])
    # audits only after completed cases, joined at completion
    au = v.kind == AUDIT
    assert np.all(res.status[v.case[au]] == COMPLETED)
    assert np.array_equal(v.joined[au], res.end[v.case[au]])


def mini() -> M.Model:
    return M.build(S.load("tests/data/mini.toml"), warn=False)


@pytest.mark.parametrize("rep", [0, 1])
def test_invariants_mini(rep: int) -> None:
    m = mini()
    inp = I.draw(m, rep)
    res = des.simulate(m, inp)
    check_invariants(m, inp, res)
    assert res.rework.sum() > 0 and res.supplements.sum() > 0
    assert (res.status == COMPLETED).sum() > 0.8 * inp.n
    # a deficient, not conditionally accepted submission is followed by a later one
    v = res.visits
    assert v is not None
    for i in np.flatnonzero(res.rework > res.supplements)[:20]:
        r = rows(res, int(i))
        by_item: dict[int, list[tuple[Any, ...]]] = {}
        for x in r:
            by_item.setdefault(x[0], []).append(x)
        for j, xs in by_item.items():
            for a, b in itertools.pairwise(xs):
                assert inp.deficient[i, j, a[1]] and b[2] >= a[4]
                assert b[2] == a[4] + inp.fix[i, j, a[1]]
    # record_visits=False gives the same case records
    res2 = des.simulate(m, inp, record_visits=False)
    assert res2.visits is None
    for f in ("status", "end", "visits_count", "rework", "supplements", "t_service",
              "t_queue", "t_applicant"):
        assert np.array_equal(getattr(res, f), getattr(res2, f), equal_nan=True), f


def reneging_audit_scenario() -> dict[str, Any]:
    return scenario(
        run={"horizon_days": 30, "warmup_days": 2, "calendar": "office", "seed": 3},
        calendars={"office": OFFICE},
        classes={"c": {"rate": 9.0, "per": "workday", "online_share": 0.2},
                 "vip": {"rate": 2.0, "per": "workday", "priority": 0, "proxy_share": 0.5,
                         "agent_pool": "help"}},
        pools={"help": {"agents": 1, "caseload": 2}},
        stations={"s": {"servers": 2, "calendar": "office", "priority": True,
                        "patience": {"dist": "exponential", "mean": 4.0}},
                  "t": {"servers": 1, "calendar": "office"},
                  "audit": {"servers": 1, "calendar": "office"}},
        rework={"deficiency_per_material": 0.05, "fix": {"dist": "gamma", "mean": 1,
                                                         "cv": 0.5, "unit": "days"}},
        items={"a": {"station": "s", "service": expo(0.9), "materials": 4,
                     "audit_probability": 0.3, "audit_station": "audit",
                     "audit_service": expo(1.0)},
               "b": {"station": "t", "service": expo(0.5), "materials": 2, "conditional": True,
                     "supplement_deadline_days": 2, "delay": expo(5.0)},
               "c2": {"station": "s", "service": expo(0.3), "skip_probability": 0.3}},
        routes={"main": {"stages": [{"name": "p", "mode": "parallel", "items": ["a", "b"]},
                                    {"name": "q", "items": ["c2"]}]}},
    )


def test_invariants_reneging_audits_pools() -> None:
    m = build(reneging_audit_scenario())
    inp = I.draw(m, 0)
    res = des.simulate(m, inp)
    check_invariants(m, inp, res)
    v = res.visits
    assert v is not None
    assert v.reneged.any() and (v.kind == AUDIT).any() and (v.kind == POOL).any()
    assert (res.status == ABANDONED).any()
    # a reneged visit left patience hours after it joined; its case is abandoned and
    # makes no later submission at another stage
    r = np.flatnonzero(v.reneged)
    np.testing.assert_array_equal(
        v.end[r], v.joined[r] + inp.patience[v.case[r], v.item[r], v.attempt[r]])
    # (abandoned at the stage's end: still open if the other branch is not done)
    assert np.all(res.status[v.case[r]] != COMPLETED)
    assert (res.status[v.case[r]] == ABANDONED).mean() > 0.8
    for i in np.unique(v.case[r[v.item[r] == 0]]):  # reneged in stage p
        sub = (v.case == i) & (v.kind == SUBMISSION)
        assert np.all(v.item[sub] != 2)  # stage q never reached
        if res.status[i] == ABANDONED:
            assert np.all(v.joined[sub] <= res.end[i])
    # pool slots end with their case
    p = v.kind == POOL
    held = np.isfinite(v.start[p])
    ends = res.end[v.case[p]]
    assert np.array_equal(v.end[p][held], ends[held], equal_nan=True)
    # FCFS at a non-priority station on one calendar: dispatch in key order
    m_t = (v.station == 1) & np.isfinite(v.start)
    o = np.lexsort((v.item[m_t], v.case[m_t], v.joined[m_t]))
    assert np.all(np.diff(v.start[m_t][o]) >= 0)


def test_fcfs_at_a_plain_station() -> None:
    m = mini()
    inp = I.draw(m, 2)
    res = des.simulate(m, inp)
    v = res.visits
    assert v is not None
    front = m.station_names.index("front")
    sel = (v.station == front) & np.isfinite(v.start)
    o = np.lexsort((v.item[sel], v.case[sel], v.joined[sel]))
    assert np.all(np.diff(v.start[sel][o]) >= 0)


def parallel_vs_sequence(servers: int, mode: str, rep: int = 0) -> tuple[M.Model, I.Inputs,
                                                                        RepResult]:
    d = scenario(
        run={"horizon_days": 40, "calendar": "office", "arrival_days": 30},
        calendars={"office": OFFICE},
        classes={"c": {"rate": 10.0, "per": "workday"}},
        stations={"s": {"servers": servers, "calendar": "office"},
                  "t": {"servers": servers, "calendar": "office"}},
        rework={"deficiency_per_material": 0.1, "fix": expo(12.0)},
        items={"a": {"station": "s", "service": expo(0.5), "materials": 2,
                     "delay": expo(3.0)},
               "b": {"station": "t", "service": expo(0.5), "materials": 1, "conditional": True},
               "z": {"station": "s", "service": expo(0.2)}},
        routes={"main": {"stages": [{"name": "x", "mode": mode, "items": ["a", "b"]},
                                    {"name": "y", "items": ["z"]}]}})
    m = build(d)
    inp = I.draw(m, rep)
    return m, inp, des.simulate(m, inp)


def test_parallel_never_slower_than_sequence() -> None:
    # plenty of servers: no queueing, so case by case (common random numbers: the
    # inputs do not depend on the stage mode)
    _, ip, par = parallel_vs_sequence(100, "parallel")
    ms, iq, seq = parallel_vs_sequence(100, "sequential")
    assert np.array_equal(ip.service, iq.service)
    both = (par.status == COMPLETED) & (seq.status == COMPLETED)
    assert both.sum() > 100
    assert np.all(par.end[both] <= seq.end[both])
    assert (par.end[both] < seq.end[both]).mean() > 0.5
    check_invariants(ms, iq, seq)
    # with queues, in the mean
    mp, ip, par = parallel_vs_sequence(2, "parallel")
    _, _, seq = parallel_vs_sequence(2, "sequential")
    check_invariants(mp, ip, par)
    both = (par.status == COMPLETED) & (seq.status == COMPLETED)
    assert np.mean((par.end - ip.arrival)[both]) < np.mean((seq.end - ip.arrival)[both])


# --------------------------------------------------------------------------- theory


def mmc_wq(lam: float, mu: float, c: int) -> float:
    if analytic is not None:
        return float(analytic.mmc(lam, mu, c).wq)
    a, rho = lam / mu, lam / (c * mu)
    s = sum(a**k / math.factorial(k) for k in range(c))
    top = a**c / math.factorial(c) / (1 - rho)
    return top / (s + top) / (c * mu - lam)


def queue_model(lam: float, mus: list[float], servers: list[int], days: float,
                warmup_days: float, arrival_days: float | None = None) -> M.Model:
    """Poisson(lam/h) arrivals through exponential stations in tandem, always open."""
    n = len(mus)
    run: dict[str, Any] = {"horizon_days": days, "warmup_days": warmup_days,
                           "calendar": "always", "seed": 11}
    if arrival_days is not None:
        run["arrival_days"] = arrival_days
    return build(scenario(
        run=run, classes={"c": {"rate": lam, "per": "hour"}},
        stations={f"s{k}": {"servers": servers[k], "calendar": "always"} for k in range(n)},
        items={f"i{k}": {"station": f"s{k}", "service": expo(1.0 / mus[k])} for k in range(n)},
        routes={"main": {"stages": [{"name": f"st{k}", "items": [f"i{k}"]}
                                    for k in range(n)]}}))


def mean_wait(model: M.Model, reps: int) -> tuple[float, float]:
    """Mean wait over visits joined after the warm-up; (grand mean, its standard error).

    Independent replications, so the standard error is sd(replication means)/sqrt(reps);
    tests accept |mean - theory| < 4 standard errors (z = 4: with t(reps-1) tails,
    a false alarm is well below 1%, and the seeds are fixed anyway).
    """
    means = []
    for r in range(reps):
        res = des.simulate(model, I.draw(model, r))
        v = res.visits
        assert v is not None
        m = (v.joined >= model.warmup) & np.isfinite(v.start)
        means.append(float(np.mean(v.start[m] - v.joined[m])))
    x = np.asarray(means)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(reps))


def test_mm1_mean_wait() -> None:
    # lambda = 0.8/h, mu = 1/h: Wq = rho/(mu - lambda) = 4 h; 8 x ~12,000 customers
    m = queue_model(0.8, [1.0], [1], days=640, warmup_days=15)
    mean, se = mean_wait(m, reps=8)
    assert mmc_wq(0.8, 1.0, 1) == pytest.approx(4.0)
    assert abs(mean - 4.0) < 4 * se, (mean, se)
    assert se < 0.4  # the test has teeth: 4 se < 40 % of Wq


def test_mm3_mean_wait_erlang_c() -> None:
    lam, mu, c = 2.4, 1.0, 3
    m = queue_model(lam, [mu], [c], days=220, warmup_days=5)
    mean, se = mean_wait(m, reps=8)
    wq = mmc_wq(lam, mu, c)
    assert abs(mean - wq) < 4 * se, (mean, wq, se)
    assert se < 0.12 * wq


def test_littles_law_from_station_table() -> None:
    m = queue_model(0.8, [1.0], [1], days=600, warmup_days=20)
    res = des.simulate(m, I.draw(m, 0))
    row = station_table(m, res).iloc[0]
    lam = row["throughput_per_day"] / 24.0
    # a sample-path identity, up to the customers straddling the window's edges
    assert row["mean_queue_length"] == pytest.approx(lam * row["mean_wait_hours"], rel=0.03)
    assert row["utilization"] == pytest.approx(0.8, rel=0.05)


def test_station_table_rows_are_their_stations_visits() -> None:
    # three stations of different speeds: each row must be computed from its own visits
    m = queue_model(0.7, [1.0, 2.0, 0.8], [1, 1, 2], days=120, warmup_days=10)
    res = des.simulate(m, I.draw(m, 3))
    v = res.visits
    assert v is not None
    table = station_table(m, res)
    t0, t1 = m.window
    for s in range(3):
        mask = v.station == s
        start, joined = v.start[mask], v.joined[mask]
        started = np.isfinite(start)
        served = started & (start >= t0) & (start < t1)
        w_in = started & (joined >= t0) & (joined < t1)
        row = table.iloc[s]
        assert row["served"] == int(served.sum()) > 100
        assert row["mean_wait_hours"] == pytest.approx(float((start[w_in] - joined[w_in]).mean()),
                                                      rel=1e-12)
        assert row["reneged"] == int(v.reneged[mask].sum())
    assert len(set(table["mean_wait_hours"])) == 3  # the stations differ: the test has teeth


def test_tandem_jackson_sojourn() -> None:
    lam, mus = 0.6, [1.0, 1.25, 0.9]
    m = queue_model(lam, mus, [1, 1, 1], days=330, warmup_days=10, arrival_days=300)
    w_theory = sum(1.0 / (mu - lam) for mu in mus)
    if analytic is not None:
        assert analytic.tandem_mmc(lam, mus, [1, 1, 1]).w == pytest.approx(w_theory)
    means = []
    for r in range(6):
        inp = I.draw(m, r)
        res = des.simulate(m, inp, record_visits=False)
        keep = (inp.arrival >= m.warmup) & (res.status == COMPLETED)
        assert (res.status == COMPLETED).all()
        means.append(float(np.mean((res.end - inp.arrival)[keep])))
    x = np.asarray(means)
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.mean() - w_theory) < 4 * se, (x.mean(), w_theory, se)
    assert se < 0.1 * w_theory


@pytest.mark.slow
def test_mm1_and_mm3_precise() -> None:
    # 20 x ~40,000 customers each: 4 se is about 5 % of Wq
    m = queue_model(0.8, [1.0], [1], days=2100, warmup_days=40)
    mean, se = mean_wait(m, reps=20)
    assert abs(mean - 4.0) < 4 * se and se < 0.06
    m = queue_model(2.4, [1.0], [3], days=700, warmup_days=10)
    mean, se = mean_wait(m, reps=20)
    assert abs(mean - mmc_wq(2.4, 1.0, 3)) < 4 * se
