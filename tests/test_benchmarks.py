"""The benchmark gate: what counts as a regression, and the reference loops' answers.

The timings themselves are never tested (they belong to ``python -m benchmarks``); what
is tested is that the gate fails when a figure regressed and passes when it did not, and
that the hand-written reference loops compute the engine's exit times.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from benchmarks.reference_loop import tandem_exit_times, tandem_exit_times_adaptive
from benchmarks.scenarios import tandem
from benchmarks.suite import compare, table
from sim.engines import vector
from sim.inputs import draw

BASELINE: dict[str, Any] = {
    "tolerance": 0.3,
    "tolerances": {"construction.ratio_vs_des": 0.4, "calibrate.ratio_read_vs_calibrate": 0.5},
    "accuracy_max": 0.05,
    "tandem_mmc": {"ratio_vs_des": 200.0, "ratio_vs_reference_loop": 2.0,
                   "event_loop_ratio_vs_reference_loop": 0.5, "accuracy_rel_err": 0.002,
                   "reference_loop_agrees": True},
    "construction": {"ratio_vs_des": 70.0, "engines_agree": True},
    "scaling": {"ratio": 1.8},
    "memory": {"cases": 100_000, "peak_rss_mb": 400.0, "quick": True, "within_2gb": True},
    "score": {"ratio_vs_read": 0.7},
    "calibrate": {"log": "BPIC15_1.xes.gz", "ratio_read_vs_calibrate": 3.0,
                  "calibrate_seconds": 1.5, "within_target": True},
    "draw": {"ratio_vs_floor": 3.0},
    "command": {"ratio_vs_engine": 4.0},
    "workers": {"run_ratio": 1.5, "sweep_ratio": 1.6},
    "streamed": {"cases": 100_000, "peak_rss_mb": 600.0, "quick": True, "within_2gb": True},
    "serve": {"ratio_vs_compare": 0.6},
}


def figures(**changes: float | bool) -> dict[str, Any]:
    """The baseline's figures with ``section__key=value`` changes."""
    out = {k: copy.deepcopy(v) for k, v in BASELINE.items() if isinstance(v, dict)
           and k not in ("tolerances",)}
    for name, value in changes.items():
        section, key = name.split("__")
        out[section][key] = value
    return out


def test_same_figures_pass() -> None:
    assert compare(figures(), BASELINE) == []


@pytest.mark.parametrize(("change", "value", "flagged"), [
    ("tandem_mmc__ratio_vs_des", 141.0, False),  # -29.5%: within 30%
    ("tandem_mmc__ratio_vs_des", 139.0, True),  # -30.5%
    ("tandem_mmc__ratio_vs_reference_loop", 1.3, True),
    ("construction__ratio_vs_des", 43.0, False),  # its own tolerance, 40%
    ("construction__ratio_vs_des", 41.0, True),
    ("scaling__ratio", 1.2, True),
    ("memory__peak_rss_mb", 519.0, False),  # lower is better: +29.75%
    ("memory__peak_rss_mb", 521.0, True),
    ("tandem_mmc__accuracy_rel_err", 0.06, True),  # an absolute bound, not a ratio
    ("tandem_mmc__reference_loop_agrees", False, True),
    ("construction__engines_agree", False, True),
    ("score__ratio_vs_read", 0.5, False),  # -28.6%
    ("score__ratio_vs_read", 0.48, True),
    ("score__within_60s", False, True),  # the bound: scoring a BPIC log in < 60 s
    ("calibrate__ratio_read_vs_calibrate", 1.6, False),  # its own tolerance, 50%
    ("calibrate__ratio_read_vs_calibrate", 1.4, True),
    ("calibrate__within_target", False, True),  # the issue's < 30 s
    ("draw__ratio_vs_floor", 3.8, False),  # lower is better: +26.7%
    ("draw__ratio_vs_floor", 4.0, True),
    ("command__ratio_vs_engine", 5.3, True),
    ("workers__run_ratio", 1.0, True),
    ("workers__sweep_ratio", 1.2, False),
    ("streamed__peak_rss_mb", 775.0, False),  # +29.2%
    ("streamed__peak_rss_mb", 785.0, True),
    ("serve__ratio_vs_compare", 0.77, False),  # lower is better: +28.3%
    ("serve__ratio_vs_compare", 0.79, True),
])
def test_regressions_are_flagged(change: str, value: float | bool, flagged: bool) -> None:
    problems = compare(figures(**{change: value}), BASELINE)
    assert bool(problems) == flagged, problems
    if flagged:
        assert change.split("__")[0] in problems[0]


def test_improvements_are_not_regressions() -> None:
    better = figures(tandem_mmc__ratio_vs_des=400.0, memory__peak_rss_mb=100.0,
                     scaling__ratio=2.0)
    assert compare(better, BASELINE) == []


def test_memory_of_another_size_is_not_compared() -> None:
    f = figures(memory__peak_rss_mb=900.0)
    f["memory"]["cases"] = 1_000_000
    f["memory"]["quick"] = False
    assert compare(f, BASELINE) == []
    f["memory"]["within_2gb"] = False  # the full run's own bound still applies
    assert any("2048" in p for p in compare(f, BASELINE))


def test_calibration_of_another_log_is_not_compared() -> None:
    f = figures(calibrate__ratio_read_vs_calibrate=0.5)
    f["calibrate"]["log"] = "roundtrip x10"
    assert compare(f, BASELINE) == []


def test_table_names_every_figure() -> None:
    text = table({"meta": {"quick": True, "python": "3.11", "numba": "0", "cpus": 2},
                  **figures()})
    for section in ("tandem_mmc", "construction", "scaling", "memory"):
        assert section in text
    assert "ratio_vs_des" in text and "200.0" in text


def test_reference_loops_compute_the_engines_exit_times() -> None:
    m = tandem(400, stations=4, servers=3, load=0.8)
    inp = draw(m, 1)
    res = vector.simulate(m, inp, record_visits=False)
    svc = np.ascontiguousarray(inp.service[:, :, 0])
    done = res.status == 1
    assert done.sum() > 300
    np.testing.assert_array_equal(tandem_exit_times(inp.arrival, svc, 3)[done], res.end[done])
    np.testing.assert_array_equal(tandem_exit_times_adaptive(inp.arrival, svc, 3)[done],
                                  res.end[done])


def test_budget_hold_models_pop_what_a_sorted_queue_pops() -> None:
    """The event queues `python -m benchmarks.budget` times (the kernel's heap, a winner
    tree) pop the same times as Python's heapq in the same hold model."""
    import heapq

    from benchmarks.budget import heap_hold, tree_hold
    from sim.engines.vector.layout import HB, _aligned

    pending, steps = 37, 3000
    incs = np.random.default_rng(5).exponential(10.0, pending + steps)
    q = list(incs[:pending])
    heapq.heapify(q)
    expected = 0.0
    for s in range(pending, pending + steps):
        t = heapq.heappop(q)
        expected += t
        heapq.heappush(q, t + incs[s])
    scratch = np.zeros(1 << 10, dtype=np.int64)
    ev_t, ev_p = _aligned((64 + HB,), np.float64), _aligned((64 + HB,), np.int64)
    assert heap_hold(ev_t, ev_p, incs, pending, scratch) == expected
    for runner_up in (True, False):
        tr, leaf_p = _aligned((128, 2), np.float64), _aligned((64,), np.int64)
        assert tree_hold(tr, leaf_p, incs, pending, scratch, runner_up) == expected
