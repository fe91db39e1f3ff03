"""Compiled helpers shared by the two kernels of the vector engine.

The working calendar of :mod:`sim.model.calendar` as scalar kernels over concatenated
calendars (a station's calendar is the slice ``off .. off + m`` of the arrays): the same
interval indices as the bisections there (found from bucket tables, which give the
bisection's index exactly) and the same floating-point operations, no fastmath, so
times are bit-identical to the DES engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, TypeVar

import numpy as np
from numba import njit, types
from numba.extending import intrinsic
from numpy.typing import NDArray

from sim.model.calendar import ALWAYS_OPEN_END, WorkCalendar

__all__ = ["F64", "I64", "PackedCalendars", "_inline", "_u", "no_nrt", "pack_calendars", "serve"]

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
_F = TypeVar("_F", bound=Callable[..., Any])
# Kernels that allocate nothing are compiled without numba's reference counting: without
# it, every array passed to a helper or rebound in a loop costs atomic increments.
no_nrt: Callable[[_F], _F] = njit(cache=True, _nrt=False)  # type: ignore[call-overload]


def _u_typer(typingctx: Any, x: Any) -> Any:
    """``_u(i)``: the index ``i`` (>= 0 by construction) as an unsigned integer.

    numba indexes with a signed integer as Python does, so every ``a[i]`` first turns a
    negative ``i`` into ``i + len(a)``: a compare, an add, a select and a load of the
    length, on every access. An unsigned index skips that, and the kernels' indices are
    never negative (``-1`` marks "none" and is tested before any use). Without the
    wraparound the event loop takes about a fifth less time (docs/performance.md). A
    negative index by mistake would read out of bounds instead of from the end; the
    bounds-checked test run (``NUMBA_BOUNDSCHECK=1``, tests/test_vector.py) catches it.
    """
    if not isinstance(x, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return context.cast(builder, args[0], signature.args[0], types.uintp)

    return types.uintp(x), codegen


# called from compiled code as ``_u(i)`` (numba supplies ``typingctx``)
_u: Callable[[int], int] = intrinsic(_u_typer)  # type: ignore[assignment]


# A station's calendar, as a row of ``st_cal``: its intervals are ``off .. off + m - 1``
# of the packed arrays, its bucket tables start at ``cal_tab[toff]`` and ``always`` marks
# the always-open calendar. Its buckets' widths (hours) and their inverses: ``st_calw``.
SC_OFF, SC_LEN, SC_TOFF, SC_ALWAYS = range(4)
SW_OPEN, SW_OPEN_INV, SW_WORK, SW_WORK_INV = range(4)
# Helpers of the kernels are inlined into them by numba at the IR level: no call, so none
# of the argument marshalling a call costs (numba passes each array as seven or more
# scalars); 4-5% of the construction scenario's time (docs/performance.md).
_inline: Callable[[_F], _F] = njit(inline="always", _nrt=False)  # type: ignore[call-overload]


class PackedCalendars(NamedTuple):
    """The calendars of a model's stations as the kernels take them."""

    st_cal: I64  # (stations, 4): SC_* columns
    st_calw: F64  # (stations, 4): SW_* columns
    open: F64
    close: F64
    cum: F64
    cend: F64
    tab: I64


def _lower_bounds(values: F64, width: float, side: Literal["left", "right"]) -> I64:
    """Bucket table of one sorted column: entry ``b >= 1`` is the number of values ``<``
    (side ``left``) or ``<=`` (side ``right``) ``b * width``; entry 0 is 0.

    Entry ``b`` is therefore a lower bound of the first index whose value is ``>= x``
    (``> x``) for every ``x >= b * width``, computed in the kernel with the same product.
    """
    m = len(values)
    tab = np.searchsorted(values, np.arange(m + 1, dtype=np.float64) * width, side=side)
    tab[0] = 0
    return np.asarray(tab, dtype=np.int64)


