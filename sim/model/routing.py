"""A route's part of the scenario schema: routes, their stages, and a stage's branches
(docs/model.md, "Cases" and "Paths and branches"); re-exported by :mod:`sim.model.schema`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.model.attributes import Condition, parsed_condition
from sim.model.fields import Name, PosFloat, Probability, Strict, Text

#: how far a choice stage's branch probabilities may sum from 1
PATH_SUM_TOLERANCE = 1e-9


class Branch(Strict):
    """A branch of a parallel or a choice stage: items one after another (docs/model.md,
    "Paths and branches"). In a choice stage it has a ``probability`` (the stage's sum to
    1) or a ``when`` condition (the first that holds; the last branch has none: otherwise)."""

    name: Name
    items: list[Name] = Field(min_length=1)
    probability: Probability | None = Field(
        None, description="choice stage: the chance a case takes this branch")
    when: Condition | None = Field(
        None, description="choice stage: a condition on case attributes; the first branch "
        "whose condition holds is taken, the last branch (no condition) otherwise")
    note: Text = ""

    _when_parses = field_validator("when")(parsed_condition)


class Stage(Strict):
    """Items done in sequence or in parallel (the stage ends when its last item ends), or
    one of its branches chosen per case (``mode = "choice"``).

    With ``branches``, ``items`` is their items in order (filled in when not given)."""

    name: Name
    mode: Literal["sequential", "parallel", "choice"] = "sequential"
    items: list[Name] = Field(default_factory=list)
    branches: list[Branch] | None = Field(
        None, description="parallel: branches started together, each a sequence of items; "
        "choice: the branches a case chooses one of")
    probability: Probability = Field(1.0, description="chance a case goes through this stage")
    note: Text = ""

    def with_items(self, edit: Callable[[list[str]], list[str]]) -> Stage | None:
        """The stage with ``edit`` applied to its items (to each branch's, when it has
        branches): a parallel branch left empty is dropped, a choice branch left empty is a
        ValueError (its cases would have no path); None when no item is left."""
        if self.branches is None:
            items = edit(list(self.items))
            return self.model_copy(update={"items": items}) if items else None
        branches = []
        for b in self.branches:
            items = edit(list(b.items))
            if not items and self.mode == "choice":
                raise ValueError(f"would leave branch '{b.name}' of choice stage "
                                 f"'{self.name}' with no items")
            if items:
                branches.append(b.model_copy(update={"items": items}))
        if not branches:
            return None
        return Stage.model_validate({**self.model_dump(exclude={"items", "branches"}),
                                     "branches": [b.model_dump() for b in branches]})

    @model_validator(mode="after")
    def _branches_fit(self) -> Stage:
        br = self.branches
        if br is None:
            if self.mode == "choice":
                raise ValueError("a choice stage needs branches (each with items and a "
                                 "probability or a when condition)")
            if not self.items:
                raise ValueError("items must list at least 1 item")
            return self
        if self.mode == "sequential":
            raise ValueError("branches need mode = \"parallel\" or \"choice\" (got mode "
                             "'sequential')")
        if not br:
            raise ValueError("branches must list at least 1 branch")
        names = [b.name for b in br]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise ValueError(f"branches must have distinct names (got {dup!r} twice)")
        flat = [n for b in br for n in b.items]
        if self.items and self.items != flat:
            raise ValueError(f"items must be the branches' items in order, or be left out "
                             f"(got {self.items} for branches of {flat})")
        if self.items != flat:
            self.__dict__["items"] = flat  # no assignment check: it would run this again
        if self.mode == "parallel":
            bad = next((b.name for b in br if b.probability is not None or b.when is not None),
                       None)
            if bad is not None:
                raise ValueError(f"branch {bad!r} of a parallel stage takes no probability or "
                                 "when: every branch runs (a choice stage chooses one)")
            return self
        probs = [b.probability for b in br]
        if any(p is not None for p in probs):
            if any(p is None for p in probs) or any(b.when is not None for b in br):
                raise ValueError("branches must all have a probability, or choose by when "
                                 "conditions, not both")
            total = math.fsum(p for p in probs if p is not None)
            if abs(total - 1.0) > PATH_SUM_TOLERANCE:
                raise ValueError(f"branches' probabilities must sum to 1 (got {total:.12g})")
            return self
        missing = next((b.name for b in br[:-1] if b.when is None), None)
        if missing is not None:
            raise ValueError(f"branch {missing!r} needs a probability or a when condition "
                             "(only the last branch of a choice stage goes without: "
                             "otherwise)")
        if br[-1].when is not None:
            raise ValueError(f"the last branch ({br[-1].name!r}) of a choice by condition "
                             "must have no when: it is taken otherwise, so every case has a "
                             f"path (got when = {br[-1].when!r})")
        return self


class Route(Strict):
    """Ordered stages; a case class follows one route."""

    stages: list[Stage] = Field(min_length=1)
    limit_workdays: PosFloat | None = Field(
        None, description="statutory limit of the whole route (default: sum over stages)"
    )
    note: Text = ""
