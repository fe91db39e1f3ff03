"""Comparing scenarios with common random numbers: what does each reform buy, and is it real?

``compare([A, B, C])`` runs every scenario with the same seed and the same replications.
Inputs are drawn from streams keyed by replication, class, item and case (see
:mod:`sim.inputs`), so replication ``r`` of every scenario sees the same arrivals, the
same service and fix draws for the items they share, and so on: the scenarios differ
only where they differ. The difference of a KPI is then taken replication by replication
(paired), and its 95% Student-t interval is far narrower than that of two independent
runs (``crn=False`` shows how much). A scenario compared with itself gives exactly zero.

A scenario is a file path, a :class:`~sim.model.schema.Scenario` or a
:class:`~sim.model.assembly.Model`; a path may carry reforms as
``FILE@REFORM[:ARGS][@REFORM...]`` (``@`` because reform arguments use ``,`` and ``+``),
e.g. ``base.toml@online:0.9@proxy:classes=key``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UsageError
from sim.experiments.run import run_models
from sim.experiments.settings import resolve
from sim.experiments.sources import apply_reforms, load_model, split_source
from sim.files import json_safe
from sim.model import scenario as scenario_io
from sim.model.assembly import Model
from sim.model.schema import Scenario
from sim.results.kpis import CASE_KPIS, COST_KPIS, station_kpi
from sim.results.result import RunResult
from sim.results.stats import ci95

#: KPI name (as in the JSON contract) -> column of ``RunResult.per_replication``
KPIS: dict[str, str] = {k.name: k.column for k in CASE_KPIS if k.column}
#: the station KPIs compared (``stations.NAME.KPI``)
COMPARED_STATION_KPIS = ("utilization", "mean_wait_hours")


@dataclass
class CompareResult:
    """The runs of a comparison and the paired differences of their KPIs to the first."""

    labels: list[str]
    results: list[RunResult] = field(repr=False)
    sources: list[str]
    reforms: list[list[str]]
    seed: int
    replications: int
    engine: str
    crn: bool = True

    @property
    def baseline(self) -> str:
        return self.labels[0]

    def kpis(self, k: int) -> pd.DataFrame:
        """Scenario ``k``'s KPIs, one row per replication (stations as ``stations.NAME.X``)."""
        r = self.results[k]
        per = r.per_replication
        out = pd.DataFrame({name: per[col] for name, col in KPIS.items() if col in per},
                           index=per.index)
        for col in per.columns:  # the scenario's own headline measures (answer_seconds, ...)
            if col.startswith("headline.") and col[len("headline."):] not in out:
                out[col[len("headline."):]] = per[col]
        st = r.stations
        for kpi in COMPARED_STATION_KPIS:
            wide = st.pivot(index="replication", columns="station", values=kpi)
            for name in wide.columns:
                out[station_kpi(name, kpi)] = wide[name].reindex(out.index).to_numpy()
        return out

    @property
    def differences(self) -> dict[str, pd.DataFrame]:
        """Per scenario label: each KPI's mean difference to the first, with its 95% CI.

        Differences are taken replication by replication (paired); the first scenario's
        are exactly zero. Station KPIs are compared where both scenarios have the station.
        """
        base = self.kpis(0)
        out = {}
        for k, label in enumerate(self.labels):
            other = self.kpis(k)
            rows = []
            for col in other.columns:
                if col not in base.columns:
                    continue
                d = (other[col].to_numpy(dtype=np.float64)
                     - base[col].reindex(other.index).to_numpy(dtype=np.float64))
                m, lo, hi = ci95(d) if k else (0.0, 0.0, 0.0)
                if k == 0 and not np.isfinite(base[col].to_numpy(dtype=np.float64)).any():
                    m = lo = hi = math.nan
                rows.append({"kpi": col, "mean": m, "ci95_lo": lo, "ci95_hi": hi})
            out[label] = pd.DataFrame(rows, columns=["kpi", "mean", "ci95_lo", "ci95_hi"]
                                      ).set_index("kpi")
        return out

    def savings(self, k: int) -> dict[str, Any] | None:
        """What scenario ``k`` saves against the first, in money (None unless both have
        costs): per cost KPI, the paired per-case saving (first minus ``k``, so a saving is
        positive) and that saving over the cases scenario ``k`` completes in a replication
        (per replication: saving per case x its completed cases), each with its 95% CI."""
        base, other = self.results[0], self.results[k]
        if not (base.model.has_costs and other.model.has_costs):
            return None
        b, o = base.per_replication, other.per_replication.reindex(base.per_replication.index)
        out: dict[str, Any] = {"currency": other.model.currency}
        for kpi in COST_KPIS:
            col = str(kpi.column)
            per = b[col].to_numpy(dtype=np.float64) - o[col].to_numpy(dtype=np.float64)
            total = per * o["completed"].to_numpy(dtype=np.float64)
            m, lo, hi = ci95(per) if k else (0.0, 0.0, 0.0)
            tm, tlo, thi = ci95(total) if k else (0.0, 0.0, 0.0)
            out[kpi.name.replace("_per_case", "")] = {
                "per_case": {"mean": m, "ci95": [lo, hi]},
                "over_cases": {"mean": tm, "ci95": [tlo, thi]}}
        out["cases"] = float(o["completed"].mean())
        return out

    def table(self) -> pd.DataFrame:
        """One row per KPI; per scenario its mean and 95% CI, and the paired difference to
        the first with its CI (columns ``(label, stat)``)."""
        diffs = self.differences
        frames = {}
        for k, label in enumerate(self.labels):
            kp = self.kpis(k)
            rows = {}
            for col in kp.columns:
                m, lo, hi = ci95(kp[col].to_numpy(dtype=np.float64))
                d = diffs[label].loc[col] if col in diffs[label].index else None
                rows[col] = {"mean": m, "ci95_lo": lo, "ci95_hi": hi,
                             "diff": math.nan if d is None else d["mean"],
                             "diff_ci95_lo": math.nan if d is None else d["ci95_lo"],
                             "diff_ci95_hi": math.nan if d is None else d["ci95_hi"]}
            frames[label] = pd.DataFrame.from_dict(rows, orient="index")
        order = list(dict.fromkeys(k for f in frames.values() for k in f.index))
        return pd.concat({lab: f.reindex(order) for lab, f in frames.items()}, axis=1)

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``govsim compare --json``.

        ``{"baseline", "seed", "replications", "engine", "common_random_numbers",
        "scenarios": [{<the run contract of govsim run --json>, "label", "source",
        "reforms", "differences": {KPI: {"mean", "ci95": [lo, hi]}}}, ...],
        "differences": {KPI: {"mean", "ci95"}}, "differences_by_scenario": {LABEL: {...}}}``
        (a scenario after the first that has costs, like the first, also carries
        ``"savings"``: :meth:`savings`):
        differences against the first scenario (whose own are zero); the top-level
        ``differences`` are those of the second scenario (``govsim compare A B``).
        """
        diffs = self.differences
        scen = []
        for k, label in enumerate(self.labels):
            d = self.results[k].to_dict()
            d["label"] = label
            d["source"] = self.sources[k]
            d["reforms"] = list(self.reforms[k])
            d["differences"] = {
                kpi: {"mean": row["mean"], "ci95": [row["ci95_lo"], row["ci95_hi"]]}
                for kpi, row in diffs[label].iterrows()}
            saved = self.savings(k) if k else None
            if saved is not None:
                d["savings"] = saved
            scen.append(d)
        return json_safe({"baseline": self.baseline, "seed": self.seed,
                       "replications": self.replications, "engine": self.engine,
                       "common_random_numbers": self.crn, "scenarios": scen,
                       "differences": scen[1]["differences"] if len(scen) > 1 else {},
                       "differences_by_scenario": {d["label"]: d["differences"]
                                                   for d in scen[1:]}})


def _label(text: str, reforms: Sequence[str]) -> str:
    return Path(text).stem + "".join(f"@{r}" for r in reforms)


def prepare(sources: Sequence[str | Path | Scenario | Model],
            reforms_per_source: Sequence[Sequence[str]] | None = None,
            reforms: Sequence[str] = ()) -> tuple[list[str], list[str], list[list[str]],
                                                  list[Model]]:
    """Load every scenario: (labels, sources, reforms applied beyond the file's, models)."""
    if reforms_per_source is not None and len(reforms_per_source) != len(sources):
        raise UsageError(f"reforms_per_source has {len(reforms_per_source)} entries for "
                         f"{len(sources)} scenarios")
    labels, srcs, refs, models = [], [], [], []
    for k, src in enumerate(sources):
        extra = list(reforms_per_source[k]) if reforms_per_source is not None else []
        if isinstance(src, Model | Scenario):
            name = (src.name if isinstance(src, Model) else src.scenario.name) or f"scenario{k}"
            mine = [*extra, *reforms]
            model = load_model(src, mine) if mine or isinstance(src, Scenario) else src
            labels.append(name + "".join(f"@{r}" for r in extra))
            srcs.append(f"<{type(src).__name__.lower()}>")
        else:
            path, inline = split_source(str(src))
            mine = [*inline, *extra]
            model = load_model(path, [*mine, *reforms])
            labels.append(_label(path, mine))
            srcs.append(path)
        refs.append(mine)
        models.append(model)
    seen: dict[str, int] = {}
    for k, lab in enumerate(labels):
        if lab in seen:
            seen[lab] += 1
            labels[k] = f"{lab} #{seen[lab]}"
        else:
            seen[lab] = 1
    return labels, srcs, refs, models


def compare(sources: Sequence[str | Path | Scenario | Model], replications: int | None = None,
            seed: int | None = None, engine: str | None = None, workers: int = 1,
            reforms_per_source: Sequence[Sequence[str]] | None = None,
            reforms: Sequence[str] = (), crn: bool = True, labels: Sequence[str] | None = None,
            progress: Callable[[int], None] | None = None,
            max_memory: float | None = None) -> CompareResult:
    """Run scenarios on common random numbers and difference their KPIs against the first.

    ``seed`` and ``replications`` default to the first scenario's ``run`` section and are
    used for every scenario; ``engine`` defaults to the compiled ``vector`` engine.
    ``reforms_per_source[k]`` is applied to scenario ``k`` (after its file's own reforms and
    any ``FILE@REFORM`` ones); ``reforms`` to every scenario.
    ``crn=False`` gives scenario ``k`` the seed ``seed + 1000 k`` instead (independent
    streams), to see what common random numbers buy. ``labels`` name the scenarios in the
    table (default: the file stem and its reforms, or the scenario's name).

    ``sim.compare(["a.toml", "b.toml"]).table()`` gives each KPI per scenario with its paired
    difference to the first and the 95% confidence interval.
    """
    if len(sources) < 2:
        raise UsageError(f"compare needs at least two scenarios (got {len(sources)})")
    names, srcs, refs, models = prepare(sources, reforms_per_source, reforms)
    if labels is not None:
        if len(labels) != len(models):
            raise UsageError(f"{len(labels)} labels for {len(models)} scenarios")
        names = list(labels)
    cfg = resolve(models[0].scenario.run, replications=replications, seed=seed,
                  engine=engine, workers=workers, max_memory=max_memory)
    seeds = [cfg.seed if crn else cfg.seed + 1000 * k for k in range(len(models))]
    results = run_models(models, seeds, cfg, progress)
    return CompareResult(labels=names, results=results, sources=srcs, reforms=refs,
                         seed=cfg.seed, replications=cfg.replications, engine=cfg.engine,
                         crn=crn)


def alone_variants(path: str, reforms: Sequence[str] = ()) -> list[tuple[str, str, Scenario]]:
    """A file's content with each reform of its own ``reforms`` list applied ALONE (then
    ``reforms``): what each reform of a package buys by itself. (label, spec, scenario)."""
    raw = scenario_io.load(path)
    bare = raw.model_copy(deep=True)
    bare.reforms = []
    return [(f"{Path(path).stem} only {spec}", spec,
             apply_reforms(bare, [spec, *reforms], source=Path(path).name))
            for spec in raw.reforms]
