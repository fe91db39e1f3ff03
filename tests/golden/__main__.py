"""Regenerate the golden outputs: ``python -m tests.golden`` (only when a change is meant)."""

from __future__ import annotations

from tests.golden import HERE, commands, produce

if __name__ == "__main__":
    for name, args in commands():
        produce(args, HERE / name)
        print(f"wrote {HERE / name}")
