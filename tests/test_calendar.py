"""Tests of the working calendar (sim.model.calendar)."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta
from importlib.resources import files

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.model.calendar import (
    WorkCalendar,
    datetime_of,
    hours_of,
    next_open_scalar,
    to_abs_scalar,
    to_work_scalar,
)
from sim.model.dayindex import day_walk, open_index

START = date(2023, 1, 1)
DAYS = (date(2027, 1, 1) - START).days  # all of 2023-2026
HOURS = [("09:00", "12:00"), ("13:30", "17:30")]
CAL = WorkCalendar.build("office", START, DAYS, HOURS)
ALWAYS = WorkCalendar.always_open()

# Every interval boundary, the calendar's edges, and points just around them.
_EDGES = np.concatenate([CAL.open, CAL.close])
SPECIAL_T = sorted(
    set(_EDGES.tolist())
    | set(np.nextafter(_EDGES, -np.inf).tolist())
    | set(np.nextafter(_EDGES, np.inf).tolist())
    | {-1.0, 0.0, CAL.end_hours + 5.0}
)
SPECIAL_W = sorted(set(CAL.cum.tolist()) | set(CAL.cend.tolist()))
TOTAL_W = float(CAL.cend[-1])

# Times/work amounts on a 1/1024 h grid: with boundaries on quarter hours all
# arithmetic is exact there, so round trips hold with ==.
grid_t = st.integers(-10 * 1024, int((CAL.end_hours + 10) * 1024)).map(lambda i: i / 1024)
grid_w = st.integers(0, int(TOTAL_W * 1024)).map(lambda i: i / 1024)
any_t = st.one_of(
    st.floats(-50.0, CAL.end_hours + 50.0, allow_nan=False), st.sampled_from(SPECIAL_T)
)
any_w = st.one_of(st.floats(0.0, TOTAL_W + 50.0, allow_nan=False), st.sampled_from(SPECIAL_W))


def at(day: date, clock: str) -> float:
    """Absolute hours of ``day`` at ``clock`` ('HH:MM') in CAL's time base."""
    hh, mm = map(int, clock.split(":"))
    return hours_of(datetime(day.year, day.month, day.day, hh, mm), START)


# --------------------------------------------------------------------------- #
# Known dates
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2023, 1, 23), False),  # Spring Festival Monday
        (date(2023, 1, 28), True),  # swapped working Saturday
        (date(2023, 10, 7), True),  # swapped working Saturday (National Day)
        (date(2023, 10, 2), False),  # National Day Monday
        (date(2024, 2, 4), True),  # swapped working Sunday
        (date(2024, 2, 3), False),  # normal Saturday
        (date(2024, 2, 5), True),  # normal Monday
        (date(2025, 1, 28), False),  # Spring Festival eve 2025
        (date(2026, 2, 28), True),  # swapped working Saturday
        (date(2026, 2, 23), False),  # last day of Spring Festival 2026 (Monday)
    ],
)
def test_known_dates(day: date, expected: bool) -> None:
    assert CAL.is_open(at(day, "10:00")) is expected
    assert CAL.is_open(at(day, "15:00")) is expected


def test_opening_hours_and_lunch_break() -> None:
    day = date(2023, 3, 1)  # an ordinary Wednesday
    assert not CAL.is_open(at(day, "08:59"))
    assert CAL.is_open(at(day, "09:00"))
    assert CAL.is_open(at(day, "11:59"))
    assert not CAL.is_open(at(day, "12:00"))  # lunch break [12:00, 13:30)
    assert not CAL.is_open(at(day, "13:00"))
    assert CAL.is_open(at(day, "13:30"))
    assert not CAL.is_open(at(day, "17:30"))
    assert CAL.next_open(at(day, "12:15")) == at(day, "13:30")
    assert CAL.next_open(at(day, "18:00")) == at(date(2023, 3, 2), "09:00")
    assert CAL.hours_per_day == 7.0


def test_working_hours_january_2023() -> None:
    # January 2023 starts on a Sunday: 5 Mondays (2, 9, 16, 23, 30), 5 Tuesdays
    # (3, 10, 17, 24, 31) and 4 each of Wed/Thu/Fri -> 22 weekdays.
    # Holidays on weekdays: Jan 2 (New Year) and Jan 23-27 (Spring Festival)
    # -> 22 - 6 = 16.  Swapped working weekend days: Sat Jan 28, Sun Jan 29
    # -> 18 working days of 7 h = 126 h.
    t0, t1 = hours_of(date(2023, 1, 1), START), hours_of(date(2023, 2, 1), START)
    assert CAL.working_hours_between(t0, t1) == 18 * 7.0
    assert CAL.workdays(t0, t1) == 18.0
    # Without the holiday schedule: the 22 weekdays.
    plain = WorkCalendar.build("plain", START, 31, HOURS, holidays="none")
    assert plain.working_hours_between(0.0, plain.end_hours) == 22 * 7.0
    assert plain.uncovered_years == ()


