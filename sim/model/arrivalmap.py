"""Where Poisson arrivals fall in time: points of the cumulative intensity mapped to hours
(what :func:`sim.inputs.arrival_stream` does with each case's point; the intensity is the
intake calendar's open hours, or every hour, times the optional weekday and hour-of-day
profiles)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from sim.model.calendar import WorkCalendar

F64 = NDArray[np.float64]


def _profile_weight(t: F64, start_weekday: int, weekday: Sequence[float] | None,
                    hour: Sequence[float] | None) -> F64:
    w = np.ones_like(t)
    if weekday is not None:
        w *= np.asarray(weekday)[((t // 24.0).astype(np.int64) + start_weekday) % 7]
    if hour is not None:
        w *= np.asarray(hour)[(t % 24.0).astype(np.int64) % 24]
    return w


def arrival_times(e: F64, total: float, cal: WorkCalendar, end: float, start_weekday: int,
                  weekday: Sequence[float] | None = None,
                  hour: Sequence[float] | None = None) -> F64:
    """Map points ``e`` in [0, total) to times in [0, end) with intensity ∝ open x profile.

    Without profiles the map is linear in the calendar's working time. With profiles the
    window is cut at every hour and at every opening and closing, and the cumulative
    intensity is inverted piece by piece.
    """
    if weekday is None and hour is None:
        w_end = cal.to_work(end)
        return np.minimum(np.asarray(cal.to_abs(e / total * w_end), dtype=np.float64), end)
    grid = np.arange(0.0, end, 1.0)
    inside = (cal.open < end) & (cal.close > 0.0)
    bounds = np.unique(np.concatenate([grid, cal.open[inside], np.minimum(cal.close[inside], end),
                                       [end]]))
    bounds = bounds[(bounds >= 0.0) & (bounds <= end)]
    lo, hi = bounds[:-1], bounds[1:]
    mid = (lo + hi) / 2.0
    dens = np.asarray(cal.is_open(mid), dtype=np.float64) * _profile_weight(
        mid, start_weekday, weekday, hour)
    mass = dens * (hi - lo)
    cum = np.concatenate([[0.0], np.cumsum(mass)])
    if cum[-1] <= 0.0:
        raise ValueError("the arrival profile gives no arrivals in the calendar's open hours")
    target = e / total * cum[-1]
    k = np.clip(np.searchsorted(cum, target, side="right") - 1, 0, len(lo) - 1)
    # skip zero-mass pieces: searchsorted 'right' already lands on the last piece with
    # cum <= target, which has positive mass unless target == its right end
    with np.errstate(divide="ignore", invalid="ignore"):
        t = lo[k] + np.where(dens[k] > 0, (target - cum[k]) / dens[k], 0.0)
    return np.minimum(t, end)
