"""Golden outputs: each shipped scenario's ``govsim run -n 2 --seed 1 --json`` and one
``govsim compare``, committed so that a change that moves a number fails a test.

When a change is *meant* to change the numbers, regenerate them and commit the diff::

    python -m tests.golden

``tests/test_golden.py`` compares a fresh run with these files key by key: the same keys,
counts and strings exactly, floats within 1e-9 relative.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
# paths as a user types them from the checkout's root (the JSON records a compare's sources)
RUN_ARGS = ("-n", "2", "--seed", "1")
COMPARE = ("hohhot-construction-2023.toml", "hohhot-construction-2023-reformed.toml")
REL_TOL = 1e-9


def commands() -> Iterator[tuple[str, list[str]]]:
    """(golden file name, govsim arguments without ``--json PATH``) for every golden output."""
    for path in SCENARIOS:
        yield f"run-{path.stem}.json", ["run", f"scenarios/{path.name}", "-q", *RUN_ARGS]
    yield ("compare-construction.json",
           ["compare", *(f"scenarios/{name}" for name in COMPARE), *RUN_ARGS])


def produce(args: list[str], out: Path) -> dict[str, Any]:
    """Run ``govsim ARGS --json OUT`` in this process, from the checkout's root, and read
    the JSON back."""
    from contextlib import chdir, redirect_stdout
    from io import StringIO

    from sim.cli import main

    with chdir(ROOT), redirect_stdout(StringIO()):
        code = main([*args, "--json", str(out.resolve())])
    if code != 0:
        raise RuntimeError(f"govsim {' '.join(args)} exited with {code}")
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def differences(expected: Any, got: Any, path: str = "") -> list[str]:
    """Every place where ``got`` differs from ``expected`` (keys, types, values)."""
    where = path or "<top>"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [f"{where}: expected an object, got {type(got).__name__}"]
        out = [f"{path}.{k}: missing" for k in expected if k not in got]
        out += [f"{path}.{k}: not in the golden file" for k in got if k not in expected]
        for k in expected:
            if k in got:
                out += differences(expected[k], got[k], f"{path}.{k}")
        return out
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return [f"{where}: expected a list of {len(expected)}, got {got!r:.80}"]
        return [d for i, (e, g) in enumerate(zip(expected, got, strict=True))
                for d in differences(e, g, f"{path}[{i}]")]
    if isinstance(expected, float) and isinstance(got, int | float) \
            and not isinstance(got, bool):
        if abs(got - expected) <= REL_TOL * max(abs(expected), abs(got)):
            return []
        return [f"{where}: expected {expected!r}, got {got!r}"]
    if type(got) is not type(expected) or got != expected:
        return [f"{where}: expected {expected!r}, got {got!r}"]
    return []
