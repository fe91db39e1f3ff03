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


def replication_kpis(cases: pd.DataFrame, window: tuple[float, float]) -> dict[str, float]:
    """Case-level KPIs of ONE replication, over cases that arrived after the warm-up.

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
