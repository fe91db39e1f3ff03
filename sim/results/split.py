"""KPIs split by case attribute (docs/model.md, "Case attributes"): per replication, the
mean lead time of the completed cases after the warm-up with each value of each
true-or-false or categorical attribute; and a condition's truth on a case table (a
check's cohort)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.model.assembly import Model
from sim.model.attributes import parse_condition
from sim.results.records import ATTR, PATH

#: the key of a split KPI among a replication's KPIs: by_attr.NAME=VALUE.lead_days ...
PREFIX = "by_attr."
SPLIT = ("lead_days", "lead_workdays")


def values(model: Model) -> list[tuple[str, str, object]]:
    """(attribute, value as written, value as the case table holds it) of every split;
    then (``path.STAGE``, branch, branch) of every choice stage's branches."""
    am = model.attributes
    out: list[tuple[str, str, object]] = []
    for a, name in enumerate(am.names if am is not None else ()):
        assert am is not None
        if am.kinds[a] == "category":
            out += [(name, v, v) for v in am.labels[a]]
        elif am.kinds[a] == "bool":
            out += [(name, "false", False), (name, "true", True)]
    for p, name in enumerate(model.path_names):
        out += [(PATH + name, v, v) for v in model.path_labels[p]]
    return out


def column(name: str) -> str:
    """The case table's column of a split's name (an attribute's, or a path's)."""
    return name if name.startswith(PATH) else ATTR + name


def attribute_kpis(model: Model, cases: pd.DataFrame) -> dict[str, float]:
    """Per value of each attribute: the completed cases after the warm-up with it, and
    their mean lead time in calendar and working days (NaN when there is none)."""
    out: dict[str, float] = {}
    split = values(model)
    if not split:
        return out
    c = cases[~cases["warmup"].to_numpy(dtype=bool)
              & (cases["status"] == "completed").to_numpy()]
    for name, shown, held in split:
        col = c[column(name)].to_numpy(dtype=object)
        sel = np.asarray([isinstance(x, str | bool | np.bool_) and x == held for x in col],
                         dtype=bool) if col.size else np.zeros(0, dtype=bool)
        key = f"{PREFIX}{name}={shown}"
        out[f"{key}.completed"] = float(sel.sum())
        for part in SPLIT:
            x = c[part].to_numpy(dtype=np.float64)[sel]
            out[f"{key}.{part}"] = float(x.mean()) if x.size else math.nan
    return out


def table_codes(model: Model, cases: pd.DataFrame) -> NDArray[np.float64]:
    """The (n, A) attribute values of a case table's rows as the model codes them."""
    am = model.attributes
    assert am is not None
    out = np.full((len(cases), am.n), np.nan)
    for a, name in enumerate(am.names):
        col = cases[ATTR + name]
        if am.kinds[a] == "number":
            out[:, a] = col.to_numpy(dtype=np.float64)
            continue
        code: dict[object, float] = ({v: float(k) for k, v in enumerate(am.labels[a])}
                                     if am.kinds[a] == "category" else {False: 0.0, True: 1.0})
        out[:, a] = np.asarray([code.get(x, math.nan) if isinstance(x, str | bool | np.bool_)
                                else math.nan for x in col.to_numpy(dtype=object)],
                               dtype=np.float64)
    return out


def holds(model: Model, cases: pd.DataFrame, when: str) -> NDArray[np.bool_]:
    """Where a condition on case attributes holds, row by row of a case table."""
    am = model.attributes
    if am is None:
        return np.zeros(len(cases), dtype=np.bool_)
    return am.holds(parse_condition(when), table_codes(model, cases))
