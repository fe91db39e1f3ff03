"""govsim: a discrete-event simulator of government-service performance.

Quick start::

    import sim
    result = sim.run("scenarios/hohhot-construction-2023.toml", replications=10)
    result.summary()          # KPIs with 95% confidence intervals
    result.cases              # one row per case (pandas)
    result.station_summary()  # utilization and waits, busiest station first
"""

from __future__ import annotations

from importlib import metadata

from sim.api import load, load_model, run
from sim.errors import GovsimError, ReformError, ScenarioError, UsageError
from sim.experiments.compare import compare
from sim.experiments.sweep import sweep

__all__ = [
    "GovsimError",
    "ReformError",
    "ScenarioError",
    "UsageError",
    "compare",
    "load",
    "load_model",
    "run",
    "sweep",
]
try:
    __version__ = metadata.version("govsim")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "unknown"

