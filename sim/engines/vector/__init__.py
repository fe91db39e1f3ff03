"""The compiled engine: docs/model.md as numba kernels over flat arrays.

Two kernels give the same records (tests check it bit for bit):

**The event loop** (:func:`_run`) handles every feature. It is sequential, allocates
nothing and is compiled without numba's reference counting:

* **Events** live in an 8-ary heap keyed by time alone (arrays ``ev_t``, ``ev_p``): the
  events of one instant may be processed in any order (docs/model.md), so no sequence
  number breaks ties. An action code packs ``target``, the item and attempt of a branch
  event, and the action in one int64; when an event leaves the heap, the data of the
  next one (branch and case rows, the item's inputs) is prefetched (:func:`_warm`), so
  that its cache misses overlap with the current action instead of stalling the loop.
  Arrivals are not put on the heap: cases come in arrival order, so the next arrival is
  merged in from the input array. Actions due at the current instant go on a LIFO stack
  instead of the heap, and a chain of actions of one branch (service end -> result ->
  next item -> join) runs without any push.
* **Queues**: a waiting entry has the key ``(priority, joined_at, case, slot)``. Every
  entry joins at the current instant, so ``joined_at`` never decreases along a queue:
  one doubly linked FIFO list per (station, priority level), in a shared pool of nodes,
  where an entry that joins at the same instant as the tail is inserted in
  ``(case, slot)`` order. A renege unlinks its node in O(1). Renege timers are never
  cancelled: one acts only if its branch is waiting and that wait's own deadline
  (``joined + patience``, recomputed bit for bit) is the current instant, so a stale
  timer (its visit was served) does nothing, or exactly what the current wait's does.
* **Simultaneity rule**: at an instant ``T`` every action at ``T`` is processed (stack,
  arrivals and heap events at ``T``), then every station touched by a join or a release
  at ``T`` dispatches in key order; a pool grant pushes the start of the case's route,
  and the instant repeats while anything is due at ``T``.
* **State**: per case (stage, pending branches, critical-path triple...) and per branch
  (``W`` branch slots per case, ``W`` the widest parallel stage rounded up to a power of
  two, so that branch ``g`` is slot ``g & (W - 1)`` of case ``g >> log2(W)``), flat 2-D
  arrays.
* **Calendars** are concatenated with per-station offsets; ``W(t)``, ``W⁻¹(w)`` and
  ``next_open(t)`` repeat the scalar expressions of :mod:`sim.calendar`: the same
  interval indices (found from bucket tables, :func:`~sim.engines.kernels.pack_calendars`,
  which give the bisection's index exactly; ``next_open``'s follows from ``W``'s) and the
  same arithmetic, no fastmath, so times are bit-identical to the DES engine. The
  always-open calendar is computed as the identity, which is what those expressions give
  on its single interval ``[0, 1e12)``.
* **Resumable**: all state is in arrays kept by :class:`_State`. The kernel stops before
  an instant ``t_stop`` (:func:`simulate_streaming` draws the next chunk of cases
  there), and when an array is about to fill up it stops where it is and is called
  again once Python has doubled the array (so nothing is reallocated inside the loop).

**The station-by-station pass** (:mod:`sim.engines.feedforward`) is used instead when
the model is a feed-forward FCFS network for the drawn inputs (no rework, pool, audit,
reneging or priority difference, and every route visits stations in one global order,
each once, in sequential stages; :func:`~sim.engines.feedforward.feedforward_plan`
decides): each station is then an FCFS recursion over its entries in key order, which
is what the event loop computes, and costs a near-linear sort and a pass per station.

The calendar arithmetic both kernels share is in :mod:`sim.engines.kernels`.

Points docs/model.md leaves open follow the DES engine (``sim/engines/des.py``,
docstring): what an open case has accrued, the renege row's ``end``, a zero audit
service dispatched while closed, and a parallel stage with one running item, which is
run (and accrues) as a sequential stage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from sim.engines.vector.feedforward import feedforward_plan, is_broadcast, simulate_ff
from sim.engines.vector.kernels import F64, I64, _inline, _u, no_nrt, pack_calendars, serve
from sim.errors import UsageError
from sim.inputs import Inputs
from sim.model.assembly import PARALLEL, Model
from sim.results.records import AUDIT, POOL, SUBMISSION, RepResult, Visits

__all__ = ["simulate", "simulate_many", "simulate_streaming"]

# actions (low 4 bits of an event payload)
A_ARRIVE, A_ROUTE, A_STAGE, A_NEXT, A_BEGIN, A_JOIN, A_SVC_END = 0, 1, 2, 3, 4, 5, 6
A_RENEGE, A_BDONE, A_WORK, A_STAGE_END, A_AUDIT_END, A_LAG_END, A_RESULT = (
    7, 8, 9, 10, 11, 12, 13)
# queue kinds
K_SUB, K_AUDIT, K_POOL = SUBMISSION, AUDIT, POOL
# case int state columns
CI_STAGE, CI_PENDING, CI_BEST, CI_ABANDON, CI_POOL, CI_PVROW, CI_REFS, CI_PHASE = range(8)
NCI = 8
# case float state columns
CF_WEND, CF_SUPP, CF_BEND, CF_S, CF_Q, CF_A = range(6)
NCF = 8  # padded: a row is one aligned cache line
# branch int state columns
BI_POS, BI_ITEM, BI_ATT, BI_STATE, BI_NODE, BI_VROW, BI_LEVEL = range(7)
NBI = 8  # padded: a row is one aligned cache line
# branch float state columns
BF_A, BF_START, BF_S, BF_Q, BF_AP, BF_PEND, BF_SEND = range(7)
NBF = 8  # padded: a row is one aligned cache line
# branch states
B_IDLE, B_DELAY, B_WAIT, B_SERVICE, B_FIX, B_RENEGED, B_LAG = 0, 1, 2, 3, 4, 5, 6
# case phases (what holds the case's critical-path triple while it is open)
P_NONE, P_SEQ, P_PAR = 0, 1, 2
# queue node columns
ND_CASE, ND_SLOT, ND_KIND, ND_REF, ND_VROW, ND_NEXT, ND_PREV = range(7)
NND = 8  # padded: a row is one aligned cache line
# scalar state
(SC_HSIZE, SC_NEXT, SC_FREE, SC_NCOUNT, SC_NV, SC_LO, SC_EVENTS, SC_SP, SC_NDIRTY, SC_MID,
 SC_DI) = range(11)
NSC = 11

# the heap's node i is at index HB + i: children 8i+1 .. 8i+8 then start a cache line
HB = 7


# --------------------------------------------------------------------------- helpers

# The kernel's helpers are inlined into it (kernels._inline). Each takes the arrays it
# writes and returns the scalars it updates.


def _prefetch_typer(typingctx: Any, arr: Any, idx: Any) -> Any:
    """``_prefetch(arr, idx)``: ask the CPU to bring ``arr.flat[idx]`` (C order) into cache.

    It computes nothing: a prefetch never faults and has no visible effect, so an index
    that is off (or out of bounds) only wastes the hint; the records cannot depend on it.
    """
    sig = types.void(arr, types.intp)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        i8p = builder.bitcast(builder.gep(ary.data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [i8p, i32(0), i32(3), i32(1)])  # read, keep in all levels, data
        return context.get_dummy_value()

    return sig, codegen


# called from compiled code as ``_prefetch(arr, idx)`` (numba supplies ``typingctx``)
_prefetch: Callable[[Any, int], None] = intrinsic(_prefetch_typer)  # type: ignore[assignment]


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
def _branch_at(br_i: I64, item_station: I64, base: int, wb: int,
               g: int) -> tuple[int, int, int, int, int]:
    """Branch ``g``'s case, its input row, item, attempt and the item's station."""
    i = g >> wb
    j = br_i[_u(g), BI_ITEM]
    return i, i - base, j, br_i[_u(g), BI_ATT], item_station[_u(j)]


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


@no_nrt
def _bits(m: int) -> int:
    """Bits that hold the values ``0 .. m - 1``."""
    b = 0
    while (1 << b) < m:
        b += 1
    return b


@_inline
def _warm(code: int, sh: int, kb: int, wb: int, base: int, J: int, K: int, has_pat: bool,
          br_i: I64, br_f: F64, cs_i: I64, cs_f: F64, visit: Any, service: Any,
          patience: Any, deficient: Any, fix: Any, run_item: Any, delay: F64) -> None:
    """Prefetch what the action ``code`` will read: its branch's and case's state rows and
    the inputs of its item and attempt.

    The heap's top is usually the next action, and its data (rows of large arrays, read
    in no useful order) would otherwise be fetched from memory one miss after another
    while the loop waits; prefetched during the current action, they overlap with it.
    """
    act = code & 15
    if act != A_JOIN and act != A_SVC_END and act != A_LAG_END:
        return
    g = code >> sh
    jk = (code >> 4) & ((1 << (sh - 4)) - 1)
    j = jk >> kb
    k = jk & ((1 << kb) - 1)
    i = g >> wb
    ij = (i - base) * J + j
    _prefetch(br_i, g * NBI)
    _prefetch(br_f, g * NBF)
    _prefetch(cs_i, i * NCI)
    _prefetch(cs_f, i * NCF)
    if act == A_JOIN:
        _prefetch(visit, ij)
        _prefetch(service, ij * K + k)
        if has_pat:
            _prefetch(patience, ij * K + k)
    else:  # the result, then (often) the next item
        _prefetch(deficient, ij * K + k)
        if K > 1:
            _prefetch(fix, ij * K + k)
        _prefetch(run_item, ij)
        _prefetch(delay, ij + 1)
        _prefetch(service, (ij + 1) * K)


# --------------------------------------------------------------------------- the kernel


@no_nrt
def _run(
    # model
    servers: I64, st_level_on: Any, st_renege: Any, st_cal: I64, st_calw: F64,
    cal_open: F64, cal_close: F64, cal_cum: F64, cal_cend: F64, cal_tab: I64,
    item_station: I64, item_cond: Any, item_deadline: F64, item_audit_station: I64,
    class_route: I64, class_level: I64, class_pool: I64, n_levels: int,
    route_stage_ptr: I64, stage_mode: I64, stage_item_ptr: I64, stage_items: I64,
    W: int, horizon: float, record: bool,
    # inputs of cases base .. n_loaded - 1 (row i - base)
    base: int, n_loaded: int, t_stop: float, arrival: F64, cls: I64, channel: I64,
    run_item: Any, visit: Any, delay: F64, service: Any, has_lag: bool, lag: Any,
    deficient: Any, fix: Any, has_pat: bool, patience: Any, audit: Any, audit_service: F64,
    # state
    sc: I64, scf: F64, ev_t: F64, ev_p: I64, stack: I64, nd_i: I64, nd_t: F64,
    q_head: I64, q_tail: I64, st_busy: I64, st_wait: I64, dirty: I64, dflag: I64,
    cs_i: I64, cs_f: F64, br_i: I64, br_f: F64,
    o_status: I64, o_end: F64, o_visits: I64, o_rework: I64, o_supp: I64,
    v_i: I64, v_f: F64, v_r: Any,
) -> int:
    J = run_item.shape[1]
    K = service.shape[2]
    L = n_levels
    # an action code is ``target << sh | (j << kb | k) << 4 | action``: the item and
    # attempt of a branch event ride along so that its data can be prefetched (_warm)
    kb = _bits(K)
    sh = 4 + _bits(J) + kb
    wb = _bits(W)  # W is a power of two: branch g is slot g & (W - 1) of case g >> wb
    inf = np.inf
    hsize = sc[SC_HSIZE]
    nxt = sc[SC_NEXT]
    nfree = sc[SC_FREE]
    ncount = sc[SC_NCOUNT]
    nv = sc[SC_NV]
    nevents = sc[SC_EVENTS]
    sp = sc[SC_SP]
    ndirty = sc[SC_NDIRTY]
    mid = sc[SC_MID]
    di = sc[SC_DI]
    T = scf[0]
    cap_h = ev_t.shape[0] - HB
    cap_s = stack.shape[0]
    cap_n = nd_i.shape[0]
    cap_v = v_i.shape[0]
    need_s = W + 1
    need_n = J + 1
    status = 0
    phase = 1

    while True:
        if mid == 0:
            # ------------------------------------------------------------ next instant
            T = inf
            if hsize > 0:
                T = ev_t[HB]
            if nxt < n_loaded:
                ta = arrival[_u(nxt - base)]
                if ta < T:
                    T = ta
            if horizon < T or t_stop <= T:
                break
            phase = 1
        else:  # resume inside the instant where the last call stopped
            phase = mid
            mid = 0
        while True:
            if phase == 1:
                # -------------------------------------------------------- (1) events at T
                while True:
                    if (hsize + 2 > cap_h or sp + need_s > cap_s or ncount + need_n > cap_n
                            or (record and nv + need_n > cap_v)):
                        status = 1
                        break
                    if sp > 0:
                        sp -= 1
                        code = stack[_u(sp)]
                    elif nxt < n_loaded and arrival[_u(nxt - base)] == T:
                        code = (nxt << sh) | A_ARRIVE
                        nxt += 1
                    elif hsize > 0 and ev_t[HB] == T:
                        code = ev_p[HB]
                        _hpop(ev_t, ev_p, hsize)
                        hsize -= 1
                        if hsize > 0:  # most likely the next action: fetch its data now
                            _warm(ev_p[HB], sh, kb, wb, base, J, K, has_pat, br_i, br_f, cs_i,
                                  cs_f, visit, service, patience, deficient, fix, run_item,
                                  delay)
                    else:
                        break
                    nevents += 1
                    act = code & 15
                    x = code >> sh
                    while True:  # a chain of actions at T, without pushes
                        if act == A_JOIN:
                            g = x
                            i, li, j, k, s = _branch_at(br_i, item_station, base, wb, g)
                            br_f[_u(g), BF_AP] += br_f[_u(g), BF_PEND]
                            br_f[_u(g), BF_PEND] = 0.0
                            if visit[_u(li), _u(j)]:
                                o_visits[_u(i)] += 1
                            vrow, nv = _visit_row(record, nv, v_i, v_f, v_r, i, j, k, s,
                                                  K_SUB, T)
                            br_f[_u(g), BF_A] = T
                            br_i[_u(g), BI_STATE] = B_WAIT
                            br_i[_u(g), BI_VROW] = vrow
                            q = _queue(st_level_on, L, s, br_i[_u(g), BI_LEVEL])
                            node, nfree, ncount, ndirty = _join_queue(
                                nd_i, nd_t, q_head, q_tail, st_wait, st_busy, servers, dflag,
                                dirty, ndirty, nfree, ncount, q, s, i, j, K_SUB, g, vrow, T)
                            br_i[_u(g), BI_NODE] = node
                            if has_pat and st_renege[_u(s)]:
                                pt = patience[_u(li), _u(j), _u(k)]
                                if pt < inf:
                                    tr = T + pt
                                    if tr <= horizon:
                                        _hpush(ev_t, ev_p, hsize, tr,
                                               (g << sh) | (((j << kb) | k) << 4) | A_RENEGE)
                                        hsize += 1
                            break
                        elif act == A_SVC_END:
                            g = x
                            i, li, j, k, s = _branch_at(br_i, item_station, base, wb, g)
                            st_busy[_u(s)] -= 1
                            ndirty = _mark_dirty(dflag, dirty, ndirty, s, st_wait[_u(s)] > 0)
                            start = br_f[_u(g), BF_START]
                            br_f[_u(g), BF_Q] += start - br_f[_u(g), BF_A]
                            br_f[_u(g), BF_S] += T - start
                            br_i[_u(g), BI_STATE] = B_IDLE
                            if has_lag:
                                lg = lag[_u(li), _u(j), _u(k)]
                                if lg > 0.0:  # government lag: no staff, working time
                                    br_f[_u(g), BF_SEND] = T
                                    br_i[_u(g), BI_STATE] = B_LAG
                                    le = serve(cal_open, cal_close, cal_cum, cal_cend,
                                               cal_tab, st_cal, st_calw, s, T, lg)[1]
                                    if le <= horizon:
                                        _hpush(ev_t, ev_p, hsize, le,
                                               (g << sh) | (((j << kb) | k) << 4) | A_LAG_END)
                                        hsize += 1
                                    break
                            act = A_RESULT
                            continue
                        elif act == A_LAG_END:
                            g = x
                            br_f[_u(g), BF_S] += T - br_f[_u(g), BF_SEND]
                            br_i[_u(g), BI_STATE] = B_IDLE
                            act = A_RESULT
                            continue
                        elif act == A_RESULT:  # the outcome of submission k is known at T
                            g = x
                            i = g >> wb
                            li = i - base
                            j = br_i[_u(g), BI_ITEM]
                            k = br_i[_u(g), BI_ATT]
                            if k < K - 1 and deficient[_u(li), _u(j), _u(k)]:
                                o_rework[_u(i)] += 1
                                f = fix[_u(li), _u(j), _u(k)]
                                if item_cond[_u(j)] and f <= item_deadline[_u(j)]:
                                    o_supp[_u(i)] += 1
                                    se = T + f
                                    if se > cs_f[_u(i), CF_SUPP]:
                                        cs_f[_u(i), CF_SUPP] = se
                                else:
                                    br_i[_u(g), BI_ATT] = k + 1
                                    br_f[_u(g), BF_PEND] = f
                                    ta = T + f
                                    if ta == T:
                                        act = A_JOIN
                                        continue
                                    br_i[_u(g), BI_STATE] = B_FIX
                                    if ta <= horizon:
                                        _hpush(ev_t, ev_p, hsize, ta,
                                               (g << sh) | (((j << kb) | (k + 1)) << 4) | A_JOIN)
                                        hsize += 1
                                    break
                            act = A_NEXT if cs_i[_u(i), CI_PHASE] == P_SEQ else A_BDONE
                            continue
                        elif act == A_NEXT:
                            g = x
                            i = g >> wb
                            li = i - base
                            st = cs_i[_u(i), CI_STAGE]
                            p1 = stage_item_ptr[_u(st + 1)]
                            p = br_i[_u(g), BI_POS] + 1
                            while p < p1 and not run_item[_u(li), _u(stage_items[_u(p)])]:
                                p += 1
                            br_i[_u(g), BI_POS] = p
                            if p == p1:
                                act = A_BDONE
                                continue
                            br_i[_u(g), BI_ITEM] = stage_items[_u(p)]
                            br_i[_u(g), BI_ATT] = 0
                            act = A_BEGIN
                            continue
                        elif act == A_BEGIN:
                            g = x
                            li = (g >> wb) - base
                            d = delay[_u(li), _u(br_i[_u(g), BI_ITEM])]
                            if d > 0.0:
                                br_f[_u(g), BF_PEND] = d
                                br_i[_u(g), BI_STATE] = B_DELAY
                                ta = T + d
                                if ta <= horizon:
                                    _hpush(ev_t, ev_p, hsize, ta,
                                           (g << sh) | ((br_i[_u(g), BI_ITEM] << kb) << 4) | A_JOIN)
                                    hsize += 1
                                break
                            br_f[_u(g), BF_PEND] = 0.0
                            act = A_JOIN
                            continue
                        elif act == A_BDONE:
                            g = x
                            i = g >> wb
                            b = g & (W - 1)
                            be = cs_f[_u(i), CF_BEND]
                            if be < T or (be == T and b < cs_i[_u(i), CI_BEST]):
                                cs_f[_u(i), CF_BEND] = T
                                cs_i[_u(i), CI_BEST] = b
                            cs_i[_u(i), CI_PENDING] -= 1
                            if cs_i[_u(i), CI_PENDING] > 0:
                                break
                            x = i
                            act = A_WORK
                            continue
                        elif act == A_WORK:
                            i = x
                            g = i * W + cs_i[_u(i), CI_BEST]
                            cs_f[_u(i), CF_S] = br_f[_u(g), BF_S]
                            cs_f[_u(i), CF_Q] = br_f[_u(g), BF_Q]
                            cs_f[_u(i), CF_A] = br_f[_u(g), BF_AP]
                            cs_i[_u(i), CI_PHASE] = P_NONE
                            cs_f[_u(i), CF_WEND] = T
                            se = cs_f[_u(i), CF_SUPP]
                            if se > T:
                                if se <= horizon:
                                    _hpush(ev_t, ev_p, hsize, se, (i << sh) | A_STAGE_END)
                                    hsize += 1
                                break
                            act = A_STAGE_END
                            continue
                        elif act == A_STAGE_END:
                            i = x
                            li = i - base
                            we = cs_f[_u(i), CF_WEND]
                            if we < T:
                                cs_f[_u(i), CF_A] += T - we
                            c = cls[_u(li)]
                            if cs_i[_u(i), CI_ABANDON] == 0:
                                st = cs_i[_u(i), CI_STAGE] + 1
                                if st < route_stage_ptr[_u(class_route[_u(c)] + 1)]:
                                    cs_i[_u(i), CI_STAGE] = st
                                    act = A_STAGE
                                    continue
                                o_status[_u(i)] = 1
                            else:
                                o_status[_u(i)] = 2
                            # the case ends at T
                            o_end[_u(i)] = T
                            cs_i[_u(i), CI_REFS] -= 1
                            if cs_i[_u(i), CI_POOL] == 2:
                                cs_i[_u(i), CI_POOL] = 3
                                pool = class_pool[_u(c)]
                                st_busy[_u(pool)] -= 1
                                ndirty = _mark_dirty(dflag, dirty, ndirty, pool,
                                                     st_wait[_u(pool)] > 0)
                                if record:
                                    v_f[_u(cs_i[_u(i), CI_PVROW]), 2] = T
                            if o_status[_u(i)] == 1:
                                for j in range(J):
                                    if not audit[_u(li), _u(j)]:
                                        continue
                                    s = item_audit_station[_u(j)]
                                    vrow, nv = _visit_row(record, nv, v_i, v_f, v_r, i, j, 0, s,
                                                          K_AUDIT, T)
                                    q = _queue(st_level_on, L, s, class_level[_u(c)])
                                    node, nfree, ncount, ndirty = _join_queue(
                                        nd_i, nd_t, q_head, q_tail, st_wait, st_busy, servers,
                                        dflag, dirty, ndirty, nfree, ncount, q, s, i, J + j,
                                        K_AUDIT, j, vrow, T)
                                    cs_i[_u(i), CI_REFS] += 1
                            break
                        elif act == A_STAGE:
                            i = x
                            li = i - base
                            st = cs_i[_u(i), CI_STAGE]
                            p0 = stage_item_ptr[_u(st)]
                            p1 = stage_item_ptr[_u(st + 1)]
                            cnt = 0
                            for p in range(p0, p1):
                                if run_item[_u(li), _u(stage_items[_u(p)])]:
                                    cnt += 1
                            cs_i[_u(i), CI_BEST] = -1
                            cs_f[_u(i), CF_BEND] = -inf
                            cs_f[_u(i), CF_SUPP] = -inf
                            if cnt == 0:  # takes no time
                                cs_f[_u(i), CF_WEND] = T
                                act = A_STAGE_END
                                continue
                            # the case's priority level rides in its branches' rows, read
                            # (prefetched) at every join
                            lv = class_level[_u(cls[_u(li)])]
                            if stage_mode[_u(st)] != PARALLEL or cnt == 1:
                                cs_i[_u(i), CI_PHASE] = P_SEQ
                                cs_i[_u(i), CI_PENDING] = 1
                                g = i * W
                                br_i[_u(g), BI_POS] = p0 - 1
                                br_i[_u(g), BI_LEVEL] = lv
                                br_f[_u(g), BF_S] = cs_f[_u(i), CF_S]
                                br_f[_u(g), BF_Q] = cs_f[_u(i), CF_Q]
                                br_f[_u(g), BF_AP] = cs_f[_u(i), CF_A]
                                x = g
                                act = A_NEXT
                                continue
                            cs_i[_u(i), CI_PHASE] = P_PAR
                            cs_i[_u(i), CI_PENDING] = cnt
                            for p in range(p0, p1):
                                jj = stage_items[_u(p)]
                                if not run_item[_u(li), _u(jj)]:
                                    continue
                                g = i * W + (p - p0)
                                br_i[_u(g), BI_POS] = p
                                br_i[_u(g), BI_ITEM] = jj
                                br_i[_u(g), BI_ATT] = 0
                                br_i[_u(g), BI_LEVEL] = lv
                                br_f[_u(g), BF_S] = cs_f[_u(i), CF_S]
                                br_f[_u(g), BF_Q] = cs_f[_u(i), CF_Q]
                                br_f[_u(g), BF_AP] = cs_f[_u(i), CF_A]
                                stack[_u(sp)] = (g << sh) | A_BEGIN
                                sp += 1
                            break
                        elif act == A_ARRIVE:
                            i = x
                            li = i - base
                            c = cls[_u(li)]
                            cs_i[_u(i), CI_REFS] = 1
                            pool = class_pool[_u(c)]
                            if channel[_u(li)] == 2 and pool >= 0:
                                vrow, nv = _visit_row(record, nv, v_i, v_f, v_r, i, -1, 0, pool,
                                                      K_POOL, T)
                                q = _queue(st_level_on, L, pool, class_level[_u(c)])
                                node, nfree, ncount, ndirty = _join_queue(
                                    nd_i, nd_t, q_head, q_tail, st_wait, st_busy, servers, dflag,
                                    dirty, ndirty, nfree, ncount, q, pool, i, 2 * J, K_POOL, -1,
                                    vrow, T)
                                cs_i[_u(i), CI_POOL] = 1
                                cs_i[_u(i), CI_PVROW] = vrow
                                break
                            act = A_ROUTE
                            continue
                        elif act == A_ROUTE:
                            i = x
                            li = i - base
                            if cs_i[_u(i), CI_POOL] == 2:
                                cs_f[_u(i), CF_Q] += T - arrival[_u(li)]
                            r = class_route[_u(cls[_u(li)])]
                            cs_i[_u(i), CI_STAGE] = route_stage_ptr[_u(r)]
                            act = A_STAGE
                            continue
                        elif act == A_RENEGE:
                            g = x
                            # a timer is not cancelled when its visit is served: it acts only
                            # if the branch's current wait (a later one, maybe) is due to
                            # renege now, which is then what that wait's own timer would do
                            if br_i[_u(g), BI_STATE] != B_WAIT:
                                break
                            i = g >> wb
                            li = i - base
                            j = br_i[_u(g), BI_ITEM]
                            s = item_station[_u(j)]
                            k = br_i[_u(g), BI_ATT]
                            if not st_renege[_u(s)] or (
                                    br_f[_u(g), BF_A] + patience[_u(li), _u(j), _u(k)]) != T:
                                break
                            q = _queue(st_level_on, L, s, br_i[_u(g), BI_LEVEL])
                            node = br_i[_u(g), BI_NODE]
                            _unlink(nd_i, q_head, q_tail, q, node)
                            nd_i[_u(node), ND_NEXT] = nfree
                            nfree = node
                            st_wait[_u(s)] -= 1
                            if record:
                                vrow = br_i[_u(g), BI_VROW]
                                v_r[_u(vrow)] = True
                                v_f[_u(vrow), 2] = T
                            br_f[_u(g), BF_Q] += T - br_f[_u(g), BF_A]
                            br_i[_u(g), BI_STATE] = B_RENEGED
                            cs_i[_u(i), CI_ABANDON] = 1
                            act = A_BDONE
                            continue
                        elif act == A_AUDIT_END:
                            s = x
                            st_busy[_u(s)] -= 1
                            ndirty = _mark_dirty(dflag, dirty, ndirty, s, st_wait[_u(s)] > 0)
                            break
                        else:
                            raise AssertionError("unknown action")
                if status:
                    break
                phase = 2
                di = 0
            # ------------------------------------------------------------ (2) dispatch at T
            while di < ndirty:
                s = dirty[_u(di)]
                while st_busy[_u(s)] < servers[_u(s)] and st_wait[_u(s)] > 0:
                    if hsize + 1 > cap_h or sp + 1 > cap_s:
                        status = 2
                        break
                    q = s * L
                    if st_level_on[_u(s)]:
                        while q_head[_u(q)] < 0:
                            q += 1
                    node = q_head[_u(q)]
                    nx = nd_i[_u(node), ND_NEXT]
                    q_head[_u(q)] = nx
                    if nx < 0:
                        q_tail[_u(q)] = -1
                    else:
                        nd_i[_u(nx), ND_PREV] = -1
                    nd_i[_u(node), ND_NEXT] = nfree
                    nfree = node
                    st_wait[_u(s)] -= 1
                    st_busy[_u(s)] += 1
                    i = nd_i[_u(node), ND_CASE]
                    li = i - base
                    kind = nd_i[_u(node), ND_KIND]
                    vrow = nd_i[_u(node), ND_VROW]
                    if kind == K_POOL:
                        cs_i[_u(i), CI_POOL] = 2
                        if record:
                            v_f[_u(vrow), 1] = T
                        stack[_u(sp)] = (i << sh) | A_ROUTE
                        sp += 1
                        continue
                    if kind == K_SUB:
                        g = nd_i[_u(node), ND_REF]
                        j = br_i[_u(g), BI_ITEM]
                        k = br_i[_u(g), BI_ATT]
                        svc = service[_u(li), _u(j), _u(k)]
                        code = (g << sh) | (((j << kb) | k) << 4) | A_SVC_END
                    else:
                        svc = audit_service[_u(li), _u(nd_i[_u(node), ND_REF])]
                        code = (s << sh) | A_AUDIT_END
                        cs_i[_u(i), CI_REFS] -= 1
                    start, end = serve(cal_open, cal_close, cal_cum, cal_cend, cal_tab, st_cal,
                                       st_calw, s, T, svc)
                    if kind == K_SUB:
                        br_f[_u(g), BF_START] = start
                        br_i[_u(g), BI_STATE] = B_SERVICE
                    if record:
                        v_f[_u(vrow), 1] = start
                        v_f[_u(vrow), 2] = end
                    # a zero audit service dispatched while closed ends at the last closing
                    # time (W⁻¹(W(T)) < T): the record keeps it, the server frees at T
                    te = end if end >= T else T
                    if te <= horizon:
                        _hpush(ev_t, ev_p, hsize, te, code)
                        hsize += 1
                if status:
                    break
                dflag[_u(s)] = 0
                di += 1
            if status:
                break
            ndirty = 0
            di = 0
            if sp == 0 and not (hsize > 0 and ev_t[HB] == T):
                break
            phase = 1
        if status:
            break

    lo = sc[SC_LO]
    while lo < nxt and cs_i[_u(lo), CI_REFS] == 0:
        lo += 1
    sc[SC_HSIZE] = hsize
    sc[SC_NEXT] = nxt
    sc[SC_FREE] = nfree
    sc[SC_NCOUNT] = ncount
    sc[SC_NV] = nv
    sc[SC_LO] = lo
    sc[SC_EVENTS] = nevents
    sc[SC_SP] = sp
    sc[SC_NDIRTY] = ndirty
    sc[SC_MID] = phase if status else 0
    sc[SC_DI] = di
    scf[0] = T
    return status


@njit(cache=True)
def _finish(W: int, cs_i: I64, cs_f: F64, br_f: F64, out: F64) -> None:
    """Critical-path triple per case: the case's, or its sequential branch's while open."""
    for i in range(cs_i.shape[0]):
        if cs_i[i, CI_PHASE] == P_SEQ:
            g = i * W
            out[i, 0] = br_f[g, BF_S]
            out[i, 1] = br_f[g, BF_Q]
            out[i, 2] = br_f[g, BF_AP]
        else:
            out[i, 0] = cs_f[i, CF_S]
            out[i, 1] = cs_f[i, CF_Q]
            out[i, 2] = cs_f[i, CF_A]


# --------------------------------------------------------------------------- Python side


@dataclass(frozen=True)
class _Compiled:
    """The model as the kernel's arguments."""

    args: tuple[Any, ...]
    n_stations: int
    n_levels: int
    width: int
    n_items: int
    horizon: float


