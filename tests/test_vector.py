"""The compiled engine (sim.engines.vector) against docs/model.md and the SimPy engine.

* Hand-computed toy cases: each checks one rule of docs/model.md with numbers worked
  out on paper (FCFS and the simultaneity rule, calendars, priorities, reneging, lag).
* Generated scenarios (hypothesis) over every feature: both engines on the same drawn
  inputs give the same per-case records (status exactly, times to rel 1e-9) and the same
  visit records; the station-by-station pass, the event loop and the streaming run give
  identical records; a slice of cases drawn alone equals the same rows of the whole draw.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engines import des, vector
from sim.engines.vector import feedforward, kernels
from sim.errors import UsageError
from sim.inputs import Inputs, draw
from sim.model import Model, build
from sim.model.scenario import parse
from sim.results.records import ABANDONED, COMPLETED, OPEN, RepResult, stage_parts

# --------------------------------------------------------------------------- helpers


def model_of(data: dict[str, Any]) -> Model:
    return build(parse(data, "<test>"), "<test>", warn=False)


def hand_inputs(model: Model, arrival: list[float], service: np.ndarray, **kw: Any) -> Inputs:
    """Inputs written by hand: every case runs every item, in person, no rework."""
    n, J = len(arrival), model.n_items
    service = np.asarray(service, dtype=np.float64).reshape(n, J, -1)
    K = service.shape[2]
    base: dict[str, Any] = {
        "replication": 0, "arrival": np.asarray(arrival, dtype=np.float64),
        "cls": np.zeros(n, dtype=np.int64), "channel": np.zeros(n, dtype=np.int64),
        "key": np.arange(n, dtype=np.int64), "run_item": np.ones((n, J), dtype=np.bool_),
        "visit": np.ones((n, J), dtype=np.bool_), "delay": np.zeros((n, J)),
        "service": service, "deficient": np.zeros((n, J, K), dtype=np.bool_),
        "fix": np.zeros((n, J, K)), "patience": np.full((n, J, K), np.inf),
        "audit": np.zeros((n, J), dtype=np.bool_), "audit_service": np.zeros((n, J)),
        "revoked": np.zeros((n, J), dtype=np.bool_),
    }
    for key, value in kw.items():
        base[key] = np.asarray(value, dtype=base[key].dtype).reshape(base[key].shape)
    return Inputs(**base)


def assert_same(a: RepResult, b: RepResult, exact: bool = False) -> None:
    """Same records: counts and status exactly, times to rel 1e-9 (or bit for bit)."""
    for f in ("status", "visits_count", "rework", "supplements"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    for f in ("end", "t_service", "t_queue", "t_applicant"):
        if exact:
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
        else:
            np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-9, atol=1e-9,
                                       err_msg=f)
    assert (a.t_stages is None) == (b.t_stages is None)
    if a.t_stages is not None and b.t_stages is not None:
        if exact:
            np.testing.assert_array_equal(a.t_stages, b.t_stages, err_msg="t_stages")
        else:
            np.testing.assert_allclose(a.t_stages, b.t_stages, rtol=1e-9, atol=1e-9,
                                       err_msg="t_stages")
    assert (a.visits is None) == (b.visits is None)
    if a.visits is None or b.visits is None:
        return
    va, vb = a.visits.sorted(), b.visits.sorted()
    for f in ("case", "item", "attempt", "station", "kind", "reneged"):
        np.testing.assert_array_equal(getattr(va, f), getattr(vb, f), err_msg=f"visits.{f}")
    for f in ("joined", "start", "end"):
        if exact:
            np.testing.assert_array_equal(getattr(va, f), getattr(vb, f), err_msg=f"visits.{f}")
        else:
            np.testing.assert_allclose(getattr(va, f), getattr(vb, f), rtol=1e-9, atol=1e-9,
                                       err_msg=f"visits.{f}")


def both_paths(model: Model, inp: Inputs) -> RepResult:
    """The vector engine's result; its station-by-station and event-loop paths agree."""
    a = vector.simulate(model, inp)
    b = vector.simulate(model, inp, feedforward=False)
    assert_same(a, b, exact=True)
    return b


def line(servers: list[int], calendar: str = "always", **run: Any) -> dict[str, Any]:
    """Stations s0, s1, ... in series, item i<k> at station s<k>, deterministic 1 h."""
    names = [f"s{k}" for k in range(len(servers))]
    data: dict[str, Any] = {
        "run": {"horizon_days": 30, "calendar": calendar, "max_attempts": 1, **run},
        "calendars": {"office": {"hours": [["09:00", "12:00"], ["13:30", "17:30"]],
                                 "holidays": "none"}},
        "classes": {"c": {"rate": 1.0, "route": "r"}},
        "stations": {n: {"servers": c, "calendar": calendar}
                     for n, c in zip(names, servers, strict=True)},
        "items": {f"i{k}": {"station": n, "service": {"dist": "deterministic", "mean": 1.0}}
                  for k, n in enumerate(names)},
        "routes": {"r": {"stages": [{"name": f"st{k}", "items": [f"i{k}"]}
                                    for k in range(len(names))]}},
    }
    return data


