"""The station-by-station pass of the vector engine.

When the drawn inputs make the model a feed-forward FCFS network (no rework, pool,
audit, reneging, schedule or priority difference; every route visits stations along one global
order, each at most once, in sequential stages: :func:`feedforward_plan` decides), the
event loop of :mod:`sim.engines.vector` reduces to one FCFS recursion per station, in a
topological order of the stations, over the station's entries in key order
``(joined_at, case, slot)``. This computes the same records, bit for bit, for a
near-linear sort and one pass per station, with memory read almost in sequence.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from sim.engines.vector.kernels import F64, I64, SC_ALWAYS, _u, serve
from sim.inputs import Inputs, case_priority
from sim.model.assembly import PARALLEL, Model
from sim.model.calendar import ALWAYS_OPEN_END
from sim.results.records import SUBMISSION, RepResult, Visits

__all__ = ["feedforward_plan", "is_broadcast", "simulate_ff"]


def is_broadcast(a: np.ndarray) -> bool:
    """A broadcast view (a stride 0): one value stands for the whole array."""
    return a.size > 0 and 0 in a.strides


@njit(cache=True)
def _sort_entries(e_t: F64, e_p: I64, cnt: int) -> None:
    """Put ``(e_t, e_p)[:cnt]`` in order of (time, packed key), in place.

    The entries come nearly in order (cases in the order they left their previous
    station), so an insertion sort takes O(n) moves; if it would take many more (a
    station after a long applicant delay), a stable merge sort by time and a pass over
    runs of equal times finish instead.
    """
    budget = 32 * cnt + 1024
    for u in range(1, cnt):
        a = e_t[_u(u)]
        pk = e_p[_u(u)]
        w = u - 1
        if e_t[_u(w)] < a or (e_t[_u(w)] == a and e_p[_u(w)] < pk):
            continue
        while w >= 0 and (e_t[_u(w)] > a or (e_t[_u(w)] == a and e_p[_u(w)] > pk)):
            e_t[_u(w + 1)] = e_t[_u(w)]
            e_p[_u(w + 1)] = e_p[_u(w)]
            w -= 1
        e_t[_u(w + 1)] = a
        e_p[_u(w + 1)] = pk
        budget -= u - 1 - w
        if budget < 0:
            break
    if budget >= 0:
        return
    order = np.argsort(e_t[:cnt], kind="mergesort")
    r = 0
    while r < cnt:  # runs of equal times, by packed key
        r2 = r + 1
        while r2 < cnt and e_t[order[r2]] == e_t[order[r]]:
            r2 += 1
        for u in range(r + 1, r2):
            o = order[u]
            w = u - 1
            while w >= r and e_p[order[w]] > e_p[o]:
                order[w + 1] = order[w]
                w -= 1
            order[w + 1] = o
        r = r2
    e_t[:cnt] = e_t[order]
    e_p[:cnt] = e_p[order]


@njit(cache=True, inline="always")
def _earliest(free: F64, c: int) -> tuple[int, float]:
    """The earliest-free of ``c`` servers (the first of equals) and its free time."""
    k = 0
    f = free[0]
    for kk in range(1, c):
        if free[_u(kk)] < f:
            f = free[_u(kk)]
            k = kk
    return k, f


@njit(cache=True, inline="always")
def _visit_row(v_i: I64, v_f: F64, nv: int, i: int, j: int, s: int, a: float, start: float,
               end: float) -> int:
    """Record row ``nv``: case ``i``'s first submission of item ``j`` at station ``s``."""
    v_i[nv, 0] = i
    v_i[nv, 1] = j
    v_i[nv, 2] = 0
    v_i[nv, 3] = s
    v_i[nv, 4] = SUBMISSION
    v_f[nv, 0] = a
    v_f[nv, 1] = start
    v_f[nv, 2] = end
    return nv + 1


