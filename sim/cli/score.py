"""``govsim score SCENARIO LOG``: simulate a scenario over a real log's period and compare
the simulated event log with the real one (docs/logs.md, "Scoring a scenario")."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from sim.cli.common import (
    add_log_options,
    add_run_options,
    check_run_options,
    compile_notice,
    console,
    log_mapping,
    progress_bar,
    write_json_out,
    written,
)
from sim.errors import UsageError
from sim.experiments.score import ScoreResult, score
from sim.experiments.sources import load_scenario, split_source
from sim.files import folder_target
from sim.i18n import t as tr


def _num(x: Any, share: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.1%}" if share else f"{x:,.2f}"


def print_score(sr: ScoreResult) -> None:
    d = sr.to_json()
    p, c = d["period"], d["cases"]
    console.print(f"[bold]{escape(d['scenario'])}[/bold] " + escape(tr(
        "against {log}: cases started {start} to {end} ({days} days), {n} replications, seed "
        "{seed}, engine {engine}", log=d["log"], start=p["start"], end=p["end"], days=p["days"],
        n=d["replications"], seed=d["seed"], engine=d["engine"])))
    console.print(tr("real: {cases} cases, {events} events ({unmatched} of activities no item "
                     "stands for); simulated: {sim} cases per replication",
                     cases=f"{c['real']:,}", events=f"{c['real_events']:,}",
                     unmatched=f"{c['unmatched_real_events']:,}",
                     sim=f"{c['simulated_mean']:,.1f}"))
    t = Table(title=tr("Distances, simulated vs real (mean over replications)"),
              title_justify="left")
    for col in ("distance", "value", "95% CI", "unit"):
        t.add_column(tr(col), justify="right" if col in ("value", "95% CI") else "left")
    for r in sr.distances.to_dict("records"):
        t.add_row(r["label"], _num(r["value"]),
                  f"[{_num(r['ci_low'])}, {_num(r['ci_high'])}]", r["unit"])
    console.print(t)
    t = Table(title=tr("KPIs, real vs simulated (time to decision in calendar days)"),
              title_justify="left")
    for col in ("KPI", "real", "simulated", "95% CI", "real in CI"):
        t.add_column(tr(col), justify="left" if col == "KPI" else "right")
    for r in sr.kpis.to_dict("records"):
        sh = r["unit"] == "share"
        t.add_row(r["label"], _num(r["real"], sh), _num(r["simulated"], sh),
                  f"[{_num(r['ci_low'], sh)}, {_num(r['ci_high'], sh)}]",
                  {True: tr("yes"), False: f"[bold]{tr('no')}[/bold]", None: "-"}[
                      r["real_in_ci"]])
    console.print(t)
    for n in sr.notes:
        console.print(tr("note: {text}", text=n))


def cmd_score(args: argparse.Namespace) -> int:
    check_run_options(args)
    path, reforms = split_source(args.scenario)
    specs = [*reforms, *args.reform]
    scenario = load_scenario(path, specs)
    if not Path(args.log).is_file():
        raise UsageError(f"{args.log}: no such log file")
    if args.out:  # a bad --out fails before the run, not after it
        folder_target(args.out)
    if args.json and not Path(args.json).parent.is_dir():
        raise UsageError(f"--json {args.json}: the folder {Path(args.json).parent} "
                         "does not exist")
    mapping = log_mapping(args)
    n = args.replications or scenario.run.replications
    compile_notice(args.engine)
    with progress_bar(n, "replications") as adv:
        sr = score(scenario if specs else path, args.log, from_date=args.from_date,
                   until=args.until, replications=args.replications, seed=args.seed,
                   engine=args.engine, workers=args.workers, mapping=mapping, progress=adv,
                   max_memory=args.max_memory)
    if args.out:
        from sim.present import score_report  # matplotlib: only when a report is asked for

        report_path = score_report.write_score_report(sr, args.out)
    if args.json:
        write_json_out(args.json, sr.to_json())
    if not args.quiet:
        print_score(sr)
        if args.out:
            written("report", str(report_path))
        if args.json:
            written("JSON", args.json)
    return 0


def register(sub: Any) -> None:
    """Add ``govsim score``."""
    p = sub.add_parser("score", help="simulate a scenario over a real event log's period "
                                     "and compare the two logs")
    p.add_argument("scenario", help="scenario file (TOML), e.g. one govsim calibrate wrote")
    p.add_argument("log", help="the real event log (.xes, .xes.gz, .csv, .csv.gz, .parquet)")
    p.add_argument("--from", dest="from_date", metavar="DATE",
                   help="compare only the cases started on or after DATE (the days before "
                        "are the simulation's warm-up)")
    p.add_argument("--until", metavar="DATE",
                   help="compare only the cases started before DATE, and events before it")
    add_run_options(p)
    p.add_argument("--out", metavar="DIR", help="write a report folder (HTML, score.json)")
    p.add_argument("--json", metavar="PATH", help="write the score as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="print no tables")
    add_log_options(p)
    p.set_defaults(func=cmd_score)