def _compile_model(model: Model) -> _Compiled:
    cals = pack_calendars(model.calendars, model.station_calendar)
    levels = np.unique(np.asarray(model.class_priority, dtype=np.int64))
    class_level = np.searchsorted(levels, model.class_priority).astype(np.int64)
    widths = np.diff(model.stage_item_ptr)
    par = np.asarray(model.stage_mode) == PARALLEL
    width = int(max(1, widths[par].max() if par.any() else 1))
    width = 1 << (width - 1).bit_length()  # a power of two (see _run: g >> wb)
    i64 = np.int64
    args = (
        np.ascontiguousarray(model.station_servers, dtype=i64),
        np.ascontiguousarray(model.station_priority, dtype=np.bool_),
        np.ascontiguousarray(model.station_renege, dtype=np.bool_),
        *cals,
        np.ascontiguousarray(model.item_station, dtype=i64),
        np.ascontiguousarray(model.item_conditional, dtype=np.bool_),
        np.ascontiguousarray(model.item_deadline_hours, dtype=np.float64),
        np.ascontiguousarray(model.item_audit_station, dtype=i64),
        np.ascontiguousarray(model.class_route, dtype=i64),
        class_level,
        np.ascontiguousarray(model.class_pool, dtype=i64),
        len(levels),
        np.ascontiguousarray(model.route_stage_ptr, dtype=i64),
        np.ascontiguousarray(model.stage_mode, dtype=i64),
        np.ascontiguousarray(model.stage_item_ptr, dtype=i64),
        np.ascontiguousarray(model.stage_items, dtype=i64),
        width, float(model.horizon),
    )
    return _Compiled(args, model.n_stations, len(levels), width, model.n_items,
                     float(model.horizon))