@njit(cache=True)
def _flush(occ: I64, free: F64, c: int, out_c: I64, out_t: F64, e: int) -> int:
    """Write the cases still on the ``c`` servers to ``out_*`` from ``e`` on, in order of
    (end, case), and empty the servers; returns the new end of the output."""
    e0 = e
    for k in range(c):
        o = occ[_u(k)]
        if o < 0:
            continue
        t = free[_u(k)]
        w = e - 1
        while w >= e0 and (out_t[_u(w)] > t or (out_t[_u(w)] == t and out_c[_u(w)] > o)):
            out_t[_u(w + 1)] = out_t[_u(w)]
            out_c[_u(w + 1)] = out_c[_u(w)]
            w -= 1
        out_t[_u(w + 1)] = t
        out_c[_u(w + 1)] = o
        occ[_u(k)] = -1
        e += 1
    return e


@njit(cache=True)
def _serve_open(in_t: F64, in_p: I64, cnt: int, sh: int, msk: int, j0: int, out_c: I64,
                out_t: F64, s: int, c: int, limit: float, svc_t: F64, free: F64, occ: I64,
                acc: F64, record: bool, nv: int, v_i: I64, v_f: F64,
                ) -> tuple[int, int, bool, int]:
    """:func:`_serve_station` for an always-open station without lag, while every
    service ends by ``limit`` (the horizon): no calendar, no case left open.
    The servers start free. Returns (the first entry not served, cases gone on, whether
    they are in key order, ``nv``); the general recursion takes over from there, with
    the servers' ``free`` times.

    The cases that go on are written in order of their *exit*, so that the next
    station's sort has (almost) nothing to do: an entry takes the earliest-free server,
    whose previous case leaves at that time, and that time never decreases from one
    entry to the next (each server's next free time is at least the current one); so
    the previous cases leave in the order they are written here. The cases still on a
    server at the end (or at an early return) follow, in order. Only ties of exit times
    may come out of case order: if there are none, the next station need not sort.
    """
    for k in range(c):
        free[k] = -np.inf
        occ[k] = -1
    e = 0
    last = -np.inf
    ties = False
    for r in range(cnt):
        pk = in_p[_u(r)]
        i = pk >> sh
        a = in_t[_u(r)]
        k, f = _earliest(free, c)
        td = a if a >= f else f
        end = td + svc_t[_u(j0 + (pk & msk)), _u(i)]
        if not end <= limit:
            return r, _flush(occ, free, c, out_c, out_t, e), False, nv
        o = occ[_u(k)]
        if o >= 0:  # written at e < r: that entry has been read
            out_c[_u(e)] = o
            out_t[_u(e)] = f
            e += 1
            ties |= f == last
            last = f
        free[_u(k)] = end
        occ[_u(k)] = i
        acc[_u(i), 1] += td - a
        acc[_u(i), 0] += end - td
        if record:
            nv = _visit_row(v_i, v_f, nv, i, j0 + (pk & msk), s, a, td, end)
    e1 = _flush(occ, free, c, out_c, out_t, e)
    if e > 0 and e < e1:
        ties |= out_t[e] == out_t[e - 1]
    return cnt, e1, not ties, nv


