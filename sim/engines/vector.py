"""The compiled engine: docs/model.md as one numba event loop over flat arrays.

The kernel (:func:`_run`) is sequential and allocation-free in its hot path:

* **Events** live in a binary heap keyed ``(time, seq)`` (arrays ``ev_t``, ``ev_s``,
  ``ev_p``; ``ev_p`` packs ``target << 4 | action``). Arrivals are not put on the heap:
  cases come in arrival order, so the next arrival is merged in from the input array.
  Actions due at the current instant go on a LIFO stack instead of the heap, and a chain
  of actions of one branch (item done -> next item -> join) runs without any push.
* **Queues**: a waiting entry has the key ``(priority, joined_at, case, slot)``. Every
  entry joins at the current instant, so ``joined_at`` never decreases along a queue:
  one doubly linked FIFO list per (station, priority level), in a shared pool of nodes,
  where an entry that joins at the same instant as the tail is inserted in
  ``(case, slot)`` order. A renege unlinks its node in O(1).
* **Simultaneity rule**: at an instant ``T`` every action at ``T`` is processed (stack
  first, then heap events at ``T``), then every station touched by a join or a release
  at ``T`` dispatches in key order; a pool grant pushes the start of the case's route,
  and the instant repeats while anything is due at ``T``.
* **State**: per case (stage, pending branches, critical-path triple...) and per branch
  (``W`` branch slots per case, ``W`` the widest parallel stage), flat 2-D arrays.
* **Calendars** are concatenated with per-station offsets; ``W(t)``, ``W⁻¹(w)`` and
  ``next_open(t)`` repeat the scalar expressions of :mod:`sim.calendar` (same binary
  searches, same arithmetic, no fastmath), so times are bit-identical to the DES engine.
  The always-open calendar is computed as the identity, which is what those expressions
  give on its single interval ``[0, 1e12)``.

The kernel is resumable: all of its state is in arrays it returns, and it can stop before
an instant (``t_stop``), which :func:`simulate_streaming` uses to run a replication chunk
by chunk of cases without ever holding all its inputs.

Points docs/model.md leaves open follow the DES engine (``sim/engines/des.py``,
docstring): what an open case has accrued, the renege row's ``end``, and a parallel
stage with one running item, which is run (and accrues) as a sequential stage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

from sim.calendar import ALWAYS_OPEN_END
from sim.errors import UsageError
from sim.inputs import Inputs
from sim.model import PARALLEL, Model
from sim.records import RepResult, Visits

__all__ = ["simulate", "simulate_many", "simulate_streaming"]

# actions (low 4 bits of an event payload)
A_ARRIVE, A_ROUTE, A_STAGE, A_NEXT, A_BEGIN, A_JOIN, A_SVC_END = 0, 1, 2, 3, 4, 5, 6
A_RENEGE, A_BDONE, A_WORK, A_STAGE_END, A_AUDIT_END = 7, 8, 9, 10, 11
# queue kinds
K_SUB, K_AUDIT, K_POOL = 0, 1, 2
# case int state columns
CI_STAGE, CI_PENDING, CI_BEST, CI_ABANDON, CI_POOL, CI_PVROW, CI_REFS, CI_PHASE = range(8)
NCI = 8
# case float state columns
CF_WEND, CF_SUPP, CF_BEND, CF_S, CF_Q, CF_A = range(6)
NCF = 6
# branch int state columns
BI_POS, BI_ITEM, BI_ATT, BI_STATE, BI_NODE, BI_RSEQ, BI_VROW = range(7)
NBI = 7
# branch float state columns
BF_A, BF_START, BF_S, BF_Q, BF_AP, BF_PEND = range(6)
NBF = 6
# branch states
B_IDLE, B_DELAY, B_WAIT, B_SERVICE, B_FIX, B_RENEGED = 0, 1, 2, 3, 4, 5
# case phases (what holds the case's critical-path triple while it is open)
P_NONE, P_SEQ, P_PAR = 0, 1, 2
# queue node columns
ND_CASE, ND_SLOT, ND_KIND, ND_REF, ND_VROW, ND_NEXT, ND_PREV = range(7)
NND = 7
# scalar state
SC_HSIZE, SC_SEQ, SC_NEXT, SC_FREE, SC_NCOUNT, SC_NV, SC_LO, SC_EVENTS = range(8)
NSC = 8

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


# --------------------------------------------------------------------------- helpers


@njit(cache=True)
def _bisect_right(a: F64, lo: int, hi: int, x: float) -> int:
    while lo < hi:
        mid = (lo + hi) >> 1
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def _bisect_left(a: F64, lo: int, hi: int, x: float) -> int:
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _serve(cal_open: F64, cal_close: F64, cal_cum: F64, cal_cend: F64, off: int, m: int,
           always: bool, T: float, s: float) -> tuple[float, float]:
    """(start, end) of ``s`` working hours dispatched at ``T``: sim.calendar's expressions."""
    if always:
        w = T + s
        return T, (w if w <= ALWAYS_OPEN_END else np.inf)
    hi = off + m
    k = _bisect_right(cal_open, off, hi, T) - 1
    if k < off:
        wT = 0.0
    elif T >= cal_close[k]:
        wT = cal_cend[k]
    else:
        wT = cal_cum[k] + (T - cal_open[k])
    k2 = _bisect_right(cal_close, off, hi, T)
    if k2 == hi:
        start = np.inf
    else:
        o = cal_open[k2]
        start = T if T >= o else o
    w = wT + s
    k3 = _bisect_left(cal_cend, off, hi, w)
    end = np.inf if k3 == hi else cal_open[k3] + (w - cal_cum[k3])
    return start, end


