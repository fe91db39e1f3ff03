"""Case attributes assembled (docs/model.md, "Case attributes"): each class's laws as
flat values, each item's condition parsed, each scale as the items it multiplies and a
multiplier per value; and what :mod:`sim.inputs` does with them (a case's values from its
uniforms, a condition's truth, a scale's multipliers).

A case's value of attribute ``a`` is a number in ``codes[:, a]``: a category's index in
``labels[a]``, 0 or 1 for true-or-false, the value itself for a number, NaN when the
case's class does not declare it (every comparison is then false).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.model.attributes import Node, parse_condition
from sim.model.distributions import Family, family
from sim.model.schema import Scenario

F64 = NDArray[np.float64]
B1 = NDArray[np.bool_]
_OPS: dict[str, Callable[[F64, float], B1]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Law:
    """How a class draws one attribute from its uniforms."""

    attr: int  # index in AttrModel.names
    name: str
    kind: str  # "bool", "category", "number"
    p: float = 0.0  # bool: P(true)
    cum: F64 | None = None  # category: cumulative probabilities in declared order
    code: F64 | None = None  # category: each declared category's index in the labels
    fam: Family | None = None  # number


@dataclass(frozen=True)
class ScaleRule:
    """One ``scale`` entry of a class's attribute."""

    attr: int
    what: str  # "service", "delay", "fix", "materials"
    items: tuple[int, ...]
    mult: F64 | None  # per code; None: the value is the multiplier


@dataclass(frozen=True)
class AttrModel:
    names: tuple[str, ...]  # every class's attributes, in order of first declaration
    kinds: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]  # categories (all classes'), ("false", "true"), ()
    laws: tuple[tuple[Law, ...], ...]  # per class
    scales: tuple[tuple[ScaleRule, ...], ...]  # per class
    item_when: tuple[Node | None, ...]  # per item
    #: per class, its ``priority_when`` rules in order: (condition, priority)
    priority_when: tuple[tuple[tuple[Node, int], ...], ...] = ()

    @property
    def n(self) -> int:
        return len(self.names)

    def draw(self, c: int, uniforms: Callable[[str], F64], m: int) -> F64:
        """The (m, n) values of ``m`` cases of class ``c``; ``uniforms(name)`` gives the
        attribute's uniforms of those cases (its own keyed stream)."""
        out = np.full((m, self.n), np.nan)
        for law in self.laws[c]:
            u = uniforms(law.name)
            if law.kind == "bool":
                out[:, law.attr] = u < law.p
            elif law.kind == "category":
                assert law.cum is not None and law.code is not None
                k = np.minimum(np.searchsorted(law.cum, u, side="right"), law.cum.size - 1)
                out[:, law.attr] = law.code[k]
            else:
                assert law.fam is not None
                out[:, law.attr] = law.fam.ppf(u)
        return out

    def holds(self, node: Node, codes: F64) -> B1:
        """Where a parsed condition holds, case by case."""
        op = node[0]
        if op == "or":
            return self.holds(node[1], codes) | self.holds(node[2], codes)
        if op == "and":
            return self.holds(node[1], codes) & self.holds(node[2], codes)
        if op == "not":
            return ~self.holds(node[1], codes)
        a = self.names.index(node[1])
        x = codes[:, a]
        if op == "is":
            return x == 1.0
        vals = (node[3],) if op == "cmp" else node[2]
        nums = [self._code(a, v) for v in vals]
        if op == "cmp":
            with np.errstate(invalid="ignore"):
                return np.asarray(_OPS[node[2]](x, nums[0]), dtype=np.bool_) & ~np.isnan(x)
        return np.isin(x, nums)

    def _code(self, a: int, v: str | float | bool) -> float:
        if isinstance(v, bool):
            return float(v)
        if isinstance(v, str):
            return float(self.labels[a].index(v))
        return float(v)

    def multiplier(self, rule: ScaleRule, codes: F64) -> F64:
        """Each case's multiplier under a scale (1 where its value is missing)."""
        x = codes[:, rule.attr]
        if rule.mult is None:
            return np.where(np.isnan(x), 1.0, x)
        ok = ~np.isnan(x)
        return np.where(ok, rule.mult[np.where(ok, x, 0).astype(np.intp)], 1.0)

    def materials(self, c: int, codes: F64) -> dict[int, F64]:
        """Per item with a materials scale, each case's multiplier of its materials."""
        out: dict[int, F64] = {}
        for rule in self.scales[c]:
            if rule.what == "materials":
                x = self.multiplier(rule, codes)
                for j in rule.items:
                    out[j] = out[j] * x if j in out else x
        return out

    def duration_scales(self, c: int, codes: F64) -> list[tuple[str, list[int], F64]]:
        """Class ``c``'s scales of drawn durations, in the order they apply: what each
        scales (service, delay or fix), its items (an item named twice is scaled twice)
        and each case's multiplier (cases as in ``codes``)."""
        return [(rule.what, list(rule.items), self.multiplier(rule, codes))
                for rule in self.scales[c] if rule.what != "materials"]

    def priority(self, c: int, codes: F64, base: int) -> NDArray[np.int64]:
        """Each case's priority under class ``c``'s rules: the first whose condition holds,
        else ``base`` (the class's)."""
        out = np.full(codes.shape[0], base, dtype=np.int64)
        left = np.ones(codes.shape[0], dtype=np.bool_)
        for node, p in self.priority_when[c]:
            hit = left & self.holds(node, codes)
            out[hit] = p
            left &= ~hit
        return out

    def label(self, a: int, codes: F64) -> np.ndarray:
        """The values of attribute ``a`` as a table shows them: category names, true/false
        (a bool column when no case misses it) or numbers; NaN where missing."""
        x = codes[:, a]
        ok = ~np.isnan(x)
        if self.kinds[a] == "number":
            return x
        if self.kinds[a] == "bool" and ok.all():
            return x == 1.0
        names = np.asarray(self.labels[a] if self.kinds[a] == "category" else (False, True),
                           dtype=object)
        out = np.full(x.shape[0], np.nan, dtype=object)
        out[ok] = names[x[ok].astype(np.intp)]
        return out


