"""Simulation engines. Both implement docs/model.md on the same drawn inputs.

``des``: the SimPy reference, one process per case. ``vector``: the compiled core.
"""

from __future__ import annotations

from sim.errors import UsageError
from sim.inputs import Inputs, draw_cases
from sim.model.assembly import Model
from sim.results.records import RepResult

ENGINES = ("des", "vector")
DEFAULT_ENGINE = "vector"  # the compiled core; "des" is the SimPy reference


def simulate(engine: str, model: Model, inputs: Inputs, record_visits: bool = True,
             stages: bool = False) -> RepResult:
    """Run one replication on the named engine (``stages``: records carry the
    critical-path triple at each stage's end, ``RepResult.t_stages``)."""
    # the engines are imported when run: des imports simpy, vector compiles (or loads
    # from cache) its numba kernels; both are heavy for a command that runs neither
    if engine == "des":
        from sim.engines import des  # simpy: heavy, imported when this engine runs

        return des.simulate(model, inputs, record_visits=record_visits, stages=stages)
    if engine == "vector":
        from sim.engines import vector  # numba kernels: compiled or loaded when run

        return vector.simulate(model, inputs, record_visits=record_visits, stages=stages)
    raise UsageError(f"unknown engine '{engine}' (choose from: {', '.join(ENGINES)})")


def warm(model: Model, cases: int = 64) -> None:
    """Load the compiled kernels ``model`` runs on (from numba's cache, or compile them),
    by simulating its first ``cases`` cases: a pool forked afterwards inherits them, so
    its workers do not each load them again."""
    from sim.engines import vector  # numba kernels: compiled or loaded when run

    vector.simulate(model, draw_cases(model, 0, None, 0, cases), record_visits=True)

