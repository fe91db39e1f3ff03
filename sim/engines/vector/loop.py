"""The event loop :func:`_run`: the kernel that handles every feature of docs/model.md.

How it works (events, queues, the simultaneity rule, state, calendars, resuming) is the
docstring of :mod:`sim.engines.vector`; the arrays' layout is :mod:`~.layout`, its
helpers (inlined) are :mod:`~.heap`, :mod:`~.queues` and :mod:`~.codes`, and
:class:`~sim.engines.vector.state._State` calls it. It stays one function: its actions
chain without calls, keeping the loop's scalars (heap size, pool and stack counters, the
current instant) in locals, and cutting it into per-action functions would mean passing
and returning those scalars at every action, a rewrite rather than a move.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.engines.vector.attempts import _arow
from sim.engines.vector.codes import _bits, _branch_at, _warm
from sim.engines.vector.heap import _hpop, _hpush
from sim.engines.vector.kernels import F64, I64, _u, no_nrt, serve
from sim.engines.vector.layout import (
    A_ARRIVE,
    A_AUDIT_END,
    A_BDONE,
    A_BEGIN,
    A_JOIN,
    A_LAG_END,
    A_NEXT,
    A_RENEGE,
    A_RESULT,
    A_ROUTE,
    A_SCHED,
    A_SESSION,
    A_STAGE,
    A_STAGE_END,
    A_SVC_END,
    A_WORK,
    B_DELAY,
    B_FIX,
    B_IDLE,
    B_LAG,
    B_RENEGED,
    B_SERVICE,
    B_WAIT,
    BF_A,
    BF_AP,
    BF_PEND,
    BF_Q,
    BF_S,
    BF_SEND,
    BF_START,
    BI_ATT,
    BI_ITEM,
    BI_LEVEL,
    BI_NODE,
    BI_POS,
    BI_STATE,
    BI_VROW,
    CF_A,
    CF_BEND,
    CF_Q,
    CF_S,
    CF_SUPP,
    CF_WEND,
    CI_ABANDON,
    CI_BEST,
    CI_PENDING,
    CI_PHASE,
    CI_POOL,
    CI_PVROW,
    CI_REFS,
    CI_STAGE,
    HB,
    K_AUDIT,
    K_POOL,
    K_SUB,
    ND_CASE,
    ND_KIND,
    ND_NEXT,
    ND_PREV,
    ND_REF,
    ND_VROW,
    P_NONE,
    P_PAR,
    P_SEQ,
    SC_DI,
    SC_EVENTS,
    SC_FREE,
    SC_HSIZE,
    SC_LO,
    SC_MID,
    SC_NCOUNT,
    SC_NDIRTY,
    SC_NEXT,
    SC_NV,
    SC_SCHED,
    SC_SES,
    SC_SP,
)
from sim.engines.vector.queues import (
    _join_queue,
    _level,
    _mark_dirty,
    _queue,
    _unlink,
    _visit_row,
)
from sim.model.assembly import PARALLEL


@no_nrt
def _run(
    # model
    servers: I64, st_level_on: Any, st_renege: Any, st_cal: I64, st_calw: F64,
    cal_open: F64, cal_close: F64, cal_cum: F64, cal_cend: F64, cal_tab: I64,
    item_station: I64, item_cond: Any, item_deadline: F64, item_audit_station: I64,
    class_route: I64, levels: I64, class_pool: I64, n_levels: int,
    route_stage_ptr: I64, stage_mode: I64, stage_item_ptr: I64, stage_items: I64,
    stage_seg_end: I64, W: int, horizon: float, has_sched: bool, sch_t: F64, sch_s: I64, sch_n: I64,
    has_ses: bool, ses_t: F64, ses_s: I64, ses_n: I64,
    record: bool,
    # inputs of cases base .. n_loaded - 1 (row i - base)
    base: int, n_loaded: int, t_stop: float, arrival: F64, cls: I64, channel: I64,
    run_item: Any, visit: Any, delay: F64,
    # submissions (sim.engines.vector.attempts): submission 0 of every (case, item), the
    # later ones (and the fixes) on the rows of the pairs that reach them
    service0: F64, deficient0: Any, a_ptr: I64, a_key: I64, a_service: F64, a_deficient: Any,
    a_fix: F64, has_lag: bool, lag: Any,
    has_pat: bool, patience: Any, audit: Any, audit_service: F64,
    priority: I64,
    # state
    sc: I64, scf: F64, ev_t: F64, ev_p: I64, stack: I64, nd_i: I64, nd_t: F64,
    q_head: I64, q_tail: I64, st_busy: I64, st_wait: I64, dirty: I64, dflag: I64,
    cs_i: I64, cs_f: F64, br_i: I64, br_f: F64,
    o_status: I64, o_end: F64, o_visits: I64, o_rework: I64, o_supp: I64,
    stage_split: bool, o_stg: F64, v_i: I64, v_f: F64, v_r: Any,
    ses_at: F64, ses_left: I64,
) -> int:
    J = run_item.shape[1]
    K = a_service.shape[1] + 1
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
    if has_sched and sc[SC_SCHED] == 0:  # the first count change (each pushes the next)
        sc[SC_SCHED] = 1
        if sch_t[0] <= horizon:
            _hpush(ev_t, ev_p, hsize, sch_t[0], A_SCHED)
            hsize += 1
    if has_ses and sc[SC_SES] == 0:  # the first review session (each pushes the next)
        sc[SC_SES] = 1
        if ses_t[0] <= horizon:
            _hpush(ev_t, ev_p, hsize, ses_t[0], A_SESSION)
            hsize += 1

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
                                  cs_f, visit, service0, patience, deficient0, run_item,
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
                            if has_ses:  # a session with seats left at this instant
                                ndirty = _mark_dirty(dflag, dirty, ndirty, s, ses_at[_u(s)] == T
                                                     and ses_left[_u(s)] > 0)
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
                            dfc = False
                            r = 0
                            if k < K - 1:
                                if k == 0:
                                    dfc = deficient0[_u(li), _u(j)]
                                    if dfc:
                                        r = _arow(a_ptr, a_key, li, J, j)
                                else:
                                    r = _arow(a_ptr, a_key, li, J, j)
                                    dfc = a_deficient[_u(r), _u(k - 1)]
                            if dfc:
                                o_rework[_u(i)] += 1
                                f = a_fix[_u(r), _u(k)]
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
                            act = A_NEXT
                            continue
                        elif act == A_NEXT:  # the branch's next running item, or its end
                            g = x
                            i = g >> wb
                            li = i - base
                            p = br_i[_u(g), BI_POS]
                            if cs_i[_u(i), CI_PHASE] == P_SEQ:
                                p1 = stage_item_ptr[_u(cs_i[_u(i), CI_STAGE] + 1)]
                            else:  # a parallel branch: up to the end of its run of items
                                p1 = stage_seg_end[_u(p)]
                            p += 1
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
                            if stage_split:  # the triple at the end of route stage q
                                q = 3 * (cs_i[_u(i), CI_STAGE]
                                         - route_stage_ptr[_u(class_route[_u(c)])])
                                o_stg[_u(i), _u(q)] = cs_f[_u(i), CF_S]
                                o_stg[_u(i), _u(q + 1)] = cs_f[_u(i), CF_Q]
                                o_stg[_u(i), _u(q + 2)] = cs_f[_u(i), CF_A]
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
                                    q = _queue(st_level_on, L, s, _level(levels, priority[_u(li)]))
                                    node, nfree, ncount, ndirty = _join_queue(
                                        nd_i, nd_t, q_head, q_tail, st_wait, st_busy, servers,
                                        dflag, dirty, ndirty, nfree, ncount, q, s, i, J + j,
                                        K_AUDIT, j, vrow, T)
                                    cs_i[_u(i), CI_REFS] += 1
                                    if has_ses:
                                        ndirty = _mark_dirty(dflag, dirty, ndirty, s,
                                                             ses_at[_u(s)] == T
                                                             and ses_left[_u(s)] > 0)
                            break
                        elif act == A_STAGE:
                            i = x
                            li = i - base
                            st = cs_i[_u(i), CI_STAGE]
                            p0 = stage_item_ptr[_u(st)]
                            p1 = stage_item_ptr[_u(st + 1)]
                            cnt = 0  # branches with a running item
                            p = p0
                            while p < p1:
                                pe = stage_seg_end[_u(p)]
                                while p < pe:
                                    if run_item[_u(li), _u(stage_items[_u(p)])]:
                                        cnt += 1
                                        break
                                    p += 1
                                p = pe
                            cs_i[_u(i), CI_BEST] = -1
                            cs_f[_u(i), CF_BEND] = -inf
                            cs_f[_u(i), CF_SUPP] = -inf
                            if cnt == 0:  # takes no time
                                cs_f[_u(i), CF_WEND] = T
                                act = A_STAGE_END
                                continue
                            # the case's priority level rides in its branches' rows, read
                            # (prefetched) at every join
                            lv = _level(levels, priority[_u(li)])
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
                            pb = p0  # each branch starts at its first running item, in the
                            while pb < p1:  # slot of its first place (stage order: ties)
                                pe = stage_seg_end[_u(pb)]
                                p = pb
                                while p < pe and not run_item[_u(li), _u(stage_items[_u(p)])]:
                                    p += 1
                                g = i * W + (pb - p0)
                                pb = pe
                                if p == pe:
                                    continue
                                jj = stage_items[_u(p)]
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
                                q = _queue(st_level_on, L, pool, _level(levels, priority[_u(li)]))
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
                        elif act == A_SCHED:
                            # servers arriving take waiting entries in (2); servers leaving
                            # finish their case first (busy > servers until releases)
                            e = x
                            s = sch_s[_u(e)]
                            servers[_u(s)] = sch_n[_u(e)]
                            ndirty = _mark_dirty(dflag, dirty, ndirty, s, st_wait[_u(s)] > 0
                                                 and st_busy[_u(s)] < servers[_u(s)])
                            e += 1
                            if e < sch_t.shape[0] and sch_t[_u(e)] <= horizon:
                                _hpush(ev_t, ev_p, hsize, sch_t[_u(e)], (e << sh) | A_SCHED)
                                hsize += 1
                            break
                        elif act == A_SESSION:
                            # the session's seats are taken in key order in (2) at T, the
                            # repeated (2) of this instant too; they lapse after T
                            e = x
                            s = ses_s[_u(e)]
                            ses_at[_u(s)] = T
                            ses_left[_u(s)] = ses_n[_u(e)]
                            ndirty = _mark_dirty(dflag, dirty, ndirty, s, st_wait[_u(s)] > 0)
                            e += 1
                            if e < ses_t.shape[0] and ses_t[_u(e)] <= horizon:
                                _hpush(ev_t, ev_p, hsize, ses_t[_u(e)], (e << sh) | A_SESSION)
                                hsize += 1
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
                while st_wait[_u(s)] > 0 and (st_busy[_u(s)] < servers[_u(s)] or (
                        ses_at[_u(s)] == T and ses_left[_u(s)] > 0)):
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
                    if st_busy[_u(s)] >= servers[_u(s)]:  # a seat of the session at T
                        ses_left[_u(s)] -= 1
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
                        if k == 0:
                            svc = service0[_u(li), _u(j)]
                        else:
                            svc = a_service[_u(_arow(a_ptr, a_key, li, J, j)), _u(k - 1)]
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
