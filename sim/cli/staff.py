"""``govsim staff``: the fewest servers per station that meet a target."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd
from rich.markup import escape
from rich.table import Table

from sim.cli.common import (
    add_run_options,
    check_run_options,
    compile_notice,
    console,
    err_console,
    write_json_out,
    written,
)
from sim.errors import UsageError
from sim.experiments.staffing import staff
from sim.i18n import t as tr
from sim.model.scenario import save
from sim.results.display import station_name


def register(sub: Any) -> None:
    """Add ``govsim staff``."""
    p = sub.add_parser(
        "staff", help="the fewest servers per station that meet a target",
        description="Size each service station with queueing formulas (Erlang C), then "
        "simulate and add servers at the busiest station until the target holds, then give "
        "back servers no station needs. Says so when no staffing within --max-servers "
        "meets the target.")
    p.add_argument("file", help="scenario file (TOML)")
    p.add_argument("--target", required=True, metavar="EXPR",
                   help="METRIC OP VALUE, e.g. 'lead_time_workdays.p90<=120', "
                   "'within_limit_share>=0.95', 'abandoned_share<=0.05', "
                   "'stations.agents.mean_wait_workhours<=0.01'")
    p.add_argument("--max-servers", type=int, default=None, metavar="N",
                   help="at most N servers per station (default: twice the scenario's or 20)")
    p.add_argument("--stations", default=None, metavar="A,B",
                   help="stations to staff (default: every service station)")
    p.add_argument("--confident", action="store_true",
                   help="the target must hold for the unfavourable end of the 95%% CI")
    p.add_argument("--max-evaluations", type=int, default=200, metavar="K",
                   help="simulate at most K staffings (default: %(default)s)")
    add_run_options(p)
    p.add_argument("--json", metavar="PATH", help="write the answer as JSON")
    p.add_argument("--write", metavar="OUT.toml", help="write the staffed scenario")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the answer")
    p.set_defaults(func=cmd_staff)


def cmd_staff(args: argparse.Namespace) -> int:
    check_run_options(args)
    if args.max_evaluations < 1:
        raise UsageError(f"--max-evaluations must be an integer >= 1 (got "
                         f"{args.max_evaluations})")
    stations = [s.strip() for s in args.stations.split(",") if s.strip()] \
        if args.stations else None

    def log(line: str) -> None:
        if not args.quiet:
            err_console.print(line, markup=False, highlight=False)

    compile_notice(args.engine)
    res = staff(args.file, args.target, max_servers=args.max_servers, stations=stations,
                replications=args.replications, seed=args.seed, engine=args.engine,
                reforms=args.reform, workers=args.workers, confident=args.confident,
                max_evaluations=args.max_evaluations, log=log,
                max_memory=args.max_memory)
    if args.json:
        write_json_out(args.json, res.to_dict())
    if args.write and res.scenario is not None:
        save(res.scenario, args.write)
    model_scenario = res.scenario
    t = Table(title=escape(tr("Staffing for {target}", target=str(res.target))
                           + (tr(" (95% CI end)") if res.target.confident else "")
                           + tr(": met with {n} servers (scenario {m}); simulated {kpi} = {v}",
                                n=sum(res.servers.values()),
                                m=sum(res.scenario_servers.values()), kpi=res.target.column,
                                v=f"{res.value:.4g}")), title_justify="left")
    for col in ("station", "scenario", "Erlang C start", "staffed", "change", "utilization",
                "mean wait (h)", "(working h)"):
        t.add_column(tr(col), justify="left" if col == "station" else "right",
                     no_wrap=col == "station")
    for name, row in res.table.iterrows():
        u = row["utilization"]
        w = row["mean_wait_hours"]
        ww = row["mean_wait_workhours"]
        t.add_row(escape(station_name(str(name), model_scenario)), str(int(row["scenario"])),
                  str(int(row["analytic"])),
                  str(int(row["staffed"])),
                  f"{int(row['change']):+d}", "-" if u is None or pd.isna(u) else f"{u:.0%}",
                  "-" if w is None or pd.isna(w) else f"{w:.3g}",
                  "-" if ww is None or pd.isna(ww) else f"{ww:.3g}")
    console.print(t)
    if args.json:
        written("JSON", args.json)
    if args.write:
        written("staffed scenario", args.write)
    sys.stdout.flush()
    return 0
