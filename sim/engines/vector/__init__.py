"""The compiled engine: docs/model.md as numba kernels over flat arrays.

Two kernels give the same records (tests check it bit for bit):

**The event loop** (:func:`~sim.engines.vector.loop._run`) handles every feature. It is
sequential, allocates nothing and is compiled without numba's reference counting:

* **Events** live in an 8-ary heap keyed by time alone (arrays ``ev_t``, ``ev_p``): the
  events of one instant may be processed in any order (docs/model.md), so no sequence
  number breaks ties. An action code packs ``target``, the item and attempt of a branch
  event, and the action in one int64; when an event leaves the heap, the data of the
  next one (branch and case rows, the item's inputs) is prefetched (:func:`~.codes._warm`), so
  that its cache misses overlap with the current action instead of stalling the loop.
  Arrivals are not put on the heap: cases come in arrival order, so the next arrival is
  merged in from the input array. Actions due at the current instant go on a LIFO stack
  instead of the heap, and a chain of actions of one branch (service end -> result ->
  next item -> join) runs without any push.
* **Queues**: a waiting entry has the key ``(priority, joined_at, case, slot)``. Every
  entry joins at the current instant, so ``joined_at`` never decreases along a queue:
  one doubly linked FIFO list per (station, priority level), in a shared pool of nodes,
  where an entry that joins at the same instant as the tail is inserted in
  ``(case, slot)`` order. A case's level is the index of its priority (the inputs'
  ``priority``, its class's or by its attributes) among every priority a case can have
  (:func:`~.state.priority_levels`). A renege unlinks its node in O(1). Renege timers are
  never cancelled: one acts only if its branch is waiting and that wait's own deadline
  (``joined + patience``, recomputed bit for bit) is the current instant, so a stale
  timer (its visit was served) does nothing, or exactly what the current wait's does.
* **Schedules** (staffing over time): a station's count changes are events of the heap
  (``A_SCHED``, the change's index in the model's list, which is sorted by time): only
  one is pending at a time, each pushes the next, and the first is pushed when the kernel
  first starts. A change sets the station's count in force (``servers``, a copy the state
  keeps) and marks the station to dispatch if a server is free; a server that leaves
  while busy is simply not replaced at its release (``busy > servers`` until then). A
  model without a schedule has no such event and runs the same code as before.
* **Review sessions**: a station's sessions are events of the heap too (``A_SESSION``,
  chained like the changes). A session station has no servers (``servers`` 0); a session
  sets its instant (``ses_at``) and seats (``ses_left``) and marks it to dispatch; the
  dispatch takes entries while ``ses_at == T`` and seats are left, and a join at ``T``
  (the repeated instant too) marks it again. The seats lapse when time moves on.
* **Simultaneity rule**: at an instant ``T`` every action at ``T`` is processed (stack,
  arrivals and heap events at ``T``), then every station touched by a join or a release
  at ``T`` dispatches in key order; a pool grant pushes the start of the case's route,
  and the instant repeats while anything is due at ``T``.
* **State**: per case (stage, pending branches, critical-path triple...) and per branch
  (``W`` branch slots per case, ``W`` the widest parallel stage rounded up to a power of
  two, so that branch ``g`` is slot ``g & (W - 1)`` of case ``g >> log2(W)``), flat 2-D
  arrays.
* **Calendars** are concatenated with per-station offsets; ``W(t)``, ``W⁻¹(w)`` and
  ``next_open(t)`` repeat the scalar expressions of :mod:`sim.model.calendar`: the same
  interval indices (found from bucket tables, :func:`~.kernels.pack_calendars`,
  which give the bisection's index exactly; ``next_open``'s follows from ``W``'s) and the
  same arithmetic, no fastmath, so times are bit-identical to the DES engine. The
  always-open calendar is computed as the identity, which is what those expressions give
  on its single interval ``[0, 1e12)``.
* **Resumable**: all state is in arrays kept by :class:`~.state._State`. The kernel stops before
  an instant ``t_stop`` (:func:`simulate_streaming` draws the next chunk of cases
  there), and when an array is about to fill up it stops where it is and is called
  again once Python has doubled the array (so nothing is reallocated inside the loop).

**The station-by-station pass** (:mod:`sim.engines.vector.feedforward`) is used instead when
the model is a feed-forward FCFS network for the drawn inputs (no rework, pool, audit,
reneging, schedule, session or priority difference, and every route visits stations in one
global order, each once, in sequential stages; :func:`~.feedforward.feedforward_plan`
decides): each station is then an FCFS recursion over its entries in key order, which
is what the event loop computes, and costs a near-linear sort and a pass per station.

The calendar arithmetic both kernels share is in :mod:`sim.engines.vector.kernels`.

Points docs/model.md leaves open follow the DES engine (``sim/engines/des.py``,
docstring): what an open case has accrued, the renege row's ``end``, a zero audit
service dispatched while closed, and a parallel stage with one running item, which is
run (and accrues) as a sequential stage.

The modules, in the order they build on each other:

* ``kernels``: the calendar arithmetic (``serve``), ``_u``, ``_inline``, ``no_nrt``;
* ``layout``: action codes, the state tables' columns, the heap base ``HB``, aligned arrays;
* ``heap``: the event heap (``_hpush``, ``_hpop``);
* ``queues``: the waiting lines, the stations to dispatch, a join's visit row;
* ``codes``: action codes and branch numbers, the prefetch of the next event's data;
* ``loop``: the event loop kernel ``_run``;
* ``state``: the kernel's arguments and :class:`~.state._State`, the arrays it keeps;
* ``feedforward``: the station-by-station pass;
* this module: :func:`simulate`, :func:`simulate_many`, :func:`simulate_streaming`;
* ``chunked``: :func:`~.chunked.run_chunked`, a replication drawn a chunk at a time that
  hands out its final records and gives back its finished cases' memory (what
  ``govsim run --stream`` runs on).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.engines.vector import loop
from sim.engines.vector.feedforward import feedforward_plan, is_broadcast, simulate_ff
from sim.engines.vector.layout import SC_LO
from sim.engines.vector.state import _compile_model, _input_args, _State, _visit_estimate
from sim.errors import UsageError
from sim.inputs import Inputs, arrival_stream, draw, draw_cases
from sim.model.assembly import Model
from sim.results.records import RepResult

__all__ = ["kernels_cached", "simulate", "simulate_many", "simulate_streaming"]


def kernels_cached() -> bool:
    """Whether numba's cache holds the event loop's compiled code (if not, the first run
    compiles the kernels, about a minute, and caches them for every later process). True
    where this numba does not say."""
    try:
        run: Any = loop._run
        index = run._cache._cache_file._index_path  # numba's own cache index file
    except AttributeError:
        return True
    return os.path.exists(index)


def simulate(model: Model, inputs: Inputs, record_visits: bool = True,
             feedforward: bool = True, stages: bool = False) -> RepResult:
    """Run one replication of ``model`` on ``inputs`` (docs/model.md).

    ``feedforward``: use the station-by-station pass when the model allows it (see
    :mod:`~.feedforward`; same records as the event loop, which ``False`` forces).
    ``stages``: records carry the triple at each stage's end (``RepResult.t_stages``);
    the station-by-station pass keeps only the whole triple, so with routes of several
    stages the event loop runs instead.
    """
    cm = _compile_model(model)
    args = _input_args(model, inputs)
    if feedforward and not (stages and cm.n_route_stages > 1):
        plan = feedforward_plan(model, inputs)
        if plan is not None:
            a = cm.args
            # (args[13], args[14]: has_lag, lag; see state._input_args)
            res = simulate_ff(model, inputs, plan, (a[0], *a[3:10]), args[13], args[14],
                              record_visits)
            if stages:  # one stage: its end is the case's
                tri = np.stack([res.t_service, res.t_queue, res.t_applicant], axis=1)
                res.t_stages = np.where((res.status != 0)[:, None], tri, np.nan)[:, None, :]
            return res
    state = _State(cm, inputs.n, record_visits,
                   _visit_estimate(model, inputs) if record_visits else 0, stages=stages)
    state.run(cm, record_visits, 0, inputs.n, math.inf, args)
    return state.result(cm, inputs.replication, record_visits)


def simulate_many(model: Model, replications: Sequence[int], seed: int | None = None,
                  record_visits: bool = False) -> list[RepResult]:
    """Draw and run several replications (what a worker process of a pool calls)."""
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
                       chunk: int = 65536, record_visits: bool = False,
                       stages: bool = False) -> RepResult:
    """One replication with inputs drawn ``chunk`` cases at a time.

    Gives the same records as ``simulate(model, draw(model, replication, seed))`` while
    holding the inputs of one chunk plus those of the cases still in the system: the
    kernel runs up to (not including) the arrival instant of the first case not drawn
    yet, then the next chunk is drawn and the run resumes.
    """
    if chunk < 1:
        raise UsageError(f"simulate_streaming: chunk must be >= 1 (got {chunk})")
    cm = _compile_model(model)
    stream = arrival_stream(model, replication, seed)  # O(cases): times, classes, channels
    arrival = stream.arrival
    n = int(arrival.shape[0])
    state = _State(cm, n, record_visits, 1 << 16, stages=stages)
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
