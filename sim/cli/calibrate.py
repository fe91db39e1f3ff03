"""``govsim calibrate LOG --out scenario.toml``: a scenario discovered from an event log."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from sim.calibrate import DEFAULT_MIN_SHARE, calibrate
from sim.calibrate.view import parse_date
from sim.cli.common import add_log_options, console, fmt, log_mapping, written
from sim.errors import UsageError
from sim.files import write_atomic
from sim.i18n import t as tr
from sim.logs import read


def _pair(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    parts = text.split(":")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise UsageError(f"--rework must be REQUEST:ANSWER, two activities (got {text!r})")
    return parts[0].strip(), parts[1].strip()


def _share(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = float("nan")
    if not 0.0 < x <= 1.0:
        raise UsageError(f"--min-share must be a number in (0, 1] (got {text!r})")
    return x


def cmd_calibrate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".toml":
        raise UsageError(f"--out {args.out}: a scenario file must end in .toml")
    if not out.parent.is_dir():
        raise UsageError(f"--out {args.out}: the folder {out.parent} does not exist")
    if args.arrivals_out and Path(args.arrivals_out).suffix.lower() != ".csv":
        raise UsageError(f"--arrivals-out {args.arrivals_out}: an arrivals file must end "
                         "in .csv")
    share = _share(args.min_share)
    rework = _pair(args.rework)
    decision = [a.strip() for a in args.decision.split(",") if a.strip()] \
        if args.decision else []
    until = parse_date(args.train_until)
    log = read(args.log, **log_mapping(args))
    result = calibrate(log, train_until=until, decision=decision, rework=rework,
                       min_share=share, name=args.name, log_name=Path(args.log).name)
    write_atomic(out, result.toml())
    if args.arrivals_out:
        write_atomic(args.arrivals_out, log.arrivals_csv())
    if not args.quiet:
        print_summary(log.summary(), result.summary, result.approximations)
        written("scenario", str(out))
        if args.arrivals_out:
            console.print(f"case starts of all {log.n_cases:,} cases written to "
                          f"{args.arrivals_out} (recorded arrivals: docs/model.md)")
    return 0


def print_summary(line: str, s: dict[str, Any], approx: list[str]) -> None:
    console.print(line)
    t = Table(title=tr("Calibrated"), title_justify="left")
    t.add_column(tr("what"))
    t.add_column(tr("value"), justify="right")
    rows = [("training cases", s["cases"]), ("events", s["events"]),
            ("items", s["items"]), ("stages (parallel)",
                                    f"{s['stages']} ({s['parallel_stages']})"),
            ("stations (servers)", f"{s['stations']} ({s['servers']})"),
            ("arrivals per working day", fmt(s["rate_per_workday"], 3)),
            ("ending without a decision", "-" if s.get("withdrawn_share") is None
             else f"{s['withdrawn_share']:.1%}"),
            ("deficiency per submission", fmt(s.get("deficiency"), 3)),
            ("fix time, median (days)", fmt(s.get("fix_median_days"), 1)),
            ("term (calendar / working days)",
             f"{fmt(s.get('term_days'))} / {fmt(s.get('term_workdays'))}"),
            ("closed dates", s["closed_dates"])]
    for k, v in rows:
        t.add_row(tr(k), str(v))
    console.print(t)
    console.print(f"[bold]{tr('Approximations')}[/bold] "
                  + tr("(what the schema cannot express):"))
    for a in approx:
        console.print(f"  - {a}", highlight=False)


def register(sub: Any) -> None:
    """Add ``govsim calibrate``."""
    p = sub.add_parser("calibrate", help="discover a scenario from an event log")
    p.add_argument("log", help="event log (.xes, .xes.gz, .csv, .csv.gz, .parquet)")
    p.add_argument("--out", "-o", required=True, metavar="PATH",
                   help="the scenario file to write (.toml)")
    p.add_argument("--train-until", metavar="DATE",
                   help="train on the cases whose first event is before DATE (YYYY-MM-DD)")
    p.add_argument("--decision", metavar="ACT[,ACT...]",
                   help="activities whose first completion is the decision")
    p.add_argument("--rework", metavar="REQUEST:ANSWER",
                   help="the missing-information request and the applicant's answer")
    p.add_argument("--min-share", default=str(DEFAULT_MIN_SHARE), metavar="X",
                   help="keep activities in at least this share of the cases "
                        "(default: %(default)s)")
    p.add_argument("--name", help="the scenario's name")
    p.add_argument("--arrivals-out", metavar="PATH.csv",
                   help="also write every case's start as a recorded-arrivals CSV "
                        "(classes.NAME.arrivals.file replays it)")
    add_log_options(p)
    p.add_argument("--quiet", "-q", action="store_true", help="print no summary")
    p.set_defaults(func=cmd_calibrate)
