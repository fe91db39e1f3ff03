"""The headline measures of a run: what its report, ``govsim run`` and its JSON lead with.

A scenario declares them in ``[headline]`` (:mod:`sim.model.headline` checks the names);
one that declares none leads with lead time in working and calendar days, the share
within the limit and the visits. The case measures a scenario declares are computed per
replication (columns ``headline.NAME`` of ``RunResult.per_replication``,
:func:`sim.results.stats.replication_kpis`); station measures come from the station
table. :func:`summary` gives each with its label and unit (in the language in force),
its mean over replications and its 95% CI: the ``headline`` list of ``govsim run --json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sim.i18n import name as part_name
from sim.i18n import t
from sim.model.assembly import Model
from sim.model.headline import COLUMNS, Measure, parse
from sim.results.stats import ci95

#: what a run leads with when its scenario declares no ``[headline]``
DEFAULT: tuple[str, ...] = ("lead_time_workdays", "lead_time_workdays.p90", "lead_time_days",
                            "within_limit_share", "within_limit_share_government", "visits")
#: base measure -> (English label, English unit, format kind)
_TEXT: dict[str, tuple[str, str, str]] = {
    "lead_time_workdays": ("mean lead time", "working days", "days"),
    "lead_time_days": ("mean lead time", "calendar days", "days"),
    "lead_time_workdays.p90": ("P90 lead time", "working days", "days"),
    "lead_time_days.p90": ("P90 lead time", "calendar days", "days"),
    "within_limit_share": ("within the statutory limit", "share of completed cases", "share"),
    "within_limit_share_government": ("within the statutory limit on government time",
                                      "share of completed cases", "share"),
    "visits": ("in-person visits per case", "visits", "count"),
    "rework_rounds": ("rework rounds per case", "rounds", "count"),
    "abandoned_share": ("abandoned", "share of cases", "share"),
    "answer_seconds": ("average speed of answer", "seconds", "seconds"),
    "resolved_share": ("resolved by the horizon", "share of cases", "share"),
    "throughput_per_day": ("completed per day", "cases per day", "count"),
    "utilization": ("utilization", "share of staffed time", "share"),
    "occupancy": ("occupancy", "share of staffed time", "share"),
    "mean_wait_hours": ("mean wait", "calendar hours", "hours"),
    "mean_queue_length": ("mean queue", "cases", "count"),
}


def declared(model: Model) -> tuple[str, ...]:
    """The measures the scenario declares (none: empty)."""
    h = model.scenario.headline
    return tuple(h.measures) if h is not None else ()


def measures(model: Model) -> tuple[str, ...]:
    """The measures a run leads with: the declared ones, else :data:`DEFAULT`."""
    return declared(model) or DEFAULT


def describe(model: Model, m: Measure) -> tuple[str, str, str]:
    """(label, unit, kind) of a measure, in the language in force."""
    if m.seconds is not None:
        label, unit, kind = t("answered within {n} s", n=m.seconds), t("share of calls "
                                                                       "offered"), "share"
    elif m.days is not None:
        label = (t("completed within {n} calendar days", n=m.days) if m.unit == "days"
                 else t("completed within {n} working days", n=m.days))
        unit, kind = t("share of completed cases"), "share"
    else:
        en, unit_en, kind = _TEXT[m.base]
        label, unit = t(en), t(unit_en)
    s = model.scenario
    if m.cls is not None:
        label = t("{measure}: {part}", measure=label, part=part_name(m.cls, s.classes.get(m.cls)))
    if m.station is not None:
        part = s.stations.get(m.station) or s.pools.get(m.station)
        label = t("{measure}: {part}", measure=label, part=part_name(m.station, part))
    return label, unit, kind


def format_value(value: float | None, kind: str) -> str:
    """A measure's value as cards and tables show it, with its unit where it is short."""
    if value is None or not math.isfinite(value):
        return "–"
    # every measure is >= 0 and a share <= 1: an interval's end past them shows the bound
    value = min(max(value, 0.0), 1.0) if kind == "share" else max(value, 0.0)
    if kind == "share":
        return f"{value * 100:.1f}%"
    if kind == "seconds":
        return t("{v} s", v=f"{value:,.1f}")
    if kind == "hours":
        return t("{v} h", v=f"{value:,.2f}")
    if kind == "count":
        return f"{value:,.2f}"
    return f"{value:,.1f}"


def _values(model: Model, m: Measure, per: pd.DataFrame, stations: pd.DataFrame) -> np.ndarray:
    if m.station is not None:
        col = "utilization" if m.base == "occupancy" else m.base
        st = stations[stations["station"] == m.station]
        return st[col].to_numpy(dtype=np.float64)
    col = f"headline.{m.name}"
    if col not in per:
        col = COLUMNS[m.name]
    return per[col].to_numpy(dtype=np.float64)


def per_replication(model: Model, m: Measure, per: pd.DataFrame,
                    stations: pd.DataFrame) -> np.ndarray:
    """A measure's value per replication (``per``: ``RunResult.per_replication``,
    ``stations``: ``RunResult.stations``), in replication order."""
    return _values(model, m, per, stations)


def summary(model: Model, per: pd.DataFrame, stations: pd.DataFrame) -> list[dict[str, Any]]:
    """Each headline measure: name, label, unit, kind, mean and 95% CI over replications."""
    out: list[dict[str, Any]] = []
    for text in measures(model):
        m = parse(text)
        label, unit, kind = describe(model, m)
        mean, lo, hi = ci95(_values(model, m, per, stations))
        out.append({"name": text, "label": label, "unit": unit, "kind": kind, "mean": mean,
                    "ci95": [lo, hi]})
    return out


def new_kpis(model: Model, per: pd.DataFrame) -> dict[str, Any]:
    """The declared case measures that are not KPIs of every run (``answer_seconds``,
    ``answered_within_15s_share``, ...), as ``kpis`` keys of the JSON: ``{mean, ci95}``."""
    out: dict[str, Any] = {}
    for text in declared(model):
        if text.startswith(("classes.", "stations.")) or text in COLUMNS:
            continue
        mean, lo, hi = ci95(per[f"headline.{text}"].to_numpy(dtype=np.float64))
        out[text] = {"mean": mean, "ci95": [lo, hi]}
    return out


def cards(model: Model, items: list[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(value, caption) of each headline measure (``items``: the JSON's ``headline``), for
    a report's cards, labelled in the language in force."""
    out = []
    for h in items:
        if h["mean"] is None and not declared(model):  # a default that does not apply
            continue
        label, unit, _ = describe(model, parse(h["name"]))
        h = {**h, "label": label, "unit": unit}
        lo, hi = h["ci95"]
        kind = h["kind"]
        ci = ("" if lo is None else t(", 95% CI [{lo}, {hi}]", lo=format_value(lo, kind),
                                       hi=format_value(hi, kind)))
        unit = "" if kind in ("share", "seconds", "hours") else t(" ({unit})", unit=h["unit"])
        out.append((format_value(h["mean"], h["kind"]), f"{h['label']}{unit}{ci}"))
    return out
