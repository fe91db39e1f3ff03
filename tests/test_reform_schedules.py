"""Schedules under the item reforms that move staff (docs/model.md, "Staffing over time"):
``merge_items`` and ``one_go`` with ``staff=true`` move servers with their rota, so at
every half hour the staff on duty add up to what they were, and the donor keeps its
rota moved down by the servers it gave (sim/reforms/rota.py).

* the sum of two schedules against a brute force over every half hour of three weeks;
* a merge by hand: a donor with a lunch rota and a summer peak hands over part of its
  staff, or all of it when it closes, to a station without a schedule or with one.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import reforms as R
from sim.errors import ScenarioError
from sim.model import build
from sim.model.scenario import parse
from sim.model.schedule import ScheduleEntry, check_overlaps
from sim.model.schema import Scenario
from sim.reforms.rota import combine
from tests.test_schedule import MONDAY, entries

DAYS = 21


def counts(base: int, es: Sequence[ScheduleEntry], first: dt.date = MONDAY) -> np.ndarray:
    """The count at every half hour of three weeks, entry by entry (a brute force)."""
    out = np.full((DAYS, 48), base)
    for e in es:
        m0, m1 = e.minute_range()
        for k in range(DAYS):
            day = first + dt.timedelta(days=k)
            if (e.dates is None or e.dates[0] <= day <= e.dates[1]) and \
                    day.isoweekday() in e.days():
                out[k, m0 // 30:m1 // 30] = e.servers
    return out


def disjoint(es: Sequence[ScheduleEntry]) -> bool:
    try:
        check_overlaps("desk", es, "s.toml")
    except ScenarioError:
        return False
    return True


def first_disjoint(es: Sequence[ScheduleEntry]) -> list[ScheduleEntry]:
    """The entries, each left out that overlaps one kept before it."""
    out: list[ScheduleEntry] = []
    for e in es:
        if disjoint([*out, e]):
            out.append(e)
    return out


@settings(max_examples=300, deadline=None)
@given(a=entries(), b=entries(), ab=st.integers(1, 4), bb=st.integers(0, 4))
def test_combined_schedules_add_up_every_half_hour(a: list[ScheduleEntry],
                                                   b: list[ScheduleEntry], ab: int,
                                                   bb: int) -> None:
    a, b = first_disjoint(a), first_disjoint(b)
    base, es = combine((ab, a), (bb, b), lambda x, y: x + y)
    assert base == ab + bb
    assert disjoint(es)  # a schedule the model takes
    np.testing.assert_array_equal(counts(base, es), counts(ab, a) + counts(bb, b))
    # the rota a station keeps when it gives k servers, and the one they take with them
    k = min(ab, 2)
    kept = [e.model_copy(update={"servers": max(e.servers - k, 0)}) for e in a]
    took = [e.model_copy(update={"servers": min(e.servers, k)}) for e in a]
    np.testing.assert_array_equal(counts(ab - k, kept) + counts(k, took), counts(ab, a))


LUNCH = {"servers": 1, "weekdays": [1, 2, 3, 4, 5], "hours": ["12:00", "13:30"]}
PEAK = {"servers": 7, "dates": [MONDAY + dt.timedelta(days=3), MONDAY + dt.timedelta(days=9)],
        "hours": ["09:00", "12:00"]}
EVENING = {"servers": 5, "weekdays": [2, 4], "hours": ["11:00", "18:00"]}


def merging(receiver_schedule: list[dict[str, Any]], donor_keeps_work: bool) -> Scenario:
    item = {"service": {"dist": "exponential", "mean": 2.0}}
    items = {"a": {"station": "front", **item}, "b": {"station": "back", **item}}
    if donor_keeps_work:
        items["c"] = {"station": "back", **item}
    data = {
        "run": {"start_date": MONDAY, "horizon_days": 30.0, "calendar": "always", "seed": 1},
        "calendars": {"always": {"always": True}},
        "classes": {"k": {"rate": 1.0, "per": "hour"}},
        "stations": {"front": {"servers": 2, "calendar": "always",
                               "schedule": copy.deepcopy(receiver_schedule)},
                     "back": {"servers": 4, "calendar": "always",
                              "schedule": [dict(LUNCH), dict(PEAK)]}},
        "items": items,
        "routes": {"main": {"stages": [{"name": "g", "items": list(items)}]}},
    }
    return parse(data, "m.toml")


@pytest.mark.parametrize("receiver_schedule", [[], [EVENING]])
@pytest.mark.parametrize("donor_keeps_work", [True, False])
def test_merge_moves_staff_with_their_rota(receiver_schedule: list[dict[str, Any]],
                                           donor_keeps_work: bool) -> None:
    s = merging(receiver_schedule, donor_keeps_work)
    out = R.apply(s, ["merge_items:items=a+b,staff=true"], "m.toml")
    build(out, "m.toml", warn=False)  # the model takes the new schedules
    before = {n: counts(st.servers, st.schedule) for n, st in s.stations.items()}
    after = {n: counts(st.servers, st.schedule) for n, st in out.stations.items()}
    k = out.stations["front"].servers - s.stations["front"].servers
    assert k >= 1
    if donor_keeps_work:  # the donor keeps its rota, k servers fewer (never below 0)
        assert 0 < k < 4
        np.testing.assert_array_equal(after["back"], np.maximum(before["back"] - k, 0))
        np.testing.assert_array_equal(after["front"] + after["back"],
                                      before["front"] + before["back"])
    else:  # the donor closes: every server on duty at each hour moves
        assert "back" not in out.stations and k == 4
        np.testing.assert_array_equal(after["front"], before["front"] + before["back"])
    # by hand, one hour each: Monday 12:30 (lunch: the donor has 1), Thursday 10:00 (the
    # peak: 7), Tuesday 14:00 (the receiver's evening rota: 5 there, the donor's base 4)
    monday_lunch, thursday_peak, tuesday = (0, 25), (3, 20), (1, 28)
    front0 = 5 if receiver_schedule else 2
    want_front = {monday_lunch: 2 + min(1, k), thursday_peak: 2 + min(7, k),
                  tuesday: front0 + min(4, k)} if donor_keeps_work else {
        monday_lunch: 2 + 1, thursday_peak: 2 + 7, tuesday: front0 + 4}
    for at, n in want_front.items():
        assert after["front"][at] == n, (at, n)
