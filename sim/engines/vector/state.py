"""The Python side of the event loop: its arguments and the arrays it keeps.

:func:`_compile_model` turns the model into the kernel's arguments (:class:`_Compiled`),
:func:`_input_args` checks a chunk of drawn inputs and makes them C-contiguous, and
:class:`_State` holds everything the kernel keeps between calls: it runs the kernel
(:func:`sim.engines.vector.loop._run`) up to a stopping instant, doubles any array the
kernel finds short, and reads the records into a :class:`~sim.results.records.RepResult`
(:func:`_finish`, compiled, gives the critical-path triples).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from sim.engines.vector.attempts import Attempts, split
from sim.engines.vector.feedforward import is_broadcast
from sim.engines.vector.kernels import F64, I64, pack_calendars
from sim.engines.vector.layout import (
    BF_AP,
    BF_Q,
    BF_S,
    CF_A,
    CF_Q,
    CF_S,
    CI_PHASE,
    HB,
    NBF,
    NBI,
    NCF,
    NCI,
    NND,
    NSC,
    P_SEQ,
    SC_EVENTS,
    SC_FREE,
    SC_HSIZE,
    SC_NCOUNT,
    SC_NV,
    SC_SP,
    _aligned,
    _double,
)
from sim.engines.vector.loop import _run
from sim.errors import UsageError
from sim.inputs import Inputs, case_priority
from sim.model.assembly import PARALLEL, Model
from sim.results.records import RepResult, Visits, max_route_stages


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


@dataclass(frozen=True)
class _Compiled:
    """The model as the kernel's arguments."""

    args: tuple[Any, ...]
    n_stations: int
    n_levels: int
    width: int
    n_items: int
    horizon: float
    n_route_stages: int  # the most stages of any route


def priority_levels(model: Model) -> np.ndarray:
    """Every priority a case can have, sorted: the classes' and their ``priority_when``
    rules' (a queue per station and level; docs/model.md, "Queues and dispatch")."""
    rules = [p for c in (model.attributes.priority_when if model.attributes else ())
             for _, p in c]
    return np.unique(np.asarray([*model.class_priority.tolist(), *rules], dtype=np.int64))


def _compile_model(model: Model) -> _Compiled:
    cals = pack_calendars(model.calendars, model.station_calendar)
    levels = priority_levels(model)
    widths = np.diff(model.stage_item_ptr)
    par = np.asarray(model.stage_mode) == PARALLEL
    width = int(max(1, widths[par].max() if par.any() else 1))
    width = 1 << (width - 1).bit_length()  # a power of two (see _run: g >> wb)
    i64 = np.int64
    servers = np.array(model.station_servers, dtype=i64)
    servers[np.unique(model.sessions.station)] = 0  # a session station has no servers
    args = (
        servers,
        np.ascontiguousarray(model.station_priority, dtype=np.bool_),
        np.ascontiguousarray(model.station_renege, dtype=np.bool_),
        *cals,
        np.ascontiguousarray(model.item_station, dtype=i64),
        np.ascontiguousarray(model.item_conditional, dtype=np.bool_),
        np.ascontiguousarray(model.item_deadline_hours, dtype=np.float64),
        np.ascontiguousarray(model.item_audit_station, dtype=i64),
        np.ascontiguousarray(model.class_route, dtype=i64),
        levels,
        np.ascontiguousarray(model.class_pool, dtype=i64),
        len(levels),
        np.ascontiguousarray(model.route_stage_ptr, dtype=i64),
        np.ascontiguousarray(model.stage_mode, dtype=i64),
        np.ascontiguousarray(model.stage_item_ptr, dtype=i64),
        np.ascontiguousarray(model.stage_items, dtype=i64),
        np.ascontiguousarray(model.stage_seg_end, dtype=i64),
        width, float(model.horizon),
        # staffing over time: the count changes, events of the loop (A_SCHED)
        bool(model.sched_time.size > 0),
        np.ascontiguousarray(model.sched_time, dtype=np.float64),
        np.ascontiguousarray(model.sched_station, dtype=i64),
        np.ascontiguousarray(model.sched_servers, dtype=i64),
        # review sessions: the sessions held, events of the loop (A_SESSION)
        bool(model.sessions.time.size > 0),
        np.ascontiguousarray(model.sessions.time, dtype=np.float64),
        np.ascontiguousarray(model.sessions.station, dtype=i64),
        np.ascontiguousarray(model.sessions.capacity, dtype=i64),
    )
    return _Compiled(args, model.n_stations, len(levels), width, model.n_items,
                     float(model.horizon), max_route_stages(model))


def _contig(a: np.ndarray, dtype: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype)


