"""``govsim run``, ``govsim validate`` and ``govsim schema``."""

from __future__ import annotations

import argparse
import json
import sys
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
    load_model,
    progress_bar,
    write_json_out,
    written,
)
from sim.errors import UsageError
from sim.experiments.pool import default_workers
from sim.experiments.run import run
from sim.experiments.stream import check_cases_target
from sim.experiments.uncertainty import UncertaintyResult, uncertainty
from sim.files import write_atomic
from sim.i18n import name as part_name
from sim.i18n import t as tr
from sim.logs import log_format
from sim.logs import write as write_log
from sim.model.headline import parse as parse_measure
from sim.model.schema import Scenario
from sim.results import checks, drivers, headline
from sim.results.display import station_name
from sim.results.eventlog import event_chunks
from sim.results.kpis import BY_NAME


def print_headline(d: dict[str, Any], model: Any) -> None:
    """The scenario's headline measures (``[headline]``), in their units, first."""
    rows = [h for h in d.get("headline", []) if h["mean"] is not None
            or headline.declared(model)]
    if not rows:
        return
    t = Table(title=tr("Headline measures"), title_justify="left")
    t.add_column(tr("measure"))
    t.add_column(tr("mean"), justify="right")
    t.add_column(tr("95% CI (sim. noise)"), justify="right")
    t.add_column(tr("unit"))
    for h in rows:
        label, unit, kind = headline.describe(model, parse_measure(h["name"]))
        lo, hi = h["ci95"]
        t.add_row(escape(label), headline.format_value(h["mean"], kind),
                  "-" if lo is None else f"[{headline.format_value(lo, kind)}, "
                  f"{headline.format_value(hi, kind)}]", escape(unit))
    console.print(t)


def print_run(d: dict[str, Any], model: Any = None) -> None:
    k = d["kpis"]
    c = d["cases"]
    console.print(f"[bold]{escape(d['scenario'])}[/bold]: " + escape(tr(
        "{n} replications, seed {seed}, engine {engine}", n=d["replications"], seed=d["seed"],
        engine=d["engine"])))
    console.print(tr("cases after warm-up: {arrived} arrived, {completed} completed, {open} open "
                     "at the horizon", arrived=f"{c['arrived']:,}",
                     completed=f"{c['completed']:,}", open=f"{c['open_at_horizon']:,}")
                  + (tr(", {n} abandoned", n=f"{c['abandoned']:,}") if c["abandoned"] else ""))
    if d.get("answer"):  # in the language in force, stations by their labels
        console.print(escape(drivers.answer(d, model.scenario) if model is not None
                             else d["answer"]), style="bold")
    if model is not None:
        print_headline(d, model)
    if len(k.get("lead_time_by_stage") or {}) > 1:
        print_stages(k["lead_time_by_stage"])
    t = Table(title=tr("Lead time (completed cases)"), title_justify="left")
    for col in ("", "mean", "95% CI (sim. noise)", "P50", "P90", "P95"):
        t.add_column(tr(col) if col else "", justify="right" if col else "left")
    for key, label in (("lead_time_workdays", "working days"), ("lead_time_days",
                                                                "calendar days")):
        v = k[key]
        t.add_row(tr(label), fmt(v["mean"]), fmt_ci(v["ci95"]), fmt(v["p50"]), fmt(v["p90"]),
                  fmt(v["p95"]))
    console.print(t)
    t = Table(title=tr("Per case"), title_justify="left")
    t.add_column(tr("KPI"))
    t.add_column(tr("mean"), justify="right")
    t.add_column(tr("95% CI (sim. noise)"), justify="right")
    lim = k.get("limit_workdays")
    for key, on in (("within_limit_share", "whole lead time"),
                    ("within_limit_share_government", "government time")):
        if key not in k:
            continue
        share, sci = k[key], k[f"{key}_ci95"]
        t.add_row(tr("within the limit{limit}, {on}", on=tr(on),
                     limit=tr(" ({n} working days)", n=f"{lim:g}") if lim else ""),
                  "-" if share is None else f"{share:.1%}",
                  fmt_ci([x * 100 if x is not None else None for x in sci])
                  + (" %" if sci[0] is not None else ""))
    for key in ("visits", "rework_rounds", "supplements"):
        t.add_row(tr(BY_NAME[key].label), fmt(k[key]["mean"], 2), fmt_ci(k[key]["ci95"], 2))
    for part in ("service", "queue", "applicant"):
        v = k["lead_time_split_days"][part]
        t.add_row(tr(BY_NAME[f"lead_time_split_days.{part}"].label), fmt(v["mean"]),
                  fmt_ci(v["ci95"]))
    t.add_row(tr(BY_NAME["throughput_per_day"].label), fmt(k["throughput_per_day"]["mean"], 2),
              fmt_ci(k["throughput_per_day"]["ci95"], 2))
    for key in ("gov_cost_per_case", "applicant_cost_per_case"):
        if key in k:  # the scenario has costs
            kpi = BY_NAME[key]
            t.add_row(f"{tr(kpi.label)} ({k['currency']})", kpi.format(k[key]["mean"]),
                      fmt_ci(k[key]["ci95"], 0))
    console.print(t)
    scenario = model.scenario if model is not None else None
    items = scenario.items if scenario is not None else {}
    if d.get("items"):
        t = Table(title=tr("Items with a statutory limit: decisions within it"),
                  title_justify="left")
        for col in ("item", "limit (work days)", "decided within", "95% CI",
                    "mean to decision (work days)"):
            t.add_column(tr(col), justify="left" if col == "item" else "right")
        for name, it in d["items"].items():
            for key, lim, unit, mean in (
                    ("within_limit_share", it["limit_workdays"], "", it["decision_workdays"]),
                    ("within_limit_hours_share", it.get("limit_hours"), " h",
                     it.get("decision_hours"))):
                if lim is None:
                    continue
                share = it[key]
                t.add_row(escape(part_name(name, items.get(name))), f"{lim:g}{unit}",
                          "-" if share is None else f"{share:.1%}",
                          fmt_ci([x * 100 if x is not None else None
                                  for x in it[f"{key}_ci95"]]),
                          fmt(mean, 2) + unit)
        console.print(t)
    t = Table(title=tr("Stations (busiest first)"), title_justify="left")
    for col in ("station", "servers", "util.", "wait (h)", "wait (work h)", "queue",
                "queued (days/case)"):
        t.add_column(tr(col), justify="left" if col == "station" else "right",
                     no_wrap=col == "station")
    for name, s in d["stations"].items():
        q = s.get("queue_hours_per_case")
        t.add_row(escape(station_name(name, scenario))
                  + (tr(" (pool)") if s.get("kind") == "pool" else ""), str(s["servers"]),
                  "-" if s["utilization"] is None else f"{s['utilization']:.0%}",
                  fmt(s["mean_wait_hours"], 1), fmt(s.get("mean_wait_workhours"), 1),
                  fmt(s["mean_queue_length"], 1), "-" if q is None else fmt(q / 24.0, 1))
    console.print(t)


