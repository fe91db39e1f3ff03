"""Helpers the reform families share: distribution moments and scaling, an item's expected
work and deficiency probability, the stations items use."""

from __future__ import annotations

import math
from typing import Any

from sim.model.assembly import Model, build
from sim.model.distributions import family
from sim.model.schema import Dist, Item, Scenario


def _moments(d: Dist) -> tuple[float, float]:
    """Mean and variance of a distribution, in hours."""
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