@njit(cache=True)
def _serve_station(
    in_t: F64, in_p: I64, cnt: int, sh: int, msk: int, j0: int, out_c: I64, out_t: F64,
    s: int, c: int, st_cal: I64, st_calw: F64, cal_open: F64, cal_close: F64,
    cal_cum: F64, cal_cend: F64, cal_tab: I64, horizon: float, svc_t: F64, has_lag: bool,
    lag: Any, free: F64, acc: F64, pv: float, stuck: Any, record: bool, nv: int, v_i: I64,
    v_f: F64, r0: int, n_next: int,
) -> tuple[int, int]:
    """The FCFS recursion of station ``s`` over its sorted entries: entry ``r`` is case
    ``in_p[r] >> sh`` with item ``j0 + (in_p[r] & msk)``, joined at ``in_t[r]``; each takes
    the earliest-free of the ``c`` servers. The cases that go on (in entry order, with
    the time they are done here) are written to ``out_c, out_t``, which may be the input
    lists themselves (written behind the reading). It starts at entry ``r0`` with
    ``n_next`` cases gone on and the servers' ``free`` times as they are (see
    :func:`_serve_open`). Returns (cases gone on, ``nv``)."""
    for r in range(r0, cnt):
        pk = in_p[_u(r)]
        i = pk >> sh
        j = j0 + (pk & msk)
        a = in_t[_u(r)]
        k, f = _earliest(free, c)
        td = a if a >= f else f
        ok = False
        done = np.nan
        if td > horizon:  # never dispatched
            start = np.nan
            end = np.nan
        else:
            start, end = serve(cal_open, cal_close, cal_cum, cal_cend, cal_tab, st_cal,
                               st_calw, s, td, svc_t[_u(j), _u(i)])
            free[_u(k)] = end
            if end <= horizon:
                acc[_u(i), 1] += start - a
                acc[_u(i), 0] += end - start
                done = end
                ok = True
                if has_lag and lag[_u(i), _u(j), 0] > 0.0:
                    done = serve(cal_open, cal_close, cal_cum, cal_cend, cal_tab, st_cal,
                                 st_calw, s, end, lag[_u(i), _u(j), 0])[1]
                    if done > horizon:
                        ok = False
                    else:
                        acc[_u(i), 0] += done - end
        if ok:
            out_c[_u(n_next)] = i
            out_t[_u(n_next)] = done
            n_next += 1
        else:  # open at the horizon
            stuck[_u(i)] = True
            acc[_u(i), 3] += pv
        if record:
            nv = _visit_row(v_i, v_f, nv, i, j, s, a, start, end)
    return n_next, nv


