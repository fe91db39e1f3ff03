"""govsim compare (moving here from sim.experiments.compare)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    from sim.experiments.compare import register_cli

    register_cli(sub)
