"""The result of a run: its replications' tables and the KPIs computed from them.

:class:`RunResult` holds, per replication, the per-case and per-station tables
(:mod:`sim.results.records`) and the replication's KPIs (:func:`sim.results.stats.
replication_kpis`); it gives the summaries with confidence intervals and the JSON contract
of ``govsim run --json`` (:meth:`RunResult.to_dict`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim import i18n
from sim.errors import UsageError
from sim.files import json_safe
from sim.model.assembly import Model
from sim.model.schema import Scenario
from sim.results import checks, drivers, headline, split
from sim.results.display import run_result_html
from sim.results.eventlog import VisitLog, event_log
from sim.results.stats import PARTS, QUANTILES, ci95, summarize


@dataclass
class Replication:
    """Tables of one replication."""

    replication: int
    cases: pd.DataFrame
    stations: pd.DataFrame
    kpis: dict[str, float]
    #: the visits (compact arrays) the event log is made of; None when not kept
    visits: VisitLog | None = field(default=None, repr=False)
    #: streamed (``sim.run(..., stream=True)``): the per-case rows went to a file, not here
    streamed: bool = False
    #: per item: decisions and the share within the item's limit (``records.item_table``)
    items: pd.DataFrame | None = field(default=None, repr=False)


@dataclass(repr=False)
class RunResult:
    """Everything one run produced: per-case and per-station tables and the KPIs."""

    model: Model
    engine: str
    seed: int
    reps: list[Replication] = field(repr=False)

    @property
    def scenario(self) -> Scenario:
        return self.model.scenario

    @property
    def replications(self) -> int:
        return len(self.reps)

    @property
    def cases(self) -> pd.DataFrame:
        """One row per case and replication (columns: ``sim.results.records.CASE_COLUMNS``)."""
        if any(r.streamed for r in self.reps):
            raise UsageError("a streamed run keeps no per-case table: its rows went to the "
                             "file given as cases_out (govsim run --cases PATH); read that")
        return pd.concat([r.cases for r in self.reps], ignore_index=True)

    @property
    def stations(self) -> pd.DataFrame:
        """One row per station and replication (columns:
        ``sim.results.records.STATION_COLUMNS``)."""
        return pd.concat([r.stations for r in self.reps], ignore_index=True)

    @property
    def per_replication(self) -> pd.DataFrame:
        """One row per replication, one column per KPI."""
        return pd.DataFrame([r.kpis for r in self.reps],
                            index=pd.Index([r.replication for r in self.reps], name="replication"))

    @property
    def items(self) -> pd.DataFrame:
        """One row per item and replication (columns: ``sim.results.records.ITEM_COLUMNS``
        after ``replication``)."""
        frames = [r.items.assign(replication=r.replication) for r in self.reps
                  if r.items is not None]
        if not frames:
            return pd.DataFrame()
        t = pd.concat(frames, ignore_index=True)
        return t[["replication", *[c for c in t.columns if c != "replication"]]]

    def item_limits(self) -> dict[str, Any]:
        """Per item with a statutory limit: the share of its decisions within it (mean over
        replications, 95% CI), its limit and the mean working days to a decision."""
        t = self.items
        out: dict[str, Any] = {}
        if t.empty:
            return out
        for name, g in t.groupby("item", sort=False):
            lim = float(g["limit_workdays"].iloc[0])
            lim_h = float(g["limit_hours"].iloc[0])
            if not (math.isfinite(lim) or math.isfinite(lim_h)):
                continue
            m, lo, hi = ci95(g["within_limit_share"].to_numpy(dtype=np.float64))
            dm, dlo, dhi = ci95(g["decision_workdays"].to_numpy(dtype=np.float64))
            row: dict[str, Any] = {
                "limit_workdays": lim if math.isfinite(lim) else None,
                "within_limit_share": m, "within_limit_share_ci95": [lo, hi],
                "decision_workdays": dm, "decision_workdays_ci95": [dlo, dhi],
                "decisions": int(g["decisions"].sum())}
            if math.isfinite(lim_h):  # a limit in calendar hours ("within 24 hours")
                hm, hlo, hhi = ci95(g["within_limit_hours_share"].to_numpy(dtype=np.float64))
                row.update({"limit_hours": lim_h, "within_limit_hours_share": hm,
                            "within_limit_hours_share_ci95": [hlo, hhi],
                            "decision_hours": float(g["decision_hours"].mean())})
            out[str(name)] = row
        return out

    def event_log(self, replication: int | None = None) -> pd.DataFrame:
        """The simulated event log, one row per event (docs/logs.md), every replication
        or one; ``sim.logs.write`` writes it (CSV, Parquet, XES)."""
        return event_log(self, replication)

    def summary(self) -> pd.DataFrame:
        """Mean and 95% CI of every KPI over replications."""
        return summarize(self.per_replication)

    def station_summary(self) -> pd.DataFrame:
        """Per station: mean over replications of each figure, plus CI of utilization and wait."""
        st = self.stations
        g = st.drop(columns=["replication"]).groupby("station", sort=False)
        out = g.mean(numeric_only=True)
        for col in ("utilization", "mean_wait_hours"):
            cis = g[col].apply(lambda x: ci95(x.to_numpy(dtype=np.float64)))
            out[f"{col}_ci95_lo"] = [c[1] for c in cis]
            out[f"{col}_ci95_hi"] = [c[2] for c in cis]
        out["servers"] = out["servers"].astype(int)
        return out.sort_values("utilization", ascending=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``govsim run --json`` (more keys may be added, none renamed)."""
        per = self.per_replication
        per_np = {c: per[c].to_numpy(dtype=np.float64) for c in per.columns}
        tot = per[["arrived", "completed", "open_at_horizon", "abandoned"]].sum()

        def lead(prefix: str) -> dict[str, Any]:
            m, lo, hi = ci95(per_np[f"{prefix}.mean"])
            d: dict[str, Any] = {"mean": m}
            for q in QUANTILES:
                qm, qlo, qhi = ci95(per_np[f"{prefix}.{q}"])
                d[q] = qm
                d[f"{q}_ci95"] = [qlo, qhi]
            d["ci95"] = [lo, hi]
            return d

        def mean_ci(col: str) -> dict[str, Any]:
            m, lo, hi = ci95(per_np[col])
            return {"mean": m, "ci95": [lo, hi]}

        wl, wlo, whi = ci95(per_np["within_limit_share"])
        gl, glo, ghi = ci95(per_np["within_limit_share_government"])
        st = self.station_summary()
        stg = self.time_by_stage()
        per_st: dict[str, dict[str, float]] = {
            str(k): {str(c): float(v) for c, v in row.items()}
            for k, row in self.time_by_station().iterrows()}
        keys = [(v, f"{split.PREFIX}{v[0]}={v[1]}") for v in split.values(self.model)]
        keys = [(v, k) for v, k in keys if f"{k}.completed" in per_np]
        costs: dict[str, Any] = {}
        if self.model.has_costs:  # keys only where the scenario has costs
            costs = {"currency": self.model.currency,
                     "gov_cost_per_case": mean_ci("gov_cost.mean"),
                     "applicant_cost_per_case": mean_ci("applicant_cost.mean")}
        with i18n.use("en"):  # the JSON's labels are English, whatever the language
            head = headline.summary(self.model, per, self.stations)
        out: dict[str, Any] = json_safe({
            "scenario": self.model.name,
            "engine": self.engine,
            "replications": self.replications,
            "seed": self.seed,
            "cases": {"arrived": int(tot["arrived"]), "completed": int(tot["completed"]),
                      "open_at_horizon": int(tot["open_at_horizon"]),
                      "abandoned": int(tot["abandoned"]),
                      "warmup_days": self.model.warmup / 24.0},
            "headline": head,  # what the scenario leads with, in its units, first
            "kpis": {
                "lead_time_workdays": lead("lead_time_workdays"),
                "lead_time_days": lead("lead_time_days"),
                "visits": mean_ci("visits.mean"),
                "rework_rounds": mean_ci("rework_rounds.mean"),
                "supplements": mean_ci("supplements.mean"),
                "within_limit_share": wl,
                "within_limit_share_ci95": [wlo, whi],
                "within_limit_share_government": gl,
                "within_limit_share_government_ci95": [glo, ghi],
                "limit_workdays": _route_limits(self.model),
                "throughput_per_day": mean_ci("throughput_per_day"),
                "open_at_horizon": mean_ci("open_at_horizon"),
                "abandoned_share": mean_ci("abandoned_share"),
                "revoked": mean_ci("revoked.mean"),
                "lead_time_split_days": {
                    "service": mean_ci("split.service_days"),
                    "queue": mean_ci("split.queue_days"),
                    "applicant": mean_ci("split.applicant_days"),
                },
                **({"lead_time_by_stage": {
                    str(n): {**{p: mean_ci(f"stage.{n}.{p}_days") for p in PARTS},
                             "total": {"mean": row["total"],
                                       "ci95": [row["total_ci95_lo"], row["total_ci95_hi"]]},
                             "share": row["share"], "route_share": row["route_share"]}
                    for n, row in stg.iterrows()}} if len(stg) else {}),
                **costs,
                **({"lead_time_by_attribute": {
                    name: {shown: {"completed": mean_ci(f"{k}.completed")["mean"],
                                   **{p.replace("lead_", "lead_time_"): mean_ci(f"{k}.{p}")
                                      for p in split.SPLIT}}
                           for (a, shown, _), k in keys if a == name}
                    for name in dict.fromkeys(a for (a, _, _), _ in keys)}} if keys else {}),
                **headline.new_kpis(self.model, per),
            },
            "items": self.item_limits(),
            **({"checks": checks.report(self.model, self.per_replication)}
               if self.model.scenario.checks else {}),
            "stations": {
                str(name): {
                    "servers": int(row["servers"]),
                    "utilization": float(row["utilization"]),
                    "mean_wait_hours": float(row["mean_wait_hours"]),
                    "mean_queue_length": float(row["mean_queue_length"]),
                    "utilization_ci95": [float(row["utilization_ci95_lo"]),
                                         float(row["utilization_ci95_hi"])],
                    "mean_wait_hours_ci95": [float(row["mean_wait_hours_ci95_lo"]),
                                             float(row["mean_wait_hours_ci95_hi"])],
                    "throughput_per_day": float(row["throughput_per_day"]),
                    "mean_wait_workhours": float(row["mean_wait_workhours"]),
                    **{k: per_st[str(name)][k] for k in ("hours_per_case",
                                                           "queue_hours_per_case")
                       if str(name) in per_st},
                    "kind": "pool" if list(self.model.station_names).index(str(name))
                    >= self.model.n_service_stations else "station",
                }
                for name, row in st.iterrows()
            },
        })
        with i18n.use("en"):  # the JSON says it in English, whatever the language
            out["answer"] = drivers.answer(out)
        return out

    def time_by_stage(self) -> pd.DataFrame:
        """Where the lead time goes, by stage: mean calendar days of service, queue and
        applicant time on the critical path of completed cases (:func:`drivers.by_stage`);
        empty for a streamed run, which keeps the whole triple only."""
        return drivers.by_stage(self.model, self.per_replication)

    def lead_time_by_attribute(self) -> pd.DataFrame:
        """The mean lead time (calendar and working days, 95% CI over replications) of the
        completed cases after the warm-up with each value of each true-or-false or
        categorical case attribute, and how many completed per replication."""
        per = self.per_replication
        rows = []
        for name, shown, _ in split.values(self.model):
            k = f"{split.PREFIX}{name}={shown}"
            if f"{k}.completed" not in per:
                continue
            row: dict[str, Any] = {"attribute": name, "value": shown,
                                   "completed": float(per[f"{k}.completed"].mean())}
            for p in split.SPLIT:
                m, lo, hi = ci95(per[f"{k}.{p}"].to_numpy(dtype=np.float64))
                row.update({p: m, f"{p}_ci95_lo": lo, f"{p}_ci95_hi": hi})
            rows.append(row)
        return pd.DataFrame(rows).set_index(["attribute", "value"]) if rows else pd.DataFrame()

    def time_by_station(self) -> pd.DataFrame:
        """Hours per case spent at each station's items, and of them queueing
        (:func:`drivers.by_station`)."""
        st = self.stations
        if "hours_total" not in st:
            return pd.DataFrame(columns=["hours_per_case", "queue_hours_per_case",
                                         "utilization"])
        return drivers.by_station(self.model, st, self.per_replication)

    def answer(self) -> str:
        """The answer in a sentence: lead time, what dominates it and where
        (:func:`drivers.answer`; ``"answer"`` in :meth:`to_dict`)."""
        return str(self.to_dict()["answer"])

    def __repr__(self) -> str:
        k = self.to_dict()["kpis"]["lead_time_workdays"]

        def num(x: float | None) -> str:
            return "-" if x is None else f"{x:.1f}"

        ci = k.get("ci95") or [None, None]
        return (f"<RunResult {self.model.name!r}: {self.replications} replications, seed "
                f"{self.seed}, engine {self.engine}; lead time {num(k['mean'])} working days "
                f"(95% CI {num(ci[0])}-{num(ci[1])})>")

    def _repr_html_(self) -> str:
        """What Jupyter shows: headline KPIs with CIs and the stations, busiest first."""
        return run_result_html(self)

    def bottleneck(self) -> str:
        """The service station with the highest utilization (the busiest station; what
        lead time waits for is measured by ``sim.levers``: its biggest lever)."""
        st = self.station_summary()
        st = st[[n in self.model.station_names[: self.model.n_service_stations]
                 for n in st.index]]
        return str(st.index[0])


def _route_limits(model: Model) -> float | None:
    lims = {float(x) for x in model.route_limit_workdays if math.isfinite(x)}
    return lims.pop() if len(lims) == 1 else None
