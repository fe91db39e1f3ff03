"""Golden outputs: a fresh ``govsim run``/``govsim compare`` gives the committed numbers.

A refactor must not move a number. When a change is meant to, regenerate the files with
``python -m tests.golden`` and commit them with the change that explains the difference.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden import HERE, SCENARIOS, commands, differences, produce

CASES = list(commands())


def test_every_shipped_scenario_has_a_golden_run() -> None:
    names = {name for name, _ in CASES}
    assert len(SCENARIOS) >= 5
    for path in SCENARIOS:
        assert f"run-{path.stem}.json" in names
        assert (HERE / f"run-{path.stem}.json").is_file(), f"{path.stem}: no golden file"


@pytest.mark.parametrize(("name", "args"), CASES, ids=[n for n, _ in CASES])
def test_golden(name: str, args: list[str], tmp_path: Path) -> None:
    golden = HERE / name
    expected = json.loads(golden.read_text(encoding="utf-8"))
    got = produce(args, tmp_path / name)
    diff = differences(expected, got)
    assert not diff, (f"{name} differs from the golden file in {len(diff)} places "
                      "(regenerate with `python -m tests.golden` if this is meant):\n  "
                      + "\n  ".join(diff[:20]))


def test_differences_sees_a_changed_number() -> None:
    base = {"a": 1, "b": {"c": 2.0, "d": [1.0, None]}, "e": "x"}
    assert differences(base, json.loads(json.dumps(base))) == []
    assert differences(base, {**base, "a": 2}) == [".a: expected 1, got 2"]
    assert differences(base, {**base, "b": {"c": 2.0 + 1e-6, "d": [1.0, None]}})
    assert differences(base, {**base, "b": {"c": 2.0 * (1 + 1e-12), "d": [1.0, None]}}) == []
    assert differences(base, {**base, "f": 1}) == [".f: not in the golden file"]
    assert differences(base, {"a": 1, "b": base["b"]}) == [".e: missing"]
    assert differences(base, {**base, "a": 1.0})  # a count that became a float
