"""The score benchmark: ``govsim score`` on a BPIC-sized log (the issue's target: under 60 s).

The real log is BPIC 2015 municipality 1 (52,217 events, 1,199 cases; data/), scored
against the hand-made ``tests/data/bpic15_small.toml``. Its figure is a ratio of two CPU
timings of the same run: reading the log (``sim.logs.read``, the same-run reference)
over scoring it (simulating the period's replications and comparing every replication's
log with the real one). Higher is better. Whether the score took under 60 s of wall time
is kept as a yes/no (full size only: ten replications).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from sim import logs
from sim.experiments.score import score

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "data" / "BPIC15_1.xes.gz"
SCENARIO = ROOT / "tests" / "data" / "bpic15_small.toml"


def bench_score(replications: int, quick: bool) -> dict[str, Any]:
    t0 = time.process_time()
    log = logs.read(LOG, duplicates="keep")
    t_read = time.process_time() - t0
    w0, t1 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the scenario models 4 of the log's 398 activities
        sr = score(SCENARIO, log, replications=replications, seed=1)
    t_score, wall = time.process_time() - t1, time.perf_counter() - w0
    events = sum(len(s.events) for s in sr.simulated)
    out: dict[str, Any] = {"log": LOG.name, "events": len(log), "cases": log.n_cases,
                           "replications": replications,
                           "simulated_matched_events": events,
                           "ratio_vs_read": t_read / t_score}
    if not quick:
        out["within_60s"] = bool(wall < 60.0)
    return out | {"note": "read CPU seconds / score CPU seconds (simulate the 1,762-day period, "
                    "then the 5 distances and 7 KPIs per replication); within_60s: the "
                    "score's wall time, full size"}
