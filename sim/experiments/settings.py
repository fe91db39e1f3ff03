"""Run settings checked once: engine, replications, seed and workers.

Every experiment (run, compare, sweep, staff) and the command line check their settings
here, so a bad value gets the same rule in every command. On the command line the field
is named by its flag (``--replications must be an integer >= 1 (got 0)``); from Python
by its argument (``replications must be ...``).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from sim.engines import DEFAULT_ENGINE, ENGINES
from sim.errors import UsageError
from sim.model.schema import MAX_REPLICATIONS, MAX_SEED, Run


@dataclass(frozen=True)
class Settings:
    """What one experiment runs with, every default resolved."""

    replications: int
    seed: int
    engine: str
    workers: int
    #: refuse a run estimated to need more GB than this (None: the default limit)
    max_memory: float | None = None


def check(*, engine: str | None = None, replications: int | None = None,
          seed: int | None = None, workers: int | None = None, flags: bool = False) -> None:
    """Raise a :class:`~sim.errors.UsageError` for the first setting given that breaks
    its rule (``None`` means "not given" and passes)."""
    dash = "--" if flags else ""
    if engine is not None and engine not in ENGINES:
        raise UsageError(f"{dash + 'engine: ' if flags else ''}unknown engine '{engine}' "
                         f"(choose from: {', '.join(ENGINES)})")
    for name, value, low, high in (("replications", replications, 1, MAX_REPLICATIONS),
                                   ("seed", seed, 0, MAX_SEED), ("workers", workers, 1, 1_024)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                                  or value < low):
            raise UsageError(f"{dash}{name} must be an integer >= {low} (got {value})")
        if value is not None and value > high:
            raise UsageError(f"{dash}{name} must be an integer in [{low}, {high:,}] "
                             f"(got {value})")


def resolve(run: Run, *, replications: int | None = None, seed: int | None = None,
            engine: str | None = None, workers: int | None = 1,
            max_memory: float | None = None) -> Settings:
    """The settings of an experiment on a scenario whose ``[run]`` section is ``run``:
    each one given, or the scenario's (engine: the compiled one; workers: 1), checked."""
    s = Settings(replications=run.replications if replications is None else replications,
                 seed=run.seed if seed is None else seed, engine=engine or DEFAULT_ENGINE,
                 workers=1 if workers is None else workers, max_memory=max_memory)
    check(engine=s.engine, replications=s.replications, seed=s.seed, workers=s.workers)
    return s