# --------------------------------------------------------------------------- toy cases


def test_tandem_deterministic_one_server_always_open() -> None:
    """Two 1-server stations in series; at t=1 a release and a join are simultaneous."""
    m = model_of(line([1, 1]))
    inp = hand_inputs(m, [0.0, 0.5, 1.0], np.ones((3, 2)))
    r = both_paths(m, inp)
    np.testing.assert_array_equal(r.status, [COMPLETED] * 3)
    np.testing.assert_array_equal(r.end, [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(r.t_queue, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(r.t_service, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(r.t_applicant, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(r.visits_count, [2, 2, 2])
    assert r.visits is not None
    v = r.visits.sorted()
    np.testing.assert_array_equal(v.joined, [0.0, 1.0, 0.5, 2.0, 1.0, 3.0])
    np.testing.assert_array_equal(v.start, [0.0, 1.0, 1.0, 2.0, 2.0, 3.0])
    np.testing.assert_array_equal(v.end, [1.0, 2.0, 2.0, 3.0, 3.0, 4.0])
    assert_same(r, des.simulate(m, inp))


def test_saturday_arrival_waits_for_monday_nine() -> None:
    """Office 09-12, 13:30-17:30 Mon-Fri from Monday 2023-03-06; service 4 working hours."""
    m = model_of(line([1], calendar="office", start_date=dt.date(2023, 3, 6)))
    saturday_10h = 5 * 24 + 10.0
    monday_11h = 7 * 24 + 11.0
    inp = hand_inputs(m, [saturday_10h, monday_11h], np.full((2, 1), 4.0))
    r = both_paths(m, inp)
    monday_9h = 7 * 24 + 9.0
    # 3 h before lunch, 1 h after: 14:30; the second case then works 14:30-17:30 and 1 h
    # on Tuesday from 09:00
    np.testing.assert_array_equal(r.end, [7 * 24 + 14.5, 8 * 24 + 10.0])
    np.testing.assert_array_equal(r.t_queue, [monday_9h - saturday_10h, 3.5])
    np.testing.assert_array_equal(r.t_service, [5.5, 8 * 24 + 10.0 - (7 * 24 + 14.5)])
    assert r.visits is not None
    v = r.visits.sorted()
    np.testing.assert_array_equal(v.start, [monday_9h, 7 * 24 + 14.5])
    assert_same(r, des.simulate(m, inp))


def test_service_ending_at_closing_time_ends_then() -> None:
    """W⁻¹ is the left inverse: 3 working hours from 09:00 end at 12:00, not after lunch."""
    m = model_of(line([1], calendar="office", start_date=dt.date(2023, 3, 6)))
    inp = hand_inputs(m, [9.0], np.full((1, 1), 3.0))
    r = both_paths(m, inp)
    assert r.end[0] == 12.0


def test_priority_then_join_time_then_case() -> None:
    """At a priority station the key is (priority, joined_at, case, slot)."""
    data = line([1])
    data["stations"]["s0"]["priority"] = True
    data["classes"] = {"low": {"rate": 1.0, "route": "r", "priority": 1},
                       "high": {"rate": 1.0, "route": "r", "priority": 0}}
    m = model_of(data)
    low, high = m.class_names.index("low"), m.class_names.index("high")
    # case 0 (low) is served 0-2; at t=2 waiting: case 1 (low, since 1.0), case 2 (high,
    # since 1.5) and case 3 (high, since 1.5): high first, case 2 before case 3
    inp = hand_inputs(m, [0.0, 1.0, 1.5, 1.5], np.full((4, 1), 2.0),
                      cls=[low, low, high, high])
    r = both_paths(m, inp)
    np.testing.assert_array_equal(r.end, [2.0, 8.0, 4.0, 6.0])
    assert_same(r, des.simulate(m, inp))


def test_renege_and_release_at_the_same_instant() -> None:
    """A patience that runs out when a server frees: the entry leaves (events before dispatch)."""
    data = line([1])
    data["stations"]["s0"]["patience"] = {"dist": "deterministic", "mean": 1.0}
    m = model_of(data)
    patience = np.array([np.inf, 2.0, 3.0, 10.0]).reshape(4, 1, 1)
    inp = hand_inputs(m, [0.0, 1.0, 2.0, 2.5], np.full((4, 1), 5.0), patience=patience)
    r = both_paths(m, inp)
    # case 0 served 0-5; case 1 leaves at 3; case 2 would leave at 5 = the release: it
    # leaves; case 3 is served 5-10
    np.testing.assert_array_equal(r.status, [COMPLETED, ABANDONED, ABANDONED, COMPLETED])
    np.testing.assert_array_equal(r.end, [5.0, 3.0, 5.0, 10.0])
    np.testing.assert_array_equal(r.t_queue, [0.0, 2.0, 3.0, 2.5])
    assert r.visits is not None
    v = r.visits.sorted()
    np.testing.assert_array_equal(v.reneged, [False, True, True, False])
    np.testing.assert_array_equal(v.end, [5.0, 3.0, 5.0, 10.0])
    assert_same(r, des.simulate(m, inp))


def test_stale_renege_timer_does_not_fire_at_a_later_queue() -> None:
    """A visit served before its patience ran out leaves a timer behind; found by hypothesis.

    Case 1 is served at once at s1 (patience 1.24 h), then waits at s0, which has no
    reneging, past the old timer: it must keep waiting.
    """
    data = line([1, 1], calendar="office", start_date=dt.date(2023, 1, 1), horizon_days=3.0,
                arrival_days=1.8, seed=1)
    data["calendars"]["office"]["holidays"] = "cn"
    data["stations"]["s1"]["patience"] = {"dist": "exponential", "mean": 4.0}
    data["items"] = {k: {"station": s, "service": {"dist": "deterministic", "mean": 1.0}}
                     for k, s in (("i0", "s0"), ("i1", "s0"), ("i2", "s0"), ("i3", "s1"))}
    data["routes"] = {"r": {"stages": [{"name": "g0", "items": ["i0"]},
                                       {"name": "g1", "items": ["i1", "i3", "i2"]}]}}
    m = model_of(data)
    inp = draw(m, 0)
    r = vector.simulate(m, inp)
    assert r.visits is not None and not r.visits.reneged.any()
    assert_same(r, des.simulate(m, inp))


def test_lag_holds_the_case_not_the_server() -> None:
    data = line([1])
    data["items"]["i0"]["lag"] = {"dist": "deterministic", "mean": 2.0}
    m = model_of(data)
    inp = hand_inputs(m, [0.0, 0.5], np.ones((2, 1)), )
    inp.lag = np.full((2, 1, 1), 2.0)
    r = both_paths(m, inp)
    np.testing.assert_array_equal(r.end, [3.0, 4.0])  # second served 1-2, known at 4
    np.testing.assert_array_equal(r.t_service, [3.0, 3.0])
    assert_same(r, des.simulate(m, inp))


def test_equal_exit_times_keep_key_order_without_records() -> None:
    """The station-by-station pass writes cases in order of exit; two cases leaving the
    first station at t=3 from servers in the opposite order of their case numbers must
    still join the 1-server second station in (time, case) order, as the event loop has."""
    m = model_of(line([2, 1]))
    service = np.array([[2.0, 1.0], [1.0, 1.0], [2.0, 1.0], [1.0, 2.0], [5.0, 1.0]])
    inp = hand_inputs(m, [0.0] * 5, service)
    assert feedforward.feedforward_plan(m, inp) is not None
    fast = vector.simulate(m, inp, record_visits=False)
    ev = vector.simulate(m, inp, record_visits=False, feedforward=False)
    assert_same(ev, fast, exact=True)
    assert_same(ev, des.simulate(m, inp, record_visits=False))
    # case 2 (server 1) and case 3 (server 0) leave station 0 at 3: case 2 goes first
    np.testing.assert_array_equal(fast.end[[2, 3]], [4.0, 6.0])


def test_horizon_cuts_open_cases() -> None:
    m = model_of(line([1, 1], horizon_days=2.0 / 24, arrival_days=1.0 / 24))
    inp = hand_inputs(m, [0.0, 0.5], np.full((2, 2), 0.75))
    r = both_paths(m, inp)
    # case 0: 0-0.75, 0.75-1.5 done; case 1: 0.75-1.5, 1.5-2.25 ends after the horizon
    np.testing.assert_array_equal(r.status, [COMPLETED, OPEN])
    assert r.end[0] == 1.5 and np.isnan(r.end[1])
    assert r.t_service[1] == 0.75  # the service in progress has not accrued
    assert r.visits is not None
    assert r.visits.end.max() == 2.25  # a service dispatched before the horizon has its end
    assert_same(r, des.simulate(m, inp))


def test_rows_past_what_a_branch_holds_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A branch's row keeps its queue node and visit row as int32: a replication whose
    tables would grow past that is refused with a clear error (the bound lowered here to
    reach it: the real one, 2**31 rows, needs over 80 GB)."""
    from sim.engines.vector import state

    m = model_of(line([1, 1]))
    inp = hand_inputs(m, list(np.linspace(0.0, 5.0, 400)), np.full((400, 2), 0.5))
    vector.simulate(m, inp, feedforward=False)  # fine at the real bound
    monkeypatch.setattr(state, "BR_MAX", 1000)
    with pytest.raises(UsageError, match="2\\*\\*31"):
        vector.simulate(m, inp, feedforward=False)


def test_visits_not_recorded_gives_the_same_cases() -> None:
    m = model_of(line([2, 1]))
    inp = hand_inputs(m, [0.0, 0.1, 0.2, 0.3], np.full((4, 2), 0.5))
    a = vector.simulate(m, inp, record_visits=False, feedforward=False)
    b = vector.simulate(m, inp)
    assert a.visits is None
    b.visits = None
    assert_same(a, b, exact=True)


def test_bad_inputs_are_refused() -> None:
    m = model_of(line([1, 1]))
    inp = hand_inputs(m, [0.0], np.ones((1, 2)))
    inp.delay = np.zeros((1, 3))
    with pytest.raises(UsageError, match="delay"):
        vector.simulate(m, inp)


def test_mini_scenario_matches_des(mini: dict[str, Any]) -> None:
    m = model_of(mini)
    for rep in range(2):
        inp = draw(m, rep)
        assert_same(vector.simulate(m, inp), des.simulate(m, inp))


def test_streaming_equals_whole_run(mini: dict[str, Any]) -> None:
    m = model_of(mini)
    whole = vector.simulate(m, draw(m, 1), feedforward=False)
    for chunk in (1, 7, 64, 10_000):
        part = vector.simulate_streaming(m, 1, chunk=chunk, record_visits=True)
        assert_same(whole, part, exact=True)


def test_no_cases() -> None:
    data = line([1])
    data["classes"]["c"]["rate"] = 0.0
    m = model_of(data)
    inp = draw(m, 0)
    assert inp.n == 0
    r = vector.simulate(m, inp)
    assert r.status.shape == (0,) and r.visits is not None and r.visits.case.shape == (0,)
    assert vector.simulate_streaming(m, 0, chunk=3).status.shape == (0,)
    assert_same(r, des.simulate(m, inp))


def test_simulate_many(mini: dict[str, Any]) -> None:
    m = model_of(mini)
    out = vector.simulate_many(m, [0, 2])
    assert [r.replication for r in out] == [0, 2]
    one = vector.simulate(m, draw(m, 2), record_visits=False)
    assert_same(out[1], one, exact=True)


@settings(max_examples=300, deadline=None)
@given(t=st.floats(-10.0, 4000.0), s=st.floats(1e-6, 400.0), pick=st.integers(0, 2000),
       edge=st.booleans())
def test_serve_is_the_calendar_arithmetic(t: float, s: float, pick: int, edge: bool) -> None:
    """The kernel's W⁻¹(W(T) + s) and next_open(T), found through the bucket tables, are
    sim.model.calendar's (by bisection), also past the calendar's end (3,600 h)."""
    from sim.model.calendar import WorkCalendar, next_open_scalar, to_abs_scalar, to_work_scalar

    cal = WorkCalendar.build("office", dt.date(2023, 1, 1), 150,
                             [("09:00", "12:00"), ("13:30", "17:30")])
    if edge:  # exactly at an opening or a closing
        t = float(np.concatenate([cal.open, cal.close])[pick % (2 * len(cal.open))])
    # station 0 has the calendar at an offset in the packed arrays, after a 24/7 one
    other = WorkCalendar.build("24/7", dt.date(2023, 1, 1), 20, [("00:00", "24:00")],
                               weekdays=range(7))
    packed = kernels.pack_calendars([other, cal], [1, 0])
    assert packed.st_cal[0, kernels.SC_OFF] == len(other.open)
    start, end = kernels.serve(*packed[2:], packed.st_cal, packed.st_calw, 0, t, s)
    o, c, cum, cend = cal.scalar_tables
    assert start == next_open_scalar(o, c, t)
    assert end == to_abs_scalar(cend, o, cum, to_work_scalar(o, c, cum, cend, t) + s)


# --------------------------------------------------------------------------- generated

SERVICE = [
    {"dist": "deterministic", "mean": 1.0},
    {"dist": "deterministic", "mean": 0.5},
    {"dist": "exponential", "mean": 0.7},
    {"dist": "gamma", "mean": 2.0, "cv": 0.5},
    {"dist": "empirical", "values": [0.5, 1.0, 1.5]},
    {"dist": "lognormal", "mean": 1.0, "cv": 1.0},
    {"dist": "triangular", "min": 0.25, "mode": 0.5, "max": 2.0},
]
DELAY = [
    None,
    {"dist": "deterministic", "mean": 0.0},
    {"dist": "deterministic", "mean": 1.0, "unit": "days"},
    {"dist": "exponential", "mean": 1.0, "unit": "days"},
    {"dist": "empirical", "values": [0.0, 2.0, 4.0]},
]
FIX = [
    {"dist": "deterministic", "mean": 0.0},
    {"dist": "exponential", "mean": 1.0, "unit": "days"},
    {"dist": "empirical", "values": [0.0, 12.0, 48.0]},
]
PATIENCE = [
    None,
    {"dist": "exponential", "mean": 4.0},
    {"dist": "deterministic", "mean": 2.0},
]
LAG = [
    None,
    {"dist": "deterministic", "mean": 1.0},
    {"dist": "exponential", "mean": 0.5, "unit": "days"},
]
AUDIT_SERVICE = [
    {"dist": "deterministic", "mean": 0.5},
    {"dist": "exponential", "mean": 1.0},
]
START = [dt.date(2023, 1, 1), dt.date(2023, 3, 3), dt.date(2023, 4, 28), dt.date(2023, 9, 28)]
# disjoint hour ranges a generated schedule takes its entries' hours from (back to back,
# so two entries may meet at an instant; with the dispatches of the calendars' hours)
SLOTS = [["00:00", "09:30"], ["09:30", "11:00"], ["11:00", "12:00"], ["12:00", "13:30"],
         ["13:30", "16:00"], ["16:00", "24:00"]]


def schedule(d: st.DrawFn, start: dt.date) -> list[dict[str, Any]]:
    """A random schedule (docs/model.md, "Staffing over time"): entries on disjoint hours,
    or one whole-day entry on a date range; counts 0 to 5."""
    if d(st.integers(0, 4)) == 0:
        first = start + dt.timedelta(days=d(st.integers(0, 10)))
        return [{"servers": d(st.integers(0, 5)),
                 "dates": [first, first + dt.timedelta(days=d(st.integers(0, 6)))]}]
    out: list[dict[str, Any]] = []
    for k in sorted(d(st.sets(st.integers(0, len(SLOTS) - 1), min_size=1, max_size=4))):
        e: dict[str, Any] = {"servers": d(st.integers(0, 5)), "hours": SLOTS[k]}
        if d(st.booleans()):
            e["weekdays"] = sorted(d(st.sets(st.integers(1, 7), min_size=1, max_size=7)))
        if d(st.integers(0, 3)) == 0:
            first = start + dt.timedelta(days=d(st.integers(-3, 8)))
            e["dates"] = [first, first + dt.timedelta(days=d(st.integers(0, 8)))]
        out.append(e)
    return out



# times review sessions sit: the first is in every calendar's working hours (a session in
# every run); the others on the calendars' edges (closing: not held) and elsewhere
SESSION_AT = ["10:00", "10:30", "14:00"]
SESSION_OTHER = ["00:00", "09:00", "09:30", "11:00", "12:00", "13:30", "16:00", "17:30"]


def sessions(d: st.DrawFn, start: dt.date) -> list[dict[str, Any]]:
    """Random review sessions (docs/model.md, "Review sessions"): one every day, and up to
    two more on some weekdays or dates; capacities 1 to 4."""
    out: list[dict[str, Any]] = [{"at": d(st.sampled_from(SESSION_AT)),
                                  "capacity": d(st.integers(1, 4))}]
    for at in d(st.lists(st.sampled_from(SESSION_OTHER), max_size=2, unique=True)):
        e: dict[str, Any] = {"at": at, "capacity": d(st.integers(1, 4)),
                             "weekdays": sorted(d(st.sets(st.integers(1, 7), min_size=1)))}
        if d(st.booleans()):
            first = start + dt.timedelta(days=d(st.integers(-3, 8)))
            e["dates"] = [first, first + dt.timedelta(days=d(st.integers(0, 8)))]
        out.append(e)
    return out


@st.composite
def scenarios(draw_: st.DrawFn) -> dict[str, Any]:
    """A small random scenario using any feature of docs/model.md."""
    d = draw_
    horizon = d(st.floats(3.0, 20.0))
    data: dict[str, Any] = {
        "run": {"start_date": d(st.sampled_from(START)), "horizon_days": horizon,
                "arrival_days": horizon * d(st.sampled_from([0.3, 0.6, 1.0])),
                "max_attempts": d(st.integers(1, 4)), "seed": d(st.integers(0, 10_000)),
                "calendar": "office"},
        "calendars": {
            "office": {"hours": [["09:00", "12:00"], ["13:30", "17:30"]],
                       "holidays": d(st.sampled_from(["cn", "none"]))},
            "short": {"hours": [["10:00", "15:00"]], "weekdays": [1, 2, 3, 4, 5, 6],
                      "holidays": "none"},
            "always": {"always": True},
        },
        "rework": {"deficiency_per_material": d(st.sampled_from([0.0, 0.03, 0.1])),
                   "fix": d(st.sampled_from(FIX))},
    }
    n_st = d(st.integers(1, 4))
    stations = [f"s{k}" for k in range(n_st)]
    data["stations"] = {}
    for name in stations:
        station: dict[str, Any] = {"servers": d(st.integers(1, 5)),
                                   "calendar": d(st.sampled_from(["office", "short", "always"])),
                                   "priority": d(st.booleans())}
        pat = d(st.sampled_from(PATIENCE))
        if pat is not None:
            station["patience"] = pat
        if d(st.integers(0, 2)) == 0:  # staffing over time
            station["schedule"] = schedule(d, data["run"]["start_date"])
        elif d(st.integers(0, 3)) == 0:  # review sessions
            station["sessions"] = sessions(d, data["run"]["start_date"])
        data["stations"][name] = station
    n_items = d(st.integers(1, 6))
    items = [f"i{k}" for k in range(n_items)]
    data["items"] = {}
    for name in items:
        item: dict[str, Any] = {
            "station": d(st.sampled_from(stations)), "service": d(st.sampled_from(SERVICE)),
            "materials": d(st.integers(0, 8)), "online": d(st.booleans()),
            "conditional": d(st.booleans()),
            "supplement_deadline_days": d(st.sampled_from([0.0, 0.5, 3.0])),
            "skip_probability": d(st.sampled_from([0.0, 0.0, 0.3])),
        }
        for key, options in (("delay", DELAY), ("lag", LAG)):
            v = d(st.sampled_from(options))
            if v is not None:
                item[key] = v
        if d(st.booleans()):
            item.update(audit_probability=0.5, audit_station=d(st.sampled_from(stations)),
                        audit_service=d(st.sampled_from(AUDIT_SERVICE)))
        data["items"][name] = item
    data["routes"] = {}
    for r in range(d(st.integers(1, 2))):
        chosen = d(st.permutations(items))[: d(st.integers(1, n_items))]
        stages: list[dict[str, Any]] = []
        k = 0
        while k < len(chosen):
            size = d(st.integers(1, len(chosen) - k))
            stage: dict[str, Any] = {
                "name": f"g{len(stages)}", "items": chosen[k:k + size],
                "mode": d(st.sampled_from(["sequential", "parallel", "parallel", "choice"])),
                "probability": d(st.sampled_from([1.0, 1.0, 0.7]))}
            if stage["mode"] == "choice" or (stage["mode"] == "parallel" and d(st.booleans())):
                # branches (docs/model.md, "Paths and branches"): runs of the stage's items
                its = stage.pop("items")
                cuts = sorted(d(st.sets(st.integers(1, len(its) - 1), max_size=3))
                              if len(its) > 1 else set())
                bounds = [0, *cuts, len(its)]
                stage["branches"] = [{"name": f"b{b}", "items": its[a:z]}
                                     for b, (a, z) in enumerate(itertools.pairwise(bounds))]
                if stage["mode"] == "choice":
                    w = [d(st.integers(1, 4)) for _ in stage["branches"]]
                    for br, x in zip(stage["branches"], w, strict=True):
                        br["probability"] = x / sum(w)
            stages.append(stage)
            k += size
        data["routes"][f"r{r}"] = {"stages": stages}
    pool = d(st.booleans())
    if pool:
        data["pools"] = {"helpers": {"agents": d(st.integers(1, 2)),
                                     "caseload": d(st.integers(1, 2))}}
    data["classes"] = {}
    for c in range(d(st.integers(1, 2))):
        online = d(st.sampled_from([0.0, 0.4]))
        cls: dict[str, Any] = {"rate": d(st.floats(1.0, 6.0)), "per": "day",
                               "route": d(st.sampled_from(sorted(data["routes"]))),
                               "priority": d(st.integers(0, 2)), "online_share": online}
        if pool:
            cls.update(proxy_share=d(st.sampled_from([0.3, 1.0 - online])),
                       agent_pool="helpers")
        kind = d(st.sampled_from(["poisson", "poisson", "replay", "bootstrap"]))
        if kind != "poisson":  # recorded arrivals (docs/model.md), some outside the window
            gaps = d(st.lists(st.floats(0.0, horizon * 8.0), min_size=1, max_size=39))
            if kind == "bootstrap":  # a mean gap of half an hour at least: < 1,000 cases
                gaps.append(max(0.0, 0.5 * (len(gaps) + 1) - sum(gaps)) + 0.5)
            hours = [float(x) for x in d(st.floats(-24.0, 24.0)) + np.concatenate(
                [[0.0], np.cumsum(gaps)])]
            rec: dict[str, Any] = {"hours": hours, "mode": kind,
                                   "block": d(st.sampled_from([1.0, 3.0]))}
            if d(st.booleans()):
                names = ["window", "online", "proxy"] if pool else ["window", "online"]
                rec["channels"] = [d(st.sampled_from(names)) for _ in hours]
                cls.update(online_share=0.0, proxy_share=0.0)
            del cls["rate"]
            cls["arrivals"] = rec
        data["classes"][f"c{c}"] = cls
    if d(st.booleans()):  # case attributes (docs/model.md): every class declares the same names
        for cls in data["classes"].values():
            cls["attributes"] = {
                "park": {"probability": d(st.sampled_from([0.0, 0.4, 1.0]))},
                "size": {"categories": {"small": 0.5, "mid": 0.2, "large": 0.3},
                         "scale": [{"what": d(st.sampled_from(["service", "delay", "fix",
                                                               "materials"])),
                                    "by": {"small": 0.5, "large": d(st.sampled_from([2.0,
                                                                                     0.0]))},
                                    "items": d(st.lists(st.sampled_from(items), min_size=1,
                                                        max_size=2, unique=True))}]},
                "ready": {"dist": {"dist": "gamma", "mean": 1.0, "cv": 0.8},
                          "scale": [{"what": d(st.sampled_from(["delay", "fix", "service"]))}]},
            }
            if cls["attributes"]["size"]["scale"][0]["what"] == "service":
                cls["attributes"]["size"]["scale"][0]["by"]["large"] = 2.0
            if d(st.booleans()):  # priority by attribute: the first rule that holds
                cls["priority_when"] = [
                    {"when": d(st.sampled_from(["park", "size == 'large'", "ready > 1.2",
                                                "not park and size != 'small'"])),
                     "priority": d(st.integers(0, 3))} for _ in range(d(st.integers(1, 2)))]
        for name in items:
            when = d(st.sampled_from([None, None, "park", "not park", "size == 'large'",
                                      "size in ('small', 'mid') or ready > 1.2"]))
            if when is not None:
                data["items"][name]["when"] = when
        for route in data["routes"].values():  # some choices by condition instead
            for stage in route["stages"]:
                if stage["mode"] == "choice" and d(st.booleans()):
                    for br in stage["branches"]:
                        del br["probability"]
                    for br in stage["branches"][:-1]:
                        br["when"] = d(st.sampled_from(["park", "size == 'large'",
                                                        "ready > 1.0", "not park"]))
    return data


def check_scenario(data: dict[str, Any], rep: int) -> None:
    m = model_of(data)
    inp = draw(m, rep)
    ref = des.simulate(m, inp)
    ev = vector.simulate(m, inp, feedforward=False)
    assert_same(ref, ev)
    assert_same(ev, vector.simulate(m, inp), exact=True)  # station-by-station if it applies
    # without visit records (the station-by-station pass has a faster recursion for them)
    assert_same(vector.simulate(m, inp, record_visits=False, feedforward=False),
                vector.simulate(m, inp, record_visits=False), exact=True)
    # the triple at each stage's end: the same on both engines and both passes; keeping it
    # changes no other record; a completed case's stages add up to its whole triple
    sd = des.simulate(m, inp, stages=True)
    sv = vector.simulate(m, inp, feedforward=False, stages=True)
    assert_same(sd, sv)
    assert_same(sv, vector.simulate(m, inp, stages=True), exact=True)
    sv.t_stages = None
    assert_same(ev, sv, exact=True)
    assert sd.t_stages is not None
    done = sd.status == 1
    tri = np.stack([sd.t_service, sd.t_queue, sd.t_applicant], axis=1)[done]
    np.testing.assert_allclose(np.nansum(stage_parts(sd.t_stages[done]), axis=1), tri,
                               rtol=1e-9, atol=1e-9)
    # a completed case ended every stage of its route, and no other
    stages = np.diff(m.route_stage_ptr)[m.class_route[inp.cls[done]]]
    ended = ~np.isnan(sd.t_stages[done, :, 0])
    np.testing.assert_array_equal(ended, np.arange(ended.shape[1]) < stages[:, None])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), rep=st.integers(0, 3))
def test_generated_scenarios_match_des(data: dict[str, Any], rep: int) -> None:
    check_scenario(data, rep)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), rep=st.integers(0, 3))
def test_generated_scenarios_match_des_many(data: dict[str, Any], rep: int) -> None:
    check_scenario(data, rep)


def hide_unused(inp: Inputs) -> Inputs:
    """The inputs with NaN wherever a case cannot use a value (see ``Inputs``): the
    durations draw() does not compute. An engine that read one would spread the NaN."""
    n, J, K = inp.service.shape
    made = np.empty((n, J, K), dtype=np.bool_)
    made[:, :, 0] = inp.run_item
    for k in range(1, K):
        made[:, :, k] = made[:, :, k - 1] & inp.deficient[:, :, k - 1]
    fixed = made & inp.deficient
    fixed[:, :, K - 1] = False
    out = Inputs(**{f: getattr(inp, f) for f in Inputs.__dataclass_fields__})
    for name, used in (("service", made), ("lag", made), ("patience", made),
                       ("fix", fixed), ("delay", inp.run_item), ("audit_service", inp.audit)):
        a = np.array(getattr(inp, name), dtype=np.float64)  # a writable copy
        a[~used] = np.nan
        setattr(out, name, a)
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), rep=st.integers(0, 3))
def test_engines_never_read_what_draw_does_not_compute(data: dict[str, Any], rep: int) -> None:
    m = model_of(data)
    inp = draw(m, rep)
    hidden = hide_unused(inp)
    assert_same(des.simulate(m, inp), des.simulate(m, hidden), exact=True)
    for ff in (True, False):
        assert_same(vector.simulate(m, inp, feedforward=ff),
                    vector.simulate(m, hidden, feedforward=ff), exact=True)


def test_draw_computes_only_usable_durations() -> None:
    """Shipped construction scenario: unreachable submissions carry 0, reachable ones the
    values a full transform gives (checked on the engines above); and some are skipped."""
    from sim.model.scenario import load

    m = build(load(Path(__file__).parent.parent / "scenarios" / "hohhot-construction-2023.toml"),
              "construction", warn=False)
    inp = draw(m, 0, cases=slice(0, 300))
    hidden = hide_unused(inp)
    unused = np.isnan(hidden.service)
    assert unused.any() and (~unused).any()
    assert np.all(inp.service[unused] == 0.0)
    assert np.all(inp.service[~unused] > 0.0)
    assert np.all(inp.fix[np.isnan(hidden.fix)] == 0.0)


@st.composite
def lines(draw_: st.DrawFn) -> dict[str, Any]:
    """Feed-forward scenarios (the station-by-station pass applies): several routes."""
    d = draw_
    data = d(scenarios())
    data["rework"] = {"deficiency_per_material": 0.0}
    data.pop("pools", None)
    for c in data["classes"].values():
        c.pop("agent_pool", None)
        c["proxy_share"] = 0.0
        c["priority"] = 0
        for rule in c.get("priority_when", []):  # every case one priority: the pass applies
            rule["priority"] = 0
        if "channels" in c.get("arrivals", {}):
            c["arrivals"]["channels"] = [ch if ch != "proxy" else "window"
                                         for ch in c["arrivals"]["channels"]]
    for s in data["stations"].values():
        s.pop("patience", None)
        s.pop("schedule", None)  # counts that change over time: the event loop's
        s.pop("sessions", None)  # so are review sessions
    stations = list(data["stations"])
    for k, item in enumerate(data["items"].values()):
        item["audit_probability"] = 0.0
        item["station"] = stations[k % len(stations)]  # routes in item order visit in order
    for r in data["routes"].values():
        chain, last = [], -1  # stations in increasing order: one global order, no revisit
        listed = (j for s in r["stages"] for j in s.get("items") or [
            x for b in s["branches"] for x in b["items"]])
        for j in sorted(listed, key=lambda n: int(n[1:])):
            k = stations.index(data["items"][j]["station"])
            if k > last:
                chain.append(j)
                last = k
        r["stages"] = [{"name": f"g{k}", "items": [j]} for k, j in enumerate(chain)]
    return data


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=lines(), rep=st.integers(0, 3))
def test_station_by_station_pass_matches(data: dict[str, Any], rep: int) -> None:
    m = model_of(data)
    inp = draw(m, rep)
    assert inp.n == 0 or feedforward.feedforward_plan(m, inp) is not None
    check_scenario(data, rep)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), rep=st.integers(0, 3), chunk=st.integers(1, 40))
def test_generated_streaming_and_slices(data: dict[str, Any], rep: int, chunk: int) -> None:
    m = model_of(data)
    whole = draw(m, rep)
    for a, b in ((0, chunk), (chunk, 3 * chunk), (whole.n // 2, whole.n + 5)):
        part = draw(m, rep, cases=slice(a, b))
        for f in Inputs.__dataclass_fields__:
            if f != "replication":
                np.testing.assert_array_equal(getattr(whole, f)[a:b], getattr(part, f), f)
    ref = vector.simulate(m, whole, feedforward=False)
    assert_same(ref, vector.simulate_streaming(m, rep, chunk=chunk, record_visits=True),
                exact=True)


_NEGATIVE_INDEX = """
import numpy as np
from numba import njit
from sim.engines.vector.kernels import _u
f = njit(lambda a, i: a[_u(i)])
try:
    f(np.zeros(3), -1)
except IndexError:
    print("caught")
"""


@pytest.mark.slow
def test_kernels_never_index_below_zero(tmp_path: Path) -> None:
    """The kernels index with ``_u(i)`` (unsigned: no wraparound), so a negative index
    would read out of bounds. With numba's bounds checks on, one raises IndexError:
    this file's tests, the generated scenarios of test_properties.py and the benchmarks'
    loops (test_benchmarks.py), compiled that way in a fresh cache, must all still pass."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "nc")}
    root = Path(__file__).resolve().parent.parent
    probe = subprocess.run([sys.executable, "-c", _NEGATIVE_INDEX], env=env, cwd=root,
                           capture_output=True, text=True, timeout=300)
    assert probe.stdout.strip() == "caught", probe.stderr  # the checks are on
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          "-m", "not slow", str(Path(__file__)),
                          str(root / "tests" / "test_properties.py"),
                          str(root / "tests" / "test_benchmarks.py")], env=env, cwd=root,
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
