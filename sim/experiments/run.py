"""Running a scenario: replications (optionally on a process pool) -> tables and KPIs.

Data flows one way: scenario -> model -> inputs drawn per replication -> engine ->
records -> per-replication KPIs -> means with confidence intervals. Replication ``r``
always draws from the same keyed streams, so the numbers do not depend on how many
workers ran them or in which order.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

from sim import engines
from sim.experiments import budget
from sim.experiments.pool import execute
from sim.experiments.settings import Settings, resolve
from sim.experiments.sources import Source, load_model
from sim.inputs import draw
from sim.model.assembly import Model, build
from sim.model.schema import Scenario
from sim.results.eventlog import visit_log
from sim.results.records import case_table, item_table, station_table
from sim.results.result import Replication, RunResult
from sim.results.stats import replication_kpis


def run_replication(model: Model, replication: int, seed: int, engine: str) -> Replication:
    """Draw, simulate and tabulate one replication."""
    inp = draw(model, replication, seed)
    res = engines.simulate(engine, model, inp, record_visits=True)
    cases = case_table(model, inp, res)
    st = station_table(model, res)
    st.insert(0, "replication", replication)
    return Replication(replication, cases, st, replication_kpis(cases, model.window),
                       visits=visit_log(model, inp, res), items=item_table(model, inp, res))


_MODEL_CACHE: dict[str, Model] = {}


def slim(rep: Replication) -> Replication:
    """A replication without its case table and visits (its KPIs and station table kept):
    what an experiment of many variants keeps of each (a few kB instead of megabytes)."""
    return Replication(rep.replication, rep.cases.iloc[:0], rep.stations, rep.kpis,
                       items=rep.items)


def _worker(payload: tuple[str, int, int, str, bool]) -> Replication:
    text, replication, seed, engine, keep = payload
    model = _MODEL_CACHE.get(text)
    if model is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = build(Scenario.model_validate_json(text), warn=False)
        _MODEL_CACHE.clear()
        _MODEL_CACHE[text] = model
    rep = run_replication(model, replication, seed, engine)
    return rep if keep else slim(rep)


def run(source: Source, replications: int | None = None, seed: int | None = None,
        engine: str | None = None, workers: int = 1, reforms: Sequence[str] = (),
        progress: Callable[[int], None] | None = None,
        max_memory: float | None = None) -> RunResult:
    """Run ``replications`` replications (default: the scenario's) from ``seed``.

    A run whose estimated memory is past ``max_memory`` GB (default: ``$GOVSIM_MAX_MEMORY``,
    else half this machine's memory) is refused before it starts (:mod:`sim.experiments.budget`).
    """
    model = load_model(source, reforms)
    cfg = resolve(model.scenario.run, replications=replications, seed=seed, engine=engine,
                  workers=workers, max_memory=max_memory)
    return run_models([model], [cfg.seed], cfg, progress)[0]


def run_models(models: Sequence[Model], seeds: Sequence[int], cfg: Settings,
               progress: Callable[[int], None] | None = None,
               keep: Sequence[bool] | None = None) -> list[RunResult]:
    """Every replication of every model (model ``k`` from ``seeds[k]``), on ``cfg.workers``
    processes: one pool for all of them, so a comparison keeps every worker busy. Refused
    before anything runs when the estimated memory is past the limit (:mod:`.budget`).

    ``keep[k]`` False keeps only the KPIs and station tables of model ``k``'s replications
    (:func:`slim`: no case tables, no event log), which the memory estimate then leaves out
    but for one replication at a time in each worker.
    """
    n = cfg.replications
    kept = [True] * len(models) if keep is None else list(keep)
    if len(kept) != len(models):
        raise ValueError(f"keep has {len(kept)} entries for {len(models)} models")
    full = [m for m, k in zip(models, kept, strict=True) if k]
    budget.check(full or list(models[:1]), n if full else 1, cfg.workers, cfg.max_memory)
    reps: list[Replication | None] = [None] * (n * len(models))

    def done(k: int, rep: Replication) -> None:
        reps[k] = rep
        if progress:
            progress(1)

    if cfg.workers > 1 and len(reps) > 1:
        texts = [m.scenario.model_dump_json() for m in models]
        jobs = [(texts[k], r, seeds[k], cfg.engine, kept[k]) for k in range(len(models))
                for r in range(n)]
        execute(_worker, jobs, done, workers=cfg.workers)
    else:
        for k, model in enumerate(models):
            for r in range(n):
                rep = run_replication(model, r, seeds[k], cfg.engine)
                done(k * n + r, rep if kept[k] else slim(rep))
    out = []
    for k, m in enumerate(models):
        mine = [rep for rep in reps[k * n:(k + 1) * n] if rep is not None]
        out.append(RunResult(model=m, engine=cfg.engine, seed=seeds[k], reps=mine))
    return out