def _contig(a: np.ndarray, dtype: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype)


def _input_args(model: Model, inp: Inputs) -> tuple[Any, ...]:
    """The per-case input arrays, checked and C-contiguous (broadcast views never copied)."""
    n, J = inp.n, model.n_items
    K = int(inp.service.shape[2]) if inp.service.ndim == 3 else -1
    for name in ("run_item", "visit", "delay", "audit", "audit_service"):
        if getattr(inp, name).shape != (n, J):
            raise UsageError(f"vector engine: inputs.{name} has shape "
                             f"{getattr(inp, name).shape}, expected {(n, J)}")
    for name in ("service", "deficient"):
        if getattr(inp, name).shape != (n, J, K):
            raise UsageError(f"vector engine: inputs.{name} has shape "
                             f"{getattr(inp, name).shape}, expected {(n, J, K)}")
    if K < 1:
        raise UsageError("vector engine: inputs.service needs at least one submission")
    if K > 1 and inp.fix.shape != (n, J, K):
        raise UsageError(f"vector engine: inputs.fix has shape {inp.fix.shape}, "
                         f"expected {(n, J, K)}")
    fix = np.zeros((1, 1, 1)) if K == 1 else _contig(inp.fix, np.float64)
    renege = bool(np.asarray(model.station_renege).any())
    has_pat = renege and not (is_broadcast(inp.patience) and np.isinf(inp.patience).all())
    if has_pat and inp.patience.shape != (n, J, K):
        raise UsageError(f"vector engine: reneging needs inputs.patience of shape {(n, J, K)} "
                         f"(got {inp.patience.shape})")
    patience = _contig(inp.patience, np.float64) if has_pat else np.zeros((1, 1, 1))
    in_lag: np.ndarray = getattr(inp, "lag", np.zeros((0, 0, 0)))
    has_lag = in_lag.size > 0 and not (is_broadcast(in_lag) and not in_lag.any())
    if has_lag and in_lag.shape != (n, J, K):
        raise UsageError(f"vector engine: inputs.lag has shape {in_lag.shape}, "
                         f"expected {(n, J, K)}")
    lag = _contig(in_lag, np.float64) if has_lag else np.zeros((1, 1, 1))
    return (
        _contig(inp.arrival, np.float64), _contig(inp.cls, np.int64),
        _contig(inp.channel, np.int64), _contig(inp.run_item, np.bool_),
        _contig(inp.visit, np.bool_), _contig(inp.delay, np.float64),
        _contig(inp.service, np.float64), has_lag, lag, _contig(inp.deficient, np.bool_), fix,
        has_pat, patience, _contig(inp.audit, np.bool_), _contig(inp.audit_service, np.float64),
    )


