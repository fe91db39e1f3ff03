"""``govsim sweep``: a scenario over a grid of parameter values, resumable."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Iterator, Sequence
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
    fmt,
    progress_bar,
    write_json_out,
    written,
)
from sim.experiments.grid import fmt_value, parse_set
from sim.experiments.sweep import DEFAULT_METRIC, POINTS_FILE, sweep
from sim.i18n import t as tr
from sim.results.kpis import canonical


def register(sub: Any) -> None:
    """Add ``govsim sweep``."""
    p = sub.add_parser(
        "sweep", help="run a scenario over a grid of parameter values",
        description="Run a scenario over a grid: each --set PATH=VALUES adds a dimension "
        "(PATH a dotted path into the scenario, e.g. stations.planning.servers, or "
        "reform.NAME.ARG for a reform's argument, e.g. reform.proxy.windows; VALUES a "
        "list 2,3,4 or an inclusive range 3:6:1). Every point runs from the same seed. "
        "Results go to --out DIR as CSV, JSON and a heatmap; run the same command again "
        "and it resumes where it stopped.")
    p.add_argument("file", help="scenario file (TOML)")
    p.add_argument("--set", dest="sets", action="append", default=[], required=True,
                   metavar="PATH=VALUES", help="a swept parameter (repeatable)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for points.jsonl (resume), results.csv, results.json, "
                   "heatmap.png")
    add_run_options(p, workers_default=None,
                    workers_help="processes to spread points over (default: every CPU)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the points on a Dask cluster (e.g. tcp://10.0.0.5:8786)")
    p.add_argument("--metric", default=DEFAULT_METRIC, metavar="NAME",
                   help="metric of the heatmap and the printed table (default: %(default)s)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    p.add_argument("--quiet", "-q", action="store_true", help="print no table")
    p.set_defaults(func=cmd_sweep)


def _points_total(sets: Sequence[str]) -> int:
    n = 1
    for t in sets:
        n *= len(parse_set(t).values)
    return n


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a sweep like Ctrl-C (finished points are already on disk)."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def cmd_sweep(args: argparse.Namespace) -> int:
    workers = args.workers
    args.workers = workers or 1
    check_run_options(args)
    args.metric = canonical(args.metric)
    total = _points_total(args.sets)
    plain = not err_console.is_terminal and not args.quiet
    count = {"done": 0}

    def on_point(point: dict[str, Any], metrics: dict[str, Any], resumed: bool) -> None:
        count["done"] += 1
        if plain:
            what = " ".join(f"{k}={fmt_value(v)}" for k, v in point.items())
            val = metrics.get(args.metric)
            print(f"govsim sweep: point {count['done']}/{total} {'resumed' if resumed else 'done'}"
                  f" ({what}): {args.metric} = {fmt(val, 2)}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    compile_notice(args.engine)
    with _sigterm_as_interrupt(), progress_bar(total, "sweep points") as adv:
        res = sweep(args.file, args.sets, replications=args.replications, seed=args.seed,
                    engine=args.engine, reforms=args.reform, workers=workers,
                    scheduler=args.scheduler, out=args.out, progress=adv, on_point=on_point,
                    metric=args.metric, max_memory=args.max_memory)
    if args.json:
        write_json_out(args.json, res.to_dict())
    if not args.quiet:
        t = Table(title=escape(tr("Sweep of {scenario} ({n} points, {computed} computed, "
                                  "{resumed} resumed, {secs} s)",
                                  scenario=res.settings["scenario"], n=len(res.table),
                                  computed=res.computed, resumed=res.resumed,
                                  secs=f"{time.perf_counter() - t0:.1f}")), title_justify="left")
        cols = [*res.params, args.metric]
        for extra in ("lead_time_workdays.mean", "within_limit_share", "bottleneck"):
            if extra not in cols and extra in res.table.columns:
                cols.append(extra)
        for c in cols:  # the JSON key stays "bottleneck"; it is the busiest station
            t.add_column(tr("busiest station") if c == "bottleneck" else c,
                         justify="left" if c in ("bottleneck",) else "right")
        for _, r in res.table.iterrows():
            t.add_row(*[(f"{r[c]:.1%}" if c == "within_limit_share" and pd.notna(r[c])
                         else fmt(r[c], 2) if isinstance(r[c], float) else str(r[c]))
                        for c in cols])
        console.print(t)
        console.print(tr("results in {out}/ (results.csv, results.json, heatmap.png, {points})",
                         out=args.out, points=POINTS_FILE), soft_wrap=True)
        if args.json:
            written("JSON", args.json)
    return 0
