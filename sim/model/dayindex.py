"""The interval a time falls in, for arrays of times: what a calendar's array conversions
look up (:meth:`sim.model.calendar.WorkCalendar.open_index`).

The index is ``searchsorted(open, t, 'right') - 1``, found instead by a walk of a few
steps from a table of day starts: intervals are sorted and few open per day, so this is
2-5x faster than the bisection and gives its index exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

DayWalk = tuple[NDArray[np.intp], int, NDArray[np.float64]]
_MAX_DAYS = 100_000


def day_walk(open_: NDArray[np.float64]) -> DayWalk:
    """Per day ``d`` the index of the day before's start (``searchsorted(open, 24 (d - 1),
    'right') - 1``), the most intervals that open from there to the end of day ``d``, and
    ``open`` with ``+inf`` after it; no table past 100,000 days (those are bisected)."""
    days = int(open_[-1] // 24.0) + 2
    if days > _MAX_DAYS:
        return np.zeros(0, dtype=np.intp), 0, open_
    starts = np.arange(-1, days + 1) * 24.0
    k = np.searchsorted(open_, starts, side="right") - 1
    return k[:days], int((k[2:] - k[:-2]).max()), np.append(open_, np.inf)


def open_index(walk: DayWalk, open_: NDArray[np.float64],
               t: NDArray[np.float64]) -> NDArray[np.intp]:
    """``searchsorted(open, t, 'right') - 1`` (the interval opened last at ``t``; -1
    before the first) by the walk from the start of the day before ``t``'s (the rounded
    ``floor(t / 24)`` is ``t``'s day or, just before midnight, the next one)."""
    first, steps, nxt = walk
    days = first.shape[0]
    if days == 0:
        return np.searchsorted(open_, t, side="right") - 1
    with np.errstate(invalid="ignore"):
        d = np.floor(t / 24.0)
        ok = (d >= 0.0) & (d < days)  # NaN and times outside the table: searched
    k = first[np.where(ok, d, 0.0).astype(np.intp)]
    for _ in range(steps):  # one interval further while the next opens by t
        k += nxt[k + 1] <= t
    if not ok.all():
        k[~ok] = np.searchsorted(open_, t[~ok], side="right") - 1
    return k