def test_holiday_file_is_consistent() -> None:
    raw = tomllib.loads(files("sim").joinpath("data/cn_holidays.toml").read_text(encoding="utf-8"))
    assert sorted(raw) == ["2023", "2024", "2025", "2026"]
    for year, table in raw.items():
        for d in table["work"]:
            assert d.weekday() >= 5, f"{year}: swapped working day {d} is not a weekend"
            assert CAL.is_open(at(d, "10:00"))
        for d in table["off"]:
            if d >= START:
                assert not CAL.is_open(at(d, "10:00")), f"{year}: {d} should be closed"


def _open_days(cal: WorkCalendar, first: date, n: int) -> list[date]:
    days = (first + timedelta(days=i) for i in range(n))
    return [d for d in days if cal.is_open(hours_of(datetime(d.year, d.month, d.day, 10), first))]


def test_swapped_days_of_february_2024_from_the_file() -> None:
    # the 2024 notice: Spring Festival off Sat 10 - Sat 17 February, worked on Sun 4 and
    # Sun 18 February; the test reads the file so that it checks what the calendar uses
    raw = tomllib.loads(files("sim").joinpath("data/cn_holidays.toml").read_text(encoding="utf-8"))
    feb_work = [d for d in raw["2024"]["work"] if d.month == 2]
    assert feb_work == [date(2024, 2, 4), date(2024, 2, 18)]
    assert all(d.weekday() == 6 for d in feb_work)  # both Sundays
    assert [d for d in raw["2024"]["off"] if d.month == 2] == [
        date(2024, 2, 10) + timedelta(days=i) for i in range(8)]


def test_swapped_working_day_opens_only_a_monday_to_friday_calendar() -> None:
    first = date(2024, 2, 1)
    week = WorkCalendar.build("week", first, 29, HOURS)
    wednesdays = WorkCalendar.build("committee", first, 29, HOURS, weekdays=(2,))
    sundays = [d for d in _open_days(week, first, 29) if d.weekday() >= 5]
    assert sundays == [date(2024, 2, 4), date(2024, 2, 18)]
    # Mon-Fri: 21 weekdays in February 2024, 5 of them in the holiday (12-16), plus the
    # two swapped Sundays
    assert len(_open_days(week, first, 29)) == 21 - 5 + 2
    # Wednesday-only: Wed 7, 21, 28 (Wed 14 is Spring Festival); never a Sunday
    assert _open_days(wednesdays, first, 29) == [date(2024, 2, 7), date(2024, 2, 21),
                                                 date(2024, 2, 28)]
    whole_year = WorkCalendar.build("committee", date(2024, 1, 1), 366, HOURS, weekdays=(2,))
    opened = _open_days(whole_year, date(2024, 1, 1), 366)
    assert opened and all(d.weekday() == 2 for d in opened)
    # a calendar that works Monday to Saturday keeps the national week: the swapped
    # Sundays open it too; one that skips Friday does not
    six = WorkCalendar.build("six", first, 29, HOURS, weekdays=range(6))
    assert date(2024, 2, 18) in _open_days(six, first, 29)
    four = WorkCalendar.build("four", first, 29, HOURS, weekdays=range(4))
    assert [d for d in _open_days(four, first, 29) if d.weekday() >= 5] == []
    # an office that does meet on a swapped day says so
    extra = WorkCalendar.build("committee", first, 29, HOURS, weekdays=(2,),
                               extra_workdays=[date(2024, 2, 18)])
    assert date(2024, 2, 18) in _open_days(extra, first, 29)


def test_uncovered_years_fall_back_to_weekdays() -> None:
    cal = WorkCalendar.build("x", date(2022, 12, 26), 14, HOURS)
    assert cal.uncovered_years == (2022,)
    # 2022-12-26..30 are weekdays (2022 unknown: open); 2023-01-02 is New Year.
    base = date(2022, 12, 26)
    for i, expected in enumerate(
        [True] * 5 + [False] * 2 + [False, True, True, True, True, False, False]
    ):
        day = base + timedelta(days=i)
        t = hours_of(datetime(day.year, day.month, day.day, 10), base)
        assert cal.is_open(t) is expected, day
    late = WorkCalendar.build("y", date(2026, 12, 28), 10, HOURS)
    assert late.uncovered_years == (2027,)


