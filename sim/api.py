"""The Python API analysts use in notebooks: ``sim.load``, ``sim.run`` (and, from their
own modules, ``sim.compare``, ``sim.sweep``).

Everything the command line does goes through these functions, so a notebook and a
planner's terminal get the same numbers for the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sim.engines import DEFAULT_ENGINE
from sim.errors import UsageError
from sim.experiments.run import run as _run
from sim.model import scenario as scenario_io
from sim.model.assembly import Model, build
from sim.model.schema import Scenario
from sim.results.result import RunResult


def load(path: str | Path, reforms: Sequence[str] = ()) -> Scenario:
    """Read and check a scenario file; apply its own ``reforms`` list, then ``reforms``."""
    s = scenario_io.load(path)
    specs = [*s.reforms, *reforms]
    if specs:
        s = apply_reforms(s, specs, source=Path(path).name)
    return s


def apply_reforms(s: Scenario, specs: Sequence[str], source: str = "<scenario>") -> Scenario:
    """Apply reforms named as ``NAME[:ARGS]`` (see ``govsim reforms``)."""
    try:
        from sim import reforms as reform_mod
    except ModuleNotFoundError as exc:  # pragma: no cover - reforms ship with the package
        raise UsageError("reforms are not available in this installation") from exc
    result: Scenario = reform_mod.apply(s, specs, source=source)
    return result


def load_model(source: str | Path | Scenario | Model, reforms: Sequence[str] = ()) -> Model:
    """A model from a file path, a scenario or a model (reforms applied first)."""
    if isinstance(source, Model):
        if reforms:
            return build(apply_reforms(source.scenario, reforms))
        return source
    if isinstance(source, Scenario):
        s = apply_reforms(source, reforms) if reforms else source
        return build(s, s.scenario.name or "<scenario>")
    return build(load(source, reforms), Path(source).name)


def run(source: str | Path | Scenario | Model, replications: int | None = None,
        seed: int | None = None, engine: str = DEFAULT_ENGINE, workers: int = 1,
        reforms: Sequence[str] = (),
        progress: Callable[[int], None] | None = None) -> RunResult:
    """Simulate a scenario: ``sim.run("scenarios/x.toml", replications=10).summary()``."""
    model = load_model(source, reforms)
    return _run(model, replications=replications, seed=seed, engine=engine, workers=workers,
                progress=progress)
