"""A large construction run streamed through the front door, and its peak memory.

Not part of the gate (the lead wires :func:`streamed_run_peak_rss` into the suite).
:func:`construction_scenario` scales ``scenarios/hohhot-construction-2023.toml`` to a given
number of cases: every class's arrival rate by the same factor and every station's servers
by it too (rounded up), so each station's load stays what the scenario says (with the
rates alone the stations would be overloaded 200-fold and nothing would finish).

    python -m benchmarks.stream 1000000            # sim.run(..., stream=True), fresh process
    python -m benchmarks.stream 1000000 --cli      # govsim run --stream --cases, fresh process
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sim.experiments.sources import load
from sim.model import scenario as scenario_io
from sim.model.assembly import build
from sim.model.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
CONSTRUCTION = ROOT / "scenarios" / "hohhot-construction-2023.toml"


def construction_scenario(cases: int) -> Scenario:
    """The construction scenario with about ``cases`` arrivals a replication (rates and
    servers scaled by one factor)."""
    s = load(CONSTRUCTION)
    m = build(s, warn=False)
    f = cases / sum(m.expected_arrivals(c) for c in range(len(m.class_rate)))
    s = s.model_copy(deep=True)
    for c in s.classes.values():
        if c.rate is not None:  # (a class with recorded arrivals keeps them)
            c.rate *= f
    for st in s.stations.values():
        st.servers = max(1, math.ceil(st.servers * f))
    return s


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KB on Linux


def _child(cases: int, cases_out: str | None) -> None:
    """In a fresh process: one streamed replication through ``sim.run``; prints JSON."""
    import sim

    model = build(construction_scenario(cases), warn=False)
    t = time.perf_counter()
    result = sim.run(model, replications=1, seed=1, stream=True, cases_out=cases_out)
    seconds = time.perf_counter() - t
    d = result.to_dict()
    print(json.dumps({"peak_rss_mb": _peak_mb(), "seconds": seconds,
                      "cases_arrived_after_warmup": d["cases"]["arrived"],
                      "completed": d["cases"]["completed"],
                      "lead_time_workdays_mean": d["kpis"]["lead_time_workdays"]["mean"]}))


def streamed_run_peak_rss(cases: int = 1_000_000, cases_out: str | None = None,
                          ) -> dict[str, Any]:
    """Peak RSS (MB, getrusage of the child: interpreter, numba and numpy included) and wall
    time of one ``cases``-case construction replication run with ``sim.run(..., stream=True)``
    in a fresh process (per-case records to ``cases_out`` when given)."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            f"from benchmarks.stream import _child; _child({cases}, {cases_out!r})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    child = json.loads(out.stdout.strip().splitlines()[-1])
    child.update(cases=cases, within_2gb=child["peak_rss_mb"] <= 2048.0,
                 note="construction scenario, rates and servers scaled by one factor; "
                      "sim.run(stream=True) in a fresh process, peak RSS from getrusage")
    return dict(child)


def cli_peak_rss(cases: int = 1_000_000) -> dict[str, Any]:
    """The same through ``govsim run FILE --stream -n 1 --cases out.parquet`` (the scaled
    scenario written as a file), peak RSS of the command from getrusage of its children."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "construction-scaled.toml"
        scenario_io.save(construction_scenario(cases), path)
        out = Path(tmp) / "cases.parquet"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sim", "run", str(path), "--stream", "-n", "1",
                        "--seed", "1", "--cases", str(out), "-q"], check=True, cwd=ROOT)
        seconds = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        return {"cases": cases, "peak_rss_mb": rss, "seconds": seconds,
                "cases_file_mb": out.stat().st_size / 1e6, "within_2gb": rss <= 2048.0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stream")
    p.add_argument("cases", type=int, nargs="?", default=1_000_000)
    p.add_argument("--cli", action="store_true", help="through govsim run --stream --cases")
    a = p.parse_args(argv)
    print(json.dumps(cli_peak_rss(a.cases) if a.cli else streamed_run_peak_rss(a.cases),
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
