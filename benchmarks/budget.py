"""``python -m benchmarks.budget``: what an event-driven engine could reach on the
construction scenario (docs/performance.md, "What follows").

Not part of the gate. It prints, for the construction scenario:

* the time per queue visit of the SimPy engine and of the vector engine on the same
  inputs, and the time per visit that 200x the SimPy engine allows;
* the cost per event of the event queue alone, in a *hold model* (``pending`` events,
  each step pops the earliest, reads the payload of the next earliest, as the kernel's
  prefetch does, and pushes one event a random time later): the kernel's 8-ary heap
  against a winner (tournament) tree whose popped leaf the next push reuses, with and
  without the scan for the runner-up that the read of the next earliest needs;
* the share of visits that start later than their station's next opening after they
  join (the queues' interaction: without it, cases could be computed one by one).

Nanoseconds (wall clock for the queues, CPU time for the engines): comparable only
within one run on one machine.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from benchmarks.suite import CONSTRUCTION
from sim.engines import des, vector
from sim.engines.vector.heap import _hpop, _hpush
from sim.engines.vector.kernels import F64, _inline, _u, no_nrt
from sim.engines.vector.layout import HB, _aligned
from sim.inputs import draw
from sim.model import build
from sim.model.scenario import load


@no_nrt
def heap_hold(ev_t: F64, ev_p: Any, incs: F64, pending: int, scratch: Any) -> float:
    """The hold model on the kernel's heap; returns the sum of the popped times."""
    hsize = 0
    for i in range(pending):
        _hpush(ev_t, ev_p, hsize, incs[i], i)
        hsize += 1
    total = 0.0
    acc = 0
    for s in range(pending, incs.shape[0]):
        t = ev_t[HB]
        _hpop(ev_t, ev_p, hsize)
        hsize -= 1
        acc += scratch[_u((ev_p[HB] * 64) & (scratch.shape[0] - 1))]
        total += t
        _hpush(ev_t, ev_p, hsize, t + incs[s], s)
        hsize += 1
    return total + 0.0 * acc  # (acc: the reads of the next top are not optimised away)


@_inline
def _earlier(t: float, leaf: float, tr: F64, s: int) -> tuple[float, float]:
    """(time, leaf) of node ``s``'s winner if it is earlier than ``t``, else ``(t, leaf)``
    (selects, not branches: the comparisons of random times are unpredictable)."""
    st = tr[_u(s), 0]
    sl = tr[_u(s), 1]
    c = st < t
    return (st if c else t), (sl if c else leaf)


@_inline
def _replay(tr: F64, leaves: int, x: int, t: float) -> None:
    """Set leaf ``x`` to time ``t`` and recompute the winners on its path to the root.
    Row ``n`` of ``tr`` is (time, leaf) of node ``n``'s winner; leaves are rows
    ``leaves .. 2 * leaves - 1``."""
    n = leaves + x
    tr[_u(n), 0] = t
    wt = t
    wl = tr[_u(n), 1]
    while n > 1:
        wt, wl = _earlier(wt, wl, tr, n ^ 1)
        n >>= 1
        tr[_u(n), 0] = wt
        tr[_u(n), 1] = wl


@_inline
def _runner_up(tr: F64, leaves: int, x: int) -> tuple[float, float]:
    """The earliest (time, leaf) once the winner, leaf ``x``, is gone: the best of the
    siblings on its path."""
    n = leaves + x
    bt = np.inf
    bl = -1.0
    while n > 1:
        bt, bl = _earlier(bt, bl, tr, n ^ 1)
        n >>= 1
    return bt, bl