def pack_calendars(calendars: Sequence[WorkCalendar],
                   station_calendar: Sequence[int] | NDArray[np.int64]) -> PackedCalendars:
    """Concatenate ``calendars`` and build their bucket tables; one row per station.

    The kernels find an interval by its bucket, not by bisection: the span of a
    calendar's openings (and of its working hours) is cut into as many equal buckets as
    it has intervals, and a table gives, per bucket, a lower bound of the index sought;
    a scan up from it (about one interval per bucket) finds the first index of the
    monotone predicate, which is the bisection's, so the results are the same.
    """
    offs, toffs, widths, off, toff = [], [], [], 0, 0
    tabs = []
    for cal in calendars:
        m = len(cal.open)
        w_open = max(float(cal.close[-1]), 1.0) / m
        w_work = max(float(cal.cend[-1]), 1.0) / m
        tabs += [_lower_bounds(cal.open, w_open, "right"),
                 _lower_bounds(cal.cend, w_work, "left")]
        offs.append(off)
        toffs.append(toff)
        widths.append((w_open, 1.0 / w_open, w_work, 1.0 / w_work))
        off += m
        toff += 2 * (m + 1)
    always = [len(c.open) == 1 and c.open[0] == 0.0 and c.close[0] == ALWAYS_OPEN_END
              and c.cum[0] == 0.0 for c in calendars]
    sc = [int(k) for k in station_calendar]
    st_cal = np.array([[offs[k], len(calendars[k].open), toffs[k], always[k]] for k in sc],
                      dtype=np.int64).reshape(len(sc), 4)
    st_calw = np.array([widths[k] for k in sc], dtype=np.float64).reshape(len(sc), 4)

    def cat(f: str) -> F64:
        return np.concatenate([getattr(c, f) for c in calendars])

    return PackedCalendars(st_cal, st_calw, cat("open"), cat("close"), cat("cum"), cat("cend"),
                           np.concatenate(tabs))


@_inline
def _bucket(x: float, width: float, inv: float, nb: int) -> int:
    """A bucket ``b`` in ``0 .. nb`` with ``b * width <= x`` (0 for ``x <= 0``), at most
    one below the largest such."""
    if not x > 0.0:
        return 0
    f = x * inv
    b = nb if f >= nb else int(f)
    while b > 0 and b * width > x:
        b -= 1
    return b


@_inline
def serve(cal_open: F64, cal_close: F64, cal_cum: F64, cal_cend: F64, cal_tab: I64,
          st_cal: I64, st_calw: F64, st: int, T: float, s: float) -> tuple[float, float]:
    """(start, end) of ``s`` working hours dispatched at ``T`` at station ``st``:
    sim.model.calendar's expressions.

    ``start = next_open(T)``, ``end = W⁻¹(W(T) + s)``, with the interval indices of
    :func:`sim.model.calendar.to_work_scalar` & co (found from the bucket tables, see
    :func:`pack_calendars`) and the same floating-point operations.
    """
    if st_cal[_u(st), SC_ALWAYS]:
        w = T + s
        return T, (w if w <= ALWAYS_OPEN_END else np.inf)
    off = st_cal[_u(st), SC_OFF]
    m = st_cal[_u(st), SC_LEN]
    toff = st_cal[_u(st), SC_TOFF]
    hi = off + m
    # k + 1 = bisect_right(open, T): the first opening after T
    p = off + cal_tab[_u(toff + _bucket(T, st_calw[_u(st), SW_OPEN],
                                        st_calw[_u(st), SW_OPEN_INV], m))]
    while p < hi and cal_open[_u(p)] <= T:
        p += 1
    k = p - 1
    # k2 = bisect_right(close, T) (next_open's index) follows from k without a search,
    # as the intervals satisfy open[i] < close[i] <= open[i + 1] (WorkCalendar checks):
    # every close before k is <= open[k] <= T and every close after k is > open > T
    if k < off:
        wT = 0.0
        k2 = off
    elif cal_close[_u(k)] <= T:
        wT = cal_cend[_u(k)]
        k2 = k + 1
    else:
        wT = cal_cum[_u(k)] + (T - cal_open[_u(k)])
        k2 = k
    if k2 == hi:
        start = np.inf
    else:
        o = cal_open[_u(k2)]
        start = T if o <= T else o
    w = wT + s
    # k3 = bisect_left(cend, w): the interval where the w-th working hour ends
    p = off + cal_tab[_u(toff + m + 1 + _bucket(w, st_calw[_u(st), SW_WORK],
                                                st_calw[_u(st), SW_WORK_INV], m))]
    while p < hi and cal_cend[_u(p)] < w:
        p += 1
    end = np.inf if p == hi else cal_open[_u(p)] + (w - cal_cum[_u(p)])
    return start, end
