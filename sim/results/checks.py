"""Checks against the source: a scenario's ``[[checks]]`` observed in each replication.

An observable is computed per replication from the case table and the visits (a stage's
end is when the last of its items the case ran was decided: the result of its accepted
submission, government lag included), then averaged over replications with a 95% t
interval; a check holds when the mean lies within ``tolerance`` of the source's figure.
docs/model.md, "Checks against the source".
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UsageError
from sim.model.assembly import Model
from sim.model.schema import Check
from sim.results.eventlog import REWORK, VisitLog
from sim.results.split import holds
from sim.results.stats import ci95

#: the key a check's value has among a replication's KPIs
PREFIX = "check."


def _hours(model: Model, d: dt.date) -> float:
    return float((d - model.scenario.run.start_date).days) * 24.0


def _stage(model: Model, check: Check) -> list[tuple[int, np.ndarray]]:
    """The stages named by ``check.stage`` in the routes of its cohort's classes, each with
    the items that make its end: the whole stage's, or with ``STAGE.BRANCH`` a branch of a
    choice stage (docs/model.md, "Paths and branches": a case that took another branch
    never goes through it)."""
    assert check.stage is not None
    classes = (range(len(model.class_names)) if check.class_name is None
               else [model.class_names.index(check.class_name)])
    found = []
    for c in classes:
        r = int(model.class_route[c])
        for s in range(model.route_stage_ptr[r], model.route_stage_ptr[r + 1]):
            name = model.stage_names[s].split("/", 1)[-1]
            items = model.stage_items[model.stage_item_ptr[s]:model.stage_item_ptr[s + 1]]
            ch = model.stage_choice[s] if model.stage_choice else None
            if name == check.stage:
                found.append((s, items))
            elif ch is not None and check.stage.startswith(name + "."):
                labels = model.path_labels[ch.path]
                branch = check.stage[len(name) + 1:]
                b = [k for k, code in enumerate(ch.code) if labels[code] == branch]
                if b:
                    found.append((s, items[ch.item_branch == b[0]]))
    return found


def validate(model: Model, where: str, dates: bool = True) -> None:
    """Every check names a known class and stage (and, with ``dates``, dates inside the
    run: ``govsim run`` checks them on the file as given; a run whose horizon an experiment
    or a notebook shortened observes what it can, a cohort outside it giving no value)."""
    run = model.scenario.run
    end = run.start_date + dt.timedelta(days=run.horizon_days)
    for k, check in enumerate(model.scenario.checks):
        at = f"{where}checks[{k}] ({check.name})"
        if check.class_name is not None and check.class_name not in model.class_names:
            raise UsageError(f"{at}: class_name {check.class_name!r} is not a class "
                             f"(classes: {', '.join(model.class_names)})")
        if check.stage is not None and not _stage(model, check):
            raise UsageError(f"{at}: stage {check.stage!r} is not a stage of its class's "
                             "route")
        for field in ("arrived_from", "arrived_until", "by") if dates else ():
            d = getattr(check, field)
            if d is not None and not run.start_date <= d <= end:
                raise UsageError(f"{at}: {field} {d} is outside the run ({run.start_date} to "
                                 f"{end})")
        if check.observable == "completed_share" and check.by is None:
            raise UsageError(f"{at}: a completed_share needs `by` (the date it counts to)")


def stage_checks(model: Model) -> list[tuple[int, list[tuple[int, np.ndarray]]]]:
    """(check index, its stages with their items) of every check that names a stage."""
    return [(k, _stage(model, c)) for k, c in enumerate(model.scenario.checks)
            if c.stage is not None and c.observable != "arrivals"]


def add_stage_ends(model: Model, vl: VisitLog, ends: dict[int, np.ndarray]) -> None:
    """Fold a batch of visits into ``ends[k]`` (per case, -inf to start): when the last of
    check ``k``'s stage items each case ran was decided (its accepted submission's result,
    government lag included)."""
    done = (vl.kind == 0) & (vl.outcome != REWORK) & np.isfinite(vl.result)
    for k, stages in stage_checks(model):
        items = np.concatenate([its for _, its in stages])
        m = done & np.isin(vl.item, items)
        np.maximum.at(ends[k], vl.case[m].astype(np.int64), vl.result[m])


def stage_ends(model: Model, vl: VisitLog, n: int) -> dict[int, np.ndarray]:
    """Every stage check's per-case stage end (NaN: never reached) from all the visits."""
    ends = {k: np.full(n, -np.inf) for k, _ in stage_checks(model)}
    add_stage_ends(model, vl, ends)
    return {k: np.where(np.isfinite(e), e, np.nan) for k, e in ends.items()}


def observe(model: Model, cases: pd.DataFrame, vl: VisitLog | None,
            ends: dict[int, np.ndarray] | None = None) -> dict[str, float]:
    """Each check's observable in one replication (keys ``check.K``), from its case table
    and its visits (or the stage ends already folded, :func:`add_stage_ends`)."""
    out: dict[str, float] = {}
    arrival = cases["arrival"].to_numpy(dtype=np.float64)
    n = arrival.shape[0]
    if ends is None:
        ends = stage_ends(model, vl, n) if vl is not None else {}
    for k, check in enumerate(model.scenario.checks):
        cohort = np.ones(n, dtype=np.bool_)
        if check.class_name is not None:
            cohort &= (cases["class"] == check.class_name).to_numpy()
        if check.arrived_from is not None:
            cohort &= arrival >= _hours(model, check.arrived_from)
        if check.arrived_until is not None:
            cohort &= arrival < _hours(model, check.arrived_until)
        if check.when is not None:
            cohort &= holds(model, cases, check.when)
        if check.observable == "arrivals":
            out[f"{PREFIX}{k}"] = float(cohort.sum())
            continue
        if check.stage is not None:
            if k not in ends:
                raise ValueError("a stage's end needs the replication's visits")
            end = ends[k]
        else:
            end = np.where((cases["status"] == "completed").to_numpy(),
                           cases["completion"].to_numpy(dtype=np.float64), np.nan)
        if not cohort.any():
            out[f"{PREFIX}{k}"] = math.nan
        elif check.observable == "completed_share":
            assert check.by is not None
            out[f"{PREFIX}{k}"] = float((end[cohort] < _hours(model, check.by)).mean())
        else:  # fastest_days
            days = (end[cohort] - arrival[cohort]) / 24.0
            out[f"{PREFIX}{k}"] = float(np.nanmin(days)) if np.isfinite(days).any() \
                else math.nan
    return out


def report(model: Model, per_replication: pd.DataFrame) -> list[dict[str, Any]]:
    """Each check with its simulated mean and 95% CI over replications, and whether it
    holds (the JSON's ``"checks"``)."""
    rows = []
    for k, check in enumerate(model.scenario.checks):
        col = f"{PREFIX}{k}"
        vals = per_replication[col].to_numpy(dtype=np.float64) if col in per_replication \
            else np.zeros(0)
        m, lo, hi = ci95(vals)
        if check.observable == "completed_share":  # a share's interval stays in [0, 1]
            lo, hi = max(lo, 0.0), min(hi, 1.0)

        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        rows.append({
            "name": check.name, "observable": check.observable, "figure": check.figure,
            "tolerance": check.tolerance, "simulated": num(m), "ci95": [num(lo), num(hi)],
            "holds": bool(math.isfinite(m) and abs(m - check.figure) <= check.tolerance),
            "source": check.source})
    return rows
