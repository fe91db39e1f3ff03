"""``govsim levers``: what each small change buys, ranked, on common random numbers."""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape
from rich.table import Table

from sim.cli.common import (
    add_run_options,
    check_run_options,
    console,
    load_model,
    progress_bar,
    write_json_out,
    written,
)
from sim.experiments.levers import DEFAULT_KPI, KINDS, LeversResult, candidates, kpi_name, levers
from sim.experiments.pool import default_workers
from sim.i18n import t as tr
from sim.results.kpis import format_value, lookup


def print_levers(res: LeversResult) -> None:
    d = res.to_dict()
    ref = lookup(res.kpi)
    kind = ref.kind if ref is not None else "days"
    digits = {"days": "count", "hours": "count"}.get(kind, kind)  # differences: 2 decimals
    label = ref.label if ref is not None else res.kpi
    b = d["baseline"]
    ci = b["ci95"]
    console.print("[bold]levers[/bold] " + escape(tr(
        "of {scenario}: {n} levers, {reps} replications each, seed {seed}, engine {engine}, "
        "common random numbers", scenario=res.scenario, n=len(res.levers),
        reps=res.replications, seed=res.seed, engine=res.engine)), highlight=False)
    console.print(tr("baseline {kpi} ({label}):", kpi=res.kpi, label=tr(label.strip()))
                  + f" {format_value(b['mean'], kind)} "
                  f"[{format_value(ci[0], kind)}, {format_value(ci[1], kind)}]",
                  markup=False, highlight=False)
    t = Table(title=escape(tr("Levers ranked by effect on {kpi} (paired difference to the "
                              "baseline, 95% CI over replications)", kpi=res.kpi)),
              title_justify="left")
    for col in ("#", "lever", "effect", "95% CI", "relative", "util. (before -> after)"):
        t.add_column(tr(col), justify="left" if col == "lever" else "right",
                     no_wrap=col == "lever")
    for r in res.levers:
        lo, hi = r["ci95"]
        util = ""
        if "utilization" in r:
            util = (f"{format_value(r['utilization'], 'share')} -> "
                    f"{format_value(r['utilization_after'], 'share')}")
        t.add_row(str(r["rank"]), escape(r["lever"]), format_value(r["effect"], digits, True),
                  f"[{format_value(lo, digits, True)}, {format_value(hi, digits, True)}]",
                  format_value(r["relative"], "share", True), util)
    console.print(t)
    big = res.biggest
    if big is not None:
        console.print(tr("bottleneck (the biggest lever): {lever}, ", lever=big["lever"])
                      + f"{format_value(big['effect'], digits, True)} "
                      f"[{format_value(big['ci95'][0], digits, True)}, "
                      f"{format_value(big['ci95'][1], digits, True)}]", markup=False,
                      highlight=False)
    if res.skipped:
        console.print(tr("skipped {n}:", n=len(res.skipped)), highlight=False)
        for s in res.skipped:
            console.print(f"  {s['lever']}: {s['reason']}", markup=False, highlight=False)


def cmd_levers(args: argparse.Namespace) -> int:
    check_run_options(args)
    model = load_model(args.file, args.reform)
    kpi_name(args.kpi, model)  # a bad --kpi fails before anything runs
    kinds = tuple(args.kind) if args.kind else KINDS
    planned = candidates(model.scenario)
    n = (args.replications or model.scenario.run.replications) * (
        1 + sum(1 for lv in planned[0] if lv.kind in kinds))
    with progress_bar(n, "replications") as adv:
        res = levers(model, kpi=args.kpi, replications=args.replications, seed=args.seed,
                     engine=args.engine, workers=args.workers, kinds=kinds, progress=adv,
                     max_memory=args.max_memory, label=args.file,
                     planned=planned)
    if args.json:
        write_json_out(args.json, res.to_dict())
    if args.out:
        from sim.present import report  # matplotlib: only when a report is asked for

        report_path = report.write_run_report(res.baseline, args.out, levers=res.to_dict())
    if not args.quiet:
        print_levers(res)
        if args.json:
            written("JSON", args.json)
        if args.out:
            written("report", str(report_path))
    return 0


def register(sub: Any) -> None:
    """Add ``govsim levers``."""
    p = sub.add_parser(
        "levers", help="rank what each small change buys (common random numbers)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Run the scenario and one variant per lever, all with the same seed and replications
(common random numbers), and rank the levers by their paired effect on one KPI, with the
95% confidence interval of the difference over replications:
  +1 server at each station (and +1 agent in each help-and-proxy pool), with its
  utilization before and after; applicant time of each stage 10% shorter (the stage's
  items' delay and fix means x 0.9); each item's deficiency probability 10% lower; each
  reform of the catalogue alone with its default arguments (`govsim reforms`).
A lever that cannot apply here is skipped with the reason. The first of the ranking is
the bottleneck: the biggest lever.""",
        epilog="""\
examples:
  govsim levers scenarios/hohhot-construction-2023-reformed.toml -n 5
  govsim levers base.toml --kpi within_limit_share --json levers.json --out report/

--json PATH writes {"scenario", "kpi", "replications", "seed", "engine", "baseline":
{"mean", "ci95", "utilization"}, "levers": [{"rank", "lever", "kind", "target",
"change", "effect", "ci95", "relative", "mean", ("utilization", "utilization_after")}],
"biggest", "skipped": [{"lever", "kind", "reason"}]}.""")
    p.add_argument("file", help="scenario file (TOML)")
    p.add_argument("--kpi", default=DEFAULT_KPI, metavar="KPI",
                   help="the KPI levers are ranked on (default: %(default)s; e.g. "
                        "lead_time_days.mean, within_limit_share, visits.mean, "
                        "stations.NAME.mean_wait_hours)")
    p.add_argument("--kind", action="append", choices=KINDS, default=[],
                   help="only levers of this kind (repeatable; default: all)")
    add_run_options(
        p, workers_default=min(default_workers(), 8),
        workers_help=("processes to spread the replications of all variants over (default: "
                      "the number of CPUs, here %(default)s; the numbers do not depend on it)"),
        reform_help="apply a reform to the scenario first (repeatable; see `govsim reforms`)")
    p.add_argument("--json", metavar="PATH", help="write the ranking as JSON ('-': stdout)")
    p.add_argument("--out", metavar="DIR",
                   help="write a report folder: the baseline's run report with the levers")
    p.add_argument("--quiet", "-q", action="store_true", help="print no table")
    p.set_defaults(func=cmd_levers)
