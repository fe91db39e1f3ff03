"""Levers, ranked: what each small change to a scenario buys, measured on common random numbers.

``levers("x.toml")`` runs the scenario and one variant per lever, all from the same seed
and the same replications, on one pool (:func:`~sim.experiments.run.run_models`), and
takes each variant's paired difference of one KPI to the baseline replication by
replication, with the Student-t 95% interval, exactly as ``sim.compare`` does (it is
:attr:`~sim.experiments.compare.CompareResult.differences`). The levers:

* ``servers``: one more server at a station (every station an item uses);
* ``pool``: one more agent in a help-and-proxy pool;
* ``applicant_time``: the applicant's time in one stage of a route 10% shorter: the mean
  (and every other value) of each of the stage's items' ``delay`` and ``fix`` times x 0.9
  (an item without its own ``fix`` gets the scenario's ``rework.fix`` x 0.9). An item
  shared by several stages is shortened wherever it runs;
* ``deficiency``: an item's per-material deficiency probability x 0.9 (its own, or the
  scenario's ``rework.deficiency_per_material``);
* ``reform``: each reform of the catalogue (``govsim reforms``) alone, with its default
  arguments, on top of the scenario as loaded (its file's own reforms applied).

A lever that cannot apply (a reform that needs arguments or changes nothing here, a stage
with no applicant time, an item that is never deficient) is skipped with the reason, not
an error. The biggest lever is the first of the ranking: the largest improvement of the
KPI in its better direction (largest absolute change for a KPI with no direction).

Inputs are keyed by replication, class, item and case (:mod:`sim.inputs`), so a variant
that adds a server draws exactly the inputs of the baseline and differs only in its
queues; a variant that shortens a distribution scales the same uniforms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import reforms as catalogue
from sim.errors import GovsimError, UsageError
from sim.experiments.compare import COMPARED_STATION_KPIS, KPIS, CompareResult
from sim.experiments.run import run_models
from sim.experiments.settings import resolve
from sim.experiments.sources import Source, load_model
from sim.files import json_safe
from sim.model.assembly import Model, build
from sim.model.scenario import revalidate
from sim.model.schema import Dist, Scenario
from sim.reforms.helpers import scale_dist
from sim.results.kpis import lookup, split_station, station_kpi
from sim.results.result import RunResult
from sim.results.stats import ci95

#: the size of the small changes (10% shorter, 10% fewer deficiencies)
FACTOR = 0.9
DEFAULT_KPI = "lead_time_workdays.mean"
KINDS = ("servers", "pool", "applicant_time", "deficiency", "reform")


@dataclass(frozen=True)
class Lever:
    """One small change: its label, kind, what it targets and the scenario it makes."""

    lever: str
    kind: str
    target: str
    change: str
    scenario: Scenario = field(repr=False)


def kpi_name(kpi: str, model: Model) -> str:
    """The compare-table name of a KPI given as its name (``lead_time_workdays``), its
    column (``lead_time_workdays.mean``) or ``stations.NAME.utilization`` /
    ``stations.NAME.mean_wait_hours``; a :class:`UsageError` for anything else."""
    if kpi in KPIS:
        return kpi
    by_column = {col: name for name, col in KPIS.items()}
    if kpi in by_column:
        return by_column[kpi]
    st = split_station(kpi)
    if st is not None and st[1] in COMPARED_STATION_KPIS and st[0] in model.station_names:
        return station_kpi(*st)
    known = ", ".join(sorted(KPIS.values()))
    raise UsageError(f"--kpi '{kpi}': not a KPI of {model.name} (known: {known}, or "
                     f"stations.NAME.{' / stations.NAME.'.join(COMPARED_STATION_KPIS)})")


def _positive(d: Dist | None) -> bool:
    if d is None:
        return False
    vals = [v for v in (d.mean, d.max, d.mode) if v is not None] + list(d.values or [])
    return any(v > 0 for v in vals)


def _q(s: Scenario, item: str) -> float:
    it = s.items[item]
    return float(it.deficiency_per_material if it.deficiency_per_material is not None
                 else s.rework.deficiency_per_material)


def _edited(s: Scenario, edit: Callable[[Scenario], None]) -> Scenario:
    out = s.model_copy(deep=True)
    edit(out)
    return revalidate(out, s.scenario.name or "<scenario>")


def candidates(s: Scenario) -> tuple[list[Lever], list[dict[str, str]]]:
    """Every lever of a scenario, and the skipped ones with the reason."""
    levers: list[Lever] = []
    skipped: list[dict[str, str]] = []
    used = {it.station for it in s.items.values()}
    for name, st in s.stations.items():
        label = f"+1 server: {name}"
        if name not in used:
            skipped.append({"lever": label, "kind": "servers", "reason": "no item uses it"})
            continue
        if st.sessions:  # docs/model.md, "Review sessions": no servers to add
            skipped.append({"lever": label, "kind": "servers",
                            "reason": "it decides at review sessions (no servers)"})
            continue

        def more(x: Scenario, name: str = name) -> None:
            x.stations[name].servers += 1
            for e in x.stations[name].schedule:  # one more on duty at every hour
                e.servers += 1
        levers.append(Lever(label, "servers", name, f"servers {st.servers} -> {st.servers + 1}",
                            _edited(s, more)))
    for name, pool in s.pools.items():
        def agent(x: Scenario, name: str = name) -> None:
            x.pools[name].agents += 1
        levers.append(Lever(f"+1 agent: {name}", "pool", name,
                            f"agents {pool.agents} -> {pool.agents + 1}", _edited(s, agent)))
    multi = len(s.routes) > 1
    for rname, route in s.routes.items():
        for stage in route.stages:
            where = f"{rname}/{stage.name}" if multi else stage.name
            label = f"applicant time -10%: {where}"
            items = list(dict.fromkeys(stage.items))
            fixes = [j for j in items if _q(s, j) > 0 and s.items[j].materials > 0
                     and _positive(s.items[j].fix or s.rework.fix)]
            delays = [j for j in items if _positive(s.items[j].delay)]
            if not fixes and not delays:
                skipped.append({"lever": label, "kind": "applicant_time",
                                "reason": "no applicant delay or fix time in this stage"})
                continue

            def shorter(x: Scenario, items: list[str] = items) -> None:
                for j in items:
                    it = x.items[j]
                    if it.delay is not None:
                        it.delay = scale_dist(it.delay, FACTOR)
                    it.fix = scale_dist(it.fix or x.rework.fix, FACTOR)
            levers.append(Lever(label, "applicant_time", where,
                                f"delay and fix means x {FACTOR:g} for {', '.join(items)}",
                                _edited(s, shorter)))
    for name, it in s.items.items():
        label = f"deficiency -10%: {name}"
        q = _q(s, name)
        if q <= 0 or it.materials == 0:
            skipped.append({"lever": label, "kind": "deficiency",
                            "reason": "never deficient (no materials or probability 0)"})
            continue

        def fewer(x: Scenario, name: str = name, q: float = q) -> None:
            x.items[name].deficiency_per_material = q * FACTOR
        levers.append(Lever(label, "deficiency", name,
                            f"deficiency_per_material {q:g} -> {q * FACTOR:g}", _edited(s, fewer)))
    for name in catalogue.CATALOGUE:
        label = f"reform: {name}"
        try:
            after = catalogue.apply(s, [name], source="")
        except GovsimError as exc:
            reason = str(exc).removeprefix(f"reform '{name}': ")
            skipped.append({"lever": label, "kind": "reform", "reason": reason})
            continue
        changed = {k for k in catalogue.changes(s, after) if not k.startswith("assumptions")}
        if not changed:
            skipped.append({"lever": label, "kind": "reform",
                            "reason": "changes nothing in this scenario"})
            continue
        levers.append(Lever(label, "reform", name, catalogue.CATALOGUE[name].title, after))
    return levers, skipped


def _rank_key(effect: float, lower_is_better: bool | None) -> float:
    if not math.isfinite(effect):
        return math.inf
    if lower_is_better is None:
        return -abs(effect)
    return effect if lower_is_better else -effect


@dataclass
class LeversResult:
    """The baseline run and each lever's paired effect on one KPI, ranked."""

    scenario: str
    kpi: str
    replications: int
    seed: int
    engine: str
    baseline: RunResult = field(repr=False)
    levers: list[dict[str, Any]]
    skipped: list[dict[str, str]]

    @property
    def biggest(self) -> dict[str, Any] | None:
        """The first lever of the ranking (None when no lever ran)."""
        return self.levers[0] if self.levers else None

    def baseline_summary(self) -> dict[str, Any]:
        m, lo, hi = ci95(_column(self.baseline, self.kpi))
        st = self.baseline.station_summary()
        return {"label": self.scenario, "mean": m, "ci95": [lo, hi],
                "utilization": {str(k): float(v) for k, v in st["utilization"].items()}}

    def table(self) -> pd.DataFrame:
        """One row per lever, best first: effect, its 95% CI, relative effect, utilization."""
        cols = ["rank", "lever", "kind", "effect", "ci95_lo", "ci95_hi", "relative",
                "utilization", "utilization_after"]
        rows = [{**{c: r.get(c) for c in cols}, "ci95_lo": r["ci95"][0],
                 "ci95_hi": r["ci95"][1]} for r in self.levers]
        return pd.DataFrame(rows, columns=cols).set_index("rank")

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``govsim levers --json``: ``{"scenario", "kpi", "replications",
        "seed", "engine", "baseline": {"label", "mean", "ci95", "utilization"},
        "levers": [{"rank", "lever", "kind", "target", "change", "effect", "ci95",
        "relative", "mean", ...}], "biggest", "skipped": [{"lever", "kind", "reason"}]}``;
        station levers also carry ``utilization`` (the station's, baseline) and
        ``utilization_after``."""
        big = self.biggest
        return json_safe({"scenario": self.scenario, "kpi": self.kpi,
                          "replications": self.replications, "seed": self.seed,
                          "engine": self.engine, "baseline": self.baseline_summary(),
                          "levers": self.levers, "biggest": big["lever"] if big else None,
                          "skipped": self.skipped})


def _column(r: RunResult, kpi: str) -> np.ndarray:
    st = split_station(kpi)
    if st is None:
        return r.per_replication[KPIS[kpi]].to_numpy(dtype=np.float64)
    s = r.stations
    return s[s["station"] == st[0]][st[1]].to_numpy(dtype=np.float64)


def levers(source: Source, kpi: str = DEFAULT_KPI, replications: int | None = None,
           seed: int | None = None, engine: str | None = None, workers: int = 1,
           reforms: tuple[str, ...] | list[str] = (), kinds: tuple[str, ...] = KINDS,
           progress: Callable[[int], None] | None = None,
           max_memory: float | None = None, label: str | None = None,
           planned: tuple[list[Lever], list[dict[str, str]]] | None = None) -> LeversResult:
    """Measure every lever of a scenario on common random numbers and rank them by effect.

    ``kpi`` is a KPI name or column (default the mean lead time in working days) or a
    station KPI; ``seed``/``replications`` default to the scenario's ``run`` section and
    are used for every variant; ``kinds`` limits the levers tried (see :data:`KINDS`).
    ``label`` names the scenario (default: the file's stem or the model's name);
    ``planned`` is :func:`candidates` of the scenario when the caller has them already.
    """
    base = load_model(source, reforms)
    name = kpi_name(kpi, base)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise UsageError(f"lever kind '{bad[0]}' is not one of {', '.join(KINDS)}")
    cfg = resolve(base.scenario.run, replications=replications, seed=seed, engine=engine,
                  workers=workers, max_memory=max_memory)
    found, skipped = planned if planned is not None else candidates(base.scenario)
    found = [lv for lv in found if lv.kind in kinds]
    skipped = [sk for sk in skipped if sk["kind"] in kinds]
    models = [base, *(build(lv.scenario, base.name, warn=False) for lv in found)]
    results = run_models(models, [cfg.seed] * len(models), cfg, progress,
                         keep=[True] + [False] * len(found))
    labels = [base.name, *(lv.lever for lv in found)]
    cr = CompareResult(labels=labels, results=results, sources=[str(source)] * len(models),
                       reforms=[[] for _ in models], seed=cfg.seed,
                       replications=cfg.replications, engine=cfg.engine)
    diffs = cr.differences
    ref = lookup(name)
    direction = ref.lower_is_better if ref is not None else None
    base_mean = ci95(_column(results[0], name))[0]
    base_util = results[0].station_summary()["utilization"]
    rows = []
    for k, lv in enumerate(found, start=1):
        d = diffs[lv.lever]
        eff, lo, hi = ((math.nan, math.nan, math.nan) if name not in d.index else
                       tuple(d.loc[name, ["mean", "ci95_lo", "ci95_hi"]]
                             .to_numpy(dtype=np.float64).tolist()))
        row: dict[str, Any] = {
            "lever": lv.lever, "kind": lv.kind, "target": lv.target, "change": lv.change,
            "effect": eff, "ci95": [lo, hi],
            "relative": eff / base_mean if base_mean else math.nan,
            "mean": ci95(_column(results[k], name))[0] if name in d.index else math.nan}
        if lv.kind in ("servers", "pool"):
            after = results[k].station_summary()["utilization"]
            row["utilization"] = float(base_util.get(lv.target, math.nan))
            row["utilization_after"] = float(after.get(lv.target, math.nan))
        rows.append(row)
    rows.sort(key=lambda r: _rank_key(r["effect"], direction))
    for i, r in enumerate(rows, start=1):
        r["rank"] = i
    if label is None:
        label = str(source) if isinstance(source, str | Path) else base.name
    return LeversResult(scenario=Path(label).stem, kpi=name, replications=cfg.replications,
                        seed=cfg.seed, engine=cfg.engine, baseline=results[0], levers=rows,
                        skipped=skipped)
