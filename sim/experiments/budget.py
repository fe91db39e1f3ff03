"""Bounded before it starts: a run's cases, visits and memory, estimated from the model.

Every replication's arrivals and submissions have a mean the model knows before anything is
drawn (:meth:`~sim.model.assembly.Model.expected_arrivals`,
:meth:`~sim.model.assembly.Model.expected_submissions`). A run keeps, for each replication,
its case table and its visit log; while a replication runs, its drawn inputs and the
engine's arrays are held too, once per worker. :func:`check` refuses a run whose estimate
is past the memory limit, with the estimate and the way to raise the limit, instead of
letting it fill the machine an hour later (a rate of 1e9 a day would ask for terabytes).

A streamed run (``sim.run(..., stream=True)``, :mod:`sim.experiments.stream`) keeps no
case table and no visit log: it holds, per case of the replication, its arrival, its raw
records and the columns the KPIs read (:data:`STREAM_KEPT_PER_CASE`), and the inputs and
engine tables of the cases in the system only (:func:`stream_live_share` of them, each
:func:`case_bytes`), plus one chunk of cases being drawn. It has its own estimate
(:func:`estimate_streamed`), so a run too big to keep whole is not refused when streamed.

The per-case and per-visit sizes are measured: a replication's case table takes 173-177
bytes a case with pandas 3 (its string columns are compact) and about 330 with pandas 2
(Python strings), its visit log 53 bytes a visit (numpy 2), on the shipped scenarios;
drawing and simulating hold several times that while they run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.errors import UsageError
from sim.model.assembly import PARALLEL, Model

#: bytes a finished replication keeps per case (case table) and per visit (visit log)
KEPT_PER_CASE, KEPT_PER_VISIT = 400.0, 60.0
#: bytes a running replication holds besides, per case and per visit (inputs, engine arrays)
WORK_PER_CASE, WORK_PER_VISIT = 900.0, 300.0
#: the interpreter, numpy, pandas and the compiled kernels
BASE_BYTES = 400e6
#: the environment variable that sets the limit, in GB (1e9 bytes)
ENV = "GOVSIM_MAX_MEMORY"
GB = 1e9


@dataclass(frozen=True)
class Estimate:
    """What a run is expected to hold: per replication and in all."""

    cases: float         #: mean cases per replication (all models of the run)
    visits: float        #: mean submissions per replication, rework included
    replications: int
    workers: int
    bytes: float

    def describe(self) -> str:
        if self.replications == 0:  # streamed: one replication at a time, none kept
            return (f"about {gigabytes(self.bytes)} streamed ({self.cases:,.0f} cases and "
                    f"{self.visits:,.0f} visits per replication, one at a time)")
        return (f"about {gigabytes(self.bytes)} ({self.cases:,.0f} cases and "
                f"{self.visits:,.0f} visits per replication, {self.replications:,} "
                f"replication{'s' if self.replications != 1 else ''} kept, "
                f"{self.workers} at a time)")


def gigabytes(n: float) -> str:
    """Bytes as GB, to two significant decimals below 10 GB."""
    gb = n / GB
    return f"{gb:,.2f} GB" if gb < 10 else f"{gb:,.0f} GB"


def estimate(models: Sequence[Model], replications: int, workers: int = 1) -> Estimate:
    """The expected memory of ``replications`` replications of each model."""
    cases = sum(m.expected_arrivals(c) for m in models for c in range(len(m.class_rate)))
    visits = sum(float(m.expected_submissions().sum()) for m in models)
    kept = replications * (cases * KEPT_PER_CASE + visits * KEPT_PER_VISIT)
    per_model = max(len(models), 1)
    busy = min(workers, replications * per_model)
    working = busy * (cases * WORK_PER_CASE + visits * WORK_PER_VISIT) / per_model
    return Estimate(cases, visits, replications, workers, BASE_BYTES + kept + working)


#: bytes a streamed replication keeps per case (arrival stream, raw records, KPI columns)
STREAM_KEPT_PER_CASE = 450.0
#: the least share of a replication's cases assumed in the system at once
STREAM_MIN_LIVE = 0.05


def case_bytes(model: Model) -> float:
    """Bytes one case in the system holds while a streamed run runs, as the chunked
    engine lays them out (:mod:`sim.engines.vector.chunked`): its drawn inputs by item
    (the first submission of each; lags and patience for every submission where drawn),
    a row per item it finds deficient for the later submissions and fixes (at most the
    expected submissions past the first: every case counted as running every item), its
    rows of the case tables (2 x 64 bytes) and its stage triples, and a branch row per slot
    of the widest parallel stage rounded up to a power of two (32 bytes of int32 and 64
    of floats)."""
    J = model.n_items
    q_any = any(model.deficiency_probability(j, 0) > 0 for j in range(J))
    K = model.max_attempts if q_any else 1
    per_item = 8 + 8 + 8 + 5  # delay, audit service, first service; five flags
    per_item += 8 * K if any(f is not None for f in model.item_lag) else 0
    per_item += 8 * K if bool(np.asarray(model.station_renege).any()) else 0
    later = sum(min(1.0, model.expected_attempts(j) - 1.0) for j in range(J)) if K > 1 else 0.0
    per_row = 8 + (K - 1) * (8 + 1 + 8)  # key; service, deficient, fix of each later one
    stages = int(np.diff(np.asarray(model.route_stage_ptr)).max())
    widths = np.diff(np.asarray(model.stage_item_ptr))
    par = np.asarray(model.stage_mode) == PARALLEL
    width = int(max(1, widths[par].max() if par.any() else 1))
    width = 1 << (width - 1).bit_length()
    return J * per_item + later * per_row + 128.0 + 24.0 * stages + width * 96.0


def stream_live_share(model: Model) -> float:
    """The share of a replication's cases assumed in the system at once: the drain period
    after the last arrival over the arrival period (a scenario's horizon leaves its slowest
    cases time to finish, so this bounds the mean time in the system from above), at least
    :data:`STREAM_MIN_LIVE`. The construction scenario: 0.68 (measured: about 0.42)."""
    arrivals = max(model.arrival_end, 1e-9)
    return float(min(1.0, max(STREAM_MIN_LIVE, (model.horizon - model.arrival_end) / arrivals)))


def estimate_streamed(models: Sequence[Model], replications: int,
                      chunk: int = 2048) -> Estimate:
    """The expected memory of a streamed run: one replication at a time, none kept."""
    cases = sum(m.expected_arrivals(c) for m in models for c in range(len(m.class_rate)))
    visits = sum(float(m.expected_submissions().sum()) for m in models)
    held = 0.0
    for m in models:
        n = sum(m.expected_arrivals(c) for c in range(len(m.class_rate)))
        held = max(held, n * STREAM_KEPT_PER_CASE
                   + (n * stream_live_share(m) + 3 * min(chunk, n)) * case_bytes(m))
    return Estimate(cases, visits, 0, 1, BASE_BYTES + held)


def physical_memory() -> float | None:
    """This machine's memory in bytes (None where the system does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def limit_bytes(limit_gb: float | None = None) -> float:
    """The memory a run may plan for: ``limit_gb``, else ``$GOVSIM_MAX_MEMORY`` (GB), else
    half of this machine's memory (8 GB where it cannot be read)."""
    if limit_gb is None:
        text = os.environ.get(ENV, "").strip()
        if text:
            try:
                limit_gb = float(text)
            except ValueError:
                raise UsageError(f"{ENV} must be a number of GB (got {text!r})") from None
            if not math.isfinite(limit_gb) or limit_gb <= 0:
                raise UsageError(f"{ENV} must be a number of GB > 0 (got {text!r})")
    if limit_gb is not None:
        if not math.isfinite(limit_gb) or limit_gb <= 0:
            raise UsageError(f"--max-memory must be a number of GB > 0 (got {limit_gb:g})")
        return limit_gb * GB
    mem = physical_memory()
    return mem / 2 if mem else 8 * GB


def check(models: Sequence[Model], replications: int, workers: int = 1,
          limit_gb: float | None = None, streamed: bool = False,
          can_stream: bool = False) -> Estimate:
    """The estimate (a streamed run's when ``streamed``), or a :class:`~sim.errors.UsageError`
    when it is past the limit (naming the streamed run's estimate when ``can_stream``: a
    ``govsim run`` that could stream instead)."""
    est = estimate_streamed(models, replications) if streamed else estimate(
        models, replications, workers)
    limit = limit_bytes(limit_gb)
    if est.bytes > limit:
        hint = ""
        if can_stream and not streamed:
            hint = (f", or stream it (--stream, sim.run(stream=True): about "
                    f"{gigabytes(estimate_streamed(models, replications).bytes)})")
        raise UsageError(
            f"this run would need {est.describe()}, more than its limit of "
            f"{gigabytes(limit)}; check the arrival rates and the horizon, or raise the "
            f"limit with --max-memory GB (or {ENV}=GB) if the machine has the memory{hint}")
    return est
