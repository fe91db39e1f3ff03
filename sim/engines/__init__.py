"""Simulation engines. Both implement docs/model.md on the same drawn inputs.

``des``: the SimPy reference, one process per case. ``vector``: the compiled core.
"""

from __future__ import annotations

from sim.errors import UsageError
from sim.inputs import Inputs
from sim.model.assembly import Model
from sim.results.records import RepResult

ENGINES = ("des", "vector")
DEFAULT_ENGINE = "vector"  # the compiled core; "des" is the SimPy reference


def simulate(engine: str, model: Model, inputs: Inputs, record_visits: bool = True) -> RepResult:
    """Run one replication on the named engine."""
    # the engines are imported when run: des imports simpy, vector compiles (or loads
    # from cache) its numba kernels; both are heavy for a command that runs neither
    if engine == "des":
        from sim.engines import des  # simpy: heavy, imported when this engine runs

        return des.simulate(model, inputs, record_visits=record_visits)
    if engine == "vector":
        from sim.engines import vector  # numba kernels: compiled or loaded when run

        return vector.simulate(model, inputs, record_visits=record_visits)
    raise UsageError(f"unknown engine '{engine}' (choose from: {', '.join(ENGINES)})")