@njit(cache=True)
def _ff_run(
    topo: I64, st_item_ptr: I64, st_items: I64, it_flags: I64, servers: I64, st_cal: I64,
    st_calw: F64, cal_open: F64, cal_close: F64, cal_cum: F64, cal_cend: F64, cal_tab: I64,
    horizon: float, record: bool, arrival: F64, run_item: Any, visit: Any,
    delay: F64, svc_t: F64, has_lag: bool, lag: Any, cur: F64, stuck: Any, acc: F64,
    v_i: I64, v_f: F64,
) -> int:
    """Station by station: the event loop's records for a feed-forward FCFS network.

    Each station serves its entries in key order ``(joined_at, case, slot)``, each on
    the earliest-free server, at ``T = max(joined_at, free)``, exactly as the event loop
    would. The horizon cuts every case at the first step the event loop would not
    process (its records keep what had accrued, as the event loop's do).

    Two lists travel from station to station: the live cases and their current times,
    in the order they left their previous station. What a case accrues (the
    critical-path triple, in ``acc[:, :3]``) is added in place to its own row, in the
    order the event loop adds it, so the sums are the same bit for bit; its visits
    (``acc[:, 3]``) too, except those of plain stations every case visits, which are
    counted per station (``pv``) and added when the case leaves the live list.

    A station whose single item every case runs, with no applicant delay, is *plain*:
    its entries are the live lists themselves, sorted (unless already in key order, see
    :func:`_serve_open`) and served in place (the key's slot is the same for all).
    Otherwise the entries are gathered first, with
    ``(case, slot)`` packed in one integer ``case << shift | slot`` whose order is the
    key's, and the cases that skip the station are merged back by time afterwards. A
    route visits a station at most once, so a case has at most one entry per station.
    """
    n = arrival.shape[0]
    shift = 1
    while st_items.shape[0] > 0 and (1 << shift) <= st_items.max():
        shift += 1
    mask = (1 << shift) - 1
    # live cases (l_*), entries (e_*), next live list (n_*), cases not at this station (r_*)
    l_c = np.arange(n)
    l_t = arrival.copy()
    e_p = np.empty(n, dtype=np.int64)
    e_t = np.empty(n)
    n_c = np.empty(n, dtype=np.int64)
    n_t = np.empty(n)
    r_c = np.empty(n, dtype=np.int64)
    r_t = np.empty(n)
    free = np.empty(servers.max())
    occ = np.empty(servers.max(), dtype=np.int64)
    acc[:, :] = 0.0
    pv = 0.0  # plain stations every case visits, so far
    n_live = n
    nv = 0
    limit = min(horizon, ALWAYS_OPEN_END)
    ordered = False  # the live lists are in key order (time, case)
    for t in range(topo.shape[0]):
        s = topo[t]
        q0 = st_item_ptr[t]
        q1 = st_item_ptr[t + 1]
        plain = q1 - q0 == 1 and (it_flags[st_items[q0]] & 3) == 3
        if plain:  # entries = the live lists, case ids as keys (one slot)
            j0 = st_items[q0]
            sh = 0
            msk = 0
            in_t = l_t
            in_p = l_c
            out_c = l_c
            out_t = l_t
            cnt = n_live
            n_rest = 0
            fl = it_flags[j0]
            if (fl & 4) != 0:  # a visit of every live case: counted when each leaves
                pv += 1.0
            elif (fl & 8) == 0:
                for r in range(cnt):
                    if visit[_u(l_c[_u(r)]), _u(j0)]:
                        acc[_u(l_c[_u(r)]), 3] += 1.0
        else:
            j0 = 0
            sh = shift
            msk = mask
            in_t = e_t
            in_p = e_p
            out_c = n_c
            out_t = n_t
            cnt = 0
            n_rest = 0
            for r in range(n_live):
                i = l_c[_u(r)]
                a = l_t[_u(r)]
                here = False
                for qq in range(q0, q1):  # the station's items, in index (= slot) order
                    j = st_items[_u(qq)]
                    fl = it_flags[_u(j)]
                    if (fl & 1) == 0 and not run_item[_u(i), _u(j)]:
                        continue
                    here = True
                    if (fl & 2) == 0:
                        d = delay[_u(i), _u(j)]
                        if d > 0.0:
                            a = a + d
                            if a > horizon:  # the submission is never made: open
                                stuck[_u(i)] = True
                                acc[_u(i), 3] += pv
                                break
                            acc[_u(i), 2] += d
                    if (fl & 4) != 0 or ((fl & 8) == 0 and visit[_u(i), _u(j)]):
                        acc[_u(i), 3] += 1.0
                    e_t[_u(cnt)] = a
                    e_p[_u(cnt)] = (i << shift) | j
                    cnt += 1
                    break
                if not here:
                    r_c[_u(n_rest)] = i
                    r_t[_u(n_rest)] = a
                    n_rest += 1
        if not (plain and ordered):  # (the live lists of a plain station may be in order)
            _sort_entries(in_t, in_p, cnt)
        # the FCFS recursion, writing the cases that go on to out_* (in place if plain)
        c = servers[s]
        if st_cal[s, SC_ALWAYS] and not has_lag:
            r0, n_next, ordered, nv = _serve_open(
                in_t, in_p, cnt, sh, msk, j0, out_c, out_t, s, c, limit, svc_t, free, occ,
                acc, record, nv, v_i, v_f)
        else:
            for k in range(c):
                free[k] = -np.inf
            r0 = n_next = 0
            ordered = False
        if r0 < cnt:
            n_next, nv = _serve_station(
                in_t, in_p, cnt, sh, msk, j0, out_c, out_t, s, c, st_cal, st_calw, cal_open,
                cal_close, cal_cum, cal_cend, cal_tab, horizon, svc_t, has_lag, lag, free, acc,
                pv, stuck, record, nv, v_i, v_f,
                r0, n_next)
        if plain:
            n_live = n_next
            continue
        ordered = False
        # live cases for the next station: the two lists merged by current time
        x = 0
        y = 0
        n_live = 0
        while x < n_next or y < n_rest:
            if y >= n_rest or (x < n_next and n_t[_u(x)] <= r_t[_u(y)]):
                l_c[_u(n_live)] = n_c[_u(x)]
                l_t[_u(n_live)] = n_t[_u(x)]
                x += 1
            else:
                l_c[_u(n_live)] = r_c[_u(y)]
                l_t[_u(n_live)] = r_t[_u(y)]
                y += 1
            n_live += 1
    for r in range(n_live):  # completed
        cur[_u(l_c[_u(r)])] = l_t[_u(r)]
        acc[_u(l_c[_u(r)]), 3] += pv
    return nv