class _State:
    """Everything the kernel keeps between calls (arrays only)."""

    def __init__(self, cm: _Compiled, n: int, record: bool, visit_cap: int) -> None:
        S, L, W = cm.n_stations, cm.n_levels, cm.width
        i64 = np.int64
        self.sc = np.zeros(NSC, dtype=i64)
        self.sc[SC_FREE] = -1
        self.scf = np.zeros(1)
        cap = 1024
        self.ev_t = _aligned((cap,), np.float64)
        self.ev_p = _aligned((cap,), i64)
        self.stack = np.empty(256, dtype=i64)
        self.nd_i = _aligned((cap, NND), i64)
        self.nd_t = np.empty(cap)
        self.q_head = np.full(S * L, -1, dtype=i64)
        self.q_tail = np.full(S * L, -1, dtype=i64)
        self.st_busy = np.zeros(S, dtype=i64)
        self.st_wait = np.zeros(S, dtype=i64)
        self.dirty = np.zeros(S, dtype=i64)
        self.dflag = np.zeros(S, dtype=i64)
        self.cs_i = _aligned((n, NCI), i64)
        self.cs_f = _aligned((n, NCF), np.float64)
        self.br_i = _aligned((n * W, NBI), i64)
        self.br_f = _aligned((n * W, NBF), np.float64)
        self.status = np.zeros(n, dtype=i64)
        self.end = np.full(n, np.nan)
        self.visits = np.zeros(n, dtype=i64)
        self.rework = np.zeros(n, dtype=i64)
        self.supp = np.zeros(n, dtype=i64)
        vcap = max(16, visit_cap) if record else 1
        self.v_i = np.empty((vcap, 5), dtype=i64)
        self.v_f = np.empty((vcap, 3))
        self.v_r = np.empty(vcap, dtype=np.bool_)

    def run(self, cm: _Compiled, record: bool, base: int, n_loaded: int, t_stop: float,
            inputs: tuple[Any, ...]) -> None:
        """Run the kernel up to ``t_stop``, growing its arrays whenever it asks for room."""
        # an action code packs (branch, item, attempt, action) in one int64 (see _run)
        J, K = inputs[3].shape[1], inputs[6].shape[2]
        bits = (self.br_i.shape[0]).bit_length() + 4 + (J - 1).bit_length() + (K - 1).bit_length()
        if bits > 62:
            raise UsageError(f"vector engine: too many cases x items x attempts ({bits} bits)")
        while True:
            kernel: Callable[..., int] = _run  # the arguments are checked by numba
            status = kernel(
                *cm.args, record, base, n_loaded, t_stop, *inputs,
                self.sc, self.scf, self.ev_t, self.ev_p, self.stack, self.nd_i,
                self.nd_t, self.q_head, self.q_tail, self.st_busy, self.st_wait, self.dirty,
                self.dflag, self.cs_i, self.cs_f, self.br_i, self.br_f,
                self.status, self.end, self.visits, self.rework, self.supp,
                self.v_i, self.v_f, self.v_r)
            if status == 0:
                return
            self._grow(cm, record)

    def _grow(self, cm: _Compiled, record: bool) -> None:
        """Double every array the kernel's capacity checks (same margins) find short."""
        sc = self.sc
        need_n = cm.n_items + 1
        if sc[SC_HSIZE] + 2 + HB > self.ev_t.shape[0]:
            self.ev_t, self.ev_p = _double(self.ev_t), _double(self.ev_p)
        if sc[SC_SP] + cm.width + 1 > self.stack.shape[0]:
            self.stack = _double(self.stack)
        if sc[SC_NCOUNT] + need_n > self.nd_i.shape[0]:
            self.nd_i, self.nd_t = _double(self.nd_i), _double(self.nd_t)
        if record and sc[SC_NV] + need_n > self.v_i.shape[0]:
            self.v_i, self.v_f, self.v_r = (_double(a) for a in (self.v_i, self.v_f, self.v_r))

    def result(self, cm: _Compiled, replication: int, record: bool) -> RepResult:
        n = self.status.shape[0]
        tri = np.empty((n, 3))
        _finish(cm.width, self.cs_i, self.cs_f, self.br_f, tri)
        visits = None
        if record:
            nv = int(self.sc[SC_NV])
            vi, vf = self.v_i[:nv], self.v_f[:nv]
            visits = Visits(case=vi[:, 0].copy(), item=vi[:, 1].copy(), attempt=vi[:, 2].copy(),
                            station=vi[:, 3].copy(), kind=vi[:, 4].copy(),
                            joined=vf[:, 0].copy(), start=vf[:, 1].copy(), end=vf[:, 2].copy(),
                            reneged=self.v_r[:nv].copy())
        return RepResult(
            replication=replication, status=self.status, end=self.end,
            visits_count=self.visits, rework=self.rework, supplements=self.supp,
            t_service=tri[:, 0].copy(), t_queue=tri[:, 1].copy(), t_applicant=tri[:, 2].copy(),
            visits=visits)

    @property
    def events(self) -> int:
        """Actions processed so far (a measure of work)."""
        return int(self.sc[SC_EVENTS])


