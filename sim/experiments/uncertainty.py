"""Uncertainty in the assumptions: how sure an answer is beyond simulation noise.

A scenario's ``[uncertainty]`` table gives an assumption (a dotted path, as ``govsim sweep
--set`` takes it) a range: ``"items.review.service.mean" = {low = 4, high = 8, reason =
"..."}`` (uniform, or triangular with ``mode``). :func:`uncertainty` draws ``n`` parameter
sets by Latin hypercube (scipy's), runs each with the same seed as the scenario itself
(common random numbers: the sets differ only where their parameters do), on one process
pool, and reports per KPI:

* the **simulation-only** interval: the 95% t interval of the scenario's own replications
  (what ``govsim run`` prints; it covers simulation noise only);
* the interval **with the assumptions**: the 2.5% and 97.5% quantiles of the ``n`` sets'
  KPI means (each a mean over the replications, so simulation noise is in it too);
* per assumption, which moves the answer most: Spearman's rank correlation of its value
  with the sets' KPI means, and its *swing*, the KPI change over its range by a linear
  regression on every assumption at once (a tornado chart ranks them by it).

Paths of integer fields (servers) take rounded values. docs/model.md, "Uncertain
assumptions", has the definitions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UsageError
from sim.experiments.grid import apply_point, get_path
from sim.experiments.run import run_models
from sim.experiments.settings import resolve
from sim.experiments.sources import Source, load_model
from sim.model.assembly import Model, build
from sim.model.distributions import Family
from sim.model.schema import Range, Scenario
from sim.results.result import RunResult
from sim.results.stats import ci95

#: the KPIs reported by default (names of the KPI table, as ``RunResult.per_replication``)
DEFAULT_KPIS = ("lead_time_workdays.mean", "lead_time_days.mean", "within_limit_share")
#: the most parameter sets one call draws
MAX_SETS = 1_000


@dataclass
class Assumption:
    """One uncertain assumption: its path, range and the scenario's own value."""

    path: str
    range: Range
    base: float
    integer: bool


def assumptions(s: Scenario, label: str = "") -> list[Assumption]:
    """The scenario's uncertain assumptions, each checked: the path names a number of the
    scenario, and the scenario's own value lies in its range (``label``: the file, for
    the messages)."""
    data = s.model_dump()
    out = []
    for path, r in s.uncertainty.items():
        value = get_path(data, path, where=f"{label}uncertainty")
        where = f"{label}uncertainty {path}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"{where}: names {value!r}, not a number")
        if not r.low <= float(value) <= r.high:
            raise UsageError(f"{where}: the scenario's value {value:g} is outside its range "
                             f"[{r.low:g}, {r.high:g}]")
        integer = isinstance(value, int)
        # both ends must be values the field takes (its domain), whatever the draw
        for end, x in (("low", math.ceil(r.low) if integer else r.low),
                       ("high", math.floor(r.high) if integer else r.high)):
            try:
                apply_point(s, {path: x})
            except UsageError as exc:
                raise UsageError(f"{where}: its {end} end {x:g} is not a value the field "
                                 f"takes: {str(exc).split(': ', 1)[-1]}") from None
        out.append(Assumption(path, r, float(value), integer))
    return out


