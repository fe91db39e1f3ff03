"""Comparing scenarios with common random numbers: what does each reform buy, and is it real?

``compare([A, B, C])`` runs every scenario with the same seed and the same replications.
Inputs are drawn from streams keyed by replication, class, item and case (see
:mod:`sim.inputs`), so replication ``r`` of every scenario sees the same arrivals, the
same service and fix draws for the items they share, and so on: the scenarios differ
only where they differ. The difference of a KPI is then taken replication by replication
(paired), and its 95% Student-t interval is far narrower than that of two independent
runs (``crn=False`` shows how much). A scenario compared with itself gives exactly zero.

A scenario is a file path, a :class:`~sim.schema.Scenario` or a :class:`~sim.model.Model`;
a path may carry reforms as ``FILE@REFORM[:ARGS][@REFORM...]`` (``@`` because reform
arguments use ``,`` and ``+``), e.g. ``base.toml@online:0.9@proxy:classes=key``.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.engines import DEFAULT_ENGINE
from sim.errors import UsageError
from sim.experiments.run import run as _run
from sim.files import json_safe
from sim.model.assembly import Model, build
from sim.model.schema import Scenario
from sim.results.result import RunResult
from sim.results.stats import ci95

#: KPI name (as in the JSON contract) -> column of ``RunResult.per_replication``
KPIS: dict[str, str] = {
    "lead_time_workdays": "lead_time_workdays.mean",
    "lead_time_workdays.p50": "lead_time_workdays.p50",
    "lead_time_workdays.p90": "lead_time_workdays.p90",
    "lead_time_workdays.p95": "lead_time_workdays.p95",
    "lead_time_days": "lead_time_days.mean",
    "lead_time_days.p50": "lead_time_days.p50",
    "lead_time_days.p90": "lead_time_days.p90",
    "lead_time_days.p95": "lead_time_days.p95",
    "within_limit_share": "within_limit_share",
    "visits": "visits.mean",
    "rework_rounds": "rework_rounds.mean",
    "supplements": "supplements.mean",
    "revoked": "revoked.mean",
    "lead_time_split_days.service": "split.service_days",
    "lead_time_split_days.queue": "split.queue_days",
    "lead_time_split_days.applicant": "split.applicant_days",
    "throughput_per_day": "throughput_per_day",
    "completed": "completed",
    "open_at_horizon": "open_at_horizon",
    "abandoned_share": "abandoned_share",
}
STATION_KPIS = ("utilization", "mean_wait_hours")

# rows of the printed table: (KPI, label, kind) -- kind sets the format
_ROWS: tuple[tuple[str, str, str], ...] = (
    ("lead_time_workdays", "lead time, working days", "days"),
    ("lead_time_workdays.p50", "  P50", "days"),
    ("lead_time_workdays.p90", "  P90", "days"),
    ("lead_time_days", "lead time, calendar days", "days"),
    ("lead_time_days.p90", "  P90", "days"),
    ("within_limit_share", "within the limit", "share"),
    ("visits", "visits per case", "count"),
    ("rework_rounds", "rework rounds per case", "count"),
    ("supplements", "supplements per case", "count"),
    ("revoked", "revoked per case", "count"),
    ("lead_time_split_days.service", "days in service", "days"),
    ("lead_time_split_days.queue", "days in queues", "days"),
    ("lead_time_split_days.applicant", "days with the applicant", "days"),
    ("throughput_per_day", "completed per day", "count"),
    ("open_at_horizon", "open at horizon (per rep.)", "count"),
    ("abandoned_share", "abandoned", "share"),
)


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
        st = r.stations
        for kpi in STATION_KPIS:
            wide = st.pivot(index="replication", columns="station", values=kpi)
            for name in wide.columns:
                out[f"stations.{name}.{kpi}"] = wide[name].reindex(out.index).to_numpy()
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
        "differences": {KPI: {"mean", "ci95"}}, "differences_by_scenario": {LABEL: {...}}}``:
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
            scen.append(d)
        return json_safe({"baseline": self.baseline, "seed": self.seed,
                       "replications": self.replications, "engine": self.engine,
                       "common_random_numbers": self.crn, "scenarios": scen,
                       "differences": scen[1]["differences"] if len(scen) > 1 else {},
                       "differences_by_scenario": {d["label"]: d["differences"]
                                                   for d in scen[1:]}})


def split_source(text: str) -> tuple[str, list[str]]:
    """``FILE@REFORM@REFORM`` -> (FILE, [REFORM, ...]); an existing file name wins whole."""
    if Path(text).exists() or "@" not in text:
        return text, []
    path, *reforms = text.split("@")
    for r in reforms:
        if not r.strip():
            raise UsageError(f"'{text}': an empty reform after '@' (use FILE@REFORM[:ARGS])")
    return path, reforms


def _label(text: str, reforms: Sequence[str]) -> str:
    return Path(text).stem + "".join(f"@{r}" for r in reforms)


def prepare(sources: Sequence[str | Path | Scenario | Model],
            reforms_per_source: Sequence[Sequence[str]] | None = None,
            reforms: Sequence[str] = ()) -> tuple[list[str], list[str], list[list[str]],
                                                  list[Model]]:
    """Load every scenario: (labels, sources, reforms applied beyond the file's, models)."""
    from sim import api

    if reforms_per_source is not None and len(reforms_per_source) != len(sources):
        raise UsageError(f"reforms_per_source has {len(reforms_per_source)} entries for "
                         f"{len(sources)} scenarios")
    labels, srcs, refs, models = [], [], [], []
    for k, src in enumerate(sources):
        extra = list(reforms_per_source[k]) if reforms_per_source is not None else []
        if isinstance(src, Model | Scenario):
            name = (src.name if isinstance(src, Model) else src.scenario.name) or f"scenario{k}"
            mine = [*extra, *reforms]
            model = api.load_model(src, mine) if mine or isinstance(src, Scenario) else src
            labels.append(name + "".join(f"@{r}" for r in extra))
            srcs.append(f"<{type(src).__name__.lower()}>")
        else:
            path, inline = split_source(str(src))
            mine = [*inline, *extra]
            model = build(api.load(path, [*mine, *reforms]), Path(path).name)
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
            progress: Callable[[int], None] | None = None) -> CompareResult:
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
    engine = engine or DEFAULT_ENGINE
    names, srcs, refs, models = prepare(sources, reforms_per_source, reforms)
    if labels is not None:
        if len(labels) != len(models):
            raise UsageError(f"{len(labels)} labels for {len(models)} scenarios")
        names = list(labels)
    first = models[0].scenario.run
    n = first.replications if replications is None else replications
    s = first.seed if seed is None else seed
    seeds = [s if crn else s + 1000 * k for k in range(len(models))]
    if workers > 1 and n * len(models) > 1:
        results = _run_pooled(models, n, seeds, engine, workers, progress)
    else:
        results = [_run(model, replications=n, seed=seeds[k], engine=engine, progress=progress)
                   for k, model in enumerate(models)]
    return CompareResult(labels=names, results=results, sources=srcs, reforms=refs, seed=s,
                         replications=n, engine=engine, crn=crn)


