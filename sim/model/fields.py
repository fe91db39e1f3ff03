"""The checked scalars of the scenario schema (:mod:`sim.model.schema`): counts, numbers,
probabilities, names, free text and dates with their rules, and the strict base model
every section derives from. Each rule's message is what a user sees after the field's
name (``must be an integer >= 1``)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


#: the largest integer a count field takes: far above any real office, far below what
#: overflows a 64-bit array or asks for memory no machine has
MAX_COUNT = 1_000_000_000
#: the most replications a run takes, and the largest seed (numpy's SeedSequence takes more,
#: but a seed is a 64-bit number everywhere a user writes one)
MAX_REPLICATIONS, MAX_SEED = 100_000, 2**63 - 1


def _int_at_least(n: int, hi: int = MAX_COUNT) -> Any:
    def check(v: object) -> object:
        if isinstance(v, bool) or not isinstance(v, int) or v < n:
            raise ValueError(f"must be an integer >= {n}")
        if v > hi:
            raise ValueError(f"must be an integer in [{n}, {hi:,}]")
        return v

    return BeforeValidator(check)


def _number(lo: float | None = None, lo_open: StrictBool = False, hi: float | None = None) -> Any:
    if lo is None:
        rule = "must be a number"
    elif lo_open:
        rule = f"must be a number > {lo:g}"
    else:
        rule = f"must be a number >= {lo:g}"
    if hi is not None:
        rule = f"must be a number in [{lo:g}, {hi:g}]"

    def check(v: object) -> object:
        if not _is_number(v) or not math.isfinite(float(v)):  # type: ignore[arg-type]
            raise ValueError(rule)
        x = float(v)  # type: ignore[arg-type]
        if lo is not None and (x < lo or (lo_open and x == lo)):
            raise ValueError(rule)
        if hi is not None and x > hi:
            raise ValueError(rule)
        return x

    return BeforeValidator(check)


def _probability(v: object) -> object:
    if not _is_number(v) or not 0.0 <= float(v) <= 1.0:  # type: ignore[arg-type]
        raise ValueError("must be a probability in [0, 1]")
    return float(v)  # type: ignore[arg-type]


PosInt = Annotated[int, _int_at_least(1), Field(json_schema_extra={"minimum": 1})]
NonNegInt = Annotated[int, _int_at_least(0), Field(json_schema_extra={"minimum": 0})]
PosFloat = Annotated[float, _number(0.0, lo_open=True),
                     Field(json_schema_extra={"exclusiveMinimum": 0})]
NonNegFloat = Annotated[float, _number(0.0), Field(json_schema_extra={"minimum": 0})]
Probability = Annotated[float, BeforeValidator(_probability),
                        Field(json_schema_extra={"minimum": 0, "maximum": 1})]
Name = Annotated[str, Field(min_length=1, max_length=100,
                            pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")]
#: free text (notes, descriptions): bounded so a runaway file is refused, not stored
Text = Annotated[str, Field(max_length=20_000)]
#: a name outputs show for a scenario part (a station's department, a class, an item)
Label = Annotated[str, Field(max_length=200)]
Days = Annotated[float, _number(0.0, lo_open=True), Field(le=36_525)]


def _plausible_date(v: dt.date) -> dt.date:
    if not 1900 <= v.year <= 2200:
        raise ValueError("must be a date between 1900 and 2200")
    return v


Date = Annotated[dt.date, AfterValidator(_plausible_date)]


class Strict(BaseModel):
    """Base for every section: unknown keys are errors; values are checked as assigned."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# --------------------------------------------------------------------------- distributions

Unit = Literal["seconds", "minutes", "hours", "days"]
UNIT_HOURS: dict[str, float] = {"seconds": 1 / 3600, "minutes": 1 / 60, "hours": 1.0, "days": 24.0}


class Dist(Strict):
    """A random duration: a family with its mean and coefficient of variation.

    - ``deterministic``: always ``mean``;
    - ``exponential``: ``mean`` (its CV is 1; a ``cv`` other than 1 is an error);
    - ``gamma`` and ``lognormal``: ``mean`` and ``cv``;
    - ``triangular``: ``min``, ``mode``, ``max`` (or ``mean`` and ``cv`` <= 0.408 for the
      symmetric one);
    - ``empirical``: ``values`` drawn with equal probability.

    ``unit`` says what the numbers are in (default hours). Whether it is working or
    calendar time depends on where the distribution is used.
    """

    dist: Literal["deterministic", "exponential", "gamma", "lognormal", "triangular", "empirical"]
    mean: NonNegFloat | None = None
    cv: NonNegFloat | None = None
    min: NonNegFloat | None = None
    mode: NonNegFloat | None = None
    max: NonNegFloat | None = None
    values: list[NonNegFloat] | None = None
    unit: Unit = "hours"

    @model_validator(mode="after")
    def _parameters_fit_family(self) -> Dist:
        d = self.dist
        if d == "empirical":
            if not self.values:
                raise ValueError("needs a non-empty 'values' list for an empirical distribution")
            return self
        if d == "triangular" and self.mean is None:
            lo, mo, hi = self.min, self.mode, self.max
            if lo is None or mo is None or hi is None:
                raise ValueError("needs 'min', 'mode' and 'max' (or 'mean' and 'cv') for a "
                                 "triangular distribution")
            if not lo <= mo <= hi or lo == hi:
                raise ValueError(f"needs min <= mode <= max and min < max for a triangular "
                                 f"distribution (got {lo:g}, {mo:g}, {hi:g})")
            return self
        if self.mean is None:
            raise ValueError(f"needs 'mean' for a {d} distribution")
        if d in ("gamma", "lognormal") and self.cv is None:
            raise ValueError(f"needs 'cv' for a {d} distribution")
        if d == "exponential" and self.cv is not None and self.cv != 1.0:
            raise ValueError(f"must have cv = 1 for an exponential distribution (got cv = "
                             f"{self.cv:g}); use gamma or lognormal for another cv")
        if d == "triangular" and (self.cv or 0.0) > 1 / math.sqrt(6) + 1e-12:
            raise ValueError(f"needs cv <= 0.408 for a symmetric triangular distribution "
                             f"(got {self.cv:g})")
        return self
