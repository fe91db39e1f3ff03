"""Staff moved between stations with their rota (docs/model.md, "Staffing over time").

A station's count over time is its base ``servers`` and its ``schedule`` entries (boxes of
dates x weekdays x hours that do not overlap). When a reform moves ``k`` servers from a
donor to a receiver (``merge_items`` and ``one_go`` with ``staff=true``), the ``k`` take
the donor's rota with them: at every instant the donor keeps ``max(c_d(t) - k, 0)`` (its
entries moved down by ``k``, as ``govsim staff`` moves them) and the receiver gains
``min(c_d(t), k)``; a donor that closes hands over ``c_d(t)`` whole. The receiver's new
count is the sum of two step functions, written as entries over the intersections and
differences of the two stations' boxes, so the staff on duty at every instant add up to
what they were.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sim.model.schedule import ScheduleEntry
from sim.model.schema import Station

#: (first date, last date, ISO weekdays, from minute, to minute)
Box = tuple[dt.date, dt.date, frozenset[int], int, int]
_ALL_DAYS = frozenset(range(1, 8))
#: every date an entry may name (sim.model.fields.Date): the dates of an entry without any
_FIRST, _LAST = dt.date(1900, 1, 1), dt.date(2200, 12, 31)


def _box(e: ScheduleEntry) -> Box:
    d0, d1 = e.dates if e.dates is not None else (_FIRST, _LAST)
    m0, m1 = e.minute_range()
    return d0, d1, frozenset(e.days()), m0, m1


def _entry(b: Box, servers: int) -> ScheduleEntry:
    d0, d1, days, m0, m1 = b
    return ScheduleEntry(
        servers=servers,
        dates=None if (d0, d1) == (_FIRST, _LAST) else (d0, d1),
        weekdays=None if days == _ALL_DAYS else sorted(days),
        hours=None if (m0, m1) == (0, 24 * 60) else (f"{m0 // 60:02d}:{m0 % 60:02d}",
                                                     f"{m1 // 60:02d}:{m1 % 60:02d}"))


def _meet(a: Box, b: Box) -> Box | None:
    d0, d1 = max(a[0], b[0]), min(a[1], b[1])
    days = a[2] & b[2]
    m0, m1 = max(a[3], b[3]), min(a[4], b[4])
    return (d0, d1, days, m0, m1) if d0 <= d1 and days and m0 < m1 else None


def _minus(a: Box, b: Box) -> list[Box]:
    """``a`` less ``b``, as at most five disjoint boxes."""
    inter = _meet(a, b)
    if inter is None:
        return [a]
    out: list[Box] = []
    d0, d1, days, m0, m1 = a
    if b[0] > d0:  # the dates before b's
        out.append((d0, b[0] - dt.timedelta(days=1), days, m0, m1))
    if b[1] < d1:  # and after
        out.append((b[1] + dt.timedelta(days=1), d1, days, m0, m1))
    if days - b[2]:  # b's dates, the weekdays b does not list
        out.append((inter[0], inter[1], days - b[2], m0, m1))
    if b[3] > m0:  # b's dates and weekdays, the hours outside b's
        out.append((inter[0], inter[1], inter[2], m0, b[3]))
    if b[4] < m1:
        out.append((inter[0], inter[1], inter[2], b[4], m1))
    return out


def _outside(a: Box, others: Sequence[Box]) -> list[Box]:
    parts = [a]
    for b in others:
        parts = [p for q in parts for p in _minus(q, b)]
    return parts


def combine(a: tuple[int, Sequence[ScheduleEntry]], b: tuple[int, Sequence[ScheduleEntry]],
            op: Callable[[int, int], int]) -> tuple[int, list[ScheduleEntry]]:
    """The count ``op(a(t), b(t))`` of two (base, entries) counts, as a base and entries
    that do not overlap (an entry equal to the base is left out)."""
    (ab, ae), (bb, be) = a, b
    abox, bbox = [_box(e) for e in ae], [_box(e) for e in be]
    base = op(ab, bb)
    pieces: list[tuple[Box, int]] = []
    for x, ex in zip(abox, ae, strict=True):
        for y, ey in zip(bbox, be, strict=True):
            m = _meet(x, y)
            if m is not None:
                pieces.append((m, op(ex.servers, ey.servers)))
        pieces += [(p, op(ex.servers, bb)) for p in _outside(x, bbox)]
    for y, ey in zip(bbox, be, strict=True):
        pieces += [(p, op(ab, ey.servers)) for p in _outside(y, abox)]
    return base, [_entry(p, v) for p, v in pieces if v != base]


def move_staff(donor: Station, receiver: Station, k: int, closes: bool) -> None:
    """Move ``k`` of the donor's base servers to the receiver with their rota (the
    module's text); ``closes``: the donor hands over every server it has on duty."""
    if closes:
        moved: tuple[int, Sequence[ScheduleEntry]] = (donor.servers, donor.schedule)
    else:
        moved = (k, [e.model_copy(update={"servers": min(e.servers, k)})
                     for e in donor.schedule])
        donor.schedule = [e.model_copy(update={"servers": max(e.servers - k, 0)})
                          for e in donor.schedule]
        donor.servers -= k
    receiver.servers, receiver.schedule = combine(
        (receiver.servers, receiver.schedule), moved, lambda x, y: x + y)