@njit(cache=True)
def _item_flags(run_item: Any, delay: F64, visit: Any) -> I64:
    """Per item: 1 every case runs it, 2 no delay, 4 always a visit, 8 never a visit."""
    n, J = run_item.shape
    all_run = np.ones(J, dtype=np.bool_)
    no_delay = np.ones(J, dtype=np.bool_)
    all_visit = np.ones(J, dtype=np.bool_)
    no_visit = np.ones(J, dtype=np.bool_)
    for i in range(n):
        for j in range(J):
            if not run_item[i, j]:
                all_run[j] = False
            if delay[i, j] > 0.0:
                no_delay[j] = False
            if visit[i, j]:
                no_visit[j] = False
            else:
                all_visit[j] = False
    out = np.zeros(J, dtype=np.int64)
    for j in range(J):
        out[j] = all_run[j] * 1 + no_delay[j] * 2 + all_visit[j] * 4 + no_visit[j] * 8
    return out


@njit(cache=True)
def _first_service_by_item(service: Any) -> F64:
    """``service[:, :, 0].T`` as a C-contiguous (items, cases) array.

    A station reads one item's service times for every case: read from the drawn
    (cases, items, attempts) array, each lands on a cache line of its own (the other
    items' values riding along unused); item by item, they are read in sequence. With the
    copy, the pass over a 37-station line takes 0.42 of the time it takes without at
    100,000 cases, 0.93 at 10,000 (docs/performance.md).
    """
    n, J = service.shape[0], service.shape[1]
    out = np.empty((J, n))
    for i in range(n):
        for j in range(J):
            out[j, i] = service[i, j, 0]
    return out


def feedforward_plan(model: Model, inp: Inputs) -> tuple[I64, I64, I64] | None:
    """Station order and items per station if :func:`_ff_run` applies, else ``None``."""
    if inp.n == 0 or model.sched_time.size > 0:  # a schedule: counts change over time
        return None
    if model.sessions.time.size > 0:  # review sessions: dispatch at their instants only
        return None
    present = np.flatnonzero(np.bincount(inp.cls, minlength=len(model.class_names)))
    prio = case_priority(model, inp)  # each case's: its class's or by its attributes
    if np.asarray(model.station_priority).any() and prio.min() != prio.max():
        return None
    S = model.n_stations
    succ: list[set[int]] = [set() for _ in range(S)]
    used_items: set[int] = set()
    for r in np.unique(np.asarray(model.class_route)[present]):
        chain: list[int] = []
        for st in range(model.route_stage_ptr[r], model.route_stage_ptr[r + 1]):
            items = model.stage_items[model.stage_item_ptr[st]:model.stage_item_ptr[st + 1]]
            if model.stage_mode[st] == PARALLEL and len(items) > 1:
                return None
            chain.extend(int(j) for j in items)
        stations = [int(model.item_station[j]) for j in chain]
        if len(set(stations)) != len(stations):
            return None  # the route revisits a station
        used_items.update(chain)
        for a, b in itertools.pairwise(stations):
            succ[a].add(b)
    indeg = [0] * S
    for a in range(S):
        for b in succ[a]:
            indeg[b] += 1
    ready = [s for s in range(S) if indeg[s] == 0]
    topo: list[int] = []
    while ready:
        a = ready.pop(0)
        topo.append(a)
        for b in sorted(succ[a]):
            indeg[b] -= 1
            if indeg[b] == 0:
                ready.append(b)
    if len(topo) != S:
        return None  # routes visit stations in conflicting orders
    # what the drawn inputs rule out (scans of whole arrays: after the routes' checks)
    K = int(inp.service.shape[2])
    if K > 1 and inp.deficient[:, :, : K - 1].any():
        return None  # rework: a case revisits a station
    if inp.audit.any():
        return None
    pools = np.asarray(model.class_pool)[inp.cls]
    if ((inp.channel == 2) & (pools >= 0)).any():
        return None
    if np.asarray(model.station_renege).any() and (
            np.isfinite(inp.patience.flat[0]) if is_broadcast(inp.patience)
            else np.isfinite(inp.patience).any()):
        return None
    ptr: list[int] = [0]
    items_at: list[int] = []
    for s in topo:
        items_at.extend(j for j in sorted(used_items) if model.item_station[j] == s)
        ptr.append(len(items_at))
    i64 = np.int64
    return (np.asarray(topo, dtype=i64), np.asarray(ptr, dtype=i64),
            np.asarray(items_at, dtype=i64))


