"""The reform catalogue: named, documented, composable transformations of a scenario.

A reform is a function ``Scenario -> Scenario`` that works on a deep copy
(``scenario.model_copy(deep=True)``) and edits the fields of the model that carry the
mechanism (items, routes, stations, pools, channel shares...): it never sets a result.
Reforms are named in a scenario file's ``reforms`` list and on the command line as
``--reform NAME[:ARGS]`` (repeatable), and applied in the order given.

Spec syntax: ``NAME`` or ``NAME:ARGS``. ``ARGS`` are comma-separated ``key=value`` pairs;
the leading ones may be positional, in the order the reform declares its arguments.
A list value joins its elements with ``+``; an element may be a glob (``*``, ``?``, ``[..]``)
matched against names. Examples::

    online                                  # 90% online, every item can be handled online
    online:0.6                              # the same with a 60% online share
    merge_items:items=land_supply+planning_conditions,staff=false
    cut_materials:total=145
    proxy:windows=32,classes=key,caseload=28

Every argument is declared (:class:`Arg`: name, type, default, meaning) and checked; an
unknown reform, an unknown or bad argument, or a reform that does not fit the scenario
(merging an item that does not exist) raises :class:`~sim.errors.ReformError` with a
message naming the scenario, the reform spec and the problem. ``govsim reforms`` lists
the catalogue; ``govsim reform FILE --reform ... --write OUT.toml`` writes a reformed
scenario back out as a file (with an empty ``reforms`` list: the reforms are applied,
and recorded in its ``assumptions``).

Common random numbers: the inputs are keyed by class and item *names*, so reforms keep
names stable; a merged item takes the name of the first item it replaces.

This module owns the machinery: :class:`Arg` (declared, checked arguments), :class:`Reform`
and the :func:`reform` decorator that registers one in :data:`CATALOGUE` (with its
aliases), :func:`lookup`, :func:`parse_spec`, :func:`apply`, name selection with globs
(:func:`select`), the check after an edit (:func:`sim.model.scenario.revalidate`), and
:func:`changes` / :func:`describe_changes`. The reforms themselves live in the family
modules of :mod:`sim.reforms`.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from sim import i18n
from sim.errors import ReformError, ScenarioError, format_value
from sim.i18n import t
from sim.model.scenario import error_from_validation, revalidate
from sim.model.schema import Scenario

# --------------------------------------------------------------------------- arguments

REQUIRED: Any = object()
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_PATTERN = re.compile(r"^[A-Za-z0-9_.\-*?\[\]!]+$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Arg:
    """A declared reform argument: its name, type, default and meaning.

    ``kind`` is one of ``int``, ``float``, ``probability``, ``bool``, ``name`` (a scenario
    name: letters, digits, ``_ . -``), ``names`` (a ``+``-separated list of names or globs)
    or ``choice`` (one of ``choices``). ``lo``/``hi`` bound numbers (``lo_open``: strictly
    above ``lo``). A default of :data:`REQUIRED` makes the argument required; ``None``
    means "not given" and the reform's docstring says what it then does.
    """

    name: str
    kind: str
    default: Any = REQUIRED
    help: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def type_text(self, lang: str = "en") -> str:
        """The argument's type in ``lang`` (English by default: error messages say it)."""
        with i18n.use(lang):
            if self.kind == "probability":
                return t("probability in [0, 1]")
            if self.kind in ("int", "float"):
                word = t("integer") if self.kind == "int" else t("number")
                if self.lo is not None and self.hi is not None:
                    return t("{word} in [{lo}, {hi}]", word=word, lo=f"{self.lo:g}",
                             hi=f"{self.hi:g}")
                if self.lo is not None:
                    return t("{word} {op} {lo}", word=word, op=">" if self.lo_open
                             else t(">="), lo=f"{self.lo:g}")
                return word
            if self.kind == "names":
                return t("list of names or globs joined by '+'")
            if self.kind == "choice":
                return t("one of {choices}", choices=t(", ").join(self.choices))
            return {"bool": t("true or false"), "name": t("name")}.get(self.kind, self.kind)

    def rule(self) -> str:
        """The type as a phrase: 'an integer >= 1', 'a probability in [0, 1]', 'one of ...'."""
        text = self.type_text()
        if self.kind in ("bool", "choice"):
            return text
        return ("an " if text[0] in "aeiou" else "a ") + text

    def default_text(self) -> str:
        if self.required:
            return "required"
        if self.default is None:
            return "-"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, tuple | list):
            return "+".join(self.default)
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)

    def convert(self, raw: object) -> Any:
        """The typed, checked value of ``raw`` (a string from a spec, or a Python value)."""
        if raw is None and not self.required:
            return None
        bad = ReformError(f"{self.name} must be {self.rule()} (got {format_value(raw)})")
        k = self.kind
        if k in ("int", "float", "probability"):
            if isinstance(raw, bool):
                raise bad
            if isinstance(raw, str):
                try:
                    x: float = int(raw) if k == "int" else float(raw)
                except ValueError:
                    raise bad from None
            elif isinstance(raw, int | float):
                x = raw
            else:
                raise bad
            if k == "int" and (not isinstance(x, int) and not float(x).is_integer()):
                raise bad
            if not math.isfinite(float(x)):
                raise bad
            lo, hi = (0.0, 1.0) if k == "probability" else (self.lo, self.hi)
            if lo is not None and (x < lo or (self.lo_open and x == lo)):
                raise bad
            if hi is not None and x > hi:
                raise bad
            return int(x) if k == "int" else float(x)
        if k == "bool":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
                return raw.lower() in _TRUE
            raise bad
        if k == "name":
            if isinstance(raw, str) and _NAME.match(raw):
                return raw
            raise bad
        if k == "names":
            parts = raw.split("+") if isinstance(raw, str) else raw
            if not isinstance(parts, list | tuple) or not parts:
                raise bad
            out = []
            for p in parts:
                p = p.strip() if isinstance(p, str) else p
                if not isinstance(p, str) or not _PATTERN.match(p):
                    raise bad
                out.append(p)
            return tuple(out)
        if k == "choice":
            if isinstance(raw, str) and raw in self.choices:
                return raw
            raise bad
        raise AssertionError(k)  # pragma: no cover


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Reform:
    """A catalogued reform: call it as ``reform(scenario, **args)``.

    The call checks the arguments, runs the transformation on a deep copy, and checks the
    result (both validation stages of :mod:`sim.model.scenario`): a reform can never return a
    scenario that would not load.
    """

    name: str
    title: str
    func: Callable[..., None] = field(repr=False)
    args: tuple[Arg, ...]
    aliases: tuple[str, ...] = ()

    @property
    def label_zh(self) -> str:
        """The Chinese name: the title's leading Chinese words (``一网通办``)."""
        m = re.match(r"^([\u3000-\u9fff\uff00-\uffef]+)\s", self.title)
        return m.group(1) if m else ""

    @property
    def label(self) -> str:
        """The English name: the title after its Chinese words."""
        return self.title[len(self.label_zh):].strip() if self.label_zh else self.title

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    @property
    def summary(self) -> str:
        return self.doc.split("\n\n", 1)[0].replace("\n", " ")

    def arg(self, name: str) -> Arg:
        for a in self.args:
            if a.name == name:
                return a
        raise ReformError(f"unknown argument '{name}' ({self.name} takes: "
                          f"{', '.join(a.name for a in self.args) or 'no arguments'})")

    def bind(self, values: Mapping[str, object]) -> dict[str, Any]:
        """Check ``values`` against the declared arguments; fill in the defaults."""
        out: dict[str, Any] = {}
        for key, raw in values.items():
            out[self.arg(key).name] = self.arg(key).convert(raw)
        for a in self.args:
            if a.name not in out:
                if a.required:
                    raise ReformError(f"argument '{a.name}' is required ({a.type_text()})")
                out[a.name] = a.default
        return out

    def __call__(self, scenario: Scenario, **values: object) -> Scenario:
        bound = self.bind(values)
        s = scenario.model_copy(deep=True)
        try:
            self.func(s, **bound)
        except ValidationError as exc:
            raise ReformError(f"leaves the scenario invalid: "
                              f"{error_from_validation('', exc)}") from None
        return _checked(s)