#: stages the terminal lists (the biggest; the JSON and the report have them all)
MAX_STAGES = 20


def print_stages(stages: dict[str, Any]) -> None:
    """Where the lead time goes, by stage (calendar days on the critical path)."""
    routes = {n.split("/", 1)[0] for n in stages}
    more = len(stages) - MAX_STAGES
    if more > 0:  # the stages that weigh most in the mean lead time, in route order
        def weight(n: str) -> float:
            return (stages[n]["total"]["mean"] or 0.0) * (stages[n].get("route_share") or 0.0)

        keep = set(sorted(stages, key=weight, reverse=True)[:MAX_STAGES])
        stages = {n: v for n, v in stages.items() if n in keep}
    t = Table(title=tr("Where the lead time goes (calendar days on the critical path, means)")
              + (tr(": the {n} biggest stages, {more} more in --json", n=MAX_STAGES, more=more)
                 if more > 0 else ""), title_justify="left")
    for col in ("stage", "government work", "queues", "applicant", "total", "95% CI (sim. "
                "noise)", "share"):
        t.add_column(tr(col), justify="left" if col == "stage" else "right",
                     no_wrap=col == "stage")
    for name, v in stages.items():
        t.add_row(escape(name if len(routes) > 1 else name.split("/", 1)[-1]),
                  fmt(v["service"]["mean"]), fmt(v["queue"]["mean"]),
                  fmt(v["applicant"]["mean"]), fmt(v["total"]["mean"]),
                  fmt_ci(v["total"]["ci95"]),
                  "-" if v["share"] is None else f"{v['share']:.0%}")
    console.print(t)


