"""Where the planner waits: drawing the inputs, the whole ``govsim run`` command, its
workers, and a million cases through the front door (issue: end-to-end speed).

Each figure is a ratio of two timings of the same run, their rounds interleaved, best of
each side (or a peak RSS read in a fresh process).

* ``draw``: drawing one construction replication's inputs (:func:`sim.inputs.draw`)
  against numpy's floor for the same numbers: one generator making as many uniforms as
  the draw reads, and numpy's own samplers making as many gamma and lognormal variates as
  it transforms (CPU time). Target: <= 3.
* ``command``: ``govsim run scenarios/hohhot-construction-2023.toml -q`` as a user
  starts it (a fresh process, its default workers, wall time) against its own engine time:
  the compiled engine on the same replications' inputs in a warm process (wall time, the
  inputs drawn beforehand). Target: <= 2.5.
* ``workers``: the same ``govsim run`` and a ``govsim sweep`` of 4 points with
  ``--workers 2`` against ``--workers 1`` (wall time).
* ``streamed``: peak RSS of a construction run of 1,000,000 cases (quick: 100,000)
  streamed through :func:`sim.run` in a fresh process. Target: < 2 GB.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sim.engines import vector
from sim.inputs import draw
from sim.model import Model, build, distributions
from sim.model.scenario import load
from sim.streams import Stream

ROOT = Path(__file__).resolve().parent.parent
CONSTRUCTION = ROOT / "scenarios" / "hohhot-construction-2023.toml"
DRAW_TARGET, COMMAND_TARGET = 3.0, 2.5


def _model() -> Model:
    return build(load(CONSTRUCTION), str(CONSTRUCTION), warn=False)


def _counts(m: Model) -> tuple[int, dict[str, int]]:
    """How many uniforms one draw reads, and how many values of each family it transforms."""
    uniforms = [0]
    transformed: dict[str, int] = {}
    take, ppf, unit = Stream.take, distributions.Family.ppf, distributions.Family.unit_ppf

    def counting_take(self: Stream, slot: int, k0: int, k1: int, out: Any = None) -> Any:
        out = take(self, slot, k0, k1, out)
        uniforms[0] += out.size
        return out

    def counting_ppf(self: distributions.Family, u: Any) -> Any:
        if self.shape_key is None:  # else counted by unit_ppf
            transformed[self.kind] = transformed.get(self.kind, 0) + int(np.size(u))
        return ppf(self, u)

    def counting_unit(key: tuple[str, float], u: Any, overwrite: bool = False) -> Any:
        transformed[key[0]] = transformed.get(key[0], 0) + int(np.size(u))
        return unit(key, u, overwrite)

    Stream.take = counting_take  # type: ignore[method-assign]
    distributions.Family.ppf = counting_ppf  # type: ignore[method-assign]
    distributions.Family.unit_ppf = staticmethod(counting_unit)  # type: ignore[method-assign]
    try:
        draw(m, 0)
    finally:
        Stream.take, distributions.Family.ppf = take, ppf  # type: ignore[method-assign]
        distributions.Family.unit_ppf = staticmethod(unit)  # type: ignore[method-assign]
    return uniforms[0], transformed


def bench_draw(size: dict[str, int]) -> dict[str, Any]:
    m = _model()
    n_uniform, transformed = _counts(m)
    rng = np.random.default_rng(1)

    def floor() -> None:
        rng.random(n_uniform)
        for kind, n in transformed.items():
            if kind == "gamma":
                rng.gamma(2.8, 1.0, n)
            elif kind == "lognormal":
                rng.lognormal(0.0, 0.6, n)
            elif kind == "exponential":
                rng.exponential(1.0, n)
            else:
                rng.random(n)

    t_draw, t_floor = math.inf, math.inf
    for r in range(size["draw_rounds"]):
        t = time.process_time()
        inp = draw(m, r)
        t_draw = min(t_draw, time.process_time() - t)
        t = time.process_time()
        floor()
        t_floor = min(t_floor, time.process_time() - t)
    ratio = t_draw / t_floor
    return {"scenario": CONSTRUCTION.name, "cases": inp.n, "uniforms": n_uniform,
            "transformed": sum(transformed.values()), "draw_ms": round(t_draw * 1e3, 1),
            "floor_ms": round(t_floor * 1e3, 1), "ratio_vs_floor": ratio,
            "within_target": ratio <= DRAW_TARGET, "rounds": size["draw_rounds"],
            "note": f"CPU time, best of {size['draw_rounds']} interleaved rounds; the floor is "
                    "numpy making the same count of uniforms and of gamma/lognormal variates "
                    f"with its own samplers; target <= {DRAW_TARGET:g}"}


def _govsim(*args: str) -> float:
    """Wall seconds of ``govsim ARGS`` in a fresh process (as a user types it)."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def _engine_seconds(m: Model, replications: int) -> float:
    """Wall seconds of the compiled engine alone on ``replications`` replications."""
    total = 0.0
    for r in range(replications):
        inp = draw(m, r)
        t = time.perf_counter()
        vector.simulate(m, inp, record_visits=True)
        total += time.perf_counter() - t
    return total


def bench_command(size: dict[str, int]) -> dict[str, Any]:
    m = _model()
    n = m.scenario.run.replications
    vector.simulate(m, draw(m, 0, cases=slice(0, 64)))  # kernels loaded before timing
    t_cmd, t_eng = math.inf, math.inf
    for _ in range(size["command_rounds"]):
        t_cmd = min(t_cmd, _govsim("run", str(CONSTRUCTION), "-q"))
        t_eng = min(t_eng, _engine_seconds(m, n))
    ratio = t_cmd / t_eng
    return {"scenario": CONSTRUCTION.name, "replications": n, "workers": os.cpu_count(),
            "command_s": round(t_cmd, 2), "engine_s": round(t_eng, 2),
            "ratio_vs_engine": ratio, "within_target": ratio <= COMMAND_TARGET,
            "rounds": size["command_rounds"],
            "note": "wall time of `govsim run FILE -q` (fresh process, default workers: every "
                    "CPU) over the engine's wall time on the same replications in a warm "
                    f"process; best of interleaved rounds; target <= {COMMAND_TARGET:g}"}


def bench_workers(size: dict[str, int]) -> dict[str, Any]:
    best = {("run", 1): math.inf, ("run", 2): math.inf, ("sweep", 1): math.inf,
            ("sweep", 2): math.inf}
    out = Path(tempfile.mkdtemp(prefix="govsim-bench-"))
    try:
        for k in range(size["workers_rounds"]):
            for w in (1, 2):
                best["run", w] = min(best["run", w], _govsim(
                    "run", str(CONSTRUCTION), "-q", "--workers", str(w)))
                folder = out / f"sweep-{k}-{w}"  # a fresh folder: nothing to resume
                best["sweep", w] = min(best["sweep", w], _govsim(
                    "sweep", str(CONSTRUCTION), "-q", "-n", "2", "--workers", str(w),
                    "--set", "stations.drawing_review.servers=33,36,39,42",
                    "--out", str(folder)))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"run_ratio": best["run", 1] / best["run", 2],
            "sweep_ratio": best["sweep", 1] / best["sweep", 2],
            "run_s": [round(best["run", 1], 2), round(best["run", 2], 2)],
            "sweep_s": [round(best["sweep", 1], 2), round(best["sweep", 2], 2)],
            "cpus": os.cpu_count(), "rounds": size["workers_rounds"],
            "note": "wall time with --workers 1 over --workers 2: govsim run on the construction "
                    "scenario (10 replications) and govsim sweep of 4 points x 2 replications; "
                    "best of interleaved rounds"}
