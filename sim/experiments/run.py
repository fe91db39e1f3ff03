"""Running a scenario: replications (optionally on a process pool) -> tables and KPIs.

Data flows one way: scenario -> model -> inputs drawn per replication -> engine ->
records -> per-replication KPIs -> means with confidence intervals. Replication ``r``
always draws from the same keyed streams, so the numbers do not depend on how many
workers ran them or in which order.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from sim import engines
from sim.engines import DEFAULT_ENGINE
from sim.errors import UsageError
from sim.inputs import draw
from sim.model.assembly import Model, build
from sim.model.schema import Scenario
from sim.results.records import case_table, station_table
from sim.results.result import Replication, RunResult
from sim.results.stats import replication_kpis


def run_replication(model: Model, replication: int, seed: int, engine: str) -> Replication:
    """Draw, simulate and tabulate one replication."""
    inp = draw(model, replication, seed)
    res = engines.simulate(engine, model, inp, record_visits=True)
    cases = case_table(model, inp, res)
    st = station_table(model, res)
    st.insert(0, "replication", replication)
    return Replication(replication, cases, st, replication_kpis(cases, model.window))


_MODEL_CACHE: dict[str, Model] = {}


def _worker(payload: tuple[str, int, int, str]) -> Replication:
    text, replication, seed, engine = payload
    model = _MODEL_CACHE.get(text)
    if model is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = build(Scenario.model_validate_json(text), warn=False)
        _MODEL_CACHE.clear()
        _MODEL_CACHE[text] = model
    return run_replication(model, replication, seed, engine)


def run(model: Model, replications: int | None = None, seed: int | None = None,
        engine: str = DEFAULT_ENGINE, workers: int = 1,
        progress: Callable[[int], None] | None = None) -> RunResult:
    """Run ``replications`` replications (default: the scenario's) from ``seed``."""
    if engine not in engines.ENGINES:
        raise UsageError(f"unknown engine '{engine}' (choose from: {', '.join(engines.ENGINES)})")
    n = model.scenario.run.replications if replications is None else replications
    if n < 1:
        raise UsageError(f"replications must be an integer >= 1 (got {n})")
    s = model.scenario.run.seed if seed is None else seed
    if s < 0:
        raise UsageError(f"seed must be an integer >= 0 (got {s})")
    reps: list[Replication] = []
    if workers > 1 and n > 1:
        text = model.scenario.model_dump_json()
        with ProcessPoolExecutor(max_workers=min(workers, n)) as pool:
            for rep in pool.map(_worker, [(text, r, s, engine) for r in range(n)]):
                reps.append(rep)
                if progress:
                    progress(1)
    else:
        for r in range(n):
            reps.append(run_replication(model, r, s, engine))
            if progress:
                progress(1)
    return RunResult(model=model, engine=engine, seed=s, reps=reps)
