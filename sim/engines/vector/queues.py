"""The waiting lines of the event loop, and the visit record a join opens.

One doubly linked FIFO list per (station, priority level) in a shared pool of queue
nodes (``nd_i``, ``nd_t``: columns ``ND_*`` of :mod:`sim.engines.vector.layout`) with a
free list, so that a renege unlinks its node in O(1); the list of stations to dispatch
at the current instant (``dirty``, ``dflag``); and the row of the visits table a join
writes. The helpers are inlined into the kernel (``kernels._inline``): each takes the
arrays it writes and returns the scalars it updates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.engines.vector.kernels import F64, I64, _inline, _u
from sim.engines.vector.layout import ND_CASE, ND_KIND, ND_NEXT, ND_PREV, ND_REF, ND_SLOT, ND_VROW


@_inline
def _enqueue(nd_i: I64, nd_t: F64, q_head: I64, q_tail: I64, q: int, node: int, T: float,
             case: int, slot: int) -> None:
    """Link ``node`` (joined at ``T``, the latest time in the queue) at its key's place."""
    p = q_tail[_u(q)]
    while p >= 0 and nd_t[_u(p)] == T and (
            nd_i[_u(p), ND_CASE] > case
            or (nd_i[_u(p), ND_CASE] == case and nd_i[_u(p), ND_SLOT] > slot)):
        p = nd_i[_u(p), ND_PREV]
    if p < 0:
        nx = q_head[_u(q)]
        q_head[_u(q)] = node
    else:
        nx = nd_i[_u(p), ND_NEXT]
        nd_i[_u(p), ND_NEXT] = node
    nd_i[_u(node), ND_PREV] = p
    nd_i[_u(node), ND_NEXT] = nx
    if nx < 0:
        q_tail[_u(q)] = node
    else:
        nd_i[_u(nx), ND_PREV] = node


@_inline
def _visit_row(record: bool, nv: int, v_i: I64, v_f: F64, v_r: Any, i: int, j: int, k: int,
               s: int, kind: int, T: float) -> tuple[int, int]:
    """Record a visit of ``kind`` joining station ``s`` at ``T``: (its row or -1, ``nv``)."""
    vrow = -1
    if record:
        vrow = nv
        nv += 1
        v_i[_u(vrow), 0] = i
        v_i[_u(vrow), 1] = j
        v_i[_u(vrow), 2] = k
        v_i[_u(vrow), 3] = s
        v_i[_u(vrow), 4] = kind
        v_f[_u(vrow), 0] = T
        v_f[_u(vrow), 1] = np.nan
        v_f[_u(vrow), 2] = np.nan
        v_r[_u(vrow)] = False
    return vrow, nv


@_inline
def _take_node(nd_i: I64, nfree: int, ncount: int) -> tuple[int, int, int]:
    """A queue node from the free list, else the next of the pool: (node, nfree, ncount)."""
    if nfree >= 0:
        node = nfree
        nfree = nd_i[_u(node), ND_NEXT]
    else:
        node = ncount
        ncount += 1
    return node, nfree, ncount


@_inline
def _mark_dirty(dflag: I64, dirty: I64, ndirty: int, s: int, due: bool) -> int:
    """Put station ``s`` on the list to dispatch at this instant if ``due`` (a server and
    an entry may meet) and it is not there yet; returns the list's new length."""
    if due and dflag[_u(s)] == 0:
        dflag[_u(s)] = 1
        dirty[_u(ndirty)] = s
        ndirty += 1
    return ndirty


@_inline
def _join_queue(nd_i: I64, nd_t: F64, q_head: I64, q_tail: I64, st_wait: I64, st_busy: I64,
                servers: I64, dflag: I64, dirty: I64, ndirty: int, nfree: int, ncount: int,
                q: int, s: int, i: int, slot: int, kind: int, ref: int, vrow: int,
                T: float) -> tuple[int, int, int, int]:
    """Case ``i`` joins queue ``q`` of station ``s`` at ``T`` with ``slot`` (a node of
    ``kind`` pointing at ``ref``: its branch, audited item or nothing); the station is
    marked to dispatch if a server is free. Returns (node, nfree, ncount, ndirty)."""
    node, nfree, ncount = _take_node(nd_i, nfree, ncount)
    nd_i[_u(node), ND_CASE] = i
    nd_i[_u(node), ND_SLOT] = slot
    nd_i[_u(node), ND_KIND] = kind
    nd_i[_u(node), ND_REF] = ref
    nd_i[_u(node), ND_VROW] = vrow
    nd_t[_u(node)] = T
    _enqueue(nd_i, nd_t, q_head, q_tail, q, node, T, i, slot)
    st_wait[_u(s)] += 1
    ndirty = _mark_dirty(dflag, dirty, ndirty, s, st_busy[_u(s)] < servers[_u(s)])
    return node, nfree, ncount, ndirty


@_inline
def _unlink(nd_i: I64, q_head: I64, q_tail: I64, q: int, node: int) -> None:
    p = nd_i[_u(node), ND_PREV]
    nx = nd_i[_u(node), ND_NEXT]
    if p < 0:
        q_head[_u(q)] = nx
    else:
        nd_i[_u(p), ND_NEXT] = nx
    if nx < 0:
        q_tail[_u(q)] = p
    else:
        nd_i[_u(nx), ND_PREV] = p


@_inline
def _queue(st_level_on: Any, L: int, s: int, level: int) -> int:
    """The queue of priority ``level`` at station ``s``: queues are numbered ``s * L +
    level``, and a station without priorities keeps every entry in its first."""
    return s * L + level if st_level_on[_u(s)] else s * L


@_inline
def _level(levels: I64, priority: int) -> int:
    """The level of a case's ``priority``: its index in the sorted ``levels`` (every
    priority a case can have; a handful, so a scan)."""
    lv = 0
    while lv < levels.shape[0] - 1 and levels[_u(lv)] < priority:
        lv += 1
    return lv
