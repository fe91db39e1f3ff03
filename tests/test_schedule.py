"""Staffing over time (docs/model.md, "Staffing over time"): a station's schedule.

* the change instants a schedule gives, and the scheduled server-working-hours;
* a hand-checked run on both engines: servers arriving take waiting entries at once, a
  server leaving mid-service finishes the case first, simultaneous changes and releases
  follow the simultaneity rule, utilization divides by the scheduled hours;
* an M/M/c whose c alternates between 3 and 5 day by day: each period's mean wait is
  Erlang C's for its c (tolerance from the replications' spread);
* bad schedules: one line naming file, field, rule and value, exit code 2;
* ``--set stations.X.schedule[0].servers`` and staffing's shifted entries.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analytic import mmc
from sim.cli import main
from sim.engines import des, vector
from sim.engines.vector import feedforward
from sim.errors import ScenarioError
from sim.experiments.grid import apply_point
from sim.experiments.staffing import staffing_point
from sim.experiments.sweep import sweep
from sim.inputs import draw
from sim.model import build
from sim.model.scenario import parse
from sim.model.schedule import ScheduleEntry, change_instants, check_overlaps
from sim.results.records import station_table
from tests.test_vector import assert_same, hand_inputs

MONDAY = dt.date(2023, 1, 2)


def _one_station(schedule: list[dict[str, Any]], servers: int = 1,
                 days: float = 1.0, **run: Any) -> dict[str, Any]:
    return {
        "run": {"start_date": MONDAY, "horizon_days": days, "calendar": "always", **run},
        "classes": {"c": {"rate": 1.0, "per": "hour"}},
        "stations": {"desk": {"servers": servers, "calendar": "always",
                              "schedule": schedule}},
        "items": {"a": {"station": "desk",
                        "service": {"dist": "exponential", "mean": 1.0}}},
        "routes": {"main": {"stages": [{"name": "g", "items": ["a"]}]}},
    }


def test_change_instants() -> None:
    entries = [ScheduleEntry(servers=2, hours=("01:00", "02:00")),
               ScheduleEntry(servers=0, hours=("03:00", "05:00"), weekdays=[1]),
               ScheduleEntry(servers=3, hours=("05:00", "24:00"), weekdays=[1],
                             dates=(MONDAY, MONDAY)),
               ScheduleEntry(servers=1, hours=("00:00", "01:00"), weekdays=[2])]
    t, n = change_instants(1, entries, MONDAY, 48.0)
    # Monday: 2 at 1h, back to 1 at 2h, 0 at 3h, 3 from 5h to midnight; Tuesday: 1 until
    # 1h (the base: no change), 2 from 1h to 2h
    assert t.tolist() == [1.0, 2.0, 3.0, 5.0, 24.0, 25.0, 26.0]
    assert n.tolist() == [2, 1, 0, 3, 1, 2, 1]
    # entries back to back at 2h, and a horizon that cuts the list
    t, n = change_instants(1, [ScheduleEntry(servers=2, hours=("01:00", "02:00")),
                               ScheduleEntry(servers=4, hours=("02:00", "03:00"))],
                           MONDAY, 2.5)
    assert t.tolist() == [1.0, 2.0] and n.tolist() == [2, 4]
    # an entry at the count it replaces changes nothing; one at hour 0 changes at 0
    t, n = change_instants(2, [ScheduleEntry(servers=2, hours=("01:00", "02:00")),
                               ScheduleEntry(servers=5, dates=(MONDAY, MONDAY))], MONDAY, 30)
    assert t.tolist() == [0.0, 24.0] and n.tolist() == [5, 2]


def test_hand_checked_run_on_both_engines() -> None:
    """Base 1, 2 servers from 1h to 2h, none from 3h to 5h; services of 2 hours.

    Case 0 (0.0) is served 0-2. Case 1 (0.5) waits until the second server arrives at
    1.0 and is served 1-3. Case 2 (0.6): at 2.0 case 0 ends as the count falls to 1, with
    case 1 still served, so nothing is dispatched (the release and the change at 2.0
    both come before the dispatch); at 3.0 case 1 ends as the count falls to 0; at 5.0
    the server is back and takes case 2: served 5-7.
    """
    data = _one_station([{"servers": 2, "hours": ["01:00", "02:00"]},
                         {"servers": 0, "hours": ["03:00", "05:00"]}])
    m = build(parse(data, "<test>"), "<test>", warn=False)
    assert m.sched_time.tolist() == [1.0, 2.0, 3.0, 5.0]
    inp = hand_inputs(m, [0.0, 0.5, 0.6], np.full(3, 2.0))
    assert feedforward.feedforward_plan(m, inp) is None  # the event loop runs it
    for res in (des.simulate(m, inp), vector.simulate(m, inp)):
        assert res.visits is not None
        np.testing.assert_array_equal(res.visits.start, [0.0, 1.0, 5.0])
        np.testing.assert_array_equal(res.end, [2.0, 3.0, 7.0])
        np.testing.assert_allclose(res.t_queue, [0.0, 0.5, 4.4], rtol=1e-12)
        # the scheduled server-hours of the day: 24 + 1 (1h-2h) - 2 (3h-5h) = 23
        row = station_table(m, res).iloc[0]
        assert m.server_hours(0, 0.0, 24.0) == 23.0
        assert row["utilization"] == pytest.approx(6.0 / 23.0, rel=1e-12)
        assert row["servers"] == 1
    assert_same(des.simulate(m, inp), vector.simulate(m, inp))
    # a leaving server finishes its case: base 2, none from 1h; two 3-hour services at 0
    data = _one_station([{"servers": 0, "hours": ["01:00", "04:00"]}], servers=2)
    m = build(parse(data, "<test>"), "<test>", warn=False)
    inp = hand_inputs(m, [0.0, 0.0, 0.2], np.full(3, 3.0))
    for res in (des.simulate(m, inp), vector.simulate(m, inp)):
        np.testing.assert_array_equal(res.end, [3.0, 3.0, 7.0])  # case 2 waits until 4h


def test_schedule_on_a_working_calendar() -> None:
    """The count applies at dispatch; the work is timed on the calendar as before."""
    data = _one_station([{"servers": 2, "hours": ["09:00", "10:00"]}], days=2.0)
    data["calendars"] = {"office": {"hours": [["09:00", "12:00"]], "holidays": "none"}}
    data["stations"]["desk"]["calendar"] = "office"
    m = build(parse(data, "<test>"), "<test>", warn=False)
    inp = hand_inputs(m, [8.0, 8.5], np.full(2, 2.0))
    for res in (des.simulate(m, inp), vector.simulate(m, inp)):
        assert res.visits is not None
        # case 0 is taken at 8.0 by the one server (work from 9 to 11); case 1 by the second
        # server arriving at 9.0 (9 to 11)
        np.testing.assert_array_equal(res.visits.start, [9.0, 9.0])
        np.testing.assert_array_equal(res.end, [11.0, 11.0])
        # the denominator: 3 working hours a day x 1, plus 1 hour x 1 on each day
        assert m.server_hours(0, 0.0, 48.0) == pytest.approx(8.0)


def test_mmc_with_alternating_servers_meets_erlang_c_per_period() -> None:
    """M/M/c, λ = 20/h, μ = 10/h (a = 2 Erlangs), c = 5 on Mon, Wed, Fri, Sun and c = 3
    (the base) on the other days. The relaxation time of the M/M/3 (ρ = 2/3) is about
    1/(cμ(1 - √ρ)²) = 1 hour, so a day is a long period: the visits that join after the
    first 4 hours of a day wait, on average, Erlang C's Wq for that day's c. The
    tolerance: 4 standard errors of the mean over replications, plus 3% for what is left
    of the transient after 4 hours (e^-4 of the gap between the two regimes)."""
    data = _one_station([{"servers": 5, "weekdays": [1, 3, 5, 7]}], servers=3, days=28.0)
    data["classes"]["c"]["rate"] = 20.0
    data["items"]["a"]["service"]["mean"] = 0.1
    m = build(parse(data, "<test>"), "<test>", warn=False)
    # 5 from hour 0 (a Monday), then 3, 5, ... (Sunday and Monday both at 5)
    assert m.sched_time.size == 25 and m.sched_servers[:3].tolist() == [5, 3, 5]
    R = 8
    waits: dict[int, list[float]] = {3: [], 5: []}
    counts = {3: 0, 5: 0}
    for r in range(R):
        res = vector.simulate(m, draw(m, r, 7))
        v = res.visits
        assert v is not None
        day = np.floor(v.joined / 24.0).astype(int)
        late = (v.joined - 24.0 * day >= 4.0) & np.isfinite(v.start)
        c = np.where(np.isin(day % 7, [0, 2, 4, 6]), 5, 3)
        for k in (3, 5):
            sel = late & (c == k)
            waits[k].append(float(np.mean(v.start[sel] - v.joined[sel])))
            counts[k] += int(sel.sum())
    for k in (3, 5):
        wq = mmc(20.0, 10.0, k).wq
        x = np.asarray(waits[k])
        se = x.std(ddof=1) / math.sqrt(R)
        assert abs(x.mean() - wq) <= 4 * se + 0.03 * wq, (k, x.mean(), wq, se, counts[k])
    # the denominator follows the schedule: 16 days at 5 servers and 12 at 3
    assert m.server_hours(0, 0.0, 28 * 24.0) == pytest.approx(24.0 * (16 * 5 + 12 * 3))


@pytest.mark.parametrize(("entry", "field", "rule"), [
    ({"servers": -1}, "stations.desk.schedule[0].servers", "must be an integer >= 0 (got -1)"),
    ({"servers": 2, "hours": ["09:00", "25:00"]}, "stations.desk.schedule[0].hours[1]",
     "must be a time of day HH:MM (got '25:00')"),
    ({"servers": 2, "hours": ["12:00", "09:00"]}, "stations.desk.schedule[0].hours",
     "must be an increasing period [from, to) (got ['12:00', '09:00'])"),
    ({"servers": 2, "hours": ["12:00", "24:30"]}, "stations.desk.schedule[0].hours",
     "must be times of day from 00:00 to 24:00 (got ['12:00', '24:30'])"),
    ({"servers": 2, "dates": ["2023-13-01", "2023-12-31"]},
     "stations.desk.schedule[0].dates[0]", "must be a date (YYYY-MM-DD) (got '2023-13-01')"),
])
def test_bad_entries_name_field_rule_and_value(tmp_path: Path, capsys: Any,
                                               entry: dict[str, Any], field: str,
                                               rule: str) -> None:
    data = _one_station([entry])
    data["stations"]["desk"]["schedule"] = [entry]
    p = tmp_path / "bad.toml"
    p.write_text(tomli_w.dumps(data).replace("'2023-13-01'", '"2023-13-01"'))
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"bad.toml: {field} {rule}" in " ".join(err.split()), err


def test_overlapping_entries_are_one_clear_error() -> None:
    data = _one_station([{"servers": 2, "weekdays": [1, 2], "hours": ["09:00", "12:00"]},
                         {"servers": 3, "weekdays": [2, 3], "hours": ["11:00", "13:00"]}])
    with pytest.raises(ScenarioError) as exc:
        parse(data, "s.toml")
    assert str(exc.value) == (
        "s.toml: stations.desk.schedule[1] overlaps schedule[0] (every date, weekdays "
        "[1, 2], 09:00-12:00): entries must not cover the same hour (got 'every date, "
        "weekdays [2, 3], 11:00-13:00')")
    # the same hours on other weekdays, or on dates apart, do not overlap
    data["stations"]["desk"]["schedule"][1]["weekdays"] = [3]
    parse(data, "s.toml")
    data["stations"]["desk"]["schedule"][1].update(
        weekdays=[2], dates=[MONDAY + dt.timedelta(days=7), MONDAY + dt.timedelta(days=9)])
    data["stations"]["desk"]["schedule"][0]["dates"] = [MONDAY, MONDAY + dt.timedelta(days=6)]
    parse(data, "s.toml")
    # sharing one date, a Monday, that the second entry (Tuesdays) does not work: no overlap
    data["stations"]["desk"]["schedule"][0]["dates"][1] = MONDAY + dt.timedelta(days=7)
    parse(data, "s.toml")
    data["stations"]["desk"]["schedule"][0]["dates"][1] = MONDAY + dt.timedelta(days=8)
    with pytest.raises(ScenarioError, match=r"schedule\[1\] overlaps schedule\[0\]"):
        parse(data, "s.toml")


def test_set_and_staff_reach_schedule_entries() -> None:
    data = _one_station([{"servers": 2, "hours": ["09:00", "12:00"]},
                         {"servers": 0, "hours": ["12:00", "13:00"]}], servers=1)
    base = parse(data, "<test>")
    for path in ("stations.desk.schedule[0].servers", "stations.desk.schedule.0.servers"):
        s = apply_point(base, {path: 4})
        assert s.stations["desk"].schedule[0].servers == 4
    point = staffing_point(base, {"desk": 3})
    assert point == {"stations.desk.servers": 3, "stations.desk.schedule[0].servers": 4,
                     "stations.desk.schedule[1].servers": 2}
    s = apply_point(base, point)
    assert [e.servers for e in s.stations["desk"].schedule] == [4, 2]
    assert staffing_point(base, {"desk": 1})["stations.desk.schedule[1].servers"] == 0
    with pytest.raises(Exception, match=r"schedule\[0\]\.servers must be an integer >= 0"):
        apply_point(base, {"stations.desk.schedule[0].servers": -1})


def test_sweep_sets_a_schedule_entry(tmp_path: Path) -> None:
    data = _one_station([{"servers": 1, "hours": ["00:00", "12:00"]}], servers=2, days=5.0)
    data["classes"]["c"]["rate"] = 0.5  # half an Erlang: little backlog at either count
    p = tmp_path / "s.toml"
    p.write_text(tomli_w.dumps(data))
    assert main(["sweep", str(p), "--set", "stations.desk.schedule[0].servers=1,3", "-n", "1",
                 "--out", str(tmp_path / "o"), "-q"]) == 0
    res = sweep(parse(data, "s.toml"), {"stations.desk.schedule[0].servers": [1, 3]},
                replications=1, workers=1)
    u = res.table["stations.desk.utilization"].tolist()
    # about the same work (common random numbers) over 2 x 12 + 1 x 12 and 2 x 12 + 3 x 12
    # server-hours a day
    assert u[0] / u[1] == pytest.approx(60.0 / 36.0, rel=0.05)


HALF_HOURS = [f"{h // 2:02d}:{30 * (h % 2):02d}" for h in range(48)] + ["24:00"]


@st.composite
def entries(d: st.DrawFn) -> list[ScheduleEntry]:
    out = []
    for _ in range(d(st.integers(1, 4))):
        e: dict[str, Any] = {"servers": d(st.integers(0, 6))}
        if d(st.booleans()):
            a = d(st.integers(0, 47))
            e["hours"] = (HALF_HOURS[a], HALF_HOURS[d(st.integers(a + 1, 48))])
        if d(st.booleans()):
            e["weekdays"] = sorted(d(st.sets(st.integers(1, 7), min_size=1)))
        if d(st.integers(0, 2)) > 0:  # dates within the 3 weeks the test looks at
            first = MONDAY + dt.timedelta(days=d(st.integers(0, 11)))
            e["dates"] = (first, first + dt.timedelta(days=d(st.integers(0, 9))))
        out.append(ScheduleEntry(**e))
    return out


@settings(max_examples=300, deadline=None)
@given(es=entries(), base=st.integers(1, 4))
def test_overlaps_and_counts_agree_with_a_brute_force(es: list[ScheduleEntry],
                                                      base: int) -> None:
    """Every half hour of 3 weeks: the entries covering it, counted one by one."""
    days = 21
    cover = np.zeros((days, 48), dtype=int)
    count = np.full((days, 48), base)
    for e in es:
        m0, m1 = e.minute_range()
        for k in range(days):
            day = MONDAY + dt.timedelta(days=k)
            if e.dates is not None and not e.dates[0] <= day <= e.dates[1]:
                continue
            if day.isoweekday() in e.days():
                cover[k, m0 // 30:m1 // 30] += 1
                count[k, m0 // 30:m1 // 30] = e.servers
    try:
        check_overlaps("desk", es, "s.toml")
        disjoint = True
    except ScenarioError:
        disjoint = False
    # every date range lies in the 3 weeks, which hold each weekday 3 times: an overlap
    # shows there
    assert disjoint == (cover.max() <= 1)
    if not disjoint:
        return
    t, n = change_instants(base, es, MONDAY, days * 24.0)
    grid = 0.5 * np.arange(days * 48)
    now = np.concatenate([[base], n])[np.searchsorted(t, grid, side="right")]
    np.testing.assert_array_equal(now, count.ravel())
    assert (np.diff(np.concatenate([[base], n])) != 0).all()  # each instant a change
