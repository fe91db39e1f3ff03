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
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sim.errors import ReformError, ScenarioError, UsageError, format_value
from sim.model.scenario import error_from_validation, revalidate
from sim.model.schema import CaseClass, Dist, Item, Pool, Scenario

if TYPE_CHECKING:
    from sim.model.assembly import Model

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

    def type_text(self) -> str:
        if self.kind == "probability":
            return "probability in [0, 1]"
        if self.kind in ("int", "float"):
            word = "integer" if self.kind == "int" else "number"
            if self.lo is not None and self.hi is not None:
                return f"{word} in [{self.lo:g}, {self.hi:g}]"
            if self.lo is not None:
                return f"{word} {'>' if self.lo_open else '>='} {self.lo:g}"
            return word
        if self.kind == "names":
            return "list of names or globs joined by '+'"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        return {"bool": "true or false", "name": "name"}.get(self.kind, self.kind)

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
    result (both validation stages of :mod:`sim.scenario`): a reform can never return a
    scenario that would not load.
    """

    name: str
    title: str
    func: Callable[..., None] = field(repr=False)
    args: tuple[Arg, ...]
    aliases: tuple[str, ...] = ()

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


# --------------------------------------------------------------------------- helpers


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


def _moments(d: Dist) -> tuple[float, float]:
    """Mean and variance of a distribution, in hours."""
    from sim.model.distributions import family

    f = family(d)
    return f.mean, f.variance


def _dist_hours(mean: float, var: float) -> Dist:
    """A gamma (deterministic when var == 0) with this mean and variance, in hours."""
    if var <= 0.0 or mean <= 0.0:
        return Dist(dist="deterministic", mean=mean)
    return Dist(dist="gamma", mean=mean, cv=math.sqrt(var) / mean)


def scale_dist(d: Dist, factor: float) -> Dist:
    """The same family and shape with every value multiplied by ``factor`` (CV unchanged)."""
    upd: dict[str, Any] = {}
    for key in ("mean", "min", "mode", "max"):
        v = getattr(d, key)
        if v is not None:
            upd[key] = v * factor
    if d.values is not None:
        upd["values"] = [v * factor for v in d.values]
    return Dist.model_validate({**d.model_dump(), **upd})


def expected_work(s: Scenario, model: Model | None = None) -> dict[str, float]:
    """Mean service hours (rework included) each item brings over the arrival window."""
    from sim.model.assembly import build

    m = build(s, warn=False) if model is None else model
    work = dict(zip(m.item_names, m.expected_work().tolist(), strict=True))
    return work


def _item_q(s: Scenario, it: Item) -> float:
    return (it.deficiency_per_material if it.deficiency_per_material is not None
            else s.rework.deficiency_per_material)


def _stations_used(s: Scenario) -> set[str]:
    used = {it.station for it in s.items.values()}
    used |= {it.audit_station for it in s.items.values() if it.audit_station}
    return used


# --------------------------------------------------------------------------- item reforms


@reform("cut_items", "取消审批事项 cut approval items",
        Arg("items", "names", help="items to abolish"),
        aliases=("cut",))
def cut_items(s: Scenario, items: Sequence[str]) -> None:
    """Abolish items: they leave every route and the scenario.

    A stage left with no items is dropped; a route left with no stage is an error. The
    stations keep their staff (the work they no longer do is the reform's gain), and the
    other items keep their names and random numbers.
    """
    names = select("item", s.items, items)
    for rname, route in s.routes.items():
        stages = []
        for st in route.stages:
            keep = [n for n in st.items if n not in names]
            if keep:
                st.items = keep
                stages.append(st)
        if not stages:
            raise ReformError(f"would leave route '{rname}' with no items")
        route.stages = stages
    for n in names:
        del s.items[n]


def _combine(s: Scenario, items: Sequence[str], name: str | None, station: str | None,
             delay: str, staff: bool, what: str) -> None:
    names = select("item", s.items, items)
    if len(names) < 2:
        raise ReformError(f"items must name at least two items to {what} (got "
                          f"{format_value('+'.join(names))})")
    target = name or names[0]
    if target in s.items and target not in names:
        raise ReformError(f"name '{target}' is taken by an item that is not {what}d")
    its = [s.items[n] for n in names]
    st_name = station or its[0].station
    if st_name not in s.stations:
        raise ReformError(f"station '{st_name}' does not exist {_known(s.stations)}")

    # where the items are: every route that uses one uses all, in stages of one probability
    all_in_one_parallel_stage = False
    for rname, route in s.routes.items():
        present = [n for st in route.stages for n in st.items if n in names]
        if not present:
            continue
        missing = [n for n in names if n not in present]
        if missing:
            raise ReformError(f"route '{rname}' uses {', '.join(present)} but not "
                              f"{', '.join(missing)}: a merged item must replace the same "
                              "items in every route")
        stages = [st for st in route.stages if any(n in names for n in st.items)]
        if len({st.probability for st in stages}) > 1:
            raise ReformError(f"items {', '.join(names)} sit in stages of route '{rname}' "
                              "with different probabilities; a case would do work it skipped")
        all_in_one_parallel_stage = len(stages) == 1 and stages[0].mode == "parallel"

    from sim.model.assembly import build

    model = build(s, warn=False)
    # staff follow the work they did (expected service hours, rework included)
    moves: dict[str, int] = {}
    if staff:
        work = expected_work(s, model)
        for donor in {it.station for it in its} - {st_name}:
            total = sum(w for n, w in work.items() if s.items[n].station == donor)
            moved = sum(work[n] for n in names if s.items[n].station == donor)
            servers = s.stations[donor].servers
            k = round(servers * moved / total) if total > 0 else 0
            others = any(it.station == donor for n, it in s.items.items() if n not in names)
            moves[donor] = k if others else servers

    # the merged item
    keep = [1.0 - it.skip_probability for it in its]
    p_run = 1.0 - math.prod(it.skip_probability for it in its)
    if p_run <= 0.0:  # every item is always skipped: weigh them equally
        keep, p_run = [1.0] * len(its), 1.0
    means_vars = [_moments(it.service) for it in its]
    mean = sum(k * m for k, (m, _) in zip(keep, means_vars, strict=True)) / p_run
    var = sum(k * v for k, (_, v) in zip(keep, means_vars, strict=True)) / p_run
    materials = sum(it.materials for it in its)
    delays = [it.delay for it in its if it.delay is not None]
    new_delay: Dist | None = None
    if delays and delay == "longest":
        new_delay = max(delays, key=lambda d: _moments(d)[0])
    elif delays:
        mv = [_moments(d) for d in delays]
        new_delay = _dist_hours(sum(m for m, _ in mv), sum(v for _, v in mv))
    lags = [(model.item_lag[model.item_names.index(n)], it.lag) for n, it in zip(
        names, its, strict=True) if it.lag is not None]
    new_lag: Dist | None = None
    if lags and delay == "longest":
        new_lag = max(lags, key=lambda fl: fl[0].mean if fl[0] else 0.0)[1]
    elif lags:  # working hours of the merged item's station
        new_lag = _dist_hours(sum(f.mean for f, _ in lags if f),
                              sum(f.variance for f, _ in lags if f))
    qs = [_item_q(s, it) for it in its]
    if len(set(qs)) == 1 or materials == 0:
        q: float | None = its[0].deficiency_per_material
    else:
        q = 1.0 - math.exp(sum(it.materials * math.log1p(-min(qi, 1 - 1e-15))
                               for it, qi in zip(its, qs, strict=True)) / materials)
    from sim.model.distributions import family

    fixes = [(family(it.fix if it.fix is not None else s.rework.fix).mean, k, it.fix)
             for k, it in enumerate(its)]
    new_fix = max(fixes, key=lambda t: (t[0], -t[1]))[2]
    limits = [it.limit_workdays for it in its if it.limit_workdays is not None]
    limit = (max(limits) if all_in_one_parallel_stage else sum(limits)) if limits else None
    audited = max(its, key=lambda it: it.audit_probability)
    depts = list(dict.fromkeys(it.department for it in its if it.department))
    merged = Item(
        station=st_name, service=_dist_hours(mean, var), materials=materials,
        limit_workdays=limit, delay=new_delay, lag=new_lag,
        online=all(it.online for it in its),
        skip_probability=1.0 - p_run, deficiency_per_material=q, fix=new_fix,
        conditional=all(it.conditional for it in its),
        supplement_deadline_days=min(it.supplement_deadline_days for it in its),
        audit_probability=1.0 - math.prod(1.0 - it.audit_probability for it in its),
        audit_station=audited.audit_station if audited.audit_probability > 0 else None,
        audit_service=audited.audit_service if audited.audit_probability > 0 else None,
        revoke_probability=audited.revoke_probability if audited.audit_probability > 0 else 0.0,
        department=" + ".join(depts),
        note=f"{what}d from {', '.join(names)}",
    )

    # the routes: the merged item takes the place of the first item listed
    for route in s.routes.values():
        stages = []
        for st in route.stages:
            new = [target if n == names[0] else n for n in st.items if n == names[0]
                   or n not in names]
            if new:
                st.items = new
                stages.append(st)
        route.stages = stages
    s.items = {(target if n == names[0] else n): (merged if n == names[0] else it)
               for n, it in s.items.items() if n == names[0] or n not in names}
    used = _stations_used(s)
    for donor, k in moves.items():
        servers = s.stations[donor].servers
        k = k if donor not in used else min(k, servers - 1)
        if k <= 0:
            continue
        s.stations[st_name].servers += k
        if k >= servers:
            del s.stations[donor]
        else:
            s.stations[donor].servers = servers - k


_COMBINE_ARGS = (
    Arg("name", "name", None, "name of the merged item (default: the first item's, which "
        "keeps its random numbers)"),
    Arg("station", "name", None, "station that serves it (default: the first item's)"),
    Arg("delay", "choice", "longest", "waits: the longest of the items' applicant delays "
        "(materials prepared at once) and government lags (run side by side), or their sums",
        choices=("longest", "sum")),
    Arg("staff", "bool", True, "move staff with the work: each other station gives the "
        "merged item's station its share of servers for the work moved"),
)


@reform("merge_items", "事项合并 merge items into one",
        Arg("items", "names", help="items to merge (at least two); the first names the result"),
        *_COMBINE_ARGS, aliases=("merge", "合并"))
def merge_items(s: Scenario, items: Sequence[str], name: str | None, station: str | None,
                delay: str, staff: bool) -> None:
    """Replace several items by one that pools their work and materials.

    The merged item takes the place (and by default the name) of the first item listed,
    in every route; the others leave the routes. It is served at the first item's station
    (or ``station``) with a gamma service whose mean is the items' expected work,
    sum((1 - skip_i) mean_i) / (1 - prod skip_i) -- the plain sum when no item is
    skippable -- and whose variance pools theirs likewise. It has the sum of their
    materials (one submission, one rework loop), their combined deficiency
    (prod (1 - q_i)^m_i), the longest of their fix times, the sum of their statutory limits
    (the largest when they were parallel branches of one stage), the longest applicant
    delay and the longest government lag (``delay=sum`` adds them), and it is skipped only
    when every item would have been (prod skip_i). It is online / conditional only if all
    of them were; audits combine. With ``staff=true`` each other station hands over
    servers in proportion to the expected work it loses (a station left with no work hands
    over all and closes).
    Every route that uses one of the items must use all, in stages of one probability.
    """
    _combine(s, items, name, station, delay, staff, "merge")


@reform("one_go", "一件事一次办 one thing, one go: bundle items into one submission",
        Arg("items", "names", help="items to bundle (at least two); the first names the "
            "bundle"),
        *_COMBINE_ARGS, aliases=("one_thing_one_go", "一件事一次办", "一件事"))
def one_go(s: Scenario, items: Sequence[str], name: str | None, station: str | None,
           delay: str, staff: bool) -> None:
    """Bundle several items into one submission and one queue (一件事一次办).

    The applicant prepares one package (the longest of the items' preparations) and
    submits it once to one queue -- the first item's station, or ``station`` (a one-stop
    window) -- where the bundle's work is done as one service; one check of the pooled
    materials, one rework loop. In this model that is the same transformation as
    ``merge_items`` (see it for the exact rules); the two names keep the policy language:
    a merge abolishes items, a bundle keeps them as one package.
    """
    _combine(s, items, name, station, delay, staff, "bundle")


@reform("cut_materials", "精简申报材料 cut application materials",
        Arg("total", "int", None, "materials over the selected items after the cut "
            "(default 145, the seed's figure, when factor is not given)", lo=0),
        Arg("factor", "float", None, "multiply each item's materials by this instead",
            lo=0.0, hi=1.0),
        Arg("items", "names", ("*",), "items whose materials are cut"),
        aliases=("materials", "精简材料"))
def cut_materials(s: Scenario, total: int | None, factor: float | None,
                  items: Sequence[str]) -> None:
    """Cut the number of materials each item asks for; rework falls through the materials model.

    A submission is deficient with probability 1 - (1 - q)^materials, so fewer materials
    mean fewer deficient submissions, fewer rework rounds and less rework load at the
    stations. ``total=N`` scales the selected items' materials in proportion so that they
    add up to exactly N (largest remainders; no item gains a material); ``factor=f``
    multiplies each count by f and rounds. Without either, ``total=145`` (the seed: 500+
    materials cut to 145). A total above the current one is an error: this reform only cuts.
    """
    if total is not None and factor is not None:
        raise ReformError("give total or factor, not both")
    names = select("item", s.items, items)
    counts = [s.items[n].materials for n in names]
    have = sum(counts)
    if factor is not None:
        new = [math.floor(m * factor + 0.5) for m in counts]
    else:
        target = 145 if total is None else total
        if target > have:
            raise ReformError(f"total={target} is more than the {have} materials the selected "
                              "items ask for now: a cut cannot add materials")
        if have == 0:
            new = counts
        else:
            exact = [m * target / have for m in counts]
            new = [math.floor(x) for x in exact]
            order = sorted(range(len(names)), key=lambda k: (-(exact[k] - new[k]), k))
            for k in order[: target - sum(new)]:
                new[k] += 1
    for n, m in zip(names, new, strict=True):
        s.items[n].materials = m


# --------------------------------------------------------------------------- channel reforms


@reform("online", "一网通办 one-network online handling",
        Arg("share", "probability", 0.9, "share of applicants (of those not served by proxy "
            "agents) who submit online; the seed's target is 90%+"),
        Arg("items", "names", ("*",), "items that can be handled online"),
        Arg("classes", "names", ("*",), "case classes offered the online channel"),
        aliases=("一网通办", "one_network"))
def online(s: Scenario, share: float, items: Sequence[str], classes: Sequence[str]) -> None:
    """Put items online and move a share of applicants to the online channel (一网通办).

    The selected items become ``online``: an online case submits them without a visit.
    Online cases arrive at any hour (not only in opening hours), make no visit for an
    online item, and go straight to the item's reviewing station (the back office),
    which works them in its own hours. The selected classes' ``online_share`` becomes
    ``share x (1 - proxy_share)``: the share of self-filing applicants who go online, so
    the reform commutes with ``proxy``.
    """
    for n in select("item", s.items, items):
        s.items[n].online = True
    for c in select("class", s.classes, classes):
        cls = s.classes[c]
        cls.online_share = share * (1.0 - cls.proxy_share)


@reform("proxy", "帮办代办 help-and-proxy agents",
        Arg("windows", "int", 32, "agents (help-and-proxy windows); the seed: 32", lo=1),
        Arg("caseload", "int", 28, "cases one agent follows at a time (SEED-derived: 896 key "
            "projects served by 32 windows in H1 = 28 per window)", lo=1),
        Arg("deficiency_factor", "probability", 0.3, "multiplies the per-material "
            "deficiency probability of what an agent submits (ASSUMPTION: agents catch "
            "most gaps before submitting)"),
        Arg("share", "probability", 1.0, "share of the selected classes' cases the agents "
            "take on"),
        Arg("classes", "names", ("*",), "case classes served (key projects, in the seed)"),
        Arg("pool", "name", "help_proxy", "name of the agent pool (created or updated)"),
        aliases=("帮办代办", "help_proxy"))
def proxy(s: Scenario, windows: int, caseload: int, deficiency_factor: float, share: float,
          classes: Sequence[str], pool: str) -> None:
    """Open a pool of help-and-proxy agents who prepare and submit cases (帮办代办).

    A pool of ``windows`` agents, each following up to ``caseload`` cases at once. A
    proxy case first waits for a free agent slot (when every agent is full) and holds it
    until the case ends; the agent prepares its submissions, so they are deficient less
    often (``deficiency_factor`` multiplies the per-material probability) and the
    applicant makes no visits. The selected classes send ``share`` of their cases to the
    agents; their online share keeps its proportion of the self-filed rest.
    """
    if pool in s.stations:
        raise ReformError(f"pool '{pool}' would share a name with a station")
    s.pools[pool] = Pool(agents=windows, caseload=caseload,
                         deficiency_factor=deficiency_factor,
                         note=(s.pools[pool].note if pool in s.pools else
                               "help-and-proxy agents (帮办代办)"))
    for c in select("class", s.classes, classes):
        cls = s.classes[c]
        rest = 1.0 - cls.proxy_share
        online_of_rest = cls.online_share / rest if rest > 0 else 0.0
        s.classes[c] = CaseClass.model_validate({
            **cls.model_dump(), "proxy_share": share, "agent_pool": pool,
            "online_share": min(online_of_rest, 1.0) * (1.0 - share)})


# --------------------------------------------------------------------------- review reforms


@reform("conditional", "容缺受理 conditional acceptance",
        Arg("items", "names", ("*",), "items accepted with minor materials missing"),
        Arg("deadline_days", "float", None, "calendar days the applicant has to supply "
            "what is missing (default: the item's supplement_deadline_days, 10)", lo=0.0),
        aliases=("容缺受理", "conditional_acceptance"))
def conditional(s: Scenario, items: Sequence[str], deadline_days: float | None) -> None:
    """Accept deficient submissions and let the fix run in parallel (容缺受理).

    A deficient submission of a selected item is accepted: the item goes on, and the
    applicant's fix runs alongside, due before its stage ends. A fix that takes longer
    than ``deadline_days`` cannot be deferred: that share of cases falls back to ordinary
    rework (the applicant fixes and resubmits), so the mechanism fails for a few.
    """
    for n in select("item", s.items, items):
        s.items[n].conditional = True
        if deadline_days is not None:
            s.items[n].supplement_deadline_days = deadline_days


@reform("commitment", "告知承诺制 commitment-based approval",
        Arg("items", "names", help="items approved on the applicant's written commitment"),
        Arg("check_hours", "float", 0.5, "mean working hours of the short check that "
            "replaces the review (ASSUMPTION: half an hour; never more than the review)",
            lo=0.0, lo_open=True),
        Arg("audit_probability", "probability", 0.1, "share of approvals audited afterwards "
            "(ASSUMPTION: 10% random inspection, 双随机)"),
        Arg("audit_hours", "float", None, "mean working hours of an audit (default: the "
            "review it replaces)", lo=0.0, lo_open=True),
        Arg("audit_station", "name", None, "station whose staff audit (default: the item's "
            "own)"),
        Arg("revoke", "probability", None, "share of audits that revoke the approval "
            "(default: the item's first-submission deficiency probability before the "
            "reform -- the audit finds what a review would have)"),
        aliases=("告知承诺制", "promise"))
def commitment(s: Scenario, items: Sequence[str], check_hours: float, audit_probability: float,
               audit_hours: float | None, audit_station: str | None,
               revoke: float | None) -> None:
    """Replace review by a short check of a commitment; audit a random share later (告知承诺制).

    The item's service keeps its shape with its mean cut to ``check_hours`` (never raised),
    with no government lag after it (no expert panel or notice); the check accepts the
    commitment, so the submission is not sent back for missing materials (deficiency 0).
    After the case completes, ``audit_probability`` of approvals are audited: an audit
    takes inspectors' time at ``audit_station`` (by default the review's own time, at the
    item's station) and revokes ``revoke`` of those audited.
    """
    from sim.model.distributions import family

    if audit_station is not None and audit_station not in s.stations:
        raise ReformError(f"station '{audit_station}' does not exist {_known(s.stations)}")
    for n in select("item", s.items, items):
        it = s.items[n]
        review = it.service
        f = family(review)
        p_def = 1.0 - (1.0 - _item_q(s, it)) ** it.materials
        it.service = scale_dist(review, min(check_hours, f.mean) / f.mean)
        it.lag = None
        it.deficiency_per_material = 0.0
        it.conditional = False
        if audit_probability > 0:
            it.audit_station = audit_station or it.station
            it.audit_service = (review if audit_hours is None
                                else scale_dist(review, audit_hours / f.mean))
            it.revoke_probability = p_def if revoke is None else revoke
        it.audit_probability = audit_probability


@reform("handle_at_once", "马上办 handle at once",
        Arg("items", "names", help="items finished at the window in one visit"),
        Arg("station", "name", None, "the front-window station that does it (default: the "
            "item's own)"),
        Arg("service_hours", "float", None, "mean working hours at the window (default: the "
            "item's service)", lo=0.0, lo_open=True),
        aliases=("马上办", "at_once"))
def handle_at_once(s: Scenario, items: Sequence[str], station: str | None,
                   service_hours: float | None) -> None:
    """Finish items at the window in one visit (马上办).

    The clerk at ``station`` checks the materials on the spot and completes the item while
    the applicant waits: the submission is never sent back (deficiency 0, so one visit and
    no rework) and no back-office step follows (no government lag). ``service_hours`` sets
    the window time.
    """
    from sim.model.distributions import family

    if station is not None and station not in s.stations:
        raise ReformError(f"station '{station}' does not exist {_known(s.stations)}")
    for n in select("item", s.items, items):
        it = s.items[n]
        if station is not None:
            it.station = station
        if service_hours is not None:
            it.service = scale_dist(it.service, service_hours / family(it.service).mean)
        it.deficiency_per_material = 0.0
        it.conditional = False
        it.lag = None


# --------------------------------------------------------------------------- route reforms


@reform("parallel", "并联审批 parallel approval",
        Arg("stages", "names", ("*",), "stages whose items run in parallel"),
        Arg("routes", "names", ("*",), "routes the stages belong to"),
        aliases=("并联审批", "parallel_approval"))
def parallel(s: Scenario, stages: Sequence[str], routes: Sequence[str]) -> None:
    """Run the items of a stage in parallel (并联审批).

    Every item of a selected stage starts when the stage starts, and the stage ends when
    its last item ends; the applicant prepares and submits them side by side. Stage
    order is unchanged (parallel approval is inside stages).
    """
    rnames = select("route", s.routes, routes)
    for p in stages:
        found = False
        for rn in rnames:
            names = [st.name for st in s.routes[rn].stages]
            for sn in (fnmatch.filter(names, p) if _is_glob(p) else [p] if p in names else []):
                for st in s.routes[rn].stages:
                    if st.name == sn:
                        st.mode = "parallel"
                found = True
        if not found:
            known = [st.name for rn in rnames for st in s.routes[rn].stages]
            raise ReformError(f"no stage matches '{p}' in route(s) {', '.join(rnames)} "
                              f"{_known(known)}")


@reform("regional_assessment", "区域评估 regional assessment",
        Arg("items", "names", help="assessment items a park's regional assessment covers"),
        Arg("share", "probability", 0.17, "share of projects in assessed parks (SEED-derived: "
            "197 projects used regional assessments, of about 1,130 new projects in H1 -- "
            "566 key and, ASSUMPTION, as many ordinary)"),
        aliases=("区域评估",))
def regional_assessment(s: Scenario, items: Sequence[str], share: float) -> None:
    """Skip assessment items for projects in parks that have a regional assessment (区域评估).

    A project in an assessed park reuses the park's assessment: it neither prepares the
    report (applicant time and cost) nor queues for the approval. Where the selected
    items make up whole stages, the stage's ``probability`` is multiplied by (1 - share),
    so one draw per project skips them all together (exact). Items that share a stage with
    unselected ones get ``skip_probability`` 1 - (1 - skip)(1 - share) instead, drawn item
    by item (the share skipping all of them together is then smaller than ``share``).
    The money saved is not modelled (the schema has no applicant cost).
    """
    names = set(select("item", s.items, items))
    whole: set[str] = set()
    for route in s.routes.values():
        for st in route.stages:
            if set(st.items) <= names:
                st.probability = st.probability * (1.0 - share)
                whole |= set(st.items)
    for n in names - whole:
        it = s.items[n]
        it.skip_probability = 1.0 - (1.0 - it.skip_probability) * (1.0 - share)


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


# --------------------------------------------------------------------------- command line


def _print_catalogue(name: str | None) -> None:
    from rich.table import Table

    from sim.cli.common import console

    if name:
        r = lookup(name)
        console.print(f"[bold]{r.name}[/bold] -- {r.title}"
                      + (f"  (aliases: {', '.join(r.aliases)})" if r.aliases else ""))
        for para in r.doc.split("\n\n"):
            console.print(" ".join(para.split()), markup=False, highlight=False)
            console.print()
        t = Table(title="arguments", title_justify="left")
        for col in ("argument", "type", "default", "meaning"):
            t.add_column(col)
        for a in r.args:
            t.add_row(a.name, a.type_text(), a.default_text(), a.help)
        console.print(t)
        return
    t = Table(title="Reforms (govsim reforms NAME for details; use as --reform NAME[:ARGS])",
              title_justify="left")
    t.add_column("reform", no_wrap=True)
    t.add_column("what it does")
    t.add_column("arguments (default)")
    for r in CATALOGUE.values():
        args = ", ".join(f"{a.name}={a.default_text()}" if not a.required else f"{a.name}"
                         for a in r.args)
        t.add_row(r.name, f"{r.title}: {r.summary}", args or "-")
    console.print(t)


def cmd_reforms(args: argparse.Namespace) -> int:
    _print_catalogue(args.name)
    return 0


def cmd_reform(args: argparse.Namespace) -> int:
    import sys

    from sim import api
    from sim.cli.common import console
    from sim.model import scenario as scenario_io

    before = scenario_io.load(args.file)
    specs = [*before.reforms, *args.reform]
    if not specs:
        raise UsageError("no reform to apply: give --reform NAME[:ARGS] (see `govsim reforms`)")
    after = api.load(args.file, args.reform)
    diff = changes(before, after)
    if args.write and args.write != "-":
        out = Path(args.write)
        if not out.parent.exists():
            raise UsageError(f"--write: the folder {out.parent} does not exist")
        scenario_io.save(after, out)
    elif args.write == "-":
        sys.stdout.write(scenario_io.to_toml(after))
        return 0
    mats = (sum(i.materials for i in before.items.values()),
            sum(i.materials for i in after.items.values()))
    console.print(f"[bold]{args.file}[/bold]: {len(specs)} reform(s) applied: "
                  + "; ".join(specs), highlight=False)
    console.print(f"  items {len(before.items)} -> {len(after.items)}, materials "
                  f"{mats[0]} -> {mats[1]}, stations {len(before.stations)} -> "
                  f"{len(after.stations)}, pools {len(before.pools)} -> {len(after.pools)}")
    lines = describe_changes(before, after, diff)
    limit = len(lines) if args.all else 40
    for line in lines[:limit]:
        console.print(f"  {line}", markup=False, highlight=False)
    if len(lines) > limit:
        console.print(f"  ... and {len(lines) - limit} more changes (--all shows them)")
    if args.write:
        console.print(f"reformed scenario written to {args.write}")
    return 0


def register_cli(sub: Any) -> None:
    """Add ``govsim reforms`` (the catalogue) and ``govsim reform`` (apply and write)."""
    if "reforms" in getattr(sub, "choices", {}):
        return  # already added (sim.compare adds them too)
    p = sub.add_parser("reforms", help="list the reform catalogue",
                       description="List the reforms, or describe one in full.")
    p.add_argument("name", nargs="?", help="a reform to describe")
    p.set_defaults(func=cmd_reforms)

    p = sub.add_parser(
        "reform", help="apply reforms to a scenario and write it out",
        description="Apply the file's own reforms list and each --reform, in order; show what "
                    "changed; with --write, save the reformed scenario (atomically) as a file "
                    "that loads to the same scenario (its reforms list is emptied and the "
                    "applied specs are recorded under assumptions).",
        epilog="example: govsim reform scenarios/hohhot-construction-2023.toml "
               "--reform cut_materials:total=145 --reform online:0.9 --write reformed.toml")
    p.add_argument("file", help="scenario file (TOML)")
    p.add_argument("--reform", action="append", default=[], metavar="NAME[:ARGS]",
                   help="a reform to apply (repeatable; see `govsim reforms`)")
    p.add_argument("--write", "-w", metavar="OUT.toml",
                   help="write the reformed scenario here ('-' prints it as TOML)")
    p.add_argument("--all", action="store_true", help="list every changed field")
    p.set_defaults(func=cmd_reform)


__all__ = ["CATALOGUE", "Arg", "Reform", "apply", "changes", "lookup",
           "parse_spec", "register_cli", "select"]