def _input_args(model: Model, inp: Inputs, attempts: Attempts | None = None,
                ) -> tuple[Any, ...]:
    """The per-case input arrays, checked and C-contiguous (broadcast views never copied).

    The submissions (``service``, ``deficient``, ``fix``) in the loop's form
    (:mod:`~.attempts`): split from ``inp``, or ``attempts`` when given (then the three
    arrays of ``inp`` are read for their shape only)."""
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
        *(attempts if attempts is not None else split(
            inp.run_item, inp.service, inp.deficient,
            inp.fix if K > 1 else np.zeros((n, J, 1)))).args(), has_lag, lag,
        has_pat, patience, _contig(inp.audit, np.bool_), _contig(inp.audit_service, np.float64),
        _contig(case_priority(model, inp), np.int64),
    )


class _State:
    """Everything the kernel keeps between calls (arrays only)."""

    def __init__(self, cm: _Compiled, n: int, record: bool, visit_cap: int,
                 alloc: Callable[[tuple[int, ...], Any], np.ndarray] | None = None,
                 stages: bool = False) -> None:
        """``alloc(shape, dtype)`` makes the per-case and per-branch tables (zeros; default
        :func:`~.layout._aligned`): :mod:`~.chunked` gives pages it can hand back.
        ``stages``: keep each case's critical-path triple at the end of each route stage
        (``RepResult.t_stages``)."""
        S, L, W = cm.n_stations, cm.n_levels, cm.width
        big = _aligned if alloc is None else alloc
        i64 = np.int64
        self.servers = cm.args[0].copy()  # the count in force (a schedule changes it)
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
        self.ses_at = np.full(S, -np.inf)  # the instant of a station's session in force
        self.ses_left = np.zeros(S, dtype=i64)  # and its seats left
        self.cs_i = big((n, NCI), i64)
        self.cs_f = big((n, NCF), np.float64)
        # int32: a branch's positions, item, attempt, state, level, queue node and visit row
        # (half the memory of a streamed run's largest table; run() refuses tables whose
        # rows would not fit)
        self.br_i = big((n * W, NBI), np.int32)
        self.br_f = big((n * W, NBF), np.float64)
        self.status = np.zeros(n, dtype=i64)
        self.end = np.full(n, np.nan)
        self.visits = np.zeros(n, dtype=i64)
        self.rework = np.zeros(n, dtype=i64)
        self.supp = np.zeros(n, dtype=i64)
        self.stages = stages
        self.stg = ((np.full((n, 3 * cm.n_route_stages), np.nan) if alloc is None
                     else alloc((n, 3 * cm.n_route_stages), np.float64)) if stages
                    else np.zeros((1, 3)))
        vcap = max(16, visit_cap) if record else 1
        self.v_i = np.empty((vcap, 5), dtype=i64)
        self.v_f = np.empty((vcap, 3))
        self.v_r = np.empty(vcap, dtype=np.bool_)

    def run(self, cm: _Compiled, record: bool, base: int, n_loaded: int, t_stop: float,
            inputs: tuple[Any, ...]) -> None:
        """Run the kernel up to ``t_stop``, growing its arrays whenever it asks for room."""
        # an action code packs (branch, item, attempt, action) in one int64 (see _run)
        J, K = inputs[3].shape[1], inputs[10].shape[1] + 1  # (a_service: K - 1 columns)
        bits = (self.br_i.shape[0]).bit_length() + 4 + (J - 1).bit_length() + (K - 1).bit_length()
        if bits > 62:
            raise UsageError(f"vector engine: too many cases x items x attempts ({bits} bits)")
        while True:
            if max(self.nd_i.shape[0], self.v_i.shape[0]) > BR_MAX:  # what br_i holds
                raise UsageError("vector engine: more than 2**31 queue places or visit "
                                 "records in one replication; run it streamed (govsim run "
                                 "--stream, sim.run(..., stream=True)) or with fewer cases")
            kernel: Callable[..., int] = _run  # the arguments are checked by numba
            status = kernel(
                self.servers, *cm.args[1:], record, base, n_loaded, t_stop, *inputs,
                self.sc, self.scf, self.ev_t, self.ev_p, self.stack, self.nd_i,
                self.nd_t, self.q_head, self.q_tail, self.st_busy, self.st_wait, self.dirty,
                self.dflag, self.cs_i, self.cs_f, self.br_i, self.br_f,
                self.status, self.end, self.visits, self.rework, self.supp,
                self.stages, self.stg, self.v_i, self.v_f, self.v_r, self.ses_at,
                self.ses_left)
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
            visits=visits,
            t_stages=self.stg.reshape(n, cm.n_route_stages, 3) if self.stages else None)

    @property
    def events(self) -> int:
        """Actions processed so far (a measure of work)."""
        return int(self.sc[SC_EVENTS])


#: the largest queue node or visit row a branch's int32 row holds
BR_MAX = 2**31 - 1


def _visit_estimate(model: Model, inp: Inputs) -> int:
    pools = int(((inp.channel == 2) & (np.asarray(model.class_pool)[inp.cls] >= 0)).sum())
    return int(inp.run_item.sum()) + int(inp.audit.sum()) + pools
