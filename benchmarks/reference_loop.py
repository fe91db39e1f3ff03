"""A minimal hand-written numba loop: the stand-in for what the hardware allows.

An always-open tandem of M/M/c stations, FCFS, no calendars, no records but the exit
times: station by station, cases are taken in order of arrival at the station (a sort)
and each takes the earliest-free of the ``c`` servers. This is the tightest correct
loop for the tandem (a multi-server station lets cases overtake, so each station's
arrivals must be re-sorted), and what the compiled engine is measured against. Like the
engine, it first copies the service times station by station (a station then reads its
own in sequence, not one cache line per case), and that copy is part of its time.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from sim.engines.vector.kernels import _u


@njit(cache=True, inline="always")
def _serve_in_order(order: NDArray[np.int64], t: NDArray[np.float64],
                    by_station: NDArray[np.float64], m: int, free: NDArray[np.float64]) -> None:
    """One FCFS station: cases in ``order`` each take the earliest-free server; ``t[i]``
    goes from case ``i``'s arrival at station ``m`` to its exit from it
    (``by_station[m, i]``: case ``i``'s service there)."""
    free[:] = 0.0
    for r in range(order.shape[0]):
        i = order[_u(r)]
        k = 0
        best = free[0]
        for c in range(1, free.shape[0]):
            if free[_u(c)] < best:
                best = free[_u(c)]
                k = c
        ti = t[_u(i)]
        e = (ti if ti > best else best) + by_station[_u(m), _u(i)]
        free[_u(k)] = e
        t[_u(i)] = e


@njit(cache=True)
def tandem_exit_times(arrival: NDArray[np.float64], service: NDArray[np.float64],
                      servers: int) -> NDArray[np.float64]:
    """Exit times of a tandem: ``service[i, m]`` hours of case ``i`` at station ``m``."""
    n_st = service.shape[1]
    by_station = np.ascontiguousarray(service.T)
    t = arrival.copy()
    free = np.empty(servers)
    for m in range(n_st):
        _serve_in_order(np.argsort(t), t, by_station, m, free)
    return t


@njit(cache=True)
def tandem_exit_times_adaptive(arrival: NDArray[np.float64], service: NDArray[np.float64],
                               servers: int) -> NDArray[np.float64]:
    """The same loop with the sort the engine's station-by-station pass uses.

    Cases are taken in the order they left the previous station, which is nearly their
    order of arrival at this one, and put in order by an insertion sort (O(n) moves when
    few cases overtake each other) instead of ``np.argsort`` (O(n log n)). Reported next
    to :func:`tandem_exit_times` so that the engine's speed-up from this sort is not
    mistaken for a lean event loop.
    """
    n, n_st = service.shape
    by_station = np.ascontiguousarray(service.T)
    t = arrival.copy()
    order = np.arange(n)
    key = np.empty(n)
    free = np.empty(servers)
    for m in range(n_st):
        for r in range(n):
            key[_u(r)] = t[_u(order[_u(r)])]
        for u in range(1, n):  # insertion sort of (key, order) by key
            kv = key[_u(u)]
            ov = order[_u(u)]
            w = u - 1
            while w >= 0 and key[_u(w)] > kv:
                key[_u(w + 1)] = key[_u(w)]
                order[_u(w + 1)] = order[_u(w)]
                w -= 1
            key[_u(w + 1)] = kv
            order[_u(w + 1)] = ov
        _serve_in_order(order, t, by_station, m, free)
    return t