CATALOGUE: dict[str, Reform] = {}
_ALIASES: dict[str, str] = {}


def reform(name: str, title: str, *args: Arg,
           aliases: Sequence[str] = ()) -> Callable[[Callable[..., None]], Reform]:
    """Register a transformation (which edits the copy it is given) in :data:`CATALOGUE`."""

    def wrap(func: Callable[..., None]) -> Reform:
        params = [p for p in inspect.signature(func).parameters][1:]
        assert params == [a.name for a in args], (name, params)
        r = Reform(name, title, func, tuple(args), tuple(aliases))
        CATALOGUE[name] = r
        for a in aliases:
            _ALIASES[a] = name
        return r

    return wrap


def _checked(s: Scenario) -> Scenario:
    try:
        return revalidate(s, "")
    except ScenarioError as exc:
        raise ReformError(f"leaves the scenario invalid: {exc}") from None


def lookup(name: str) -> Reform:
    """The reform called ``name`` (or one of its aliases; ``-`` and ``_`` are the same)."""
    key = name.strip().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key in CATALOGUE:
        return CATALOGUE[key]
    close = difflib.get_close_matches(key, list(CATALOGUE), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise ReformError(f"unknown reform '{name}' (known: {', '.join(CATALOGUE)}){hint}")


def parse_spec(spec: str) -> tuple[Reform, dict[str, str]]:
    """``NAME[:ARGS]`` -> the reform and its raw (string) arguments by name."""
    if not isinstance(spec, str) or not spec.strip():
        raise ReformError(f"a reform must be a non-empty NAME[:ARGS] string (got "
                          f"{format_value(spec)})")
    name, _, text = spec.strip().partition(":")
    r = lookup(name)
    raw: dict[str, str] = {}
    keyword_seen = False
    position = 0
    for part in text.split(",") if text.strip() else []:
        part = part.strip()
        if not part:
            raise ReformError("has an empty argument (arguments are separated by ',')")
        if "=" in part:
            key, _, value = part.partition("=")
            key = key.strip().replace("-", "_")
            keyword_seen = True
            key = r.arg(key).name
        else:
            if keyword_seen:
                raise ReformError(f"positional argument '{part}' after key=value arguments")
            if position >= len(r.args):
                raise ReformError(f"too many arguments ({r.name} takes "
                                  f"{len(r.args)}: {', '.join(a.name for a in r.args)})")
            key, value = r.args[position].name, part
            position += 1
        if key in raw:
            raise ReformError(f"argument '{key}' is given twice")
        raw[key] = value.strip()
    return r, raw


def apply(scenario: Scenario, specs: Sequence[str], source: str = "<scenario>") -> Scenario:
    """Apply reforms named as ``NAME[:ARGS]``, in order, to a copy of ``scenario``.

    The result has an empty ``reforms`` list (its reforms are applied: writing it out and
    loading it again gives the same scenario) and records each applied spec in its
    ``assumptions`` under ``reforms.applied[k]``.
    """
    s = scenario
    applied: list[tuple[str, Reform]] = []
    for spec in specs:
        try:
            r, raw = parse_spec(spec)
            s = r(s, **raw)
        except ReformError as exc:
            where = f"{source}: " if source else ""
            raise ReformError(f"{where}reform '{spec}': {exc}") from None
        applied.append((str(spec).strip(), r))
    out = s.model_copy(deep=True)
    out.reforms = []
    k = sum(1 for key in out.assumptions if key.startswith("reforms.applied["))
    for spec, r in applied:
        out.assumptions[f"reforms.applied[{k}]"] = f"{spec} -- {r.title}: {r.summary}"
        k += 1
    return out


# --------------------------------------------------------------------------- selecting names


def _known(names: Sequence[str] | Mapping[str, object]) -> str:
    keys = list(names)
    return "(known: " + ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "") + ")"


