"""KPIs: one value per replication, then means with 95% confidence intervals.

Replications are independent, so a KPI's per-replication values are i.i.d. and the
Student-t interval over them is the honest interval (batch means by replication).
Paired differences between scenarios run with common random numbers use the same
interval on the per-replication differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from sim.model import headline as measures
from sim.model.assembly import Model
from sim.results.records import StageSums

QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95}


def ci95(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval of i.i.d. values (NaNs ignored).

    With one value the interval is (nan, nan); with zero spread it is a point.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if n == 1:
        return m, math.nan, math.nan
    # the Student-t quantile (what scipy.stats.t.ppf computes, without importing
    # scipy.stats, which takes longer than a small run)
    half = float(special.stdtrit(n - 1, 0.975) * x.std(ddof=1) / math.sqrt(n))
    return m, m - half, m + half


def replication_kpis(cases: pd.DataFrame, window: tuple[float, float],
                     headline: Sequence[str] = ()) -> dict[str, float]:
    """Case-level KPIs of ONE replication, over cases that arrived after the warm-up, and
    the case measures of the scenario's ``headline`` (columns ``headline.NAME``).

    Throughput is completions per calendar day inside the measurement ``window`` (hours).
    """
    c = cases[~cases["warmup"]]
    done = c[c["status"] == "completed"]
    t0, t1 = window
    # throughput counts every completion in the window, warm-up arrivals included
    in_window = (cases["completion"] >= t0) & (cases["completion"] < t1) & (
        cases["status"] == "completed")
    out: dict[str, float] = {
        "arrived": float(len(c)),
        "completed": float(len(done)),
        "abandoned": float((c["status"] == "abandoned").sum()),
        "open_at_horizon": float((c["status"] == "open").sum()),
        "throughput_per_day": float(in_window.sum()) / max((t1 - t0) / 24.0, 1e-12),
    }
    for col, key in (("lead_workdays", "lead_time_workdays"), ("lead_days", "lead_time_days")):
        x = done[col].to_numpy(dtype=np.float64)
        out[f"{key}.mean"] = float(x.mean()) if x.size else math.nan
        for q, p in QUANTILES.items():
            out[f"{key}.{q}"] = float(np.quantile(x, p)) if x.size else math.nan
    lim = done["limit_workdays"].to_numpy(dtype=np.float64)
    has_limit = np.isfinite(lim)
    out["within_limit_share"] = (float(done["within_limit"][has_limit].mean())
                                 if has_limit.any() else math.nan)
    out["within_limit_share_government"] = (
        float(done["within_limit_government"][has_limit].mean()) if has_limit.any() else math.nan)
    for col, key in (("visits", "visits.mean"), ("rework_rounds", "rework_rounds.mean"),
                     ("supplements", "supplements.mean"),
                     ("service_hours", "split.service_days"), ("queue_hours", "split.queue_days"),
                     ("applicant_hours", "split.applicant_days"), ("revoked", "revoked.mean")):
        x = done[col].to_numpy(dtype=np.float64)
        scale = 1 / 24.0 if key.startswith("split.") else 1.0
        out[key] = float(x.mean()) * scale if x.size else math.nan
    out["abandoned_share"] = out["abandoned"] / out["arrived"] if out["arrived"] else math.nan
    if "gov_cost" in done:  # the scenario has costs: means over the completed cases
        for col in ("gov_cost", "applicant_cost"):
            x = done[col].to_numpy(dtype=np.float64)
            out[f"{col}.mean"] = float(x.mean()) if x.size else math.nan
    for name in headline:
        m = measures.parse(name)
        if m.station is None and name not in measures.COLUMNS:
            out[f"headline.{name}"] = _measure(c if m.cls is None else c[c["class"] == m.cls],
                                               m, window)
    return out


PARTS = StageSums.PARTS


def stage_kpis(model: Model, cls: np.ndarray, t_stages: np.ndarray,
               cases: pd.DataFrame) -> dict[str, float]:
    """Where the lead time goes, by stage, in ONE replication: per stage ``route/stage``
    of the model, the mean calendar days of service, queue and applicant time that the
    completed cases of its route (after the warm-up) spent in it on their critical path
    (keys ``stage.<route/stage>.<part>_days``; the parts of all stages of a route add up
    to its cases' mean lead time). A streamed run adds the same sums case by case."""
    sums = StageSums(model)
    sums.add(cls, t_stages, ((cases["status"] == "completed") & ~cases["warmup"]).to_numpy())
    return sums.kpis()


def _mean(x: pd.Series) -> float:
    v = x.to_numpy(dtype=np.float64)
    return float(v.mean()) if v.size else math.nan


def _share(hits: float, of: float) -> float:
    return hits / of if of else math.nan


def _measure(c: pd.DataFrame, m: measures.Measure, window: tuple[float, float]) -> float:
    """One headline case measure over the (post-warm-up) cases ``c`` of one replication."""
    done = c[c["status"] == "completed"]
    ended = float((c["status"] != "open").sum())
    if m.seconds is not None:  # answered within N s, of the calls offered (answered or not)
        return _share(float((done["queue_hours"] * 3600.0 <= m.seconds).sum()), ended)
    if m.days is not None:  # completed within N (calendar or working) days
        col = "lead_days" if m.unit == "days" else "lead_workdays"
        return _share(float((done[col] <= m.days).sum()), float(len(done)))
    base = m.base
    if base == "answer_seconds":  # average speed of answer: mean wait of the answered
        return _mean(done["queue_hours"]) * 3600.0
    if base == "resolved_share":
        return _share(float(len(done)), float(len(c)))
    if base == "abandoned_share":
        return _share(float((c["status"] == "abandoned").sum()), float(len(c)))
    if base.startswith("lead_time_"):
        unit, _, q = base[len("lead_time_"):].partition(".")
        x = done["lead_workdays" if unit == "workdays" else "lead_days"].to_numpy(
            dtype=np.float64)
        if not x.size:
            return math.nan
        return float(np.quantile(x, QUANTILES[q])) if q else float(x.mean())
    if base.startswith("within_limit_share"):
        lim = np.isfinite(done["limit_workdays"].to_numpy(dtype=np.float64))
        col = "within_limit" if base == "within_limit_share" else "within_limit_government"
        return float(done[col][lim].mean()) if lim.any() else math.nan
    if base == "throughput_per_day":
        t0, t1 = window
        n = ((done["completion"] >= t0) & (done["completion"] < t1)).sum()
        return float(n) / max((t1 - t0) / 24.0, 1e-12)
    return _mean(done[base])  # visits, rework_rounds


def summarize(per_rep: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% CI of every KPI column over replications (one row per KPI)."""
    rows = []
    for col in per_rep.columns:
        m, lo, hi = ci95(per_rep[col].to_numpy(dtype=np.float64))
        rows.append({"kpi": col, "mean": m, "ci95_lo": lo, "ci95_hi": hi})
    return pd.DataFrame(rows).set_index("kpi")


def paired_differences(base: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Per-KPI mean of (other - base) over matched replications, with its 95% CI."""
    common = [c for c in base.columns if c in other.columns]
    diff = other[common].to_numpy(dtype=np.float64) - base[common].to_numpy(dtype=np.float64)
    return summarize(pd.DataFrame(diff, columns=common))
