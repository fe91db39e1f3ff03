"""govsim reforms (moving here from sim.reforms)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    from sim.reforms import register_cli

    register_cli(sub)
