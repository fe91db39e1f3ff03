"""``govsim serve``: the planner's page on a local web server (``sim.serve``)."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
from pathlib import Path
from typing import Any

from sim import engines
from sim.cli.common import compile_notice, console, err_console
from sim.errors import UsageError
from sim.experiments.pool import default_workers
from sim.experiments.settings import check
from sim.experiments.sources import load_model
from sim.model import scenario as scenario_io

#: where shipped scenarios are looked for when none is given
SHIPPED = (Path("scenarios"), Path(__file__).resolve().parents[2] / "scenarios")
LOOPBACK = "127.0.0.1"


def shipped_scenarios() -> list[Path]:
    for folder in SHIPPED:
        # the page opens on the first: Hohhot's construction approval before its reform
        found = sorted(folder.glob("*.toml"), key=lambda p: (
            not p.stem.startswith("hohhot-"), "construction" not in p.stem,
            "reformed" in p.stem, p.stem))
        if found:
            return found
    return []


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """A port in use (or a host that cannot be bound) is a one-line error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"--port {port}: the port is in use on {host} (choose "
                                 "another with --port, or stop what serves it)") from None
            raise UsageError(f"--host {host}: cannot serve on it ({exc.strerror or exc})") \
                from None


def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65_536:
        raise UsageError(f"--port must be an integer in [1, 65535] (got {args.port})")
    check(engine=args.engine, workers=args.workers, flags=True)
    paths = [Path(p) for p in args.scenarios] or shipped_scenarios()
    if not paths:
        raise UsageError("no scenario to serve: give SCENARIO files (none found in "
                         "./scenarios)")
    for p in paths:
        scenario_io.load(p)  # each file checked once, before the server starts
    if not is_loopback(args.host):
        err_console.print(f"govsim: warning: serving on {args.host}, not loopback: anyone who "
                          "can reach this machine can run simulations and upload scenarios "
                          "(there is no login)", markup=False, highlight=False)
    check_port(args.host, args.port)
    try:
        import uvicorn  # the serve extra: pip install 'govsim[serve]'

        from sim.serve.app import create_app  # starlette, jinja2: the serve extra
        from sim.serve.variant import Scenarios  # beside the app: the serve extra's package
    except ImportError as exc:
        raise UsageError(f"govsim serve needs the serve extra ({exc.name} is missing): "
                         "pip install 'govsim[serve]'") from None
    compile_notice(args.engine)
    if args.engine == "vector":
        engines.warm(load_model(str(paths[0])))  # the first what-if does not compile
    app = create_app(Scenarios.from_paths(paths), workers=args.workers, engine=args.engine,
                     host=f"{args.host}:{args.port}")
    url = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}/"
    console.print(f"govsim serve: {len(paths)} scenario(s) on {url} (Ctrl-C stops it)",
                  markup=False, highlight=False)
    sys.stdout.flush()
    config: Any = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                                 access_log=args.log_level == "info")
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 2


def register(sub: Any) -> None:
    """Add ``govsim serve``."""
    p = sub.add_parser(
        "serve", help="the planner's what-if page on a local web server",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Serve a web page where a planner picks a scenario (shipped or uploaded), switches reforms
on with their arguments, changes staffing per station and the replications, and sees the
variant against the baseline on common random numbers: the answer in a sentence, the KPIs
with paired differences and 95% CIs, the lead-time distributions, where the time goes and
the stations. The page's address holds the variant (a link reproduces it); it downloads
the variant's scenario TOML, the comparison's JSON and its HTML report. English and
Chinese (?lang=zh).""",
        epilog="""\
examples:
  govsim serve                                  # the shipped scenarios on 127.0.0.1:8000
  govsim serve scenarios/hohhot-construction-2023.toml --port 8080""")
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                   help="scenario files to offer (default: every ./scenarios/*.toml)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument("--host", default=LOOPBACK,
                   help="address to listen on (default: %(default)s, this machine only; "
                        "another prints a warning)")
    p.add_argument("--workers", type=int, default=min(2, default_workers()), metavar="W",
                   help="processes a what-if spreads its replications over (default: "
                        "%(default)s; 1 runs them in the server's job thread; the numbers do "
                        "not depend on it)")
    p.add_argument("--engine", default="vector", metavar="NAME",
                   help="simulation engine (default: %(default)s)")
    p.add_argument("--log-level", default="warning",
                   choices=("critical", "error", "warning", "info", "debug"),
                   help="the web server's log level (default: %(default)s)")
    p.set_defaults(func=cmd_serve)