def _run_pooled(models: Sequence[Model], n: int, seeds: Sequence[int], engine: str,
                workers: int, progress: Callable[[int], None] | None) -> list[RunResult]:
    """Every replication of every scenario on one process pool (results do not depend on
    the number of workers: replication r always draws from the same keyed streams)."""
    from concurrent.futures import ProcessPoolExecutor

    from sim import engines
    from sim.experiments.run import _worker

    if engine not in engines.ENGINES:
        raise UsageError(f"unknown engine '{engine}' (choose from: {', '.join(engines.ENGINES)})")
    if n < 1:
        raise UsageError(f"replications must be an integer >= 1 (got {n})")
    texts = [m.scenario.model_dump_json() for m in models]
    jobs = [(texts[k], r, seeds[k], engine) for k in range(len(models)) for r in range(n)]
    reps: list[Any] = []
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        for rep in pool.map(_worker, jobs):
            reps.append(rep)
            if progress:
                progress(1)
    return [RunResult(model=m, engine=engine, seed=seeds[k], reps=reps[k * n:(k + 1) * n])
            for k, m in enumerate(models)]


# --------------------------------------------------------------------------- command line


def _num(x: Any) -> float:
    return float(x)


def _fmt(x: float | None, kind: str, sign: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    plus = "+" if sign else ""
    if kind == "share":
        return f"{x * 100:{plus},.1f}%"
    if kind == "count":
        return f"{x:{plus},.2f}"
    return f"{x:{plus},.1f}"


def _cell(m: float, lo: float, hi: float, kind: str, sign: bool = False) -> str:
    if not math.isfinite(m):
        return "-"
    ci = ("" if not (math.isfinite(lo) and math.isfinite(hi))
          else f"\n[{_fmt(lo, kind, sign)}, {_fmt(hi, kind, sign)}]")
    return _fmt(m, kind, sign) + ci


def _print_header(res: CompareResult) -> None:
    from sim.cli.common import console

    console.print(f"[bold]compare[/bold]: {len(res.labels)} scenarios, {res.replications} "
                  f"replications each, seed {res.seed}, engine {res.engine}, "
                  + ("common random numbers" if res.crn else
                     "INDEPENDENT seeds (seed + 1000 k)"), highlight=False)
    for k, lab in enumerate(res.labels):
        d = res.results[k].to_dict()["cases"]
        console.print(f"  [{k}] {lab}: {d['arrived']:,} cases after warm-up, "
                      f"{d['completed']:,} completed, {d['open_at_horizon']:,} open at the "
                      "horizon", markup=False, highlight=False)


def print_compare(res: CompareResult, stations: int = 6) -> None:
    """The before-and-after table: KPIs by scenario, paired differences to the first."""
    from rich.markup import escape
    from rich.table import Table

    from sim.cli.common import console

    tab = res.table()
    _print_header(res)
    base = res.labels[0]
    t = Table(title=rf"KPIs: mean \[95% CI]; \[k] - \[0]: paired difference to {escape(base)} "
              r"\[95% CI]; busy: station utilization", title_justify="left", show_lines=True)
    t.add_column("KPI", no_wrap=True, overflow="ellipsis", max_width=30)
    for k in range(len(res.labels)):
        t.add_column(f"[{k}]", justify="right")
        if k:
            t.add_column(f"[{k}] - [0]", justify="right")
    rows = [(kpi, label, kind) for kpi, label, kind in _ROWS if kpi in tab.index]
    lim = res.results[0].to_dict()["kpis"].get("limit_workdays")

    def val(kpi: str, lab: str, stat: str) -> float:
        return _num(tab.loc[kpi, (lab, stat)])

    def peak(kpi: str) -> float:
        v = [val(kpi, lab, "mean") for lab in res.labels]
        return max((x for x in v if math.isfinite(x)), default=-1.0)

    # station rows: the busiest stations of any scenario
    util = [c for c in tab.index if c.startswith("stations.") and c.endswith(".utilization")]
    busiest = sorted(util, key=lambda c: -peak(c))[:stations]
    rows += [(c, f"busy: {c.split('.', 1)[1].rsplit('.', 1)[0]}", "share") for c in busiest]
    for kpi, label, kind in rows:
        if kpi == "within_limit_share" and lim:
            label = f"within {lim:g} working days"
        if not any(math.isfinite(val(kpi, lab, "mean")) for lab in res.labels):
            continue
        cells = []
        for k, lab in enumerate(res.labels):
            cells.append(_cell(val(kpi, lab, "mean"), val(kpi, lab, "ci95_lo"),
                               val(kpi, lab, "ci95_hi"), kind))
            if k:
                cells.append(_cell(val(kpi, lab, "diff"), val(kpi, lab, "diff_ci95_lo"),
                                   val(kpi, lab, "diff_ci95_hi"), kind, sign=True))
        t.add_row(label, *cells)
    console.print(t)


def alone_variants(path: str, reforms: Sequence[str] = ()) -> list[tuple[str, str, Scenario]]:
    """A file's content with each reform of its own ``reforms`` list applied ALONE (then
    ``reforms``): what each reform of a package buys by itself. (label, spec, scenario)."""
    from sim import api
    from sim.model import scenario as scenario_io

    raw = scenario_io.load(path)
    bare = raw.model_copy(deep=True)
    bare.reforms = []
    return [(f"{Path(path).stem} only {spec}", spec,
             api.apply_reforms(bare, [spec, *reforms], source=Path(path).name))
            for spec in raw.reforms]


def print_compact(res: CompareResult) -> None:
    """One row per scenario: the headline KPIs and their paired differences to the first."""
    from rich.markup import escape
    from rich.table import Table

    from sim.cli.common import console

    tab = res.table()
    _print_header(res)
    t = Table(title=rf"paired differences to \[0] {escape(res.baseline)}: mean \[95% CI]",
              title_justify="left", show_lines=True)
    for col in ("#", "scenario", "working days", "difference", "calendar days: diff.",
                "visits: diff.", "rework: diff."):
        t.add_column(col, justify="left" if col == "scenario" else "right",
                     overflow="fold" if col == "scenario" else "ellipsis")

    def diff(kpi: str, lab: str, kind: str) -> str:
        if kpi not in tab.index:
            return "-"
        return _cell(_num(tab.loc[kpi, (lab, "diff")]), _num(tab.loc[kpi, (lab, "diff_ci95_lo")]),
                     _num(tab.loc[kpi, (lab, "diff_ci95_hi")]), kind, sign=True)

    for k, lab in enumerate(res.labels):
        m = _num(tab.loc["lead_time_workdays", (lab, "mean")])
        t.add_row(str(k), lab, _fmt(m, "days"), diff("lead_time_workdays", lab, "days"),
                  diff("lead_time_days", lab, "days"), diff("visits", lab, "count"),
                  diff("rework_rounds", lab, "count"))
    console.print(t)


def cmd_compare(args: argparse.Namespace) -> int:
    from sim.cli.common import check_run_options, console, progress_bar
    from sim.files import write_json

    check_run_options(args)
    if len(args.scenarios) < 2 and not args.alone:
        raise UsageError("compare needs at least two scenarios (FILE or FILE@REFORM[:ARGS])")
    labels, srcs, refs, models = prepare(args.scenarios, None, args.reform)
    if args.alone:
        for text in args.scenarios:
            path, inline = split_source(text)
            if inline:
                continue
            for label, spec, s in alone_variants(path, args.reform):
                labels.append(label)
                srcs.append(path)
                refs.append([f"only {spec}"])
                models.append(build(s, Path(path).name))
        if len(models) < 2:
            raise UsageError("--alone: no scenario file has a reforms list to take apart")
    n = args.replications or models[0].scenario.run.replications
    with progress_bar(n * len(models), "replications") as adv:
        res = compare(models, replications=args.replications, seed=args.seed,
                      engine=args.engine, workers=args.workers, crn=not args.independent,
                      labels=labels, progress=adv)
    res.sources, res.reforms = srcs, refs
    if args.json:
        write_json(args.json, res.to_dict())
    if args.out:
        # matplotlib (via sim.present.plots): loaded when a report is written, not with the CLI
        from sim.present.compare_report import write_compare_report

        write_compare_report(res, args.out)
    if not args.quiet:
        if len(res.labels) > 3 and not args.full:
            print_compact(res)
        else:
            print_compare(res)
        if args.json:
            console.print(f"JSON written to {args.json}")
    return 0


def register_cli(sub: Any) -> None:
    """Add ``govsim compare`` (and the reform commands, see :mod:`sim.reforms`)."""
    from sim.cli.common import add_run_options

    p = sub.add_parser(
        "compare", help="compare scenarios on common random numbers",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Run every scenario with the same seed and replications (common random numbers, case by
case) and print each KPI per scenario with its paired difference to the FIRST scenario
and the 95% confidence interval of that difference. A scenario compared with itself
gives exactly zero.

A scenario is a FILE, or FILE@REFORM[:ARGS][@REFORM...] to apply reforms to it (see
`govsim reforms`); --reform applies to every scenario, after its own.""",
        epilog="""\
examples:
  govsim compare scenarios/hohhot-construction-2023.toml \\
                 scenarios/hohhot-construction-2023-reformed.toml
  govsim compare base.toml base.toml@online:0.9 base.toml@cut_materials:total=145 -n 20
  govsim compare base.toml reformed.toml --alone    # the package, and each reform alone

--json PATH writes {"baseline", "seed", "replications", "engine", "common_random_numbers",
"scenarios": [{<the govsim run --json contract>, "label", "source", "reforms",
"differences": {KPI: {"mean", "ci95": [lo, hi]}}}, ...]} with KPIs such as
lead_time_workdays and lead_time_days (means), their .p50/.p90/.p95, visits,
rework_rounds, within_limit_share and stations.NAME.utilization.""")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="FILE or FILE@REFORM[:ARGS][@...]; the first is the baseline")
    add_run_options(p)
    cpus = max(1, min(os.cpu_count() or 1, 8))
    for action in p._actions:
        if action.dest == "workers":
            action.default = cpus
            action.help = ("processes to spread the replications of all scenarios over "
                           "(default: the number of CPUs, here %(default)s; the numbers do "
                           "not depend on it)")
        if action.dest == "reform":
            action.help = ("apply a reform to EVERY scenario, after its own (repeatable; see "
                           "`govsim reforms`)")
    p.add_argument("--json", metavar="PATH", help="write the comparison as JSON")
    p.add_argument("--out", metavar="DIR", help="write a report folder (HTML, CSV, JSON)")
    p.add_argument("--independent", action="store_true",
                   help="give each scenario its own seed (seed + 1000 k) instead of common "
                        "random numbers, to see how much wider the intervals get")
    p.add_argument("--alone", action="store_true",
                   help="also run, for each FILE with a reforms list, its content with each "
                        "of those reforms alone: what each reform of the package buys by itself")
    p.add_argument("--full", action="store_true",
                   help="the full KPI table even for more than three scenarios (default: a "
                        "compact table of the headline differences)")
    p.add_argument("--quiet", "-q", action="store_true", help="print no table")
    p.set_defaults(func=cmd_compare)