def print_checks(rows: list[dict[str, Any]]) -> None:
    t = Table(title=tr("Checks against the source (simulated: mean and 95% CI over "
                       "replications)"), title_justify="left")
    for col in ("check", "source's figure", "simulated", "95% CI", "holds"):
        t.add_column(tr(col), justify="left" if col == "check" else "right",
                     overflow="fold" if col == "check" else "ellipsis")
    for r in rows:
        share = r["observable"] == "completed_share"

        def v(x: Any, share: bool = share) -> str:
            return "-" if x is None else (f"{x:.1%}" if share else f"{x:,.1f}")

        tol = f"{r['tolerance']:.0%}" if share else f"{r['tolerance']:g}"
        t.add_row(escape(r["name"]), f"{v(r['figure'])} ± {tol}", v(r["simulated"]),
                  f"[{v(r['ci95'][0])}, {v(r['ci95'][1])}]",
                  tr("yes") if r["holds"] else f"[bold]{tr('no')}[/bold]")
    console.print(t)


def print_attributes(by: dict[str, Any]) -> None:
    """The lead time by case attribute value (completed cases after the warm-up)."""
    t = Table(title="Lead time by case attribute (completed cases, calendar days)",
              title_justify="left")
    for col in ("attribute", "value", "completed per rep.", "mean", "95% CI (sim. noise)"):
        t.add_column(col, justify="left" if col in ("attribute", "value") else "right")
    for name, vals in by.items():
        for value, v in vals.items():
            t.add_row(escape(name), escape(value), fmt(v["completed"]),
                      fmt(v["lead_time_days"]["mean"]), fmt_ci(v["lead_time_days"]["ci95"]))
    console.print(t)


def print_uncertainty(res: UncertaintyResult) -> None:
    n = len(res.sets)
    t = Table(title=escape(tr("How sure: {n} parameter sets over the [uncertainty] ranges "
                              "(Latin hypercube, common random numbers)", n=n)),
              title_justify="left")
    for col in ("KPI", "mean", "95% CI (sim. noise only)", "95% with the assumptions"):
        t.add_column(tr(col), justify="left" if col == "KPI" else "right")
    for k in res.kpis:
        iv = res.interval(k)
        kpi = BY_NAME.get(k.split(".")[0])
        label = tr(kpi.label) if kpi is not None else k
        scale, digits = (100.0, 1) if k.endswith("share") else (1.0, 1)
        so, wa = iv["simulation_only"], iv["with_assumptions"]

        def pct(v: Any, scale: float = scale) -> Any:
            # a share's interval stays within [0, 100] %
            return None if v is None else (min(max(v, 0.0), 1.0) * 100 if scale == 100
                                           else v)

        t.add_row(f"{label}{' (%)' if scale == 100 else ''}", fmt(pct(so["mean"]), digits),
                  fmt_ci([pct(x) for x in so["ci95"]], digits),
                  fmt_ci([pct(x) for x in wa["interval95"]], digits))
    console.print(t)
    k = res.kpis[0]
    sens = res.sensitivity(k)
    t = Table(title=tr("What moves {kpi} most (swing: its change over the range, linear fit)",
                       kpi=k), title_justify="left")
    for col in ("assumption", "range", "swing", "", "Spearman"):
        t.add_column(tr(col) if col else "",
                     justify="left" if col in ("assumption", "") else "right",
                     overflow="fold" if col == "assumption" else "ellipsis")
    rows = sens.to_dict("records")
    top = max((abs(float(r["swing"])) for r in rows if r["swing"] == r["swing"]), default=0.0)
    for r in rows:
        swing = float(r["swing"])
        bar = "" if not top or swing != swing else "█" * max(1, round(12 * abs(swing) / top))
        t.add_row(str(r["assumption"]), f"{float(r['low']):g} - {float(r['high']):g}",
                  fmt(swing, 2), ("-" if swing < 0 else "+") + bar,
                  fmt(float(r["spearman"]), 2))
    console.print(t)


