"""The event queue of the event loop: an 8-ary min-heap keyed by time alone.

Two arrays, ``ev_t`` (times) and ``ev_p`` (payloads: action codes), whose node ``i``
sits at index ``HB + i`` (:mod:`sim.engines.vector.layout`), so that the eight children
of a node fill one cache line. Like every helper of the kernel, these are inlined into
it (``kernels._inline``); each takes the arrays it writes, and the caller keeps the size.
"""

from __future__ import annotations

from sim.engines.vector.kernels import F64, I64, _inline, _u
from sim.engines.vector.layout import HB


@_inline
def _hpush(ev_t: F64, ev_p: I64, n: int, t: float, p: int) -> None:
    """Push onto an 8-ary min-heap of size ``n`` keyed by the time alone.

    Events at one instant may come out in any order (docs/model.md: the outcome does not
    depend on it), so there is no tie-breaking sequence number to compare and move. Eight
    children per node: half the levels of a 4-ary heap for a pop, whose eight keys are
    compared without branches (:func:`_hpop`). Node ``i`` sits at ``HB + i`` of arrays
    aligned on a cache line, so that the eight children of a node fill one line.
    """
    i = n
    while i > 0:
        par = (i - 1) >> 3
        pt = ev_t[_u(HB + par)]
        if pt <= t:
            break
        ev_t[_u(HB + i)] = pt
        ev_p[_u(HB + i)] = ev_p[_u(HB + par)]
        i = par
    ev_t[_u(HB + i)] = t
    ev_p[_u(HB + i)] = p


@_inline
def _min2(a: int, ta: float, b: int, tb: float) -> tuple[int, float]:
    """The (index, time) of the earlier of two heap slots, as selects (no branch)."""
    return (a if ta <= tb else b), (ta if ta <= tb else tb)


@_inline
def _hpop(ev_t: F64, ev_p: I64, n: int) -> None:
    """Remove the top of an 8-ary heap of size ``n``."""
    n -= 1
    t = ev_t[_u(HB + n)]
    p = ev_p[_u(HB + n)]
    i = 0
    while True:
        c = 8 * i + 1
        if c + 7 < n:
            # eight children: a tournament of selects, which compile to conditional
            # moves (comparisons of random times defeat branch prediction)
            a0, t0 = _min2(c, ev_t[_u(HB + c)], c + 1, ev_t[_u(HB + c + 1)])
            a1, t1 = _min2(c + 2, ev_t[_u(HB + c + 2)], c + 3, ev_t[_u(HB + c + 3)])
            a2, t2 = _min2(c + 4, ev_t[_u(HB + c + 4)], c + 5, ev_t[_u(HB + c + 5)])
            a3, t3 = _min2(c + 6, ev_t[_u(HB + c + 6)], c + 7, ev_t[_u(HB + c + 7)])
            b0, u0 = _min2(a0, t0, a1, t1)
            b1, u1 = _min2(a2, t2, a3, t3)
            best, bt = _min2(b0, u0, b1, u1)
        elif c < n:
            best = c
            bt = ev_t[_u(HB + c)]
            for c2 in range(c + 1, n):
                if ev_t[_u(HB + c2)] < bt:
                    best = c2
                    bt = ev_t[_u(HB + c2)]
        else:
            break
        if bt < t:
            ev_t[_u(HB + i)] = bt
            ev_p[_u(HB + i)] = ev_p[_u(HB + best)]
            i = best
        else:
            break
    ev_t[_u(HB + i)] = t
    ev_p[_u(HB + i)] = p
