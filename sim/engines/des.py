"""The SimPy reference engine: docs/model.md, one process per case.

A case is a process that walks its route stage by stage: a sequential stage runs its
items one after another (``yield from`` the item generator), a parallel stage runs one
child process per item joined with ``env.all_of``; an item is a generator that submits,
waits, is served and is fixed. Queues are :class:`Station` objects (a heap of waiting
entries keyed ``(priority, joined_at, case, slot)`` and a count of free servers); a visit
is a :class:`Request` event. The engine draws nothing: it reads ``inputs``.

Exact time keeping. Every event is put on SimPy's heap at the very float time the model
says (:meth:`Env.at`), never as ``now + (t - now)``, so that two events meant to be
simultaneous are, and every time recorded is the time computed by the documented
expression (``a = t + delay``, ``a = end + fix``, ``end = W⁻¹(W(T) + s)`` with the
scalar functions of :mod:`sim.model.calendar` on ``cal.scalar_tables``).

Simultaneity rule. A change at a station that may allow a dispatch (a join while a
server is free, a release while entries wait) schedules ONE dispatcher event at the
current instant with priority :data:`DISPATCH` = 2; SimPy orders its heap by
``(time, priority, id)`` with URGENT = 0 and NORMAL = 1, so the dispatcher runs after
every ordinary event of the instant, including events created at that instant. It
grants, station by station in index order, the smallest keys while servers are free.
A granted service is timed at the grant (``start``, ``end`` from the dispatch time
``T``) and its request event is scheduled at ``end``, when the visitor resumes and
releases the server (it has nothing to do in between; this saves an event per visit).
A granted pool slot's process resumes at ``T`` (NORMAL) and starts the route; a join it
makes schedules a new dispatcher at ``T``: the "repeat (1) and (2)" of the doc. A schedule's count
change (``change``, an ordinary event at its instant) sets the station's count in force
and schedules a dispatcher if a server is free; a server leaving while busy shows as
``free < 0`` until enough services end (it finishes its case, then leaves). A renege only
removes a waiting entry, so it never enables a dispatch and schedules none (after a
dispatcher has run no station has both a free server and a waiting entry). A review session
(``session``, an ordinary event at its instant) gives a station without servers seats for
that instant; its dispatcher takes entries while seats are left (``session_at == now``),
the repeated dispatches of the instant too, and the seats lapse after it.

Points docs/model.md leaves open, and what this engine does (the compiled engine must
do the same):

1. Horizon. Every event at a time ``<= horizon`` is processed, including the dispatches
   at the horizon and what they trigger at the horizon; nothing later. (A stop event at
   ``(horizon, priority 3)``; ``env.run(until=horizon)`` would stop *before* the events
   at the horizon, as its stop event is URGENT.)
2. Open cases: "what has accrued so far" means the critical-path parts whose step has
   completed by the horizon: the pool wait ``T_g - arrival`` at the grant; the applicant
   delay when the submission is made (at ``a``); queue ``start - a`` and service
   ``end - start`` together when the service ends (event at ``end``); a fix when the
   resubmission is made; a parallel stage's chosen branch triple when its last branch
   ends (before that the case keeps the triple it had at the stage start); a
   supplement extension when the stage ends. ``visits`` counts submissions made,
   ``rework``/``supplements`` deficiencies found at service ends processed.
3. A parallel branch starts from a copy of the case's triple at the stage start and
   adds its own parts (``tri += part`` in the order above); a sequential stage adds
   into the case's triple directly.
4. Reneging: the reneged visit's ``end`` is the time it left (``joined + patience``),
   ``start`` is nan. (docs/model.md says ``end`` is nan when not dispatched, but
   :func:`sim.results.records.station_table` reads the renege time from ``end`` to measure the
   queue; this keeps it right.) The reneged branch adds queue time ``renege - a``. The
   case is abandoned at its stage's end as defined in rule 4 of the doc: the latest of
   the branch ends (the reneged one included) and of the supplements started in the
   stage; later items of a sequential stage are not done.
5. Visit rows: a service dispatched at ``T <= horizon`` has its ``start = next_open(T)``
   and ``end`` even when after the horizon. Pool slots: ``item -1``, ``attempt 0``,
   ``start`` the grant time. Audits: ``attempt 0``. Audits and pool slots never renege.
6. A zero service (audit services are not checked positive by ``sim.model.build``)
   dispatched while the office is closed gives ``end = W⁻¹(W(T)) < T`` (the last
   closing time). The record keeps that value; the visitor resumes at ``T``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Generator
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any, cast

import numpy as np
import simpy
from simpy.events import NORMAL, Event, EventPriority

from sim.inputs import Inputs, case_priority
from sim.model.assembly import PROXY, SEQUENTIAL, Model
from sim.results.records import (
    ABANDONED,
    AUDIT,
    COMPLETED,
    OPEN,
    POOL,
    SUBMISSION,
    RepResult,
    Visits,
    max_route_stages,
)

DISPATCH = EventPriority(2)  # after every URGENT (0) and NORMAL (1) event of the instant
STOP = EventPriority(3)  # after the dispatches at the horizon
INF = float("inf")
NAN = float("nan")

Proc = Generator[Event, Any, Any]
_new_event = Event.__new__


class Env(simpy.Environment):
    """A SimPy environment that can schedule an event at an exact time."""

    def at(self, t: float, priority: EventPriority = NORMAL, value: Any = None) -> Event:
        """A triggered event processed at exactly ``t`` (``>= now``)."""
        ev = _new_event(Event)
        ev.env = self  # what Event.__init__ does, without the call
        ev.callbacks = []
        ev._ok = True
        ev._value = value
        heappush(self._queue, (t, priority, next(self._eid), ev))
        return ev


class Request(Event):
    """A visit to a station's queue, as an event the visiting process waits for.

    It is processed when the visit is over for the visitor: at the end of the service
    (value ``(start, end)``; the visitor then releases the server), at the grant for a
    pool slot (``service < 0``; value ``(T, nan)``, the slot is held until released), or
    at the renege (value ``None``).
    """

    __slots__ = ("row", "service", "waiting")

    def __init__(self, env: Env, row: int, service: float) -> None:
        self.env = env  # what Event.__init__ does, without the call
        self.callbacks = []
        self.row = row
        self.service = service
        self.waiting = True


class Station:
    """Identical servers on one calendar and a queue of waiting entries (a heap by key)."""

    __slots__ = ("always", "cend", "close", "cum", "dirty", "free", "index", "open", "priority",
                 "renege", "seats", "servers", "session_at", "waiting")

    def __init__(self, model: Model, s: int) -> None:
        self.index = s
        self.servers = self.free = int(model.station_servers[s])  # the count in force
        # review sessions: no servers (free = -busy); seats left of the session at session_at
        self.session_at, self.seats = -INF, 0
        if model.sessions.at(s):
            self.servers = self.free = 0
        self.priority = bool(model.station_priority[s])
        self.renege = bool(model.station_renege[s])
        self.open, self.close, self.cum, self.cend = model.calendar_of(s).scalar_tables
        # one interval [0, E) with cum 0: W(t) = 0.0 + (t - 0.0) = t and W⁻¹(w) = w exactly
        self.always = len(self.open) == 1 and self.open[0] == 0.0 and self.cum[0] == 0.0
        self.waiting: list[tuple[int, float, int, int, Request]] = []
        self.dirty = False

    def serve(self, T: float, s: float) -> tuple[float, float]:
        """(start, end) of ``s`` working hours dispatched at ``T``.

        ``start = next_open(T)``, ``end = to_abs(to_work(T) + s)``: the operations of
        :func:`sim.model.calendar.next_open_scalar`, :func:`~sim.model.calendar.to_work_scalar` and
        :func:`~sim.model.calendar.to_abs_scalar`, inlined (tests check they agree bit for bit).
        """
        if self.always:
            e = T + s
            if T >= 0.0 and e <= self.cend[0]:
                return T, e
        o, c, cum, cend = self.open, self.close, self.cum, self.cend
        k = bisect_right(c, T)
        if k == len(c):
            return INF, INF
        start = T if o[k] <= T else o[k]
        k = bisect_right(o, T) - 1
        w = 0.0 if k < 0 else (cend[k] if c[k] <= T else cum[k] + (T - o[k]))
        w = w + s
        k = bisect_left(cend, w)
        return start, (INF if k == len(cend) else o[k] + (w - cum[k]))


class _Sim:
    """State of one replication; the process generators are its methods."""

    def __init__(self, model: Model, inp: Inputs, record_visits: bool,
                 stages: bool = False) -> None:
        self.env = Env()
        self.rec = record_visits
        n, J = inp.n, model.n_items
        K = int(inp.service.shape[2])
        self.J, self.K, self.K1 = J, K, K - 1
        self.stations = [Station(model, s) for s in range(model.n_stations)]
        self.sched_time = model.sched_time.tolist()  # count changes (staffing over time)
        self.sched_station = model.sched_station.tolist()
        self.sched_servers = model.sched_servers.tolist()
        self.ses = model.sessions  # review sessions (docs/model.md)
        self.dirty: list[Station] = []
        self.pending = False
        # model, as Python scalars and lists (fast to index)
        self.item_station = model.item_station.tolist()
        self.item_audit_station = model.item_audit_station.tolist()
        self.conditional = model.item_conditional.tolist()
        self.deadline = model.item_deadline_hours.tolist()
        self.class_pool = model.class_pool.tolist()
        self.class_route = model.class_route.tolist()
        sp, ip, items = (model.route_stage_ptr.tolist(), model.stage_item_ptr.tolist(),
                         model.stage_items.tolist())
        # per route stage: (mode, its items, its branches: runs of its items, each a
        # sequence; a sequential stage is one branch, a parallel one without branches
        # one branch per item: docs/model.md, "Paths and branches")
        ends = model.stage_seg_end.tolist()
        self.routes = [[(int(model.stage_mode[s]), items[ip[s]:ip[s + 1]],
                         _branches(items, ends, ip[s], ip[s + 1]))
                        for s in range(sp[r], sp[r + 1])] for r in range(len(sp) - 1)]
        # inputs as flat lists: (i, j) at i*J + j, (i, j, k) at (i*J + j)*K + k
        self.arrival = inp.arrival.tolist()
        self.cls = inp.cls.tolist()
        self.priority = case_priority(model, inp).tolist()  # the class's or by attribute
        self.channel = inp.channel.tolist()
        self.run_item = inp.run_item.ravel().tolist()
        self.visit = inp.visit.ravel().tolist()
        self.delay = inp.delay.ravel().tolist()
        self.service = inp.service.ravel().tolist()
        self.lag = inp.lag.ravel().tolist() if any(f is not None for f in model.item_lag) else []
        self.deficient = inp.deficient.ravel().tolist() if K > 1 else []
        self.fix = inp.fix.ravel().tolist() if K > 1 else []
        self.patience = inp.patience.ravel().tolist() if model.station_renege.any() else []
        self.audit = inp.audit.ravel().tolist() if (model.item_audit_station >= 0).any() else []
        self.audit_service = inp.audit_service.ravel().tolist() if self.audit else []
        # per-case records
        self.status = [OPEN] * n
        self.end = [NAN] * n
        self.visits = [0] * n
        self.rework = [0] * n
        self.supplements = [0] * n
        self.tri: list[list[float] | None] = [None] * n  # (service, queue, applicant)
        # with stages: the triple at each route stage's end, 3 per stage (NaN: not ended)
        self.P = max_route_stages(model) if stages else 0
        self.stg: list[list[float]] | None = [[NAN] * (3 * self.P) for _ in range(n)] \
            if stages else None
        # visit rows: (case, item, attempt, station, kind, joined) flat, 6 per row; start, end
        self.v_fixed: list[float] = []
        self.v_start: list[float] = []
        self.v_end: list[float] = []
        self.v_reneged: list[int] = []  # rows that reneged

    # ------------------------------------------------------------------ queues

    def join(self, st: Station, i: int, slot: int, item: int, attempt: int, kind: int,
             service: float) -> Request:
        """Case ``i`` joins the queue of ``st`` now for ``service`` working hours."""
        now = self.env.now
        row = -1
        if self.rec:
            row = len(self.v_start)
            self.v_fixed.extend((i, item, attempt, st.index, kind, now))
            self.v_start.append(NAN)
            self.v_end.append(NAN)
        req = Request(self.env, row, service)
        heappush(st.waiting, (self.priority[i] if st.priority else 0,
                              now, i, slot, req))
        if st.free > 0 or (st.session_at == now and st.seats > 0):
            self.touch(st)
        return req

    def release(self, st: Station) -> None:
        st.free += 1
        if st.waiting:
            self.touch(st)

    def touch(self, st: Station) -> None:
        """``st`` may dispatch: make sure a dispatcher runs at the end of this instant."""
        if not st.dirty:
            st.dirty = True
            self.dirty.append(st)
        if not self.pending:
            self.pending = True
            self.env.at(self.env.now, DISPATCH).callbacks.append(self.dispatch)

    def dispatch(self, _ev: Event) -> None:
        """Step (2) of the simultaneity rule: grant free servers in key order.

        A granted service is timed at once: the request event is scheduled at its end
        (the visitor has nothing to do before). A pool slot's request succeeds now.
        """
        self.pending = False
        dirty, self.dirty = self.dirty, []
        if len(dirty) > 1:
            dirty.sort(key=_index)
        env = self.env
        T = env.now
        for st in dirty:
            st.dirty = False
            waiting = st.waiting
            while waiting and (st.free > 0 or (st.session_at == T and st.seats > 0)):
                req = heappop(waiting)[4]
                if not req.waiting:  # it reneged and was left in the heap
                    continue
                req.waiting = False
                if st.free <= 0:  # a seat of the session held now
                    st.seats -= 1
                st.free -= 1
                if req.service < 0.0:  # pool slot
                    if req.row >= 0:
                        self.v_start[req.row] = T
                    req.succeed((T, NAN))
                    continue
                start, end = st.serve(T, req.service)
                if req.row >= 0:
                    self.v_start[req.row] = start
                    self.v_end[req.row] = end
                req._ok = True
                req._value = (start, end)
                # end < T only for a zero service dispatched while closed (W⁻¹(W(T)) is
                # the last closing time); the event cannot go back in time
                heappush(env._queue, (end if end >= T else T, NORMAL, next(env._eid), req))

    def change(self, ev: Event) -> None:
        """A schedule's count change at this instant (docs/model.md, "Staffing over
        time"): arriving servers are free now; a leaving one finishes its case first
        (``free`` goes below 0 until enough services end)."""
        st, n = ev._value
        st.free += n - st.servers
        st.servers = n
        if st.free > 0 and st.waiting:
            self.touch(st)

    def session(self, ev: Event) -> None:
        """A review session opens at this instant (docs/model.md, "Review sessions"): its
        seats are taken in key order by the dispatches of this instant, then lapse."""
        st, n = ev._value
        st.session_at, st.seats = self.env.now, n
        if st.waiting:
            self.touch(st)

    def renege(self, ev: Event) -> None:
        """Patience over: the entry leaves if it is still waiting."""
        req: Request = ev._value
        if req.waiting:
            req.waiting = False
            if req.row >= 0:
                self.v_end[req.row] = self.env.now
                self.v_reneged.append(req.row)
            req.succeed(None)

    # ------------------------------------------------------------------ processes

    def arrivals(self) -> Proc:
        env = self.env
        for i, t in enumerate(self.arrival):
            if t > env.now:
                yield env.at(t)
            env.process(self.case(i))

    def case(self, i: int) -> Proc:
        env = self.env
        arrival = env.now
        tri = [0.0, 0.0, 0.0]
        self.tri[i] = tri
        c = self.cls[i]
        pool = self.class_pool[c] if self.channel[i] == PROXY else -1
        if pool >= 0:
            pst = self.stations[pool]
            preq = self.join(pst, i, 2 * self.J, -1, 0, POOL, -1.0)
            yield preq  # granted
            tri[1] += env.now - arrival
        run_item, base = self.run_item, i * self.J
        reneged = False
        stg = self.stg[i] if self.stg is not None else None
        for pos, (mode, stage_items, stage_branches) in enumerate(
                self.routes[self.class_route[c]]):
            items = [j for j in stage_items if run_item[base + j]]
            if not items:
                if stg is not None:
                    stg[3 * pos:3 * pos + 3] = tri
                continue
            supp = -INF
            branches = [] if mode == SEQUENTIAL else [
                run for b in stage_branches if (run := [j for j in b if run_item[base + j]])]
            if mode == SEQUENTIAL or len(branches) == 1:
                for j in items:
                    s_j, reneged = yield from self.item(i, j, tri)
                    if s_j > supp:
                        supp = s_j
                    if reneged:
                        break
            else:
                tris = [tri.copy() for _ in branches]
                procs = [env.process(self.branch(i, b, tb))
                         for b, tb in zip(branches, tris, strict=True)]
                yield env.all_of(procs)
                best, best_end = 0, -INF
                for b, p in enumerate(procs):
                    s_b, r_b, end_b = cast(tuple[float, bool, float], p.value)
                    if s_b > supp:
                        supp = s_b
                    reneged = reneged or r_b
                    if end_b > best_end:  # ties: the first in stage order
                        best, best_end = b, end_b
                tri[:] = tris[best]
            work_end = env.now
            if supp > work_end:  # supplements outlast the work: applicant time
                yield env.at(supp)
                tri[2] += supp - work_end
            if stg is not None:
                stg[3 * pos:3 * pos + 3] = tri
            if reneged:
                break
        now = env.now
        self.status[i] = ABANDONED if reneged else COMPLETED
        self.end[i] = now
        if pool >= 0:
            if preq.row >= 0:
                self.v_end[preq.row] = now
            self.release(pst)
        if not reneged and self.audit:
            audit = self.audit
            for j in range(self.J):
                if audit[base + j]:
                    env.process(self.audit_visit(i, j))

    def branch(self, i: int, items: list[int], tri: list[float]) -> Proc:
        """A branch of a parallel stage, its items one after another: returns (the latest
        supplement end, reneged, branch end); a renege ends the branch."""
        supp, reneged = -INF, False
        for j in items:
            s_j, reneged = yield from self.item(i, j, tri)
            if s_j > supp:
                supp = s_j
            if reneged:
                break
        return supp, reneged, self.env.now

    def item(self, i: int, j: int, tri: list[float]) -> Proc:
        """Item ``j`` of case ``i`` from now; returns (supplement end or -inf, reneged)."""
        env = self.env
        ij = i * self.J + j
        d = self.delay[ij]
        a = env.now + d
        if d > 0.0:
            yield env.at(a)
            tri[2] += d
        st = self.stations[self.item_station[j]]
        visit = self.visit[ij]
        kk = ij * self.K
        k = 0
        while True:
            if visit:
                self.visits[i] += 1
            req = self.join(st, i, j, j, k, SUBMISSION, self.service[kk + k])
            if st.renege:
                p = self.patience[kk + k]
                if p < INF:
                    env.at(a + p, value=req).callbacks.append(self.renege)
            served = yield req  # at the end of the service, or at the renege
            if served is None:
                tri[1] += env.now - a
                return -INF, True
            start, end = served
            st.free += 1  # release
            if st.waiting:
                self.touch(st)
            tri[1] += start - a
            tri[0] += end - start
            if self.lag and self.lag[kk + k] > 0.0:  # government lag: no staff, working time
                lag_end = st.serve(end, self.lag[kk + k])[1]
                yield env.at(lag_end)
                tri[0] += lag_end - end
                end = lag_end
            if k < self.K1 and self.deficient[kk + k]:
                self.rework[i] += 1
                f = self.fix[kk + k]
                if self.conditional[j] and f <= self.deadline[j]:
                    self.supplements[i] += 1
                    return end + f, False
                a = end + f
                yield env.at(a)
                tri[2] += f
                k += 1
            else:
                return -INF, False

    def audit_visit(self, i: int, j: int) -> Proc:
        """The audit of item ``j`` after case ``i`` completed (changes no case record)."""
        st = self.stations[self.item_audit_station[j]]
        yield self.join(st, i, self.J + j, j, 0, AUDIT, self.audit_service[i * self.J + j])
        self.release(st)

    # ------------------------------------------------------------------ run

    def run(self, horizon: float, replication: int) -> RepResult:
        env = self.env
        env.process(self.arrivals())
        for t, s, n in zip(self.sched_time, self.sched_station, self.sched_servers,
                           strict=True):
            if t <= horizon:
                env.at(t, value=(self.stations[s], n)).callbacks.append(self.change)
        for t, s, n in zip(self.ses.time.tolist(), self.ses.station.tolist(),
                           self.ses.capacity.tolist(), strict=True):
            if t <= horizon:
                env.at(t, value=(self.stations[s], n)).callbacks.append(self.session)
        env.run(until=env.at(horizon, STOP))
        zero = [0.0, 0.0, 0.0]
        tri = np.array([zero if t is None else t for t in self.tri], dtype=np.float64)
        tri = tri.reshape(-1, 3)
        visits = None
        if self.rec:
            fixed = np.array(self.v_fixed, dtype=np.float64).reshape(-1, 6)  # ints are exact
            ints = fixed[:, :5].astype(np.int64)
            reneged = np.zeros(len(self.v_start), dtype=np.bool_)
            reneged[self.v_reneged] = True
            visits = Visits(
                case=ints[:, 0].copy(), item=ints[:, 1].copy(), attempt=ints[:, 2].copy(),
                station=ints[:, 3].copy(), kind=ints[:, 4].copy(), joined=fixed[:, 5].copy(),
                start=np.array(self.v_start, dtype=np.float64),
                end=np.array(self.v_end, dtype=np.float64), reneged=reneged)
        return RepResult(
            replication=replication,
            status=np.asarray(self.status, dtype=np.int64),
            end=np.asarray(self.end, dtype=np.float64),
            visits_count=np.asarray(self.visits, dtype=np.int64),
            rework=np.asarray(self.rework, dtype=np.int64),
            supplements=np.asarray(self.supplements, dtype=np.int64),
            t_service=tri[:, 0].copy(), t_queue=tri[:, 1].copy(), t_applicant=tri[:, 2].copy(),
            visits=visits,
            t_stages=(np.array(self.stg, dtype=np.float64).reshape(len(self.stg), self.P, 3)
                      if self.stg is not None else None),
        )


_index = attrgetter("index")


def _branches(items: list[int], ends: list[int], p0: int, p1: int) -> list[list[int]]:
    """The branches of the stage at places ``p0 .. p1 - 1`` of ``items`` (``ends``: each
    place's branch end)."""
    out, p = [], p0
    while p < p1:
        out.append(items[p:ends[p]])
        p = ends[p]
    return out


def simulate(model: Model, inputs: Inputs, record_visits: bool = True,
             stages: bool = False) -> RepResult:
    """Run one replication of ``model`` on ``inputs`` (docs/model.md); ``stages``: records
    carry the triple at each stage's end (``RepResult.t_stages``)."""
    return _Sim(model, inputs, record_visits, stages).run(model.horizon, inputs.replication)