@no_nrt
def tree_hold(tr: F64, ev_p: Any, incs: F64, pending: int, scratch: Any,
              runner_up: bool) -> float:
    """The hold model on a winner tree; returns the sum of the popped times."""
    leaves = ev_p.shape[0]
    for x in range(leaves):
        tr[leaves + x, 0] = np.inf
        tr[leaves + x, 1] = x
    for n in range(leaves - 1, 0, -1):
        a = 2 * n if tr[2 * n, 0] <= tr[2 * n + 1, 0] else 2 * n + 1
        tr[n, 0] = tr[a, 0]
        tr[n, 1] = tr[a, 1]
    for i in range(pending):
        ev_p[i] = i
        _replay(tr, leaves, i, incs[i])
    total = 0.0
    acc = 0
    for s in range(pending, incs.shape[0]):
        t = tr[1, 0]
        x = int(tr[1, 1])
        if runner_up:
            nl = _runner_up(tr, leaves, x)[1]
            acc += scratch[_u((ev_p[_u(int(nl))] * 64) & (scratch.shape[0] - 1))]
        total += t
        ev_p[_u(x)] = s
        _replay(tr, leaves, x, t + incs[s])  # the push reuses the popped leaf
    return total + 0.0 * acc


def hold_models(pending: int, steps: int, seed: int = 1) -> dict[str, float]:
    """Nanoseconds per event of each queue in the hold model (best of 3)."""
    incs = np.random.default_rng(seed).exponential(float(pending), steps + pending)
    scratch = np.zeros(1 << 16, dtype=np.int64)
    cap = 1 << max(10, (pending + 8).bit_length())
    ev_t, ev_p = _aligned((cap + HB,), np.float64), _aligned((cap + HB,), np.int64)
    tr, leaf_p = _aligned((2 * cap, 2), np.float64), _aligned((cap,), np.int64)
    runs: dict[str, Any] = {
        "heap": lambda: heap_hold(ev_t, ev_p, incs, pending, scratch),
        "tree_with_runner_up": lambda: tree_hold(tr, leaf_p, incs, pending, scratch, True),
        "tree_without": lambda: tree_hold(tr, leaf_p, incs, pending, scratch, False),
    }
    out: dict[str, float] = {}
    sums = set()
    for name, f in runs.items():
        best = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            sums.add(f())
            best = min(best, time.perf_counter() - t0)
        out[name] = best / steps * 1e9
    if len(sums) != 1:
        raise AssertionError("the queues popped different times")
    return out


def engines(replications: int) -> list[dict[str, float]]:
    m = build(load(CONSTRUCTION), str(CONSTRUCTION), warn=False)
    rows = []
    for rep in range(replications):
        inp = draw(m, rep)
        res = vector.simulate(m, inp, record_visits=True)
        assert res.visits is not None
        v = res.visits
        tv = []
        for _ in range(9):
            t0 = time.process_time()
            vector.simulate(m, inp, record_visits=False)
            tv.append(time.process_time() - t0)
        t0 = time.process_time()
        des.simulate(m, inp, record_visits=False)
        td = time.process_time() - t0
        nv = int(v.case.shape[0])
        opening = np.empty(nv)
        for s in range(m.n_stations):
            at = v.station == s
            opening[at] = m.calendar_of(s).next_open(v.joined[at])
        later = v.start > opening
        rows.append({"replication": rep, "visits": nv, "des_us_per_visit": td / nv * 1e6,
                     "vector_ns_per_visit": float(np.median(tv)) / nv * 1e9,
                     "budget_200x_ns_per_visit": td / 200 / nv * 1e9,
                     "ratio_vs_des": td / float(np.median(tv)),
                     "share_started_after_opening": float(later.mean()),
                     "first_such_day": float(v.joined[later].min() / 24) if later.any()
                     else float("nan")})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.budget", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replications", type=int, default=2)
    p.add_argument("--steps", type=int, default=3_000_000, help="hold-model steps")
    args = p.parse_args(argv)
    print("event queue alone, ns per event (hold model, best of 3):")
    for pending in (700, 2500):
        hold_models(pending, 1000)  # compile
        r = hold_models(pending, args.steps)
        print(f"  {pending:>5} pending: " + ", ".join(f"{k} {v:.1f}" for k, v in r.items()))
    print("construction scenario:")
    for row in engines(args.replications):
        print("  " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                               for k, v in row.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
