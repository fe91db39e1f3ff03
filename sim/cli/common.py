"""What every ``govsim`` command shares: the consoles, the run flags and their one check,
progress bars and number formats. Only ``sim.cli`` imports argparse and rich."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sim import i18n
from sim.engines import DEFAULT_ENGINE, ENGINES
from sim.experiments import budget, sources
from sim.experiments.settings import check
from sim.files import json_text, write_json
from sim.logs.eventlog import DUPLICATES


class _Console(Console):
    """A console whose tables fold Chinese text (no spaces to wrap at) instead of cutting
    it short with an ellipsis."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if i18n.is_zh():
            for o in objects:
                if isinstance(o, Table):
                    for col in o.columns:
                        if col.overflow == "ellipsis" and not col.no_wrap:
                            col.overflow = "fold"
        super().print(*objects, **kwargs)


console = _Console()
err_console = _Console(stderr=True)


def add_run_options(p: argparse.ArgumentParser, workers_default: int | None = 1,
                    workers_help: str = "processes to spread replications over (default: 1)",
                    reform_help: str = "apply a reform (repeatable; see `govsim reforms`)",
                    ) -> None:
    """Flags every simulating command shares (a command words its workers and reforms)."""
    p.add_argument("--replications", "-n", type=int, default=None, metavar="N",
                   help="replications (default: the scenario's run.replications)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="seed (default: the scenario's run.seed)")
    p.add_argument("--engine", default=DEFAULT_ENGINE, metavar="NAME",
                   help=f"simulation engine: {', '.join(ENGINES)} (default: %(default)s)")
    p.add_argument("--workers", type=int, default=workers_default, metavar="W",
                   help=workers_help)
    p.add_argument("--reform", action="append", default=[], metavar="NAME[:ARGS]",
                   help=reform_help)
    p.add_argument("--max-memory", type=float, default=None, metavar="GB",
                   help=f"refuse a run estimated to need more memory than this (default: "
                        f"${budget.ENV}, else half this machine's memory)")


def add_log_options(p: argparse.ArgumentParser) -> None:
    """The event-log column mapping every command that reads a log shares."""
    g = p.add_argument_group("log columns (defaults: the XES / pm4py names)")
    g.add_argument("--case", default="case:concept:name", metavar="COL", help="case id column")
    g.add_argument("--activity", default="concept:name", metavar="COL", help="activity column")
    g.add_argument("--timestamp", default="time:timestamp", metavar="COL",
                   help="timestamp column")
    g.add_argument("--resource", default="org:resource", metavar="COL", help="resource column")
    g.add_argument("--start-timestamp", default=None, metavar="COL",
                   help="start timestamp column (a log with start events)")
    g.add_argument("--duplicates", default="error", choices=DUPLICATES,
                   help="events repeating another's case, activity, timestamp, resource: "
                        "error, keep or drop (BPIC 2015 needs keep)")


def compile_notice(engine: str | None) -> None:
    """One line on standard error when the compiled engine has to be compiled first."""
    if (engine or DEFAULT_ENGINE) == "vector":
        from sim.engines import vector  # numba: the run about to start imports it anyway

        if not vector.kernels_cached():
            err_console.print("compiling the simulation engine on first use (about a minute; "
                              "later runs load it from numba's cache)")


def log_mapping(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`sim.logs.read` the log flags give."""
    return {"case": args.case, "activity": args.activity, "timestamp": args.timestamp,
            "resource": args.resource, "start_timestamp": args.start_timestamp,
            "duplicates": args.duplicates}


def check_run_options(args: argparse.Namespace) -> None:
    """The run flags' one check (:func:`sim.experiments.settings.check`), named by flag."""
    check(engine=args.engine, replications=args.replications, seed=args.seed,
          workers=args.workers, flags=True)
    if getattr(args, "json", None) == "-":
        # --json -: the JSON is standard output; tables and notes go to standard error
        console.stderr = True
    if getattr(args, "max_memory", None) is not None:
        budget.limit_bytes(args.max_memory)  # its rule, named by its flag


def write_json_out(path: str, data: Any) -> None:
    """``--json PATH``: the file, written atomically, or standard output for ``-``."""
    if path == "-":
        sys.stdout.write(json_text(data))
        sys.stdout.flush()
    else:
        write_json(path, data)


def written(what: str, path: str) -> None:
    """The line every command prints for each file it wrote (none for standard output)."""
    if path != "-":
        console.print(i18n.t("{what} written to {path}", what=i18n.t(what), path=path),
                      markup=False, highlight=False,
                      soft_wrap=True)  # one line, whatever the width: scripts read it


def load_model(path: str, reforms: Sequence[str] = ()) -> Any:
    """Load a scenario file, apply reforms, assemble the model; warnings go to stderr."""
    return sources.load_model(path, reforms=reforms)


@contextlib.contextmanager
def progress_bar(total: int, label: str) -> Iterator[Any]:
    """A rich progress bar on stderr (done, elapsed, time left); yields a callable
    advancing it by n."""
    prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                    console=err_console, transient=True,
                    disable=not err_console.is_terminal)
    with prog:
        task = prog.add_task(i18n.t(label), total=total)
        yield lambda n=1: prog.advance(task, n)


def fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return str(x)


def fmt_ci(ci: Sequence[Any] | None, digits: int = 1) -> str:
    if not ci or ci[0] is None:
        return "-"
    return f"[{ci[0]:,.{digits}f}, {ci[1]:,.{digits}f}]"
