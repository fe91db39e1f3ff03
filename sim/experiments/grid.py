"""Parameter grids: ``--set PATH=VALUES`` parsed, and a scenario with one point's values set.

``PATH`` is a dotted path into the scenario as its file spells it
(``stations.planning.servers``, ``classes.key.rate``, ``items.review.service.mean``,
``pools.helpers.agents``, ``run.horizon_days``; a list index is a number:
``routes.main.stages.1.probability``, or in brackets: ``stations.desk.schedule[0].servers``),
or a reform's argument: ``reform.NAME.ARG``
(each point applies ``NAME:ARG=VALUE``; several swept arguments of one reform make one
spec) or ``reform.NAME`` for its first argument (``NAME:VALUE``). ``VALUES`` is a
comma-separated list (``2,3,4``; ``true,false``; ``gamma,lognormal``) or an inclusive
range ``START:STOP[:STEP]`` (``3:6:1`` is 3, 4, 5, 6). When a value itself holds commas
(a reform argument), separate the values with ``;`` instead.

:func:`apply_point` gives the scenario of one point: its swept reforms applied, then its
parameters set, then revalidated with the scenario file's rules
(:func:`sim.model.scenario.revalidate`), so a bad value gets the same message as in a
file. Sweeps and staffing both build their scenarios this way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.errors import ScenarioError, UsageError
from sim.experiments.sources import apply_reforms
from sim.model.scenario import revalidate
from sim.model.schema import Scenario

REFORM_PREFIX = "reform."


def _scalar(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        x = float(t)
    except ValueError:
        return t
    if not math.isfinite(x):
        raise UsageError(f"value {t!r} is not a finite number")
    return x


def parse_values(text: str, where: str = "--set") -> list[Any]:
    """``"2,3,4"`` -> [2, 3, 4]; ``"3:6:1"`` -> [3, 4, 5, 6]; ``"0.5:1:0.25"`` -> floats;
    ``"a;b"`` splits on ``;`` (for values with commas). Numbers stay ints when written so."""
    t = text.strip()
    if not t:
        raise UsageError(f"{where}: no values given (e.g. 2,3,4 or 3:6:1)")
    sep = ";" if ";" in t else ","
    parts = [p.strip() for p in t.split(sep)]
    if sep == "," and len(parts) == 1 and t.count(":") in (1, 2) and _is_range(t):
        return _range(t, where)
    if any(not p for p in parts):
        raise UsageError(f"{where}: empty value in {text!r}")
    if sep == ";":
        return [p for p in parts]
    values = [_scalar(p) for p in parts]
    if len(set(map(repr, values))) != len(values):
        raise UsageError(f"{where}: a value appears twice in {text!r}")
    return values


def _is_range(t: str) -> bool:
    try:
        [float(x) for x in t.split(":")]
    except ValueError:
        return False
    return True


def _range(t: str, where: str) -> list[Any]:
    bits = t.split(":")
    nums = [_scalar(b) for b in bits]
    start, stop = nums[0], nums[1]
    step = nums[2] if len(nums) == 3 else 1
    if step <= 0:
        raise UsageError(f"{where}: the step of {t!r} must be > 0")
    if stop < start:
        raise UsageError(f"{where}: the range {t!r} is empty (stop < start)")
    if all(isinstance(x, int) for x in (start, stop, step)):
        return list(range(start, stop + 1, step))
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > 100_000:
        raise UsageError(f"{where}: the range {t!r} has too many values ({n})")
    return [round(start + k * step, 12) for k in range(n)]


@dataclass
class Param:
    """One swept parameter: a dotted path and its values."""

    path: str
    values: list[Any]

    @property
    def is_reform(self) -> bool:
        return self.path.startswith(REFORM_PREFIX)


def parse_set(text: str) -> Param:
    """``"stations.front.servers=2,3,4"`` -> Param."""
    if "=" not in text:
        raise UsageError(f"--set {text}: expected PATH=VALUES, e.g. stations.front.servers=2,3,4")
    path, values = text.split("=", 1)
    path = path.strip()
    if not path:
        raise UsageError(f"--set {text}: the path is empty")
    return Param(path, parse_values(values, where=f"--set {path}"))


def grid_params(grid: Mapping[str, Any] | Sequence[str]) -> list[Param]:
    params: list[Param] = []
    if isinstance(grid, Mapping):
        for path, vals in grid.items():
            if isinstance(vals, str):
                params.append(Param(str(path), parse_values(vals, where=f"--set {path}")))
            elif isinstance(vals, Sequence | np.ndarray | range):
                vs = [v.item() if isinstance(v, np.generic) else v for v in vals]
                if not vs:
                    raise UsageError(f"--set {path}: no values given")
                params.append(Param(str(path), vs))
            else:
                params.append(Param(str(path), [vals]))
    else:
        params = [parse_set(t) for t in grid]
    if not params:
        raise UsageError("a sweep needs at least one --set PATH=VALUES")
    seen: set[str] = set()
    for p in params:
        if p.path in seen:
            raise UsageError(f"--set {p.path}: the parameter is given twice")
        seen.add(p.path)
    return params


# --------------------------------------------------------------------------- setting a parameter


def _known(d: Mapping[str, Any]) -> str:
    keys = [str(k) for k in d]
    shown = ", ".join(keys[:15]) + (", ..." if len(keys) > 15 else "")
    return f"(known: {shown})" if keys else "(it is empty)"


def set_path(data: dict[str, Any], path: str, value: Any, where: str = "--set") -> None:
    """Set ``value`` at the dotted ``path`` of a scenario dump; a missing step is an error
    (its message starts with ``where path:``).

    Names may contain dots (``Name`` allows them): at each level the longest key that
    matches the next segments is taken.
    """
    node, key = _locate(data, path, where)
    target = node[key]
    if isinstance(target, dict | list) and not isinstance(value, dict | list):
        known = _known(target) if isinstance(target, dict) else ""
        raise UsageError(f"{where} {path}: names a whole table; set one of its fields "
                         f"{known}".rstrip())
    node[key] = value


def get_path(data: dict[str, Any], path: str, where: str = "--set") -> Any:
    """The value at the dotted ``path`` of a scenario dump (the steps of :func:`set_path`)."""
    node, key = _locate(data, path, where)
    return node[key]


def _locate(data: dict[str, Any], path: str, where: str) -> tuple[Any, str | int]:
    """The container and key ``path`` ends at (``a[0].b`` is ``a.0.b``)."""
    segs = re.sub(r"\[(\d+)\]", r".\1", path).split(".")
    if any(not s for s in segs):
        raise UsageError(f"{where} {path}: not a dotted path (empty segment)")
    node: Any = data
    done: list[str] = []
    i = 0
    while True:
        last_key: str | int
        if isinstance(node, dict):
            for k in range(len(segs) - i, 0, -1):
                cand = ".".join(segs[i:i + k])
                if cand in node:
                    break
            else:
                at = ".".join(done) or "the scenario"
                raise UsageError(f"{where} {path}: {segs[i]!r} is not in {at} {_known(node)}")
            last_key = cand
            i += k
        elif isinstance(node, list):
            try:
                idx = int(segs[i])
            except ValueError:
                raise UsageError(f"{where} {path}: {'.'.join(done)} is a list; index it with "
                                 f"a number 0..{len(node) - 1} (got {segs[i]!r})") from None
            if not 0 <= idx < len(node):
                raise UsageError(f"{where} {path}: {'.'.join(done)} has {len(node)} entries "
                                 f"(index {idx} is out of range)")
            last_key = idx
            i += 1
        else:
            at = ".".join(done)
            what = "not set in the scenario" if node is None else f"a value ({node!r})"
            raise UsageError(f"{where} {path}: {at} is {what}, it has no {segs[i]!r}")
        done.append(str(last_key))
        if i == len(segs):
            return node, last_key
        node = node[last_key]


def fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def apply_point(base: Scenario, point: Mapping[str, Any]) -> Scenario:
    """The scenario of one point: swept reforms applied, then parameters set, revalidated."""
    s = base
    specs: dict[str, list[str]] = {}
    for path, value in point.items():
        if path.startswith(REFORM_PREFIX):
            name, _, arg = path[len(REFORM_PREFIX):].partition(".")
            specs.setdefault(name, []).append(
                f"{arg}={fmt_value(value)}" if arg else fmt_value(value))
    if specs:
        # positional values first, then key=value pairs (the reform spec syntax)
        reforms = [f"{name}:" + ",".join(sorted(args, key=lambda a: "=" in a))
                   for name, args in specs.items()]
        source = "--set " + " ".join(f"{p}={fmt_value(v)}" for p, v in point.items()
                                     if p.startswith(REFORM_PREFIX))
        s = apply_reforms(s, reforms, source=source)
    sets = {p: v for p, v in point.items() if not p.startswith(REFORM_PREFIX)}
    if not sets:
        return s
    copy = s.model_copy(deep=True)
    data = copy.model_dump()
    for path, value in sets.items():
        set_path(data, path, value)
    source = "--set " + " ".join(f"{p}={fmt_value(v)}" for p, v in sets.items())
    try:
        return revalidate(data, source)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
