"""Where the lead time goes, by stage and by station, and the answer in a sentence.

The engines record, per case, the critical-path triple (service, queue, applicant
hours) at the end of each stage of its route (``RepResult.t_stages``);
:func:`sim.results.stats.stage_kpis` turns it into per-replication means by stage. Here
those means get their 95% intervals over replications (:func:`by_stage`), the stations
the hours cases spend at their items (:func:`by_station`), and :func:`answer` says what
the figures say: the lead time with its interval, the part of it that dominates, the
stage where most of that part is, and the station where cases queue longest.
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
from sim.results.stats import PARTS, ci95

#: what each part of the critical path is, in the sentence
PART_WORDS = {"service": "government work (service and government lags)",
              "queue": "government queues",
              "applicant": "with the applicant (preparation and fixes)"}


def by_stage(model: Model, per_rep: pd.DataFrame) -> pd.DataFrame:
    """One row per stage (``route/stage``, route order): mean calendar days of each part on
    the critical path of the route's completed cases, the stage's total with its 95% CI
    over replications, and its share of the route's mean lead time."""
    rows = []
    ptr = model.route_stage_ptr
    # each route's share of the completed cases (what its stages weigh in the mean)
    counts = {r: float(per_rep[k].sum()) if (k := f"route.{model.route_names[r]}.completed")
              in per_rep else math.nan for r in range(len(ptr) - 1)}
    all_done = sum(counts.values())
    for r in range(len(ptr) - 1):
        names = [model.stage_names[s] for s in range(ptr[r], ptr[r + 1])]
        if not all(f"stage.{n}.service_days" in per_rep for n in names):
            continue
        route_total = per_rep[[f"stage.{n}.{p}_days" for n in names for p in PARTS]].sum(
            axis=1, min_count=1)
        lead = float(np.nanmean(route_total.to_numpy(dtype=np.float64)))
        for n in names:
            cols = {p: per_rep[f"stage.{n}.{p}_days"].to_numpy(dtype=np.float64)
                    for p in PARTS}
            m, lo, hi = ci95(cols["service"] + cols["queue"] + cols["applicant"])
            row: dict[str, Any] = {"stage": n, "route": n.split("/", 1)[0],
                                   "name": n.split("/", 1)[-1]}
            row.update({p: ci95(cols[p])[0] for p in PARTS})
            row.update(total=m, total_ci95_lo=lo, total_ci95_hi=hi,
                       share=m / lead if lead > 0 else math.nan,
                       route_share=counts[r] / all_done if all_done > 0 else math.nan)
            rows.append(row)
    cols_out = ["stage", "route", "name", *PARTS, "total", "total_ci95_lo", "total_ci95_hi",
                "share", "route_share"]
    return pd.DataFrame(rows, columns=cols_out).set_index("stage")


def by_station(model: Model, stations: pd.DataFrame, per_rep: pd.DataFrame) -> pd.DataFrame:
    """One row per service station: calendar hours per case spent at its items (queue +
    service, over the visits that joined in the measurement window, per case arrived
    after the warm-up) and of them queueing, means over replications, with utilization."""
    arrived = per_rep["arrived"]
    st = stations[stations["station"].isin(model.station_names[: model.n_service_stations])]
    rows = []
    for name, g in st.groupby("station", sort=False):
        n = arrived.reindex(g["replication"]).to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            hours = g["hours_total"].to_numpy(dtype=np.float64) / n
            queue = g["wait_hours_total"].to_numpy(dtype=np.float64) / n
        rows.append({"station": name, "hours_per_case": ci95(hours)[0],
                     "queue_hours_per_case": ci95(queue)[0],
                     "utilization": float(g["utilization"].mean())})
    return pd.DataFrame(rows, columns=["station", "hours_per_case", "queue_hours_per_case",
                                       "utilization"]).set_index("station")


#: units a duration may be said in: name, days per unit, digits
UNITS = (("days", 1.0, 1), ("hours", 1 / 24, 1), ("minutes", 1 / 1440, 1),
         ("seconds", 1 / 86400, 0))


def unit_for(days: float) -> tuple[str, float, int]:
    """The unit that reads best for ``days``: the largest with at least one of it."""
    return next((u for u in UNITS if days >= u[1]), UNITS[-1])


def duration(days: float) -> str:
    """A duration in the unit that reads best: days, hours, minutes or seconds."""
    name, per, digits = unit_for(days)
    return t("{v} " + name, v=f"{days / per:.{digits}f}")


def answer(d: Mapping[str, Any], scenario: Any = None) -> str:
    """The run's answer in a sentence, from its JSON (``RunResult.to_dict()``): lead time
    with its 95% CI, the critical path's biggest part and the stage where most of it is
    (weighted by the share of cases whose route has the stage), and the station where
    cases queue longest."""
    k = d["kpis"]

    def station_label(key: str) -> str:  # the scenario's name for it (label, label_zh)
        if scenario is None:
            return key
        return part_name(key, scenario.stations.get(key) or scenario.pools.get(key))

    lt, cal = k["lead_time_workdays"], k["lead_time_days"]
    if lt.get("mean") is None or cal.get("mean") is None:
        return t("No case completed after the warm-up: no lead time to explain.")
    if cal["mean"] >= 1.0:
        text, ci = t("Lead time {v} working days", v=f"{lt['mean']:.1f}"), lt.get("ci95")
        tail = t(" ({v} calendar days)", v=f"{cal['mean']:.1f}")
    else:  # hours, minutes or seconds: calendar time is what the caller waits
        per = unit_for(cal["mean"])[1]
        text, tail = t("Lead time {v}", v=duration(cal["mean"])), ""
        ci = [None if x is None else x / per for x in (cal.get("ci95") or [None, None])]
    if ci and ci[0] is not None and ci[1] is not None:
        text += t(" [{lo}, {hi}] (95% CI, simulation noise only)", lo=f"{ci[0]:.1f}",
                  hi=f"{ci[1]:.1f}")
        tail = t(", {v} calendar days", v=f"{cal['mean']:.1f}") if tail else ""
    text += tail
    split = {p: (k["lead_time_split_days"][p].get("mean") or 0.0) for p in PARTS}
    total = sum(split.values())
    if total <= 0:
        return text + t(".")
    order = sorted(PARTS, key=lambda p: -split[p])
    top = order[0]
    text += t("; {share} is {part}", share=f"{split[top] / total:.0%}", part=t(PART_WORDS[top]))
    stages = k.get("lead_time_by_stage") or {}
    if len(stages) > 1:
        def weight(s: str) -> float:
            v = stages[s]
            return (v[top]["mean"] or 0.0) * (v.get("route_share") or 0.0)

        where = max(stages, key=weight)
        text += t(", most in stage {stage} ({time})", stage=where.split("/", 1)[-1],
                  time=duration(stages[where][top]["mean"] or 0.0))
    rest = [t("{part} {share}", part=t(PART_WORDS[p]), share=f"{split[p] / total:.0%}")
            for p in order[1:]]
    text += t("; ") + t(" and ").join(rest)
    queues = {s: v["queue_hours_per_case"] for s, v in d["stations"].items()
              if v.get("kind") == "station" and v.get("queue_hours_per_case") is not None}
    if queues and max(queues.values()) > 0:
        s = max(queues, key=lambda x: queues[x])
        text += t(", queueing longest at {station} ({time} per case over its items, {util} "
                  "busy)", station=station_label(s), time=duration(queues[s] / 24.0),
                  util=f"{d['stations'][s]['utilization']:.0%}")
    return text + t(".")