@njit(cache=True)
def _hpush(ev_t: F64, ev_s: I64, ev_p: I64, n: int, t: float, s: int, p: int) -> None:
    i = n
    while i > 0:
        par = (i - 1) >> 1
        pt = ev_t[par]
        if pt < t or (pt == t and ev_s[par] < s):
            break
        ev_t[i] = pt
        ev_s[i] = ev_s[par]
        ev_p[i] = ev_p[par]
        i = par
    ev_t[i] = t
    ev_s[i] = s
    ev_p[i] = p


@njit(cache=True)
def _hpop(ev_t: F64, ev_s: I64, ev_p: I64, n: int) -> None:
    """Remove the top of a heap of size ``n``."""
    n -= 1
    t = ev_t[n]
    s = ev_s[n]
    p = ev_p[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        c2 = c + 1
        if c2 < n and (ev_t[c2] < ev_t[c] or (ev_t[c2] == ev_t[c] and ev_s[c2] < ev_s[c])):
            c = c2
        if ev_t[c] < t or (ev_t[c] == t and ev_s[c] < s):
            ev_t[i] = ev_t[c]
            ev_s[i] = ev_s[c]
            ev_p[i] = ev_p[c]
            i = c
        else:
            break
    ev_t[i] = t
    ev_s[i] = s
    ev_p[i] = p


@njit(cache=True)
def _grow1(a: Any) -> Any:
    b = np.empty(2 * a.shape[0], dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _grow2(a: Any) -> Any:
    b = np.empty((2 * a.shape[0], a.shape[1]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _enqueue(nd_i: I64, nd_t: F64, q_head: I64, q_tail: I64, q: int, node: int, T: float,
             case: int, slot: int) -> None:
    """Link ``node`` (joined at ``T``, the latest time in the queue) at its key's place."""
    p = q_tail[q]
    while p >= 0 and nd_t[p] == T and (
            nd_i[p, ND_CASE] > case or (nd_i[p, ND_CASE] == case and nd_i[p, ND_SLOT] > slot)):
        p = nd_i[p, ND_PREV]
    if p < 0:
        nx = q_head[q]
        q_head[q] = node
    else:
        nx = nd_i[p, ND_NEXT]
        nd_i[p, ND_NEXT] = node
    nd_i[node, ND_PREV] = p
    nd_i[node, ND_NEXT] = nx
    if nx < 0:
        q_tail[q] = node
    else:
        nd_i[nx, ND_PREV] = node


@njit(cache=True)
def _unlink(nd_i: I64, q_head: I64, q_tail: I64, q: int, node: int) -> None:
    p = nd_i[node, ND_PREV]
    nx = nd_i[node, ND_NEXT]
    if p < 0:
        q_head[q] = nx
    else:
        nd_i[p, ND_NEXT] = nx
    if nx < 0:
        q_tail[q] = p
    else:
        nd_i[nx, ND_PREV] = p


# --------------------------------------------------------------------------- the kernel


@njit(cache=True)
def _run(  # noqa: C901
    # model
    servers: I64, st_level_on: Any, st_renege: Any, st_cal_off: I64, st_cal_len: I64,
    st_always: Any, cal_open: F64, cal_close: F64, cal_cum: F64, cal_cend: F64,
    item_station: I64, item_cond: Any, item_deadline: F64, item_audit_station: I64,
    class_route: I64, class_level: I64, class_pool: I64, n_levels: int,
    route_stage_ptr: I64, stage_mode: I64, stage_item_ptr: I64, stage_items: I64,
    W: int, horizon: float, record: bool,
    # inputs of cases base .. n_loaded - 1 (row i - base)
    base: int, n_loaded: int, t_stop: float, arrival: F64, cls: I64, channel: I64,
    run_item: Any, visit: Any, delay: F64, service: Any, deficient: Any, fix: Any,
    has_pat: bool, patience: Any, audit: Any, audit_service: F64,
    # state
    sc: I64, ev_t: F64, ev_s: I64, ev_p: I64, stack: I64, nd_i: I64, nd_t: F64,
    q_head: I64, q_tail: I64, st_busy: I64, st_wait: I64, dirty: I64, dflag: I64,
    cs_i: I64, cs_f: F64, br_i: I64, br_f: F64,
    o_status: I64, o_end: F64, o_visits: I64, o_rework: I64, o_supp: I64,
    v_i: I64, v_f: F64, v_r: Any,
) -> Any:
    J = run_item.shape[1]
    K = service.shape[2]
    L = n_levels
    inf = np.inf
    nan = np.nan
    hsize = sc[SC_HSIZE]
    seq = sc[SC_SEQ]
    nxt = sc[SC_NEXT]
    nfree = sc[SC_FREE]
    ncount = sc[SC_NCOUNT]
    nv = sc[SC_NV]
    nevents = sc[SC_EVENTS]
    sp = 0
    ndirty = 0

    while True:
        # ---------------------------------------------------------------- next instant
        T = inf
        if hsize > 0:
            T = ev_t[0]
        if nxt < n_loaded:
            ta = arrival[nxt - base]
            if ta < T:
                T = ta
        if T > horizon or T >= t_stop:
            break
        while nxt < n_loaded and arrival[nxt - base] == T:
            if sp == stack.shape[0]:
                stack = _grow1(stack)
            stack[sp] = (nxt << 4) | A_ARRIVE
            sp += 1
            nxt += 1
        while True:
            # ------------------------------------------------------------ (1) events at T
            while True:
                eseq = -1
                if sp > 0:
                    sp -= 1
                    code = stack[sp]
                elif hsize > 0 and ev_t[0] == T:
                    code = ev_p[0]
                    eseq = ev_s[0]
                    _hpop(ev_t, ev_s, ev_p, hsize)
                    hsize -= 1
                else:
                    break
                nevents += 1
                act = code & 15
                x = code >> 4
                while True:  # a chain of actions at T, without pushes
                    if act == A_JOIN:
                        g = x
                        i = g // W
                        li = i - base
                        j = br_i[g, BI_ITEM]
                        k = br_i[g, BI_ATT]
                        s = item_station[j]
                        br_f[g, BF_AP] += br_f[g, BF_PEND]
                        br_f[g, BF_PEND] = 0.0
                        if visit[li, j]:
                            o_visits[i] += 1
                        vrow = -1
                        if record:
                            if nv == v_i.shape[0]:
                                v_i = _grow2(v_i)
                                v_f = _grow2(v_f)
                                v_r = _grow1(v_r)
                            vrow = nv
                            nv += 1
                            v_i[vrow, 0] = i
                            v_i[vrow, 1] = j
                            v_i[vrow, 2] = k
                            v_i[vrow, 3] = s
                            v_i[vrow, 4] = K_SUB
                            v_f[vrow, 0] = T
                            v_f[vrow, 1] = nan
                            v_f[vrow, 2] = nan
                            v_r[vrow] = False
                        br_f[g, BF_A] = T
                        br_i[g, BI_STATE] = B_WAIT
                        br_i[g, BI_VROW] = vrow
                        if nfree >= 0:
                            node = nfree
                            nfree = nd_i[node, ND_NEXT]
                        else:
                            if ncount == nd_i.shape[0]:
                                nd_i = _grow2(nd_i)
                                nd_t = _grow1(nd_t)
                            node = ncount
                            ncount += 1
                        nd_i[node, ND_CASE] = i
                        nd_i[node, ND_SLOT] = j
                        nd_i[node, ND_KIND] = K_SUB
                        nd_i[node, ND_REF] = g
                        nd_i[node, ND_VROW] = vrow
                        nd_t[node] = T
                        q = s * L
                        if st_level_on[s]:
                            q += class_level[cls[li]]
                        _enqueue(nd_i, nd_t, q_head, q_tail, q, node, T, i, j)
                        br_i[g, BI_NODE] = node
                        st_wait[s] += 1
                        if dflag[s] == 0 and st_busy[s] < servers[s]:
                            dflag[s] = 1
                            dirty[ndirty] = s
                            ndirty += 1
                        if has_pat and st_renege[s]:
                            pt = patience[li, j, k]
                            if pt < inf:
                                tr = T + pt
                                if tr <= horizon:
                                    if hsize == ev_t.shape[0]:
                                        ev_t = _grow1(ev_t)
                                        ev_s = _grow1(ev_s)
                                        ev_p = _grow1(ev_p)
                                    seq += 1
                                    br_i[g, BI_RSEQ] = seq
                                    _hpush(ev_t, ev_s, ev_p, hsize, tr, seq,
                                           (g << 4) | A_RENEGE)
                                    hsize += 1
                        break
                    elif act == A_SVC_END:
                        g = x
                        i = g // W
                        li = i - base
                        j = br_i[g, BI_ITEM]
                        k = br_i[g, BI_ATT]
                        s = item_station[j]
                        st_busy[s] -= 1
                        if dflag[s] == 0 and st_wait[s] > 0:
                            dflag[s] = 1
                            dirty[ndirty] = s
                            ndirty += 1
                        start = br_f[g, BF_START]
                        br_f[g, BF_Q] += start - br_f[g, BF_A]
                        br_f[g, BF_S] += T - start
                        br_i[g, BI_STATE] = B_IDLE
                        if k < K - 1 and deficient[li, j, k]:
                            o_rework[i] += 1
                            f = fix[li, j, k]
                            if item_cond[j] and f <= item_deadline[j]:
                                o_supp[i] += 1
                                se = T + f
                                if se > cs_f[i, CF_SUPP]:
                                    cs_f[i, CF_SUPP] = se
                            else:
                                br_i[g, BI_ATT] = k + 1
                                br_f[g, BF_PEND] = f
                                ta = T + f
                                if ta == T:
                                    act = A_JOIN
                                    continue
                                br_i[g, BI_STATE] = B_FIX
                                if ta <= horizon:
                                    if hsize == ev_t.shape[0]:
                                        ev_t = _grow1(ev_t)
                                        ev_s = _grow1(ev_s)
                                        ev_p = _grow1(ev_p)
                                    seq += 1
                                    _hpush(ev_t, ev_s, ev_p, hsize, ta, seq, (g << 4) | A_JOIN)
                                    hsize += 1
                                break
                        act = A_NEXT if cs_i[i, CI_PHASE] == P_SEQ else A_BDONE
                        continue
                    elif act == A_NEXT:
                        g = x
                        i = g // W
                        li = i - base
                        st = cs_i[i, CI_STAGE]
                        p1 = stage_item_ptr[st + 1]
                        p = br_i[g, BI_POS] + 1
                        while p < p1 and not run_item[li, stage_items[p]]:
                            p += 1
                        br_i[g, BI_POS] = p
                        if p == p1:
                            act = A_BDONE
                            continue
                        br_i[g, BI_ITEM] = stage_items[p]
                        br_i[g, BI_ATT] = 0
                        act = A_BEGIN
                        continue
                    elif act == A_BEGIN:
                        g = x
                        li = g // W - base
                        d = delay[li, br_i[g, BI_ITEM]]
                        if d > 0.0:
                            br_f[g, BF_PEND] = d
                            br_i[g, BI_STATE] = B_DELAY
                            ta = T + d
                            if ta <= horizon:
                                if hsize == ev_t.shape[0]:
                                    ev_t = _grow1(ev_t)
                                    ev_s = _grow1(ev_s)
                                    ev_p = _grow1(ev_p)
                                seq += 1
                                _hpush(ev_t, ev_s, ev_p, hsize, ta, seq, (g << 4) | A_JOIN)
                                hsize += 1
                            break
                        br_f[g, BF_PEND] = 0.0
                        act = A_JOIN
                        continue
                    elif act == A_BDONE:
                        g = x
                        i = g // W
                        b = g - i * W
                        be = cs_f[i, CF_BEND]
                        if T > be or (T == be and b < cs_i[i, CI_BEST]):
                            cs_f[i, CF_BEND] = T
                            cs_i[i, CI_BEST] = b
                        cs_i[i, CI_PENDING] -= 1
                        if cs_i[i, CI_PENDING] > 0:
                            break
                        x = i
                        act = A_WORK
                        continue
                    elif act == A_WORK:
                        i = x
                        g = i * W + cs_i[i, CI_BEST]
                        cs_f[i, CF_S] = br_f[g, BF_S]
                        cs_f[i, CF_Q] = br_f[g, BF_Q]
                        cs_f[i, CF_A] = br_f[g, BF_AP]
                        cs_i[i, CI_PHASE] = P_NONE
                        cs_f[i, CF_WEND] = T
                        se = cs_f[i, CF_SUPP]
                        if se > T:
                            if se <= horizon:
                                if hsize == ev_t.shape[0]:
                                    ev_t = _grow1(ev_t)
                                    ev_s = _grow1(ev_s)
                                    ev_p = _grow1(ev_p)
                                seq += 1
                                _hpush(ev_t, ev_s, ev_p, hsize, se, seq, (i << 4) | A_STAGE_END)
                                hsize += 1
                            break
                        act = A_STAGE_END
                        continue
                    elif act == A_STAGE_END:
                        i = x
                        li = i - base
                        we = cs_f[i, CF_WEND]
                        if T > we:
                            cs_f[i, CF_A] += T - we
                        c = cls[li]
                        if cs_i[i, CI_ABANDON] == 0:
                            st = cs_i[i, CI_STAGE] + 1
                            if st < route_stage_ptr[class_route[c] + 1]:
                                cs_i[i, CI_STAGE] = st
                                act = A_STAGE
                                continue
                            o_status[i] = 1
                        else:
                            o_status[i] = 2
                        # the case ends at T
                        o_end[i] = T
                        cs_i[i, CI_REFS] -= 1
                        if cs_i[i, CI_POOL] == 2:
                            cs_i[i, CI_POOL] = 3
                            pool = class_pool[c]
                            st_busy[pool] -= 1
                            if dflag[pool] == 0 and st_wait[pool] > 0:
                                dflag[pool] = 1
                                dirty[ndirty] = pool
                                ndirty += 1
                            if record:
                                v_f[cs_i[i, CI_PVROW], 2] = T
                        if o_status[i] == 1:
                            for j in range(J):
                                if not audit[li, j]:
                                    continue
                                s = item_audit_station[j]
                                vrow = -1
                                if record:
                                    if nv == v_i.shape[0]:
                                        v_i = _grow2(v_i)
                                        v_f = _grow2(v_f)
                                        v_r = _grow1(v_r)
                                    vrow = nv
                                    nv += 1
                                    v_i[vrow, 0] = i
                                    v_i[vrow, 1] = j
                                    v_i[vrow, 2] = 0
                                    v_i[vrow, 3] = s
                                    v_i[vrow, 4] = K_AUDIT
                                    v_f[vrow, 0] = T
                                    v_f[vrow, 1] = nan
                                    v_f[vrow, 2] = nan
                                    v_r[vrow] = False
                                if nfree >= 0:
                                    node = nfree
                                    nfree = nd_i[node, ND_NEXT]
                                else:
                                    if ncount == nd_i.shape[0]:
                                        nd_i = _grow2(nd_i)
                                        nd_t = _grow1(nd_t)
                                    node = ncount
                                    ncount += 1
                                nd_i[node, ND_CASE] = i
                                nd_i[node, ND_SLOT] = J + j
                                nd_i[node, ND_KIND] = K_AUDIT
                                nd_i[node, ND_REF] = j
                                nd_i[node, ND_VROW] = vrow
                                nd_t[node] = T
                                q = s * L
                                if st_level_on[s]:
                                    q += class_level[c]
                                _enqueue(nd_i, nd_t, q_head, q_tail, q, node, T, i, J + j)
                                st_wait[s] += 1
                                cs_i[i, CI_REFS] += 1
                                if dflag[s] == 0 and st_busy[s] < servers[s]:
                                    dflag[s] = 1
                                    dirty[ndirty] = s
                                    ndirty += 1
                        break
                    elif act == A_STAGE:
                        i = x
                        li = i - base
                        st = cs_i[i, CI_STAGE]
                        p0 = stage_item_ptr[st]
                        p1 = stage_item_ptr[st + 1]
                        cnt = 0
                        for p in range(p0, p1):
                            if run_item[li, stage_items[p]]:
                                cnt += 1
                        cs_i[i, CI_BEST] = -1
                        cs_f[i, CF_BEND] = -inf
                        cs_f[i, CF_SUPP] = -inf
                        if cnt == 0:  # takes no time
                            cs_f[i, CF_WEND] = T
                            act = A_STAGE_END
                            continue
                        if stage_mode[st] != PARALLEL or cnt == 1:
                            cs_i[i, CI_PHASE] = P_SEQ
                            cs_i[i, CI_PENDING] = 1
                            g = i * W
                            br_i[g, BI_POS] = p0 - 1
                            br_f[g, BF_S] = cs_f[i, CF_S]
                            br_f[g, BF_Q] = cs_f[i, CF_Q]
                            br_f[g, BF_AP] = cs_f[i, CF_A]
                            x = g
                            act = A_NEXT
                            continue
                        cs_i[i, CI_PHASE] = P_PAR
                        cs_i[i, CI_PENDING] = cnt
                        for p in range(p0, p1):
                            jj = stage_items[p]
                            if not run_item[li, jj]:
                                continue
                            g = i * W + (p - p0)
                            br_i[g, BI_POS] = p
                            br_i[g, BI_ITEM] = jj
                            br_i[g, BI_ATT] = 0
                            br_f[g, BF_S] = cs_f[i, CF_S]
                            br_f[g, BF_Q] = cs_f[i, CF_Q]
                            br_f[g, BF_AP] = cs_f[i, CF_A]
                            if sp == stack.shape[0]:
                                stack = _grow1(stack)
                            stack[sp] = (g << 4) | A_BEGIN
                            sp += 1
                        break
                    elif act == A_ARRIVE:
                        i = x
                        li = i - base
                        c = cls[li]
                        cs_i[i, CI_REFS] = 1
                        pool = class_pool[c]
                        if channel[li] == 2 and pool >= 0:
                            vrow = -1
                            if record:
                                if nv == v_i.shape[0]:
                                    v_i = _grow2(v_i)
                                    v_f = _grow2(v_f)
                                    v_r = _grow1(v_r)
                                vrow = nv
                                nv += 1
                                v_i[vrow, 0] = i
                                v_i[vrow, 1] = -1
                                v_i[vrow, 2] = 0
                                v_i[vrow, 3] = pool
                                v_i[vrow, 4] = K_POOL
                                v_f[vrow, 0] = T
                                v_f[vrow, 1] = nan
                                v_f[vrow, 2] = nan
                                v_r[vrow] = False
                            if nfree >= 0:
                                node = nfree
                                nfree = nd_i[node, ND_NEXT]
                            else:
                                if ncount == nd_i.shape[0]:
                                    nd_i = _grow2(nd_i)
                                    nd_t = _grow1(nd_t)
                                node = ncount
                                ncount += 1
                            nd_i[node, ND_CASE] = i
                            nd_i[node, ND_SLOT] = 2 * J
                            nd_i[node, ND_KIND] = K_POOL
                            nd_i[node, ND_REF] = -1
                            nd_i[node, ND_VROW] = vrow
                            nd_t[node] = T
                            q = pool * L
                            if st_level_on[pool]:
                                q += class_level[c]
                            _enqueue(nd_i, nd_t, q_head, q_tail, q, node, T, i, 2 * J)
                            st_wait[pool] += 1
                            cs_i[i, CI_POOL] = 1
                            cs_i[i, CI_PVROW] = vrow
                            if dflag[pool] == 0 and st_busy[pool] < servers[pool]:
                                dflag[pool] = 1
                                dirty[ndirty] = pool
                                ndirty += 1
                            break
                        act = A_ROUTE
                        continue
                    elif act == A_ROUTE:
                        i = x
                        li = i - base
                        if cs_i[i, CI_POOL] == 2:
                            cs_f[i, CF_Q] += T - arrival[li]
                        cs_i[i, CI_STAGE] = route_stage_ptr[class_route[cls[li]]]
                        act = A_STAGE
                        continue
                    elif act == A_RENEGE:
                        g = x
                        if br_i[g, BI_STATE] != B_WAIT or br_i[g, BI_RSEQ] != eseq:
                            break
                        i = g // W
                        li = i - base
                        s = item_station[br_i[g, BI_ITEM]]
                        q = s * L
                        if st_level_on[s]:
                            q += class_level[cls[li]]
                        node = br_i[g, BI_NODE]
                        _unlink(nd_i, q_head, q_tail, q, node)
                        nd_i[node, ND_NEXT] = nfree
                        nfree = node
                        st_wait[s] -= 1
                        if record:
                            vrow = br_i[g, BI_VROW]
                            v_r[vrow] = True
                            v_f[vrow, 2] = T
                        br_f[g, BF_Q] += T - br_f[g, BF_A]
                        br_i[g, BI_STATE] = B_RENEGED
                        cs_i[i, CI_ABANDON] = 1
                        act = A_BDONE
                        continue
                    elif act == A_AUDIT_END:
                        s = x
                        st_busy[s] -= 1
                        if dflag[s] == 0 and st_wait[s] > 0:
                            dflag[s] = 1
                            dirty[ndirty] = s
                            ndirty += 1
                        break
                    else:
                        raise AssertionError("unknown action")
            # ------------------------------------------------------------ (2) dispatch at T
            for di in range(ndirty):
                s = dirty[di]
                dflag[s] = 0
                while st_busy[s] < servers[s] and st_wait[s] > 0:
                    q = s * L
                    if st_level_on[s]:
                        while q_head[q] < 0:
                            q += 1
                    node = q_head[q]
                    nx = nd_i[node, ND_NEXT]
                    q_head[q] = nx
                    if nx < 0:
                        q_tail[q] = -1
                    else:
                        nd_i[nx, ND_PREV] = -1
                    nd_i[node, ND_NEXT] = nfree
                    nfree = node
                    st_wait[s] -= 1
                    st_busy[s] += 1
                    i = nd_i[node, ND_CASE]
                    li = i - base
                    kind = nd_i[node, ND_KIND]
                    vrow = nd_i[node, ND_VROW]
                    if kind == K_POOL:
                        cs_i[i, CI_POOL] = 2
                        if record:
                            v_f[vrow, 1] = T
                        if sp == stack.shape[0]:
                            stack = _grow1(stack)
                        stack[sp] = (i << 4) | A_ROUTE
                        sp += 1
                        continue
                    if kind == K_SUB:
                        g = nd_i[node, ND_REF]
                        svc = service[li, br_i[g, BI_ITEM], br_i[g, BI_ATT]]
                        code = (g << 4) | A_SVC_END
                    else:
                        svc = audit_service[li, nd_i[node, ND_REF]]
                        code = (s << 4) | A_AUDIT_END
                        cs_i[i, CI_REFS] -= 1
                    start, end = _serve(cal_open, cal_close, cal_cum, cal_cend, st_cal_off[s],
                                        st_cal_len[s], st_always[s], T, svc)
                    if kind == K_SUB:
                        br_f[g, BF_START] = start
                        br_i[g, BI_STATE] = B_SERVICE
                    if record:
                        v_f[vrow, 1] = start
                        v_f[vrow, 2] = end
                    if end <= horizon:
                        if hsize == ev_t.shape[0]:
                            ev_t = _grow1(ev_t)
                            ev_s = _grow1(ev_s)
                            ev_p = _grow1(ev_p)
                        seq += 1
                        _hpush(ev_t, ev_s, ev_p, hsize, end, seq, code)
                        hsize += 1
            ndirty = 0
            if sp == 0 and not (hsize > 0 and ev_t[0] == T):
                break

    lo = sc[SC_LO]
    while lo < nxt and cs_i[lo, CI_REFS] == 0:
        lo += 1
    sc[SC_HSIZE] = hsize
    sc[SC_SEQ] = seq
    sc[SC_NEXT] = nxt
    sc[SC_FREE] = nfree
    sc[SC_NCOUNT] = ncount
    sc[SC_NV] = nv
    sc[SC_LO] = lo
    sc[SC_EVENTS] = nevents
    return ev_t, ev_s, ev_p, stack, nd_i, nd_t, v_i, v_f, v_r


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
    cals = model.calendars
    offs = np.cumsum([0] + [len(c.open) for c in cals])[:-1]
    cal_open = np.concatenate([c.open for c in cals])
    cal_close = np.concatenate([c.close for c in cals])
    cal_cum = np.concatenate([c.cum for c in cals])
    cal_cend = np.concatenate([c.cend for c in cals])
    always = np.array([len(c.open) == 1 and c.open[0] == 0.0 and c.close[0] == ALWAYS_OPEN_END
                       and c.cum[0] == 0.0 for c in cals], dtype=np.bool_)
    sc = np.asarray(model.station_calendar, dtype=np.int64)
    st_off = np.ascontiguousarray(offs[sc], dtype=np.int64)
    st_len = np.array([len(cals[k].open) for k in sc], dtype=np.int64)
    levels = np.unique(np.asarray(model.class_priority, dtype=np.int64))
    class_level = np.searchsorted(levels, model.class_priority).astype(np.int64)
    widths = np.diff(model.stage_item_ptr)
    par = np.asarray(model.stage_mode) == PARALLEL
    width = int(max(1, widths[par].max() if par.any() else 1))
    i64 = np.int64
    args = (
        np.ascontiguousarray(model.station_servers, dtype=i64),
        np.ascontiguousarray(model.station_priority, dtype=np.bool_),
        np.ascontiguousarray(model.station_renege, dtype=np.bool_),
        st_off, st_len, np.ascontiguousarray(always[sc]),
        cal_open, cal_close, cal_cum, cal_cend,
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


def _is_broadcast(a: np.ndarray) -> bool:
    return a.size > 0 and 0 in a.strides


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
    has_pat = renege and not (_is_broadcast(inp.patience) and np.isinf(inp.patience).all())
    if has_pat and inp.patience.shape != (n, J, K):
        raise UsageError(f"vector engine: reneging needs inputs.patience of shape {(n, J, K)} "
                         f"(got {inp.patience.shape})")
    patience = _contig(inp.patience, np.float64) if has_pat else np.zeros((1, 1, 1))
    return (
        _contig(inp.arrival, np.float64), _contig(inp.cls, np.int64),
        _contig(inp.channel, np.int64), _contig(inp.run_item, np.bool_),
        _contig(inp.visit, np.bool_), _contig(inp.delay, np.float64),
        _contig(inp.service, np.float64), _contig(inp.deficient, np.bool_), fix,
        has_pat, patience, _contig(inp.audit, np.bool_), _contig(inp.audit_service, np.float64),
    )


class _State:
    """Everything the kernel keeps between calls (arrays only)."""

    def __init__(self, cm: _Compiled, n: int, record: bool, visit_cap: int) -> None:
        S, L, W = cm.n_stations, cm.n_levels, cm.width
        i64 = np.int64
        self.sc = np.zeros(NSC, dtype=i64)
        self.sc[SC_FREE] = -1
        cap = 1024
        self.ev_t = np.empty(cap)
        self.ev_s = np.empty(cap, dtype=i64)
        self.ev_p = np.empty(cap, dtype=i64)
        self.stack = np.empty(256, dtype=i64)
        self.nd_i = np.empty((cap, NND), dtype=i64)
        self.nd_t = np.empty(cap)
        self.q_head = np.full(S * L, -1, dtype=i64)
        self.q_tail = np.full(S * L, -1, dtype=i64)
        self.st_busy = np.zeros(S, dtype=i64)
        self.st_wait = np.zeros(S, dtype=i64)
        self.dirty = np.zeros(S, dtype=i64)
        self.dflag = np.zeros(S, dtype=i64)
        self.cs_i = np.zeros((n, NCI), dtype=i64)
        self.cs_f = np.zeros((n, NCF))
        self.br_i = np.zeros((n * W, NBI), dtype=i64)
        self.br_f = np.zeros((n * W, NBF))
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
        out = _run(*cm.args, record, base, n_loaded, t_stop, *inputs,
                   self.sc, self.ev_t, self.ev_s, self.ev_p, self.stack, self.nd_i, self.nd_t,
                   self.q_head, self.q_tail, self.st_busy, self.st_wait, self.dirty, self.dflag,
                   self.cs_i, self.cs_f, self.br_i, self.br_f,
                   self.status, self.end, self.visits, self.rework, self.supp,
                   self.v_i, self.v_f, self.v_r)
        (self.ev_t, self.ev_s, self.ev_p, self.stack, self.nd_i, self.nd_t,
         self.v_i, self.v_f, self.v_r) = out

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


def _visit_estimate(model: Model, inp: Inputs) -> int:
    pools = int(((inp.channel == 2) & (np.asarray(model.class_pool)[inp.cls] >= 0)).sum())
    return int(inp.run_item.sum()) + int(inp.audit.sum()) + pools


def simulate(model: Model, inputs: Inputs, record_visits: bool = True) -> RepResult:
    """Run one replication of ``model`` on ``inputs`` (docs/model.md)."""
    cm = _compile_model(model)
    args = _input_args(model, inputs)
    state = _State(cm, inputs.n, record_visits,
                   _visit_estimate(model, inputs) if record_visits else 0)
    state.run(cm, record_visits, 0, inputs.n, math.inf, args)
    return state.result(cm, inputs.replication, record_visits)


def simulate_many(model: Model, replications: Sequence[int], seed: int | None = None,
                  record_visits: bool = False) -> list[RepResult]:
    """Draw and run several replications (what a worker process of a pool calls)."""
    from sim.inputs import draw

    cm = _compile_model(model)
    out = []
    for rep in replications:
        inp = draw(model, rep, seed)
        args = _input_args(model, inp)
        state = _State(cm, inp.n, record_visits,
                       _visit_estimate(model, inp) if record_visits else 0)
        state.run(cm, record_visits, 0, inp.n, math.inf, args)
        out.append(state.result(cm, rep, record_visits))
    return out


def _concat(a: Inputs | None, b: Inputs) -> Inputs:
    if a is None or a.n == 0:
        return b
    out: dict[str, Any] = {}
    for name in Inputs.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if name == "replication":
            out[name] = x
        elif _is_broadcast(x) and _is_broadcast(y) and x.flat[0] == y.flat[0]:
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
        elif _is_broadcast(x):
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
    from sim.inputs import arrival_stream, draw

    if chunk < 1:
        raise UsageError(f"simulate_streaming: chunk must be >= 1 (got {chunk})")
    cm = _compile_model(model)
    arrival = arrival_stream(model, replication, seed).arrival
    n = int(arrival.shape[0])
    state = _State(cm, n, record_visits, 1 << 16)
    window: Inputs | None = None  # inputs of cases base .. loaded - 1
    base = loaded = 0
    while True:
        hi = min(n, loaded + chunk)
        if hi > loaded:
            window = _concat(window, draw(model, replication, seed, cases=slice(loaded, hi)))
            loaded = hi
        assert window is not None
        t_stop = float(arrival[loaded]) if loaded < n else math.inf
        state.run(cm, record_visits, base, loaded, t_stop, _input_args(model, window))
        if loaded >= n:
            break
        lo = int(state.sc[SC_LO])
        if lo > base:
            window = _tail(window, lo - base)
            base = lo
    return state.result(cm, replication, record_visits)