def lhs_points(items: Sequence[Assumption], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` parameter sets by Latin hypercube over the ranges (each dimension stratified
    into ``n`` equal-probability slices, one value in each)."""
    # heavy: scipy.stats (0.4 s to import) only when assumptions are sampled
    from scipy.stats import qmc

    u = qmc.LatinHypercube(d=len(items), seed=np.random.default_rng(seed)).random(n)
    points: list[dict[str, Any]] = [{} for _ in range(n)]
    for d, a in enumerate(items):
        r = a.range
        if r.mode is None:
            x = r.low + u[:, d] * (r.high - r.low)
        else:
            x = Family("triangular", (r.low + r.mode + r.high) / 3, 0.0, r.low, r.mode,
                       r.high).ppf(u[:, d])
        for k in range(n):
            points[k][a.path] = (int(np.clip(round(float(x[k])), math.ceil(r.low),
                                             math.floor(r.high)))
                                 if a.integer else float(x[k]))
    return points


@dataclass(repr=False)
class UncertaintyResult:
    """The scenario's run and the runs of ``n`` parameter sets drawn over its ranges."""

    base: RunResult
    assumptions: list[Assumption]
    #: one row per parameter set: the parameters, then each KPI's mean over replications
    sets: pd.DataFrame
    kpis: tuple[str, ...]
    replications: int
    seed: int

    def interval(self, kpi: str) -> dict[str, Any]:
        """The two intervals of ``kpi``, each saying what it covers."""
        m, lo, hi = ci95(self.base.per_replication[kpi].to_numpy(dtype=float))
        means = self.sets[kpi].to_numpy(dtype=float)
        means = means[np.isfinite(means)]
        q = np.quantile(means, [0.025, 0.5, 0.975]) if means.size else [math.nan] * 3
        return {
            "simulation_only": {"mean": _num(m), "ci95": [_num(lo), _num(hi)],
                                "covers": f"simulation noise: 95% t interval over the "
                                          f"scenario's {self.replications} replications"},
            "with_assumptions": {"median": _num(q[1]), "interval95": [_num(q[0]), _num(q[2])],
                                 "covers": f"the assumptions' ranges and simulation noise: "
                                           f"2.5-97.5% of {means.size} parameter sets' means "
                                           f"({self.replications} replications each, common "
                                           "random numbers)"},
        }

    def sensitivity(self, kpi: str) -> pd.DataFrame:
        """Per assumption: Spearman's rho with the KPI, and its swing (the KPI change over
        its range, by least squares on every assumption at once), largest swing first."""
        y = self.sets[kpi].to_numpy(dtype=float)
        ok = np.isfinite(y)
        paths = [a.path for a in self.assumptions]
        x = self.sets[paths].to_numpy(dtype=float)[ok]
        span = np.array([a.range.high - a.range.low for a in self.assumptions])
        rows = []
        swing = np.full(len(paths), math.nan)
        if ok.sum() > len(paths) + 1:
            z = (x - x.mean(axis=0)) / np.where(span > 0, span, 1.0)
            coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(z)), z]), y[ok], rcond=None)
            swing = coef[1:]
        ys = pd.Series(y[ok])
        for d, a in enumerate(self.assumptions):
            rho = ys.corr(pd.Series(x[:, d]), method="spearman") if ok.sum() > 2 else math.nan
            rows.append({"assumption": a.path, "low": a.range.low, "high": a.range.high,
                         "base": a.base, "spearman": float(rho), "swing": float(swing[d]),
                         "reason": a.range.reason})
        out = pd.DataFrame(rows)
        return out.reindex(out["swing"].abs().sort_values(ascending=False).index) \
            .reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {"sets": len(self.sets), "replications": self.replications,
                "seed": self.seed, "method": "Latin hypercube over the [uncertainty] ranges, "
                "each set run with the scenario's seed (common random numbers)",
                "kpis": {k: self.interval(k) for k in self.kpis},
                "assumptions": {k: [{key: (_num(v) if isinstance(v, float) else v)
                                     for key, v in row.items()}
                                    for row in self.sensitivity(k).to_dict("records")]
                                for k in self.kpis}}


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def uncertainty(source: Source, n: int, replications: int | None = None,
                seed: int | None = None, engine: str | None = None, workers: int = 1,
                reforms: Sequence[str] = (), kpis: Sequence[str] = DEFAULT_KPIS,
                progress: Callable[[int], None] | None = None,
                max_memory: float | None = None, where: str | None = None,
                ) -> UncertaintyResult:
    """Run the scenario and ``n`` parameter sets drawn over its ``[uncertainty]`` ranges
    (module text); every run from the scenario's seed, on one pool of ``workers``.
    ``where`` names the source in messages (default: its file name)."""
    model = load_model(source, reforms)
    s = model.scenario
    label = f"{where}: " if where else f"{Path(source).name}: " if isinstance(
        source, str | Path) else f"{s.scenario.name or 'the scenario'}: "
    if not s.uncertainty:
        raise UsageError(f"{label}has no [uncertainty] table: give the assumptions' ranges "
                         "(docs/model.md, \"Uncertain assumptions\")")
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_SETS:
        raise UsageError(f"--uncertainty must be an integer in [2, {MAX_SETS:,}] (got {n})")
    items = assumptions(s, label)
    cfg = resolve(s.run, replications=replications, seed=seed, engine=engine,
                  workers=workers, max_memory=max_memory)
    points = lhs_points(items, n, cfg.seed)
    models: list[Model] = [model]
    for pt in points:
        models.append(build(apply_point(s, pt), warn=False))
    runs = run_models(models, [cfg.seed] * len(models), cfg, progress, event_log=False)
    frame = pd.DataFrame(points)
    for k in kpis:
        if k not in runs[0].per_replication:
            raise UsageError(f"unknown KPI {k!r} (known: "
                             f"{', '.join(runs[0].per_replication.columns)})")
        frame[k] = [float(r.per_replication[k].astype(float).mean()) for r in runs[1:]]
    return UncertaintyResult(runs[0], items, frame, tuple(kpis), cfg.replications, cfg.seed)


def effects(results: Sequence[UncertaintyResult], labels: Sequence[str]) -> dict[str, Any]:
    """The effect of each scenario after the first on every KPI, with the two intervals:
    simulation only (the paired 95% t interval over replications, common random numbers)
    and with the assumptions (2.5-97.5% of the per-set paired differences: the scenarios
    must share their ``[uncertainty]`` table, so that set ``k`` is the same parameters in
    each)."""
    base = results[0]
    out: dict[str, Any] = {}
    for label, r in zip(labels[1:], results[1:], strict=True):
        same = [(a.path, a.range) for a in r.assumptions] == [
            (a.path, a.range) for a in base.assumptions]
        if not same or not r.sets[[a.path for a in r.assumptions]].equals(
                base.sets[[a.path for a in base.assumptions]]):
            raise UsageError(f"--uncertainty: {label} and {labels[0]} give different "
                             "[uncertainty] tables, so their parameter sets differ and no "
                             "effect can be paired; give both the same ranges")
        row: dict[str, Any] = {}
        for k in base.kpis:
            d = (r.base.per_replication[k].to_numpy(dtype=float)
                 - base.base.per_replication[k].to_numpy(dtype=float))
            m, lo, hi = ci95(d)
            diffs = (r.sets[k] - base.sets[k]).to_numpy(dtype=float)
            diffs = diffs[np.isfinite(diffs)]
            q = np.quantile(diffs, [0.025, 0.5, 0.975]) if diffs.size else [math.nan] * 3
            row[k] = {
                "simulation_only": {"mean": _num(m), "ci95": [_num(lo), _num(hi)],
                                    "covers": "simulation noise: paired 95% t interval over "
                                              f"{base.replications} replications"},
                "with_assumptions": {"median": _num(q[1]), "interval95": [_num(q[0]),
                                                                          _num(q[2])],
                                     "covers": f"the assumptions' ranges and simulation "
                                               f"noise: 2.5-97.5% of {diffs.size} paired "
                                               "parameter sets' differences"}}
        out[label] = row
    return out
