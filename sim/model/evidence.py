"""What a scenario says about how sure it is: the ranges of its assumptions
(``[uncertainty]``, :mod:`sim.experiments.uncertainty`) and the figures of its source it
is checked against (``[[checks]]``, :mod:`sim.results.checks`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sim.model.attributes import Condition, parsed_condition
from sim.model.fields import Name, Strict, Text, _number


class Range(Strict):
    """How unsure an assumption is: its value lies in [low, high], uniformly, or with a
    triangular density peaking at ``mode`` (docs/model.md, "Uncertain assumptions")."""

    low: Annotated[float, _number(0.0), Field(le=1e12)]
    high: Annotated[float, _number(0.0), Field(le=1e12)]
    mode: Annotated[float, _number(0.0), Field(le=1e12)] | None = Field(
        None, description="the most likely value (triangular); none: uniform")
    reason: Text = Field("", description="why this range: its source or reasoning")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low must be < high (got low = {self.low:g}, high = {self.high:g})")
        if self.mode is not None and not self.low <= self.mode <= self.high:
            raise ValueError(f"mode must be in [low, high] (got mode = {self.mode:g}, "
                             f"[{self.low:g}, {self.high:g}])")
        return self


class Check(Strict):
    """A figure of the scenario's source that the run is checked against (docs/model.md,
    "Checks against the source"): the simulated value of an observable, with its CI, and
    whether it lies within ``tolerance`` of ``figure``."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    observable: Literal["arrivals", "completed_share", "fastest_days"] = Field(
        description="arrivals: cases of the cohort; completed_share: the share of the cohort "
        "through `stage` (or complete) by `by`; fastest_days: the fewest calendar days from "
        "arrival to the end of `stage` (or completion) in the cohort")
    figure: Annotated[float, _number(0.0), Field(le=1e12)]
    tolerance: Annotated[float, _number(0.0), Field(le=1e12)] = 0.0
    class_name: Name | None = Field(None, description="the cohort's class (none: every class)")
    arrived_from: dt.date | None = Field(None, description="the cohort arrived on or after")
    arrived_until: dt.date | None = Field(None, description="... and before this date")
    when: Condition | None = Field(
        None, description="the cohort's cases are those this condition on case attributes "
        "holds for")
    stage: Name | None = Field(None, description="a stage of the class's route")
    by: dt.date | None = Field(None, description="completed_share: by the start of this date")
    source: Text = ""

    _when_parses = field_validator("when")(parsed_condition)
