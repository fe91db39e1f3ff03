"""govsim staff (moving here from sim.experiments.staffing)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    from sim.experiments.staffing import register_cli

    register_cli(sub)
