"""Case attributes (docs/model.md, "Case attributes"): what a scenario declares, and the
small grammar of conditions on them.

A class declares each attribute with its distribution: ``probability`` (true or false),
``categories`` (names with probabilities summing to 1) or ``dist`` (a number). An
attribute's ``scale`` entries multiply a case's drawn service times, applicant delays,
fix times or materials, for every item or for the items listed. An item's ``when`` (and a
check's) is a condition in the grammar below, parsed here, never evaluated as Python:

    expr  := conj ('or' conj)*
    conj  := neg ('and' neg)*
    neg   := 'not' neg | '(' expr ')' | NAME [op value | 'in' '(' value (',' value)* ')']
    op    := '==' | '!=' | '<' | '<=' | '>' | '>='
    value := 'string' | "string" | number | true | false

A bare NAME is a true-or-false attribute (or ``NAME == true``). The parse is a tree of
tuples; :mod:`sim.model.attrmodel` evaluates it on the drawn values.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.model.fields import Dist, Name, Probability, Strict, Text, _number

#: what a scale multiplies: service (working hours), applicant delay, fix time (calendar
#: hours), materials (the exponent of the deficiency probability 1 - (1 - q)^materials)
SCALED = ("service", "delay", "fix", "materials")
Multiplier = Annotated[float, _number(0.0, hi=1e6), Field(json_schema_extra={"minimum": 0})]
Condition = Annotated[str, Field(min_length=1, max_length=1000)]


class Scale(Strict):
    """A case's drawn values multiplied by what its attribute says: by the category's (or
    true/false's) multiplier in ``by`` (missing ones: 1), or, for a numeric attribute, by
    its value."""

    what: Literal["service", "delay", "fix", "materials"]
    by: dict[Name, Multiplier] | None = Field(
        None, description="multiplier per category (or 'true'/'false'); numeric: none, the "
        "value is the multiplier")
    items: list[Name] | None = Field(None, description="the items scaled (default: every item)")
    note: Text = ""


class Attribute(Strict):
    """An attribute each case of the class draws once, on its own keyed stream: exactly one
    of ``probability`` (true with it), ``categories`` (name -> probability, summing to 1)
    and ``dist`` (a number: a distribution's values as written, without a unit)."""

    probability: Probability | None = None
    categories: dict[Name, Probability] | None = None
    dist: Dist | None = None
    scale: list[Scale] = Field(default_factory=list, max_length=100)
    note: Text = ""

    @property
    def kind(self) -> str:
        return "bool" if self.probability is not None else (
            "category" if self.categories is not None else "number")

    @property
    def labels(self) -> tuple[str, ...]:
        """The values a condition or a ``by`` table may name (a number has none)."""
        if self.categories is not None:
            return tuple(self.categories)
        return ("false", "true") if self.probability is not None else ()

    @model_validator(mode="after")
    def _one_law(self) -> Attribute:
        given = [k for k in ("probability", "categories", "dist") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("needs exactly one of 'probability' (true or false), 'categories' "
                             f"(name = probability) or 'dist' (a number) (got {given or 'none'})")
        if self.categories is not None:
            total = math.fsum(self.categories.values())
            if not self.categories or abs(total - 1.0) > 1e-9:
                raise ValueError(f"needs category probabilities summing to 1 (got {total:g})")
        if self.dist is not None and self.dist.unit != "hours":
            raise ValueError("needs a dist without a unit: an attribute's number is as written")
        for k, sc in enumerate(self.scale):
            if self.dist is not None and sc.by is not None:
                raise ValueError(f"scale[{k}]: a numeric attribute multiplies by its value "
                                 "(leave out 'by')")
            if self.dist is None and sc.by is None:
                raise ValueError(f"scale[{k}]: needs 'by' (a multiplier per value: "
                                 f"{', '.join(self.labels)})")
            bad = [b for b in sc.by or {} if b not in self.labels]
            if bad:
                raise ValueError(f"scale[{k}].by names {bad[0]!r}, not a value of the attribute "
                                 f"(values: {', '.join(self.labels)})")
            if sc.what == "service" and (0.0 in (sc.by or {}).values()):
                raise ValueError(f"scale[{k}]: a service multiplier must be > 0")
        return self


# --------------------------------------------------------------------------- conditions

Value = str | float | bool
#: a parsed condition: ("or"|"and", a, b), ("not", a), ("cmp", name, op, value),
#: ("in", name, (values...)), ("is", name) for a bare name
Node = tuple

_TOKEN = re.compile(r"""\s*(?:(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<str>'[^']*'|"[^"]*")
                    |(?P<op>==|!=|<=|>=|<|>|\(|\)|,)|(?P<name>[A-Za-z_][A-Za-z0-9_]*))""",
                    re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}


class ConditionError(ValueError):
    """A condition that does not parse, or names what is not there."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            rest = text[at:].lstrip()
            raise ConditionError(f"cannot read {rest[:20]!r} at character "
                                 f"{len(text) - len(rest) + 1}")
        kind = m.lastgroup or ""
        tok = m.group(kind)
        if kind == "name" and tok in _KEYWORDS:
            kind = "kw"
        out.append((kind, tok))
        at = m.end()
    return out


def parse_condition(text: str) -> Node:
    """The tree of a condition, or a :class:`ConditionError` saying where it breaks."""
    toks = _tokens(text)
    pos = 0

    def peek() -> tuple[str, str]:
        return toks[pos] if pos < len(toks) else ("end", "")

    def take(kind: str, tok: str | None = None) -> str:
        nonlocal pos
        k, t = peek()
        if k != kind or (tok is not None and t != tok):
            want = repr(tok) if tok is not None else {"name": "an attribute name"}.get(kind, kind)
            raise ConditionError(f"expected {want}, found {t!r}" if t else
                                 f"expected {want} at the end")
        pos += 1
        return t

    def value() -> Value:
        k, t = peek()
        if k == "num":
            take("num")
            return float(t)
        if k == "str":
            take("str")
            return t[1:-1]
        if k == "kw" and t in ("true", "false"):
            take("kw")
            return t == "true"
        raise ConditionError(f"expected a value ('text', a number, true or false), found "
                             f"{t!r}" if t else "expected a value at the end")

    def neg() -> Node:
        k, t = peek()
        if k == "kw" and t == "not":
            take("kw")
            return ("not", neg())
        if k == "op" and t == "(":
            take("op", "(")
            inner = expr()
            take("op", ")")
            return inner
        name = take("name")
        k, t = peek()
        if k == "op" and t in ("==", "!=", "<", "<=", ">", ">="):
            take("op")
            return ("cmp", name, t, value())
        if k == "kw" and t == "in":
            take("kw")
            take("op", "(")
            vals = [value()]
            while peek() == ("op", ","):
                take("op", ",")
                vals.append(value())
            take("op", ")")
            return ("in", name, tuple(vals))
        return ("is", name)

    def conj() -> Node:
        node = neg()
        while peek() == ("kw", "and"):
            take("kw")
            node = ("and", node, neg())
        return node

    def expr() -> Node:
        node = conj()
        while peek() == ("kw", "or"):
            take("kw")
            node = ("or", node, conj())
        return node

    if not toks:
        raise ConditionError("is empty")
    tree = expr()
    if pos != len(toks):
        raise ConditionError(f"has {toks[pos][1]!r} where the condition should end")
    return tree


def parsed_condition(cls: object, v: str | None) -> str | None:
    """A field validator: the condition parses (its names are checked with the scenario)."""
    if v is not None:
        try:
            parse_condition(v)
        except ConditionError as exc:
            raise ValueError(f"must be a condition on case attributes: {exc}") from None
    return v


def condition_names(node: Node) -> list[str]:
    """The attribute names a parsed condition reads."""
    if node[0] in ("or", "and"):
        return condition_names(node[1]) + condition_names(node[2])
    if node[0] == "not":
        return condition_names(node[1])
    return [node[1]]


def check_condition(node: Node, attrs: dict[str, Attribute]) -> None:
    """Every name of ``node`` is one of ``attrs`` and every comparison fits its kind."""
    if node[0] in ("or", "and"):
        check_condition(node[1], attrs)
        check_condition(node[2], attrs)
        return
    if node[0] == "not":
        check_condition(node[1], attrs)
        return
    name = node[1]
    if name not in attrs:
        known = ", ".join(attrs) or "none"
        raise ConditionError(f"names an unknown attribute {name!r} (attributes: {known})")
    a = attrs[name]
    vals: tuple[Value, ...] = () if node[0] == "is" else (
        (node[3],) if node[0] == "cmp" else node[2])
    if node[0] == "is" and a.kind != "bool":
        raise ConditionError(f"uses {a.kind} attribute {name!r} alone: compare it "
                             f"({name} == ...)")
    if node[0] == "cmp" and node[2] not in ("==", "!=") and a.kind != "number":
        raise ConditionError(f"compares {a.kind} attribute {name!r} with {node[2]}: only == "
                             "and != (or in) fit it")
    for v in vals:
        if a.kind == "number" and (isinstance(v, bool) or not isinstance(v, float)):
            raise ConditionError(f"compares number attribute {name!r} with {v!r}: needs a number")
        if a.kind == "bool" and not isinstance(v, bool):
            raise ConditionError(f"compares true-or-false attribute {name!r} with {v!r}: needs "
                                 "true or false")
        if a.kind == "category" and (not isinstance(v, str) or v not in a.labels):
            raise ConditionError(f"compares attribute {name!r} with {v!r}, not one of its "
                                 f"categories ({', '.join(a.labels)})")
