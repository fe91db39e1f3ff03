"""govsim: a discrete-event simulator of government-service performance.

Quick start::

    import sim
    result = sim.run("scenarios/hohhot-construction-2023.toml", replications=10)
    result.summary()          # KPIs with 95% confidence intervals
    result.cases              # one row per case (pandas)
    result.station_summary()  # utilization and waits, busiest station first
"""

from __future__ import annotations

from typing import Any

from sim.api import load, load_model, run
from sim.errors import GovsimError, ReformError, ScenarioError, UsageError

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
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # compare and sweep live in their own modules and import more; load them on first use
    if name == "compare":
        from sim.compare import compare

        return compare
    if name == "sweep":
        from sim.sweep import sweep

        return sweep
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