def test_closed_dates_and_extra_workdays() -> None:
    cal = WorkCalendar.build(
        "x",
        date(2023, 3, 1),
        7,
        HOURS,
        closed_dates=[date(2023, 3, 1)],
        extra_workdays=[date(2023, 3, 4)],
    )
    day0 = date(2023, 3, 1)
    assert not cal.is_open(hours_of(datetime(2023, 3, 1, 10), day0))
    assert cal.is_open(hours_of(datetime(2023, 3, 4, 10), day0))
    assert not cal.is_open(hours_of(datetime(2023, 3, 5, 10), day0))
    # Wed 1 closed; Thu 2, Fri 3, Sat 4 (extra), Mon 6, Tue 7 open.
    assert cal.working_hours_between(0.0, cal.end_hours) == 5 * 7.0


def test_full_day_period_and_end() -> None:
    cal = WorkCalendar.build("24h", date(2023, 3, 6), 7, [("00:00", "24:00")], holidays="none")
    assert cal.hours_per_day == 24.0
    assert cal.end_hours == 5 * 24.0
    assert cal.to_work(30.5) == 30.5
    assert cal.to_work(1e6) == 120.0
    assert cal.to_abs(120.0) == 120.0
    assert cal.to_abs(120.5) == float("inf")
    assert cal.next_open(120.0) == float("inf")


def test_hours_of_datetime_of() -> None:
    moment = datetime(2024, 2, 29, 13, 45)
    h = hours_of(moment, START)
    assert h == ((date(2024, 2, 29) - START).days * 24 + 13.75)
    assert datetime_of(h, START) == moment
    assert hours_of(START, START) == 0.0


# --------------------------------------------------------------------------- #
# Round trips and invariants (property-based)
# --------------------------------------------------------------------------- #


@given(grid_w)
def test_to_work_of_to_abs_is_identity_on_grid(w: float) -> None:
    assert CAL.to_work(CAL.to_abs(w)) == w


@given(st.floats(0.0, TOTAL_W, allow_nan=False))
def test_to_work_of_to_abs_close_for_any_float(w: float) -> None:
    # Arbitrary floats lose low bits when added to a large open[k]; the error
    # is a few ulps of the absolute time.
    assert CAL.to_work(CAL.to_abs(w)) == pytest.approx(w, rel=0, abs=1e-9)


@given(grid_t)
def test_to_abs_of_to_work_is_left_inverse(t: float) -> None:
    back = CAL.to_abs(CAL.to_work(t))
    if t < CAL.open[0]:
        # Before the first opening no work has elapsed; to_abs(0) = open[0].
        assert back == CAL.open[0]
        return
    assert back <= t
    if CAL.is_open(t):
        assert back == t


@given(any_t, any_t)
def test_to_work_is_monotone(a: float, b: float) -> None:
    t0, t1 = min(a, b), max(a, b)
    assert CAL.to_work(t0) <= CAL.to_work(t1)
    assert 0.0 <= CAL.to_work(t0) <= TOTAL_W


@given(any_t)
def test_next_open(t: float) -> None:
    nxt = CAL.next_open(t)
    if t >= CAL.end_hours:
        assert nxt == float("inf")
        return
    assert nxt >= t
    assert CAL.is_open(nxt)
    # Nothing is open strictly between t and nxt: no working time elapses.
    assert CAL.to_work(nxt) == CAL.to_work(t)
    if CAL.is_open(t):
        assert nxt == t


def _bits(values: object) -> bytes:
    return np.asarray(values, dtype=np.float64).tobytes()


@settings(max_examples=60)
@given(
    hnp.arrays(np.float64, st.integers(0, 40), elements=any_t),
    hnp.arrays(np.float64, st.integers(0, 40), elements=any_w),
)
def test_vector_equals_scalar_bit_for_bit(ts: np.ndarray, ws: np.ndarray) -> None:
    tables = CAL.open, CAL.close, CAL.cum, CAL.cend
    lists = CAL.scalar_tables
    for arg_tables in (tables, lists):
        o, c, cu, ce = arg_tables
        assert _bits(CAL.to_work(ts)) == _bits([to_work_scalar(o, c, cu, ce, t) for t in ts])
        assert _bits(CAL.next_open(ts)) == _bits([next_open_scalar(o, c, t) for t in ts])
        assert _bits(CAL.to_abs(ws)) == _bits([to_abs_scalar(ce, o, cu, w) for w in ws])
    assert _bits(CAL.to_work(ts)) == _bits([CAL.to_work(float(t)) for t in ts])
    assert _bits(CAL.to_abs(ws)) == _bits([CAL.to_abs(float(w)) for w in ws])
    assert _bits(CAL.next_open(ts)) == _bits([CAL.next_open(float(t)) for t in ts])
    assert CAL.is_open(ts).tolist() == [CAL.is_open(float(t)) for t in ts]
    assert _bits(CAL.workdays(ts, ts + 30.0)) == _bits(
        [CAL.workdays(float(t), float(t) + 30.0) for t in ts]
    )
    assert all(isinstance(CAL.to_work(float(t)), float) for t in ts[:3])