def assemble(s: Scenario, item_names: list[str], class_names: list[str]) -> AttrModel | None:
    """The attributes of a checked scenario (None when no class declares any)."""
    names: list[str] = []
    kinds: list[str] = []
    labels: list[list[str]] = []
    for c in class_names:
        for name, a in s.classes[c].attributes.items():
            if name not in names:
                names.append(name)
                kinds.append(a.kind)
                labels.append([])
            lab = labels[names.index(name)]
            lab.extend(x for x in a.labels if x not in lab)
    if not names:
        return None
    j_of = {n: j for j, n in enumerate(item_names)}
    laws, scales = [], []
    for c in class_names:
        cl, cs = [], []
        for name, a in s.classes[c].attributes.items():
            i = names.index(name)
            lab = labels[i]
            if a.categories is not None:
                cats = list(a.categories)
                cl.append(Law(i, name, "category", cum=np.cumsum(list(a.categories.values())),
                              code=np.asarray([lab.index(x) for x in cats], dtype=np.float64)))
            elif a.probability is not None:
                cl.append(Law(i, name, "bool", p=float(a.probability)))
            else:
                assert a.dist is not None
                cl.append(Law(i, name, "number", fam=family(a.dist)))
            for sc in a.scale:
                items = tuple(j_of[n] for n in sc.items) if sc.items is not None \
                    else tuple(range(len(item_names)))
                mult = None if sc.by is None else np.asarray(
                    [sc.by.get(x, 1.0) for x in lab], dtype=np.float64)
                cs.append(ScaleRule(i, sc.what, items, mult))
        laws.append(tuple(cl))
        scales.append(tuple(cs))
    when = tuple(parse_condition(w) if (w := s.items[n].when) is not None else None
                 for n in item_names)
    prio = tuple(tuple((parse_condition(r.when), int(r.priority))
                       for r in s.classes[c].priority_when) for c in class_names)
    return AttrModel(tuple(names), tuple(kinds), tuple(tuple(x) for x in labels), tuple(laws),
                     tuple(scales), when, prio)
