"""Compiled helpers shared by the two kernels of the vector engine.

The working calendar of :mod:`sim.calendar` as scalar kernels over concatenated
calendars (a station's calendar is the slice ``off .. off + m`` of the arrays): the same
interval indices as the bisections there (found by an exponential search from a hint,
which gives the bisection's index exactly) and the same floating-point operations, no
fastmath, so times are bit-identical to the DES engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numba import njit, types
from numba.extending import intrinsic
from numpy.typing import NDArray

from sim.calendar import ALWAYS_OPEN_END

__all__ = ["F64", "I64", "_u", "no_nrt", "serve"]

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


@no_nrt
def _bisect_right(a: F64, lo: int, hi: int, x: float) -> int:
    while lo < hi:
        mid = (lo + hi) >> 1
        if x < a[_u(mid)]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@no_nrt
def _first_gt(a: F64, lo: int, hi: int, x: float, h: int) -> int:
    """``_bisect_right(a, lo, hi, x)`` (first index with ``a[i] > x``), searched from ``h``.

    Exponential search around the hint, then a binary search in the bracket: the first
    index of a monotone predicate is unique, so the result is the bisection's exactly,
    in O(log distance) steps when the hint is close (simulation time only moves on).
    """
    if h < lo:
        h = lo
    if h >= hi:
        h = hi - 1
    step = 1
    if a[_u(h)] > x:  # the answer is <= h
        r = h
        while True:
            le = r - step
            if le <= lo:
                le = lo
                break
            if a[_u(le - 1)] <= x:
                break
            r = le - 1
            step <<= 1
        return _bisect_right(a, le, r, x)
    le = h + 1  # the answer is > h
    while True:
        r = le + step - 1
        if r >= hi:
            r = hi
            break
        if a[_u(r)] > x:
            break
        le = r + 1
        step <<= 1
    return _bisect_right(a, le, r, x)


@no_nrt
def _first_ge(a: F64, lo: int, hi: int, x: float, h: int) -> int:
    """``bisect_left(a, lo, hi, x)`` (first index with ``a[i] >= x``), searched from ``h``.

    For a float ``v``, ``v >= x`` exactly when ``v > nextafter(x, -inf)`` (``x > -inf``;
    the tables searched here hold working hours, all >= 0), so this is
    :func:`_first_gt` one float below ``x``.
    """
    return _first_gt(a, lo, hi, np.nextafter(x, -np.inf), h)


@no_nrt
def serve(cal_open: F64, cal_close: F64, cal_cum: F64, cal_cend: F64, off: int, m: int,
           always: bool, T: float, s: float, hint: I64, hs: int) -> tuple[float, float]:
    """(start, end) of ``s`` working hours dispatched at ``T``: sim.calendar's expressions.

    ``start = next_open(T)``, ``end = W⁻¹(W(T) + s)``, with the interval indices of
    :func:`sim.calendar.to_work_scalar` & co (found from the hint ``hint[hs]``, which is
    updated) and the same floating-point operations.
    """
    if always:
        w = T + s
        return T, (w if w <= ALWAYS_OPEN_END else np.inf)
    hi = off + m
    k = _first_gt(cal_open, off, hi, T, hint[_u(hs)]) - 1
    # k2 = bisect_right(close, T) (next_open's index) follows from k without a search,
    # as the intervals satisfy open[i] < close[i] <= open[i + 1] (WorkCalendar checks):
    # every close before k is <= open[k] <= T and every close after k is > open > T
    if k < off:
        wT = 0.0
        k0 = off
        k2 = off
    elif cal_close[_u(k)] <= T:
        wT = cal_cend[_u(k)]
        k0 = k
        k2 = k + 1
    else:
        wT = cal_cum[_u(k)] + (T - cal_open[_u(k)])
        k0 = k
        k2 = k
    hint[_u(hs)] = k0
    if k2 == hi:
        start = np.inf
    else:
        o = cal_open[_u(k2)]
        start = T if o <= T else o
    w = wT + s
    k3 = _first_ge(cal_cend, off, hi, w, k0)
    end = np.inf if k3 == hi else cal_open[_u(k3)] + (w - cal_cum[_u(k3)])
    return start, end
