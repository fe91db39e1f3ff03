"""govsim sweep (moving here from sim.experiments.sweep)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    from sim.experiments.sweep import register_cli

    register_cli(sub)
