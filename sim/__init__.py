"""govsim: a discrete-event simulator of government-service performance.

Quick start::

    import sim
    result = sim.run("scenarios/hohhot-construction-2023.toml", replications=10)
    result.summary()          # KPIs with 95% confidence intervals
    result.cases              # one row per case (pandas)
    result.station_summary()  # utilization and waits, busiest station first

``sim.plots`` (figures; imports matplotlib on first use) is ``sim.present.plots``.
``sim.calibrate`` is the package that discovers a scenario from an event log:
``sim.calibrate.calibrate(log, ...)`` (also ``sim.api.calibrate``; the package keeps the
name, so ``import sim.calibrate.fit`` works).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sim.errors import GovsimError, ReformError, ScenarioError, UsageError

if TYPE_CHECKING:
    from sim.api import (
        apply_reforms,
        compare,
        levers,
        load,
        load_model,
        run,
        score,
        staff,
        sweep,
        uncertainty,
    )

#: the names ``sim`` takes from :mod:`sim.api`, imported on first use: a worker process or
#: ``import sim.engines`` does not pay for the experiments and the calibrator
_API = frozenset({"apply_reforms", "compare", "levers", "load", "load_model", "run", "score",
                  "staff", "sweep", "uncertainty"})

__all__ = [
    "GovsimError",
    "ReformError",
    "ScenarioError",
    "UsageError",
    "apply_reforms",
    "compare",
    "levers",
    "load",
    "load_model",
    "plots",
    "run",
    "score",
    "staff",
    "sweep",
    "uncertainty",
]


def __getattr__(name: str) -> Any:
    # ``sim.__version__``: read from the installed metadata when asked (importlib.metadata
    # costs every process ~20 ms at import, and a worker or a command never asks)
    if name == "__version__":
        import importlib.metadata as metadata  # ~20 ms, see above

        try:
            return metadata.version("govsim")
        except metadata.PackageNotFoundError:  # pragma: no cover - a bare checkout
            return "unknown"
    # ``sim.plots``: matplotlib is imported when a figure is asked for, not with ``import sim``
    if name == "plots":
        return import_module("sim.present.plots")
    if name in _API:
        return getattr(import_module("sim.api"), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