def _aligned(shape: tuple[int, ...], dtype: Any, line: int = 64) -> np.ndarray:
    """Zeros of ``shape`` starting on a cache-line boundary: rows of 64 bytes (the state
    tables) then sit on one line each instead of straddling two."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(size + line, dtype=np.uint8)
    skip = -raw.ctypes.data % line
    return raw[skip:skip + size].view(dtype).reshape(shape)


def _double(a: np.ndarray) -> np.ndarray:
    b = _aligned((2 * a.shape[0], *a.shape[1:]), a.dtype)
    b[: a.shape[0]] = a
    return b


def _visit_estimate(model: Model, inp: Inputs) -> int:
    pools = int(((inp.channel == 2) & (np.asarray(model.class_pool)[inp.cls] >= 0)).sum())
    return int(inp.run_item.sum()) + int(inp.audit.sum()) + pools


def simulate(model: Model, inputs: Inputs, record_visits: bool = True,
             feedforward: bool = True) -> RepResult:
    """Run one replication of ``model`` on ``inputs`` (docs/model.md).

    ``feedforward``: use the station-by-station pass when the model allows it (see
    :func:`_ff_run`; same records as the event loop, which ``False`` forces).
    """
    cm = _compile_model(model)
    args = _input_args(model, inputs)
    if feedforward:
        plan = feedforward_plan(model, inputs)
        if plan is not None:
            a = cm.args
            return simulate_ff(model, inputs, plan, (a[0], *a[3:10]), args[7], args[8],
                               record_visits)
    state = _State(cm, inputs.n, record_visits,
                   _visit_estimate(model, inputs) if record_visits else 0)
    state.run(cm, record_visits, 0, inputs.n, math.inf, args)
    return state.result(cm, inputs.replication, record_visits)


def simulate_many(model: Model, replications: Sequence[int], seed: int | None = None,
                  record_visits: bool = False) -> list[RepResult]:
    """Draw and run several replications (what a worker process of a pool calls)."""
    from sim.inputs import draw

    return [simulate(model, draw(model, rep, seed), record_visits=record_visits)
            for rep in replications]


def _concat(a: Inputs, b: Inputs) -> Inputs:
    if a.n == 0:
        return b
    out: dict[str, Any] = {}
    for name in Inputs.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if name == "replication":
            out[name] = x
        elif is_broadcast(x) and is_broadcast(y) and x.flat[0] == y.flat[0]:
            out[name] = np.broadcast_to(x.flat[0], (x.shape[0] + y.shape[0], *x.shape[1:]))
        else:
            out[name] = np.concatenate([x, y])
    return Inputs(**out)


def _tail(a: Inputs, start: int) -> Inputs:
    out: dict[str, Any] = {}
    for name in Inputs.__dataclass_fields__:
        x = getattr(a, name)
        if name == "replication":
            out[name] = x
        elif is_broadcast(x):
            out[name] = np.broadcast_to(x.flat[0], (x.shape[0] - start, *x.shape[1:]))
        else:
            out[name] = x[start:].copy()
    return Inputs(**out)


def simulate_streaming(model: Model, replication: int, seed: int | None = None,
                       chunk: int = 65536, record_visits: bool = False) -> RepResult:
    """One replication with inputs drawn ``chunk`` cases at a time.

    Gives the same records as ``simulate(model, draw(model, replication, seed))`` while
    holding the inputs of one chunk plus those of the cases still in the system: the
    kernel runs up to (not including) the arrival instant of the first case not drawn
    yet, then the next chunk is drawn and the run resumes.
    """
    from sim.inputs import arrival_stream, draw_cases

    if chunk < 1:
        raise UsageError(f"simulate_streaming: chunk must be >= 1 (got {chunk})")
    cm = _compile_model(model)
    stream = arrival_stream(model, replication, seed)  # O(cases): times, classes, channels
    arrival = stream.arrival
    n = int(arrival.shape[0])
    state = _State(cm, n, record_visits, 1 << 16)
    window = draw_cases(model, replication, seed, 0, 0, stream)  # cases base .. loaded - 1
    base = loaded = 0
    while True:
        hi = min(n, loaded + chunk)
        if hi > loaded:
            window = _concat(window, draw_cases(model, replication, seed, loaded, hi, stream))
            loaded = hi
        t_stop = float(arrival[loaded]) if loaded < n else math.inf
        state.run(cm, record_visits, base, loaded, t_stop, _input_args(model, window))
        if loaded >= n:
            break
        lo = int(state.sc[SC_LO])
        if lo > base:
            window = _tail(window, lo - base)
            base = lo
    return state.result(cm, replication, record_visits)
