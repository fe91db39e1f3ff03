"""A run streamed: replications whose per-case records go to a file (or nowhere) as they
are final, keeping only running summaries.

Each replication runs on :func:`sim.engines.vector.chunked.run_chunked` (the vector engine:
inputs drawn a chunk of cases at a time, finished cases' memory handed back). What it hands
out is turned into the same tables as a normal run's (:mod:`sim.results.records`): the
per-case rows (:func:`~sim.results.records.case_frame`) are written a slice at a time
through the one streamed writer (:func:`sim.logs.write.write`: CSV, gzip CSV or Parquet,
atomic); the station table is summed a batch of visits at a time
(:class:`~sim.results.records.StationSums`); the KPIs are computed by
:func:`~sim.results.stats.replication_kpis` on the columns they read, kept compactly
(numbers as float64, the status as a category: about 90 bytes a case), so the
lead-time percentiles are exact. Every figure equals the normal run's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.errors import UsageError
from sim.inputs import Inputs
from sim.logs import log_format
from sim.logs import write as write_frames
from sim.model.assembly import Model
from sim.results import checks
from sim.results.eventlog import visit_log
from sim.results.headline import declared as declared_headline
from sim.results.records import (
    ATTR,
    CASE_COLUMNS,
    COST_COLUMNS,
    PATH,
    ItemSums,
    RepResult,
    StageSums,
    StationSums,
    Visits,
    add_attributes,
    applicant_costs,
    case_frame,
)
from sim.results.result import Replication
from sim.results.split import attribute_kpis
from sim.results.stats import replication_kpis

if TYPE_CHECKING:
    from sim.engines.vector.chunked import Cases, OutcomeAt

#: cases drawn at a time; the engine stops at each chunk's first arrival, so it is also
#: how often finished cases' pages go back and how many visits a batch holds. Smaller
#: chunks hold less (300,000 construction cases: 1,588 MB at 16,384, 1,198 MB at 2,048,
#: in about the same time; 1,024 was 30% slower); the per-stage sums are exact
#: (StageSums), so the batches change no figure
CHUNK = 2048
#: the columns :func:`replication_kpis` reads (what a streamed replication keeps per case)
KPI_COLUMNS = ("warmup", "status", "completion", "lead_workdays", "lead_days", "gov_workdays",
               "within_limit_government",
               "limit_workdays", "within_limit", "visits", "rework_rounds", "supplements",
               "service_hours", "queue_hours", "applicant_hours", "revoked")
#: suffixes a per-case file may have
CASE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def check_cases_target(path: str | Path) -> Path:
    """``path`` as a per-case file to write: a known suffix, an existing folder, not a
    folder (checked before the run, so a bad path fails before an hour of simulation)."""
    p = Path(path)
    name = p.name.lower()
    if not name.endswith(CASE_SUFFIXES) or log_format(p) == "xes":
        raise UsageError(f"--cases {p}: the file name must end in "
                         f"{', '.join(CASE_SUFFIXES)}")
    if not p.parent.is_dir():
        raise UsageError(f"--cases {p}: the folder {p.parent} does not exist")
    if p.is_dir():
        raise UsageError(f"--cases {p}: is a folder, not a file")
    return p


def case_rows(model: Model, piece: Cases) -> pd.DataFrame:
    """The case-table rows of a slice of finished cases (with the costs, if any)."""
    frame = case_frame(model, piece.result, piece.arrival, piece.cls, piece.channel,
                       piece.audits, piece.revoked, piece.first)
    if piece.gov is not None and piece.paid is not None:
        frame["gov_cost"] = piece.gov
        frame["applicant_cost"] = applicant_costs(model, piece.result, piece.paid)
    return add_attributes(model, frame, piece.attrs)


def replication_frames(model: Model, replication: int, seed: int,
                       done: Callable[[Replication], None],
                       chunk: int = CHUNK) -> Iterator[pd.DataFrame]:
    """The per-case rows of one streamed replication, a slice of cases at a time; when the
    last is out, ``done`` gets the :class:`Replication` (KPIs and station table; no cases
    and no visit log kept)."""
    from sim.engines.vector.chunked import run_chunked  # numba kernels: loaded when run

    sums = StationSums(model)
    items = ItemSums(model)
    stage_sums = StageSums(model)
    kept: list[pd.DataFrame] = []
    # the stage ends the scenario's [[checks]] need, folded as the visits are handed out
    ends: dict[int, np.ndarray] = {}

    def fold(v: Visits, inp: Inputs, outcome_at: OutcomeAt) -> None:
        if not ends:
            ends.update({k: np.full(inp.n, -np.inf) for k, _ in checks.stage_checks(model)})
        zi, zf = np.zeros(0, dtype=np.int64), np.zeros(0)
        checks.add_stage_ends(model, visit_log(model, inp, RepResult(
            replication, zi, zf, zi, zi, zi, zf, zf, zf, visits=v), outcome_at), ends)

    want = ["class", "arrival"] if model.scenario.checks else []
    if model.attributes is not None:  # what the split KPIs and a check's `when` read
        want += [ATTR + n for n in model.attributes.names]
    want += [PATH + n for n in model.path_names]  # the split by path
    if "class" not in want and any(n.startswith("classes.") for n in declared_headline(model)):
        want.append("class")
    fold_visits = fold if checks.stage_checks(model) else None
    for piece in run_chunked(model, replication, seed, chunk=chunk, record_visits=True,
                             on_visits=fold_visits):
        if isinstance(piece, Visits):
            sums.add(piece)
            continue
        if isinstance(piece, ItemSums):
            items = piece
            continue
        if isinstance(piece, StageSums):
            stage_sums = piece
            continue
        frame = case_rows(model, piece)
        compact = frame[list(KPI_COLUMNS) + [c for c in COST_COLUMNS if c in frame]
                        + want].copy()
        if "class" in want:
            compact["class"] = compact["class"].astype("category")
        for k, e in ends.items():
            part = e[piece.first:piece.first + len(frame)]
            compact[f"stage_end.{k}"] = np.where(np.isfinite(part), part, np.nan)
        compact["status"] = compact["status"].astype("category")
        kept.append(compact)
        yield frame
    if not kept:  # no case arrived: an empty table with its columns (and a file header)
        z, f = np.zeros(0, dtype=np.int64), np.zeros(0)
        frame = case_frame(model, RepResult(replication, z, f, z, z, z, f, f, f), f, z, z, z, z)
        if model.has_costs:
            frame["gov_cost"] = frame["applicant_cost"] = f
        frame = add_attributes(model, frame, None)
        kept.append(frame[list(KPI_COLUMNS) + [c for c in COST_COLUMNS if c in frame]
                          + want])
        yield frame
    cases = pd.concat(kept, ignore_index=True)
    kpis = replication_kpis(cases, model.window, declared_headline(model))
    kpis.update(stage_sums.kpis())
    kpis.update(attribute_kpis(model, cases))
    if model.scenario.checks:
        kpis.update(checks.observe(model, cases, None, {
            k: cases[f"stage_end.{k}"].to_numpy(dtype=np.float64)
            if f"stage_end.{k}" in cases else np.full(len(cases), np.nan)
            for k, _ in checks.stage_checks(model)}))
    del cases, kept
    st = sums.table()
    st.insert(0, "replication", replication)
    done(Replication(replication, pd.DataFrame(columns=list(CASE_COLUMNS)), st, kpis,
                     streamed=True, items=items.table()))


def run_streamed(model: Model, replications: int, seed: int,
                 cases_out: str | Path | None = None,
                 progress: Callable[[int], None] | None = None,
                 chunk: int = CHUNK) -> list[Replication]:
    """Replications ``0 .. replications - 1`` one after another, streamed; the per-case
    rows of all of them written to ``cases_out`` (by suffix) when given."""
    reps: list[Replication] = []

    def done(rep: Replication) -> None:
        reps.append(rep)
        if progress:
            progress(1)

    def frames() -> Iterator[pd.DataFrame]:
        for r in range(replications):
            yield from replication_frames(model, r, seed, done, chunk)

    if cases_out is not None:
        write_frames(frames(), check_cases_target(cases_out))
    else:
        for _ in frames():
            pass
    return reps