def simulate_ff(model: Model, inp: Inputs, plan: tuple[I64, I64, I64],
                calendars: tuple[Any, ...], has_lag: bool, lag: Any,
                record: bool) -> RepResult:
    """One replication by :func:`_ff_run`; ``calendars`` is ``(servers, *cals)``, ``cals``
    the :class:`~sim.engines.vector.kernels.PackedCalendars` of the model, as the event loop
    takes them, ``lag`` the C-contiguous lag array (a dummy when ``has_lag`` is false)."""
    topo, ptr, items = plan
    n = inp.n
    cur = np.empty(n)
    stuck = np.zeros(n, dtype=np.bool_)
    acc = np.zeros((n, 4))  # per case: service, queue, applicant, visits
    cap = int(inp.run_item.sum()) if record else 1
    v_i = np.empty((max(cap, 1), 5), dtype=np.int64)
    v_f = np.empty((max(cap, 1), 3))
    run_item = np.ascontiguousarray(inp.run_item, dtype=np.bool_)
    delay = np.ascontiguousarray(inp.delay, dtype=np.float64)
    visit = np.ascontiguousarray(inp.visit, dtype=np.bool_)
    flags = _item_flags(run_item, delay, visit)
    kernel: Callable[..., int] = _ff_run  # the arguments are checked by numba
    nv = kernel(topo, ptr, items, flags, *calendars, float(model.horizon), record,
                np.ascontiguousarray(inp.arrival, dtype=np.float64), run_item, visit, delay,
                _first_service_by_item(inp.service), has_lag, lag,
                cur, stuck, acc, v_i, v_f)
    status = np.where(stuck, 0, 1).astype(np.int64)
    end = np.where(stuck, np.nan, cur)
    rows = None
    if record:
        vi, vf = v_i[:nv], v_f[:nv]
        rows = Visits(case=vi[:, 0].copy(), item=vi[:, 1].copy(), attempt=vi[:, 2].copy(),
                      station=vi[:, 3].copy(), kind=vi[:, 4].copy(), joined=vf[:, 0].copy(),
                      start=vf[:, 1].copy(), end=vf[:, 2].copy(),
                      reneged=np.zeros(nv, dtype=np.bool_))
    zeros = np.zeros(n, dtype=np.int64)
    return RepResult(replication=inp.replication, status=status, end=end,
                     visits_count=acc[:, 3].astype(np.int64), rework=zeros,
                     supplements=zeros.copy(), t_service=acc[:, 0].copy(),
                     t_queue=acc[:, 1].copy(), t_applicant=acc[:, 2].copy(), visits=rows)