def _is_glob(p: str) -> bool:
    return any(ch in p for ch in "*?[")


def select(kind: str, table: Sequence[str] | Mapping[str, object],
           patterns: Sequence[str]) -> list[str]:
    """Names of ``table`` matching ``patterns`` (exact names or globs), in pattern order.

    An exact name that does not exist, or a glob that matches nothing, is an error naming it.
    """
    names = list(table)
    out: list[str] = []
    for p in patterns:
        if _is_glob(p):
            hits = [n for n in names if fnmatch.fnmatchcase(n, p)]
            if not hits:
                raise ReformError(f"no {kind} matches '{p}' {_known(names)}")
        elif p in names:
            hits = [p]
        else:
            raise ReformError(f"{kind} '{p}' does not exist {_known(names)}")
        out.extend(h for h in hits if h not in out)
    return out


# --------------------------------------------------------------------------- describing changes


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        for k, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}[{k}]"))
    else:
        out[prefix] = obj
    return out


def changes(before: Scenario, after: Scenario) -> dict[str, tuple[Any, Any]]:
    """Every field that differs, as ``dotted.path -> (before, after)`` (missing = ``None``)."""
    a = _flatten(before.model_dump(mode="json", exclude_none=True))
    b = _flatten(after.model_dump(mode="json", exclude_none=True))
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def describe_changes(before: Scenario, after: Scenario,
                     diff: Mapping[str, tuple[Any, Any]] | None = None) -> list[str]:
    """Readable lines: an added or removed class, station, pool, item or route in one line,
    then every other changed field as ``path: before -> after`` (bookkeeping left out)."""
    diff = changes(before, after) if diff is None else diff
    lines: list[str] = []
    whole: list[str] = []
    for section in ("classes", "stations", "pools", "items", "routes", "calendars"):
        a, b = getattr(before, section), getattr(after, section)
        for n in a:
            if n not in b:
                lines.append(f"{section}.{n}: removed")
                whole.append(f"{section}.{n}.")
        for n in b:
            if n not in a:
                lines.append(f"{section}.{n}: added")
                whole.append(f"{section}.{n}.")
    for k, (x, y) in diff.items():
        if k.startswith(("assumptions", "reforms", *whole)):
            continue
        lines.append(f"{k}: {format_value(x)} -> {format_value(y)}")
    return lines