def cmd_run(args: argparse.Namespace) -> int:
    check_run_options(args)
    stream = bool(args.stream or args.cases)
    if stream:
        for flag, value in (("--log", args.log), ("--out", args.out)):
            if value:
                raise UsageError(f"{flag} needs every case and visit kept: it does not go "
                                 f"with --stream or --cases")
        if args.engine != "vector":
            raise UsageError(f"--stream runs on the vector engine (got --engine {args.engine})")
        if args.workers not in (None, 1):
            raise UsageError(f"--stream runs the replications one after another (got "
                             f"--workers {args.workers})")
        args.workers = 1
        if args.cases:
            check_cases_target(args.cases)
    if args.log:  # a bad log path fails before the run, not after it
        log_format(args.log)
        if not Path(args.log).parent.is_dir():
            raise UsageError(f"{args.log}: the folder {Path(args.log).parent} does not exist")
    model = load_model(args.file, args.reform)
    n = args.replications or model.scenario.run.replications
    checks.validate(model, f"{Path(args.file).name}: ")
    compile_notice(args.engine)
    unc: UncertaintyResult | None = None
    if args.uncertainty is not None:
        if stream:
            raise UsageError("--uncertainty runs every parameter set whole: it does not go "
                             "with --stream or --cases")
        with progress_bar(n * (args.uncertainty + 1), "replications") as adv:
            unc = uncertainty(model, args.uncertainty, replications=args.replications,
                              seed=args.seed, engine=args.engine,
                              workers=args.workers or default_workers(), progress=adv,
                              max_memory=args.max_memory, where=Path(args.file).name)
        result = unc.base
    else:
        with progress_bar(n, "replications") as adv:
            result = run(model, replications=args.replications, seed=args.seed,
                         engine=args.engine, workers=args.workers or default_workers(),
                         progress=adv, max_memory=args.max_memory, event_log=bool(args.log),
                         stream=stream, cases_out=args.cases)
    d = result.to_dict()
    if unc is not None:
        d["uncertainty"] = unc.to_dict()
    if args.json:
        write_json_out(args.json, d)
    events = write_log(event_chunks(result), args.log) if args.log else 0
    if getattr(args, "out", None):
        from sim.present import report  # matplotlib: only when a report is asked for

        report_path = report.write_run_report(result, args.out)
    if not args.quiet:
        print_run(d, result.model)
        if d["kpis"].get("lead_time_by_attribute"):
            print_attributes(d["kpis"]["lead_time_by_attribute"])
        if d.get("checks"):
            print_checks(d["checks"])
        if unc is not None:
            print_uncertainty(unc)
        if args.json:
            written("JSON", args.json)
        if getattr(args, "out", None):
            written("report", str(report_path))
        if args.cases:
            written("per-case records", args.cases)
        if args.log:
            console.print(tr("event log written to {path} ({events} events, {n} replications)",
                             path=args.log, events=f"{events:,}", n=result.replications),
                          soft_wrap=True)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    model = load_model(args.file, args.reform)
    s = model.scenario
    console.print(f"{args.file}: " + tr("valid ({classes} classes, {stations} stations, {items} "
                                        "items, {routes} routes)", classes=len(s.classes),
                                        stations=len(s.stations), items=len(s.items),
                                        routes=len(s.routes)))
    for name, rho in model.offered_load().items():
        console.print(f"  {station_name(name, s)}: " + tr("offered load {v}", v=f"{rho:.0%}"))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    text = json.dumps(Scenario.model_json_schema(), indent=2) + "\n"
    if args.output:
        write_atomic(args.output, text)
        written("JSON Schema", args.output)
    else:
        sys.stdout.write(text)
    return 0


def register(sub: Any) -> None:
    """Add ``govsim run``, ``govsim validate`` and ``govsim schema``."""
    p = sub.add_parser("run", help="simulate a scenario and print its KPIs")
    p.add_argument("file", help="scenario file (TOML)")
    add_run_options(p, workers_default=None,
                    workers_help="processes to spread replications over (default: every CPU, "
                                 f"{default_workers()} here; the numbers do not depend on it)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--log", metavar="PATH",
                   help="write the simulated event log, every replication (format by "
                        "suffix: .csv, .csv.gz, .parquet, .xes, .xes.gz)")
    p.add_argument("--out", metavar="DIR", help="write a report folder (HTML, CSV, JSON)")
    p.add_argument("--uncertainty", type=int, metavar="N",
                   help="also run N parameter sets drawn over the scenario's [uncertainty] "
                        "ranges, and report an interval covering the assumptions beside the "
                        "simulation-only one, and which assumption moves the answer most")
    p.add_argument("--stream", action="store_true",
                   help="draw and simulate a chunk of cases at a time and keep only the "
                        "summaries (vector engine; same tables and JSON, a fraction of the "
                        "memory)")
    p.add_argument("--cases", metavar="PATH",
                   help="write the per-case records of every replication as they are final "
                        "(.parquet, .csv, .csv.gz; implies --stream)")
    p.add_argument("--quiet", "-q", action="store_true", help="print no tables")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a scenario file")
    p.add_argument("file")
    p.add_argument("--reform", action="append", default=[], metavar="NAME[:ARGS]")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    p.add_argument("--output", "-o", metavar="PATH", help="write it to a file")
    p.set_defaults(func=cmd_schema)
