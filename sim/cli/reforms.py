"""``govsim reforms`` (list the reform catalogue, or describe one reform) and ``govsim
reform`` (apply reforms to a scenario file, show what changed, write it out)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from sim import api
from sim.cli.common import console, written
from sim.errors import UsageError
from sim.files import write_atomic
from sim.i18n import name as part_name
from sim.i18n import t as tr
from sim.model import scenario as scenario_io
from sim.model.rewrite import rewrite
from sim.reforms import CATALOGUE, changes, describe_changes, lookup


def _print_catalogue(name: str | None) -> None:
    if name:
        r = lookup(name)
        console.print(f"[bold]{r.name}[/bold] -- {r.title}"
                      + (f"  (aliases: {', '.join(r.aliases)})" if r.aliases else ""))
        for para in r.doc.split("\n\n"):
            console.print(" ".join(para.split()), markup=False, highlight=False)
            console.print()
        t = Table(title=tr("arguments"), title_justify="left")
        for col in ("argument", "type", "default", "meaning"):
            t.add_column(tr(col))
        for a in r.args:
            t.add_row(a.name, a.type_text(), a.default_text(), a.help)
        console.print(t)
        return
    t = Table(title=escape(tr("Reforms (govsim reforms NAME for details; use as --reform "
                              "NAME[:ARGS])")), title_justify="left")
    t.add_column(tr("reform"), no_wrap=True)
    t.add_column(tr("what it does"), overflow="fold")  # Chinese has no spaces to wrap at
    t.add_column(tr("arguments (default)"))
    for r in CATALOGUE.values():
        args = ", ".join(f"{a.name}={a.default_text()}" if not a.required else f"{a.name}"
                         for a in r.args)
        t.add_row(r.name, tr("{name}: {what}", name=part_name(r.title, r), what=tr(r.summary)),
                  args or "-")
    console.print(t)


def cmd_reforms(args: argparse.Namespace) -> int:
    _print_catalogue(args.name)
    return 0


def cmd_reform(args: argparse.Namespace) -> int:
    before = scenario_io.load(args.file)
    specs = [*before.reforms, *args.reform]
    if not specs:
        raise UsageError("no reform to apply: give --reform NAME[:ARGS] (see `govsim reforms`)")
    after = api.load(args.file, args.reform)
    diff = changes(before, after)
    if args.write and args.write != "-":
        out = Path(args.write)
        if not out.parent.exists():
            raise UsageError(f"--write: the folder {out.parent} does not exist")
        # the file's own comments and layout kept: only what the reforms changed is edited
        write_atomic(out, rewrite(Path(args.file).read_text(encoding="utf-8"), before, after,
                                  Path(args.file).parent))
    elif args.write == "-":
        sys.stdout.write(scenario_io.to_toml(after))
        return 0
    mats = (sum(i.materials for i in before.items.values()),
            sum(i.materials for i in after.items.values()))
    console.print(f"[bold]{escape(args.file)}[/bold]: " + escape(tr(
        "{n} reform(s) applied: ", n=len(specs)) + "; ".join(specs)), highlight=False)
    console.print("  " + tr("items {i0} -> {i1}, materials {m0} -> {m1}, stations {s0} -> {s1}, "
                            "pools {p0} -> {p1}", i0=len(before.items), i1=len(after.items),
                            m0=mats[0], m1=mats[1], s0=len(before.stations),
                            s1=len(after.stations), p0=len(before.pools), p1=len(after.pools)))
    lines = describe_changes(before, after, diff)
    limit = len(lines) if args.all else 40
    for line in lines[:limit]:
        console.print(f"  {line}", markup=False, highlight=False)
    if len(lines) > limit:
        console.print("  " + tr("... and {n} more changes (--all shows them)",
                                n=len(lines) - limit))
    if args.write:
        written("reformed scenario", args.write)
    return 0


def register(sub: Any) -> None:
    """Add ``govsim reforms`` (the catalogue) and ``govsim reform`` (apply and write)."""
    if "reforms" in getattr(sub, "choices", {}):
        return  # already added
    p = sub.add_parser("reforms", help="list the reform catalogue",
                       description="List the reforms, or describe one in full.")
    p.add_argument("name", nargs="?", help="a reform to describe")
    p.set_defaults(func=cmd_reforms)

    p = sub.add_parser(
        "reform", help="apply reforms to a scenario and write it out",
        description="Apply the file's own reforms list and each --reform, in order; show what "
                    "changed; with --write, save the reformed scenario (atomically) as a file "
                    "that loads to the same scenario (its reforms list is emptied and the "
                    "applied specs are recorded under assumptions).",
        epilog="example: govsim reform scenarios/hohhot-construction-2023.toml "
               "--reform cut_materials:total=145 --reform online:0.9 --write reformed.toml")
    p.add_argument("file", help="scenario file (TOML)")
    p.add_argument("--reform", action="append", default=[], metavar="NAME[:ARGS]",
                   help="a reform to apply (repeatable; see `govsim reforms`)")
    p.add_argument("--write", "-w", metavar="OUT.toml",
                   help="write the reformed scenario here ('-' prints it as TOML)")
    p.add_argument("--all", action="store_true", help="list every changed field")
    p.set_defaults(func=cmd_reform)
