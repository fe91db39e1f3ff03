"""``python -m benchmarks [--quick] [--json PATH] [--compare benchmarks/baseline.json]``.

Runs the benchmarks, prints a table, optionally writes the figures as JSON and compares
them with a baseline (exit 1 if a ratio regressed beyond the baseline's tolerance).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.suite import compare, run_all, table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes (CI: < 2 minutes)")
    p.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    p.add_argument("--compare", metavar="BASELINE",
                   help="exit 1 if a ratio regressed beyond the baseline's tolerance")
    p.add_argument("--only", action="append", metavar="SECTION",
                   help="run only this section (tandem_mmc, construction, scaling, memory, "
                        "score, calibrate, draw, command, workers, streamed, serve)")
    args = p.parse_args(argv)
    figures: dict[str, Any] = run_all(quick=args.quick, only=args.only)
    print(table(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"\nfigures written to {args.json}")
    if args.compare:
        baseline = json.loads(Path(args.compare).read_text(encoding="utf-8"))
        if baseline.get("meta", {}).get("quick") != figures["meta"]["quick"]:
            print(f"\nnote: {args.compare} was measured "
                  f"{'with' if baseline.get('meta', {}).get('quick') else 'without'} --quick; "
                  "sizes differ, so ratios may differ too")
        problems = compare(figures, baseline)
        if problems:
            print(f"\nREGRESSION against {args.compare}:")
            for line in problems:
                print(f"  {line}")
            return 1
        print(f"\nno regression against {args.compare} "
              f"(tolerance {baseline.get('tolerance', 0.3):.0%} unless stated per figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
