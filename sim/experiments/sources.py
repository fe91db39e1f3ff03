"""What an experiment runs on: a scenario file, a :class:`~sim.model.schema.Scenario` or an
assembled :class:`~sim.model.assembly.Model`, with reforms applied.

A path may carry reforms as ``FILE@REFORM[:ARGS][@REFORM...]`` (``@`` because reform
arguments use ``,`` and ``+``), e.g. ``base.toml@online:0.9@proxy:classes=key``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sim import reforms as reform_catalogue
from sim.errors import UsageError
from sim.model import scenario as scenario_io
from sim.model.assembly import Model, build
from sim.model.schema import Scenario

Source = str | Path | Scenario | Model


def load(path: str | Path, reforms: Sequence[str] = ()) -> Scenario:
    """Read and check a scenario file; apply its own ``reforms`` list, then ``reforms``."""
    s = scenario_io.load(path)
    specs = [*s.reforms, *reforms]
    if specs:
        s = apply_reforms(s, specs, source=Path(path).name)
    return s


def apply_reforms(s: Scenario, specs: Sequence[str], source: str = "<scenario>") -> Scenario:
    """Apply reforms named as ``NAME[:ARGS]`` (see ``govsim reforms``)."""
    return reform_catalogue.apply(s, specs, source=source)


def load_model(source: Source, reforms: Sequence[str] = ()) -> Model:
    """A model from a file path, a scenario or a model (reforms applied first)."""
    if isinstance(source, Model):
        if reforms:
            return build(apply_reforms(source.scenario, reforms))
        return source
    if isinstance(source, Scenario):
        s = apply_reforms(source, reforms) if reforms else source
        return build(s, s.scenario.name or "<scenario>")
    return build(load(source, reforms), Path(source).name)


def load_scenario(source: str | Path | Scenario, reforms: Sequence[str] = ()) -> Scenario:
    """A scenario from a file path or a scenario, with ``reforms`` applied."""
    if isinstance(source, Scenario):
        return apply_reforms(source, list(reforms)) if reforms else source
    return load(source, reforms)


def split_source(text: str) -> tuple[str, list[str]]:
    """``FILE@REFORM@REFORM`` -> (FILE, [REFORM, ...]); an existing file name wins whole."""
    if Path(text).exists() or "@" not in text:
        return text, []
    path, *specs = text.split("@")
    for r in specs:
        if not r.strip():
            raise UsageError(f"'{text}': an empty reform after '@' (use FILE@REFORM[:ARGS])")
    return path, specs
