"""Running a scenario: replications (optionally on a process pool) -> tables and KPIs.

Data flows one way: scenario -> model -> inputs drawn per replication -> engine ->
records -> per-replication KPIs -> means with confidence intervals. Replication ``r``
always draws from the same keyed streams, so the numbers do not depend on how many
workers ran them or in which order.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from sim import engines
from sim.errors import UsageError
from sim.experiments import budget
from sim.experiments.pool import execute
from sim.experiments.settings import Settings, resolve
from sim.experiments.sources import Source, load_model
from sim.experiments.stream import check_cases_target, run_streamed
from sim.inputs import draw
from sim.model.assembly import Model, build
from sim.model.schema import Scenario
from sim.results import checks
from sim.results.eventlog import visit_log
from sim.results.headline import declared as declared_headline
from sim.results.records import case_table, item_table, station_table
from sim.results.result import Replication, RunResult
from sim.results.split import attribute_kpis
from sim.results.stats import replication_kpis, stage_kpis


def run_replication(model: Model, replication: int, seed: int, engine: str,
                    event_log: bool = True) -> Replication:
    """Draw, simulate and tabulate one replication (keeping its visits for the event log
    when ``event_log``)."""
    inp = draw(model, replication, seed)
    res = engines.simulate(engine, model, inp, record_visits=True, stages=True)
    cases = case_table(model, inp, res)
    st = station_table(model, res)
    st.insert(0, "replication", replication)
    kpis = replication_kpis(cases, model.window, declared_headline(model))
    assert res.t_stages is not None
    kpis.update(stage_kpis(model, inp.cls, res.t_stages, cases))
    kpis.update(attribute_kpis(model, cases))
    vl = visit_log(model, inp, res) if event_log or model.scenario.checks else None
    if model.scenario.checks:
        kpis.update(checks.observe(model, cases, vl))
    return Replication(replication, cases, st, kpis, visits=vl if event_log else None,
                       items=item_table(model, inp, res))


#: models by their scenario's JSON: a forked worker finds the parent's (set just before the
#: pool starts), a spawned or remote one builds each once
_MODEL_CACHE: dict[str, Model] = {}


def slim(rep: Replication) -> Replication:
    """A replication without its case table and visits (its KPIs and station table kept):
    what an experiment of many variants keeps of each (a few kB instead of megabytes)."""
    return Replication(rep.replication, rep.cases.iloc[:0], rep.stations, rep.kpis,
                       items=rep.items)


def _worker(payload: tuple[str, int, int, str, bool, bool]) -> Replication:
    text, replication, seed, engine, event_log, keep = payload
    model = _MODEL_CACHE.get(text)
    if model is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = build(Scenario.model_validate_json(text), warn=False)
        if len(_MODEL_CACHE) > 8:
            _MODEL_CACHE.clear()
        _MODEL_CACHE[text] = model
    rep = run_replication(model, replication, seed, engine, event_log and keep)
    return rep if keep else slim(rep)


def run(source: Source, replications: int | None = None, seed: int | None = None,
        engine: str | None = None, workers: int = 1, reforms: Sequence[str] = (),
        progress: Callable[[int], None] | None = None,
        max_memory: float | None = None, event_log: bool = True, stream: bool = False,
        cases_out: str | Path | None = None) -> RunResult:
    """Run ``replications`` replications (default: the scenario's) from ``seed``.

    ``event_log=False`` keeps no visits, so :meth:`RunResult.event_log` is not available
    (the command line asks for them only with ``--log``: they are a tenth of the run's time
    and most of what workers send back).

    A run whose estimated memory is past ``max_memory`` GB (default: ``$GOVSIM_MAX_MEMORY``,
    else half this machine's memory) is refused before it starts (:mod:`sim.experiments.budget`).

    ``stream=True`` (implied by ``cases_out``) runs the replications one after another
    with inputs drawn a chunk of cases at a time (the vector engine), writes the per-case
    records to ``cases_out`` (``.parquet``, ``.csv``, ``.csv.gz``) as they are final, and
    keeps only the KPIs and the station table (:mod:`sim.experiments.stream`): the same
    figures as a normal run in a fraction of the memory, but no ``result.cases`` and no
    event log.
    """
    model = load_model(source, reforms)
    cfg = resolve(model.scenario.run, replications=replications, seed=seed, engine=engine,
                  workers=workers, max_memory=max_memory)
    checks.validate(model, f"{Path(source).name}: " if isinstance(source, str | Path) else "",
                    dates=False)
    if stream or cases_out is not None:
        if cfg.engine != "vector":
            raise UsageError(f"a streamed run needs the vector engine (got engine "
                             f"{cfg.engine!r}); leave out the engine or the streaming")
        if cfg.workers > 1:
            raise UsageError(f"a streamed run runs its replications one after another in "
                             f"this process (got {cfg.workers} workers); leave out the workers")
        if cases_out is not None:
            check_cases_target(cases_out)
        budget.check([model], cfg.replications, 1, cfg.max_memory, streamed=True)
        reps = run_streamed(model, cfg.replications, cfg.seed, cases_out, progress)
        return RunResult(model=model, engine=cfg.engine, seed=cfg.seed, reps=reps)
    budget.check([model], cfg.replications, cfg.workers, cfg.max_memory,
                 can_stream=cfg.engine == "vector")
    return run_models([model], [cfg.seed], cfg, progress, event_log)[0]


def run_models(models: Sequence[Model], seeds: Sequence[int], cfg: Settings,
               progress: Callable[[int], None] | None = None,
               event_log: bool = True,
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
        jobs = [(texts[k], r, seeds[k], cfg.engine, event_log, kept[k])
                for k in range(len(models))
                for r in range(n)]
        _MODEL_CACHE.clear()
        _MODEL_CACHE.update(zip(texts, models, strict=True))
        if cfg.engine == "vector":
            engines.warm(models[0])  # compiled kernels loaded once, before the workers fork
        try:
            execute(_worker, jobs, done, workers=cfg.workers)
        finally:
            _MODEL_CACHE.clear()
    else:
        for k, model in enumerate(models):
            for r in range(n):
                rep = run_replication(model, r, seeds[k], cfg.engine, event_log and kept[k])
                done(k * n + r, rep if kept[k] else slim(rep))
    out = []
    for k, m in enumerate(models):
        mine = [rep for rep in reps[k * n:(k + 1) * n] if rep is not None]
        out.append(RunResult(model=m, engine=cfg.engine, seed=seeds[k], reps=mine))
    return out
