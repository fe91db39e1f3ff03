"""The page's runs: a job per what-if, run off the request on a small pool, with progress,
cancelling, and a cache of results.

A job compares the baseline and the variant on common random numbers: both run from
the same seed with the same replications through :func:`sim.experiments.run.run_models`
(what :func:`sim.compare` runs), and the result is a
:class:`~sim.experiments.compare.CompareResult`, the object ``govsim compare`` prints.
Each scenario's run is cached by (scenario, replications, seed, engine): replication
``r`` draws from streams keyed by ``r`` alone, so a cached baseline is the very run a
fresh comparison would make, and a what-if after the first runs only the variant.

Jobs run one at a time on a thread pool of ``jobs`` threads (default 1: the machine's
cores go to the simulation); each spreads its replications over ``workers`` processes
of the one process pool (:mod:`sim.experiments.pool`; 1: in the job's thread). A job is
cancelled between replications: its progress callback raises, which stops the pool.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sim.engines import DEFAULT_ENGINE
from sim.errors import GovsimError
from sim.experiments.compare import CompareResult
from sim.experiments.pool import default_workers
from sim.experiments.run import run_models
from sim.experiments.settings import resolve
from sim.model.assembly import build
from sim.model.schema import Scenario
from sim.results.result import RunResult
from sim.serve.variant import Scenarios, Variant, variant_scenario
from sim.serve.views import Computed

#: scenario runs kept (a construction run of 5 replications is some 20 MB of case tables)
CACHE_RUNS = 12
#: processes a job spreads its replications over unless told: two (a what-if of 5
#: construction replications answers in 0.8 s instead of 1.1 s on 2 cores)
DEFAULT_WORKERS = min(2, default_workers())


class Cancelled(Exception):
    """Raised from a job's progress callback to stop it."""


@dataclass
class Job:
    """One what-if: its state, progress and, when done, its comparison."""

    key: str
    variant: Variant
    total: int = 0
    done: int = 0
    state: str = "queued"           # queued, running, done, failed, cancelled
    error: str = ""
    seconds: float = 0.0
    cached: bool = False
    #: what building the models warned of (shown on the page): (baseline or variant, text)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    result: CompareResult | None = field(default=None, repr=False)
    #: what the page shows of the result, computed once in the job's thread
    view: Computed | None = field(default=None, repr=False)
    scenario: Scenario | None = field(default=None, repr=False)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def status(self) -> dict[str, Any]:
        return {"key": self.key, "state": self.state, "done": self.done, "total": self.total,
                "error": self.error, "seconds": round(self.seconds, 3)}


class Runner:
    """Jobs by key, the run cache, and the pool that runs them."""

    def __init__(self, scenarios: Scenarios, workers: int = 1, jobs: int = 1,
                 engine: str = DEFAULT_ENGINE) -> None:
        self.scenarios = scenarios
        self.workers = workers
        self.engine = engine
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.runs: OrderedDict[str, RunResult] = OrderedDict()
        #: what building each run's model warned of, by the run's key
        self.notes: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="govsim-job")

    def close(self) -> None:
        with self.lock:
            for job in self.jobs.values():
                job.cancel.set()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def job(self, key: str) -> Job | None:
        with self.lock:
            return self.jobs.get(key)

    def submit(self, v: Variant, retry: bool = False) -> Job:
        """The job of ``v``: the one already there (queued, running, done; failed or
        cancelled unless ``retry``), else a new one, queued."""
        key = v.key(self.engine)
        with self.lock:
            job = self.jobs.get(key)
            if job is not None and not (retry and job.state in ("failed", "cancelled")):
                self.jobs.move_to_end(key)
                return job
            job = Job(key, v, total=2 * v.replications)
            self.jobs[key] = job
            while len(self.jobs) > 64:
                old = next(iter(self.jobs))
                if self.jobs[old].state in ("queued", "running"):
                    break
                self.jobs.pop(old)
        self.pool.submit(self._run, job)
        return job

    def cancel(self, key: str) -> bool:
        job = self.job(key)
        if job is None or job.state not in ("queued", "running"):
            return False
        job.cancel.set()
        return True

    def _cached(self, key: str) -> RunResult | None:
        with self.lock:
            r = self.runs.get(key)
            if r is not None:
                self.runs.move_to_end(key)
            return r

    def _keep(self, key: str, r: RunResult) -> None:
        with self.lock:
            self.runs[key] = r
            while len(self.runs) > CACHE_RUNS:
                old, _ = self.runs.popitem(last=False)
                self.notes.pop(old, None)

    def _run(self, job: Job) -> None:
        if job.cancel.is_set():
            job.state = "cancelled"
            return
        job.state = "running"
        t0 = time.perf_counter()
        state = "failed"
        try:
            job.result = self.compare(job)
            job.view = Computed.of(job.result)
            state = "done"
        except Cancelled:
            state = "cancelled"
        except GovsimError as exc:
            job.error = str(exc)
        except Exception as exc:  # the server keeps serving: the page shows one line
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.seconds = time.perf_counter() - t0
            job.state = state

    def compare(self, job: Job) -> CompareResult:
        """Baseline and variant on common random numbers (cached runs reused)."""
        v = job.variant
        base = self.scenarios.baseline(v.scenario)
        other = variant_scenario(v, self.scenarios)
        job.scenario = other
        cfg = resolve(base.run, replications=v.replications, seed=v.seed, engine=self.engine,
                      workers=self.workers)
        keys = [f"{s.model_dump_json()}|{cfg.replications}|{cfg.seed}|{cfg.engine}"
                for s in (base, other)]
        results: list[RunResult | None] = [self._cached(k) for k in keys]
        todo = [k for k in range(2) if results[k] is None]
        if keys[0] == keys[1] and todo == [0, 1]:  # the variant changes nothing: run it once
            todo = [0]
        job.total = cfg.replications * len(todo)
        job.cached = not todo
        if todo:
            models = []
            for k in todo:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    models.append(build((base, other)[k], v.scenario))
                # what a model warns of (a station past its capacity) goes on the page,
                # kept with its run for the next what-if on it
                with self.lock:
                    self.notes[keys[k]] = [" ".join(str(w.message).split())
                                           .removeprefix(f"{v.scenario}: ") for w in caught]

            def progress(n: int) -> None:
                job.done += n
                if job.cancel.is_set():
                    raise Cancelled

            fresh = run_models(models, [cfg.seed] * len(models), cfg, progress,
                               event_log=False)
            for k, r in zip(todo, fresh, strict=True):
                results[k] = r
                self._keep(keys[k], r)
        if results[1] is None:
            results[1] = results[0]
        with self.lock:
            job.warnings = list(dict.fromkeys(
                (role, w) for role, key in zip(("baseline", "variant"), keys, strict=True)
                for w in self.notes.get(key, [])))
        runs = [r for r in results if r is not None]
        return CompareResult(labels=[v.scenario, f"{v.scenario} (variant)"], results=runs,
                             sources=[v.scenario, v.scenario], reforms=[[], v.specs],
                             seed=cfg.seed, replications=cfg.replications, engine=cfg.engine)