@given(st.floats(0.0, 1e11, allow_nan=False))
def test_always_open_is_identity(t: float) -> None:
    assert ALWAYS.to_work(t) == t
    assert ALWAYS.to_abs(t) == t
    assert ALWAYS.next_open(t) == t
    assert ALWAYS.is_open(t)
    arr = np.array([t, t / 3.0])
    assert _bits(ALWAYS.to_work(arr)) == _bits(arr)
    assert _bits(ALWAYS.to_abs(arr)) == _bits(arr)


def test_always_open_shape() -> None:
    assert ALWAYS.hours_per_day == 24.0
    assert ALWAYS.open.tolist() == [0.0] and ALWAYS.close.tolist() == [1e12]
    assert ALWAYS.workdays(0.0, 48.0) == 2.0
    with pytest.raises(ValueError, match="exceeds"):
        WorkCalendar.always_open(horizon_hours=2e12)


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


def test_no_working_time_raises() -> None:
    with pytest.raises(ValueError, match="no working time"):
        WorkCalendar.build("x", START, 30, HOURS, weekdays=(), holidays="none")
    # March 2023 has no swapped working days either.
    with pytest.raises(ValueError, match="no working time"):
        WorkCalendar.build("x", date(2023, 3, 1), 31, HOURS, weekdays=())
    # ...nor does a swapped working Saturday open a calendar without weekdays (it opens
    # only the ones that work all of Monday to Friday)
    with pytest.raises(ValueError, match="no working time"):
        WorkCalendar.build("x", date(2023, 1, 28), 1, HOURS, weekdays=())
    cal = WorkCalendar.build("x", date(2023, 1, 28), 1, HOURS)
    assert cal.working_hours_between(0.0, 24.0) == 7.0


@pytest.mark.parametrize(
    "hours",
    [
        [],
        [("12:00", "09:00")],
        [("09:00", "09:00")],
        [("09:00", "12:00"), ("11:00", "17:00")],  # overlap
        [("13:00", "17:00"), ("09:00", "12:00")],  # not increasing
        [("25:00", "26:00")],
        [("09:60", "10:00")],
        [("24:00", "24:00")],  # 24:00 only as an end
        [("09:00", "24:30")],
        [("9h", "12:00")],
        [("09:00",)],
    ],
)
def test_malformed_periods_raise(hours: list[tuple[str, ...]]) -> None:
    with pytest.raises(ValueError):
        WorkCalendar.build("x", START, 7, hours)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": 0},
        {"holidays": "us"},
        {"weekdays": (7,)},
        {"closed_dates": [START], "extra_workdays": [START]},
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"name": "x", "start_date": START, "days": 7, "hours": HOURS}
    args.update(kwargs)
    with pytest.raises(ValueError):
        WorkCalendar.build(**args)  # type: ignore[arg-type]


def test_inconsistent_tables_raise() -> None:
    one = np.array([1.0])
    with pytest.raises(ValueError):
        WorkCalendar("x", one, one, np.array([0.0]), np.array([0.0]), 7.0)
    with pytest.raises(ValueError):
        WorkCalendar("x", np.array([0.0]), np.array([2.0]), np.array([0.0]), np.array([1.0]), 7.0)


NIGHT = WorkCalendar.build("night", START, 40, [("00:00", "00:15"), ("06:00", "06:30"),
                                                ("23:45", "24:00")])
FAR = WorkCalendar.from_intervals("far", [(0.0, 8.0), (3e6, 3e6 + 8.0)], 8.0)  # no day table


@pytest.mark.parametrize("cal", [CAL, ALWAYS, NIGHT, FAR], ids=["office", "always", "night",
                                                                 "far"])
def test_open_index_is_the_bisection(cal: WorkCalendar) -> None:
    """The walk from the day before's start finds searchsorted(open, t, 'right') - 1 at
    every boundary, just around it, at day starts, outside the calendar and at NaN."""
    rng = np.random.default_rng(7)
    edges = np.concatenate([cal.open, cal.close,
                            np.arange(-3, min(cal.end_hours, 1e5) / 24 + 3) * 24])
    edges = edges[np.abs(edges) < 1e9]
    t = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf),
                        rng.uniform(-100.0, min(cal.end_hours, 1e5) + 100.0, 20000),
                        [np.nan, np.inf, -np.inf, -0.0, 1e11]])
    want = np.searchsorted(cal.open, t, side="right") - 1
    assert np.array_equal(open_index(day_walk(cal.open), cal.open, t), want)
    assert np.array_equal(cal.to_work(t[:-5]), np.array([cal.to_work(float(x)) for x in t[:-5]]))
