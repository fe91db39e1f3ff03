"""The ``govsim`` command line: the one place that parses flags and prints tables.

Each command lives in a module of this package with a ``register(subparsers)`` function;
:data:`COMMANDS` lists them, in the order ``govsim --help`` shows them. Every error a user
can cause is a :class:`~sim.errors.GovsimError`: it is printed as one line and the exit
code is 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from sim import i18n
from sim.cli import common, process
from sim.errors import GovsimError

#: the command modules of this package, in the order ``govsim --help`` lists them; each has
#: ``register(sub)``
COMMANDS: tuple[str, ...] = ("run", "reforms", "compare", "levers", "sweep", "staff",
                             "calibrate", "score", "serve", "completion")
#: the module that registers each command: a command line naming one imports that module
#: alone (``govsim run`` loads no calibration, serving or plotting code); any other (help,
#: a typo, ``completion``, which prints every command) builds the whole parser
COMMAND_MODULES: dict[str, str] = {
    "run": "run", "validate": "run", "schema": "run", "reforms": "reforms",
    "reform": "reforms", "compare": "compare", "levers": "levers", "sweep": "sweep",
    "staff": "staff", "calibrate": "calibrate", "score": "score", "serve": "serve",
    "completion": "completion",
}


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"sim.cli.{name}")


def _command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names (its first word that is no option), if any."""
    first = next((w for w in argv if not w.startswith("-")), None)
    return first if first in COMMAND_MODULES and first != "completion" else None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``govsim`` parser; with ``argv`` naming a command (not ``completion``), only
    the commands of that command's module are registered."""
    parser = argparse.ArgumentParser(
        prog="govsim", description="Simulate government-service processes and their reforms.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the program's version number and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = _command_of(argv) if argv is not None else None
    for name in (COMMAND_MODULES[command],) if command else COMMANDS:
        _module(name).register(sub)
    if "completion" in sub.choices:  # it prints the whole parser
        sub.choices["completion"].set_defaults(root_parser=parser)
    for p in sub.choices.values():  # every command prints or writes in a language
        p.add_argument("--lang", default=None, metavar="LANG",
                       help=f"language of tables, reports and figures: {', '.join(i18n.LANGS)} "
                            f"(default: ${i18n.ENV}, else en)")
    return parser


def entry() -> NoReturn:
    """The ``govsim`` console command (and ``python -m sim``): :func:`main` in a process
    that keeps freed memory for the next replication and ends without tearing the
    interpreter down (:mod:`sim.cli.process`; about 0.4 s of a ``govsim run``)."""
    process.keep_freed_memory()
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, --version, a usage error (printed)
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    process.finish(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    to_stderr = common.console.stderr  # --json - sends the tables to stderr for one command
    try:
        return _dispatch(args)
    finally:
        common.console.stderr = to_stderr
        i18n.set_lang(None)  # the next call (a test, an embedding program) chooses again


def _version() -> str:
    import importlib.metadata as metadata  # ~20 ms: read only when --version asks for it

    try:
        return metadata.version("govsim")
    except metadata.PackageNotFoundError:  # a bare checkout, not installed
        return "unknown (not installed)"


class _Version(argparse.Action):
    """``--version``: argparse's own, but the version read only when asked."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        sys.stdout.write(f"govsim {_version()}\n")
        parser.exit()


def _dispatch(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            i18n.set_lang(i18n.resolve(getattr(args, "lang", None)))
            code = int(args.func(args))
        except GovsimError as exc:
            _flush_warnings(caught)
            print(f"govsim: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("govsim: interrupted", file=sys.stderr)
            return 130
    _flush_warnings(caught)
    return code


def _flush_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen = set()
    for w in caught:
        msg = str(w.message)
        if msg not in seen and not issubclass(w.category, DeprecationWarning):
            seen.add(msg)
            print(f"govsim: warning: {msg}", file=sys.stderr)


if __name__ == "__main__":
    entry()
