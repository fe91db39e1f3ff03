"""``govsim compare``: scenarios on common random numbers, the paired differences printed."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from sim.cli.common import (
    add_run_options,
    check_run_options,
    compile_notice,
    console,
    fmt,
    fmt_ci,
    progress_bar,
    write_json_out,
    written,
)
from sim.errors import UsageError
from sim.experiments.compare import CompareResult, alone_variants, compare, prepare
from sim.experiments.pool import default_workers
from sim.experiments.sources import split_source
from sim.experiments.uncertainty import effects, uncertainty
from sim.i18n import t as tr
from sim.model.assembly import build
from sim.model.headline import parse as parse_measure
from sim.results import headline
from sim.results.display import station_name
from sim.results.kpis import BY_NAME, format_value, split_station, station_kpi


def _num(x: Any) -> float:
    return float(x)


#: the KPIs of the full table, in order (labels and formats from sim.results.kpis)
ROWS = ("lead_time_workdays", "lead_time_workdays.p50", "lead_time_workdays.p90",
        "lead_time_days", "lead_time_days.p90", "within_limit_share", "visits",
        "rework_rounds", "supplements", "revoked", "lead_time_split_days.service",
        "lead_time_split_days.queue", "lead_time_split_days.applicant", "throughput_per_day",
        "open_at_horizon", "abandoned_share", "gov_cost_per_case", "applicant_cost_per_case")


def _cell(m: float, lo: float, hi: float, kind: str, sign: bool = False) -> str:
    if not math.isfinite(m):
        return "-"
    ci = ("" if not (math.isfinite(lo) and math.isfinite(hi))
          else f"\n[{format_value(lo, kind, sign)}, {format_value(hi, kind, sign)}]")
    return format_value(m, kind, sign) + ci


def _print_header(res: CompareResult) -> None:
    console.print("[bold]compare[/bold]: " + escape(tr(
        "{n} scenarios, {reps} replications each, seed {seed}, engine {engine}, ",
        n=len(res.labels), reps=res.replications, seed=res.seed, engine=res.engine)
        + (tr("common random numbers") if res.crn else
           tr("INDEPENDENT seeds (seed + 1000 k)"))), highlight=False)
    for k, lab in enumerate(res.labels):
        d = res.results[k].to_dict()["cases"]
        console.print(f"  [{k}] {lab}: " + tr(
            "{arrived} cases after warm-up, {completed} completed, {open} open at the horizon",
            arrived=f"{d['arrived']:,}", completed=f"{d['completed']:,}",
            open=f"{d['open_at_horizon']:,}"), markup=False, highlight=False)


def print_compare(res: CompareResult, stations: int = 6) -> None:
    """The before-and-after table: KPIs by scenario, paired differences to the first."""
    tab = res.table()
    _print_header(res)
    base = res.labels[0]
    t = Table(title=escape(tr("KPIs: mean [95% CI]; [k] - [0]: paired difference to {base} "
                              "[95% CI]; busy: station utilization", base=base)),
              title_justify="left", show_lines=True)
    t.add_column(tr("KPI"), no_wrap=True, overflow="ellipsis", max_width=30)
    for k in range(len(res.labels)):
        t.add_column(f"[{k}]", justify="right")
        if k:
            t.add_column(f"[{k}] - [0]", justify="right")
    rows = []
    model = res.results[0].model
    for text in headline.declared(model):  # the baseline's headline measures first
        m = parse_measure(text)
        name = (station_kpi(m.station, "utilization") if m.base == "occupancy" and m.station
                else text)
        if name in tab.index:
            label, unit, kind = headline.describe(model, m)
            rows.append((name, label + (tr(" ({unit})", unit=unit) if kind == "seconds" else ""),
                         kind))
    first = {r[0] for r in rows}
    rows += [(k.name, tr(k.label), k.kind) for k in (BY_NAME[name] for name in ROWS)
             if k.name in tab.index and k.name not in first]
    lim = res.results[0].to_dict()["kpis"].get("limit_workdays")

    def val(kpi: str, lab: str, stat: str) -> float:
        return _num(tab.loc[kpi, (lab, stat)])

    def peak(kpi: str) -> float:
        v = [val(kpi, lab, "mean") for lab in res.labels]
        return max((x for x in v if math.isfinite(x)), default=-1.0)

    # station rows: the busiest stations of any scenario
    util = {c: st[0] for c in tab.index
            if (st := split_station(str(c))) is not None and st[1] == "utilization"}
    busiest = sorted(util, key=lambda c: -peak(c))[:stations]
    scen = res.results[0].scenario
    rows += [(c, tr("busy: {station}", station=station_name(util[c], scen)), "share")
             for c in busiest]
    for kpi, label, kind in rows:
        if kpi == "within_limit_share" and lim:
            label = tr("within {n} working days", n=f"{lim:g}")
        if not any(math.isfinite(val(kpi, lab, "mean")) for lab in res.labels):
            continue
        cells = []
        for k, lab in enumerate(res.labels):
            cells.append(_cell(val(kpi, lab, "mean"), val(kpi, lab, "ci95_lo"),
                               val(kpi, lab, "ci95_hi"), kind))
            if k:
                cells.append(_cell(val(kpi, lab, "diff"), val(kpi, lab, "diff_ci95_lo"),
                                   val(kpi, lab, "diff_ci95_hi"), kind, sign=True))
        t.add_row(escape(label), *cells)
    console.print(t)
    print_savings(res)


def print_savings(res: CompareResult) -> None:
    """The money each scenario saves against the first (scenarios with costs only)."""
    for k in range(1, len(res.labels)):
        saved = res.savings(k)
        if saved is None:
            continue
        cur = saved["currency"]

        def say(part: dict[str, Any]) -> str:
            lo, hi = part["ci95"]
            ci = ("" if not (math.isfinite(lo) and math.isfinite(hi)) else
                  f" [{format_value(lo, 'money')}, {format_value(hi, 'money')}]")
            return f"{format_value(part['mean'], 'money')}{ci}"

        for part, words in (("gov_cost", "government cost"),
                            ("applicant_cost", "applicant cost")):
            v = saved[part]
            console.print(f"[{k}] " + tr(
                "saves {per_case} {cur} of {what} per case against [0], {over} {cur} over the "
                "{cases} cases it completes per replication (95% CI; negative: it costs more)",
                per_case=say(v["per_case"]), cur=cur, what=tr(words), over=say(v["over_cases"]),
                cases=f"{saved['cases']:,.0f}"), markup=False, highlight=False)


def print_compact(res: CompareResult) -> None:
    """One row per scenario: the headline KPIs and their paired differences to the first."""
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
        t.add_row(str(k), lab, format_value(m, "days"), diff("lead_time_workdays", lab, "days"),
                  diff("lead_time_days", lab, "days"), diff("visits", lab, "count"),
                  diff("rework_rounds", lab, "count"))
    console.print(t)
    print_savings(res)


def cmd_compare(args: argparse.Namespace) -> int:
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
    compile_notice(args.engine)
    with progress_bar(n * len(models), "replications") as adv:
        res = compare(models, replications=args.replications, seed=args.seed,
                      engine=args.engine, workers=args.workers, crn=not args.independent,
                      labels=labels, progress=adv, max_memory=args.max_memory)
    res.sources, res.reforms = srcs, refs
    d = res.to_dict()
    unsure: dict[str, Any] | None = None
    if args.uncertainty is not None:
        with progress_bar(n * (args.uncertainty + 1) * len(models), "replications") as adv:
            runs = [uncertainty(m, args.uncertainty, replications=args.replications,
                                seed=args.seed, engine=args.engine, workers=args.workers,
                                progress=adv, max_memory=args.max_memory, where=lab)
                    for m, lab in zip(models, res.labels, strict=True)]
        unsure = effects(runs, res.labels)
        d["uncertainty"] = {"sets": args.uncertainty, "effects": unsure}
    if args.json:
        write_json_out(args.json, d)
    if args.out:
        from sim.present.compare_report import write_compare_report  # matplotlib: only with --out

        report_path = write_compare_report(res, args.out)
    if not args.quiet:
        if len(res.labels) > 3 and not args.full:
            print_compact(res)
        else:
            print_compare(res)
        if unsure is not None:
            print_effects(unsure, res.labels[0], args.uncertainty)
        if args.json:
            written("JSON", args.json)
        if args.out:
            written("report", str(report_path))
    return 0


def print_effects(effects: dict[str, Any], base: str, sets: int) -> None:
    t = Table(title=escape(tr("How sure the effects are (vs {base}; {n} parameter sets over the "
                              "[uncertainty] ranges, common random numbers)", base=base, n=sets)),
              title_justify="left")
    for col in ("scenario", "KPI", "effect", "95% CI (sim. noise only)",
                "95% with the assumptions"):
        t.add_column(tr(col), justify="left" if col in ("scenario", "KPI") else "right")
    for label, row in effects.items():
        for k, iv in row.items():
            kpi = BY_NAME.get(k.split(".")[0])
            so, wa = iv["simulation_only"], iv["with_assumptions"]
            pct = 100.0 if k.endswith("share") else 1.0

            def sc(v: Any, pct: float = pct) -> Any:
                return None if v is None else v * pct

            t.add_row(escape(label), (kpi.label if kpi else k) + (" (points)" if pct == 100
                                                                   else ""),
                      fmt(sc(so["mean"])), fmt_ci([sc(x) for x in so["ci95"]]),
                      fmt_ci([sc(x) for x in wa["interval95"]]))
    console.print(t)


def register(sub: Any) -> None:
    """Add ``govsim compare``."""
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
    add_run_options(
        p, workers_default=min(default_workers(), 8),
        workers_help=("processes to spread the replications of all scenarios over (default: "
                      "the number of CPUs, here %(default)s; the numbers do not depend on it)"),
        reform_help=("apply a reform to EVERY scenario, after its own (repeatable; see "
                     "`govsim reforms`)"))
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
    p.add_argument("--uncertainty", type=int, metavar="N",
                   help="also run N parameter sets over the scenarios' shared [uncertainty] "
                        "ranges and give each effect an interval covering the assumptions "
                        "beside the simulation-only one")
    p.add_argument("--quiet", "-q", action="store_true", help="print no table")
    p.set_defaults(func=cmd_compare)


