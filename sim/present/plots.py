"""Figures from results (matplotlib): what a planner looks at first.

Every function takes results and returns a :class:`matplotlib.figure.Figure`; none
touches pyplot's global state, so they work the same in a notebook, in a script and in
the report writer (which renders them with the Agg canvas). Results may be given as

* one :class:`~sim.results.result.RunResult`,
* a mapping ``{label: RunResult}`` (scenarios overlaid, in the mapping's order),
* a sequence of RunResults (labelled by their scenario names), or
* a :class:`sim.experiments.compare.CompareResult` (its ``labels`` and ``results``).

Figures
-------
:func:`lead_time_cdf`, :func:`lead_time_hist`
    the distribution of lead time over completed cases (after the warm-up), per
    scenario overlaid, with the statutory limit marked when the routes share one;
:func:`lead_time_split`
    where lead time goes: government work, queueing, applicant time (critical path,
    calendar days), per scenario and case class;
:func:`station_chart`
    station utilization and mean queue wait, the busiest station (highest utilization) first;
:func:`wip_over_time`
    cases in the system over time (mean over replications);
:func:`sweep_heatmap`
    a metric over a two-parameter grid (a line for one parameter).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.i18n import name as part_name
from sim.i18n import t
from sim.present.fonts import fonts, with_fonts
from sim.results.result import RunResult

__all__ = [
    "as_results",
    "lead_time_cdf",
    "lead_time_hist",
    "lead_time_split",
    "save",
    "station_chart",
    "sweep_heatmap",
    "wip_over_time",
]

#: colours of the three parts of lead time (government work, queueing, applicant)
SPLIT_COLORS = {"service": "#4C72B0", "queue": "#DD8452", "applicant": "#55A868"}
SPLIT_LABELS = {"service": "government work", "queue": "queueing", "applicant": "applicant time"}
UNITS = {"workdays": ("lead_workdays", "working days"), "days": ("lead_days", "calendar days")}


def _split_label(part: str) -> str:
    return t(SPLIT_LABELS[part])


def as_results(results: Any) -> dict[str, RunResult]:
    """Normalize the accepted result shapes to an ordered ``{label: RunResult}``."""
    if isinstance(results, RunResult):
        return {results.model.name: results}
    if isinstance(results, Mapping):
        out = {str(k): v for k, v in results.items()}
    elif hasattr(results, "results") and isinstance(results.results, Mapping):
        out = {str(k): v for k, v in results.results.items()}
    elif hasattr(results, "results") and hasattr(results, "labels"):  # a CompareResult
        out = {str(k): v for k, v in zip(results.labels, results.results, strict=True)}
    elif isinstance(results, Sequence) and not isinstance(results, str):
        out = {}
        for r in results:
            label = r.model.name
            k = 2
            while label in out:
                label = f"{r.model.name} ({k})"
                k += 1
            out[label] = r
    else:
        raise TypeError(f"expected a RunResult, a mapping or a list of them, got "
                        f"{type(results).__name__}")
    for label, v in out.items():
        if not isinstance(v, RunResult):
            raise TypeError(f"{label!r} is a {type(v).__name__}, not a RunResult")
    if not out:
        raise ValueError("no results to plot")
    return out


def _measured(r: RunResult) -> pd.DataFrame:
    """Completed cases that arrived after the warm-up (the cases KPIs are over)."""
    c = r.cases
    return c[(~c["warmup"]) & (c["status"] == "completed")]


def _common_limit(results: Mapping[str, RunResult]) -> float | None:
    lims: set[float] = set()
    for r in results.values():
        lims |= {float(x) for x in r.model.route_limit_workdays if math.isfinite(x)}
    return lims.pop() if len(lims) == 1 else None


def _colors(n: int) -> list[str]:
    base = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
            "#8C8C8C", "#CCB974", "#64B5CD"]
    return [base[i % len(base)] for i in range(n)]


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


@with_fonts
def lead_time_cdf(results: Any, unit: str = "workdays", limit: float | None = None,
                  title: str | None = None) -> Figure:
    """Empirical CDF of lead time per scenario (pooled over replications), overlaid.

    ``unit``: ``"workdays"`` (what statutory limits count) or ``"days"`` (calendar).
    The statutory limit (``limit``, or the routes' common limit) is drawn as a line.
    """
    col, label = _unit(unit)
    res = as_results(results)
    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    for (name, r), color in zip(res.items(), _colors(len(res)), strict=True):
        x = np.sort(_measured(r)[col].to_numpy(dtype=np.float64))
        if x.size == 0:
            continue
        y = np.arange(1, x.size + 1) / x.size
        p90 = float(np.quantile(x, 0.9))
        ax.step(x, y, where="post", color=color, lw=1.8,
                label=t("{name} (P50 {p50}, P90 {p90})", name=name,
                        p50=f"{np.quantile(x, 0.5):.1f}", p90=f"{p90:.1f}"))
    if unit == "workdays":
        limit = _common_limit(res) if limit is None else limit
    if limit is not None:
        ax.axvline(limit, color="#444", ls="--", lw=1)
        ax.annotate(t("limit {n}", n=f"{limit:g}"), (limit, 0.02), xytext=(4, 0),
                    textcoords="offset points", fontsize=8, color="#444")
    for q in (0.5, 0.9):
        ax.axhline(q, color="#bbb", lw=0.8, zorder=0)
    ax.set_ylim(0, 1.01)
    ax.set_xlim(left=0)
    ax.set_xlabel(t("lead time ({unit})", unit=label))
    ax.set_ylabel(t("share of completed cases"))
    ax.set_title(title or t("Lead time distribution ({unit})", unit=label), loc="left")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


@with_fonts
def lead_time_hist(results: Any, unit: str = "workdays", bins: int = 40,
                   title: str | None = None) -> Figure:
    """Histogram of lead time per scenario (share of cases per bin), overlaid as steps."""
    col, label = _unit(unit)
    res = as_results(results)
    data = {k: _measured(r)[col].to_numpy(dtype=np.float64) for k, r in res.items()}
    allx = np.concatenate([x for x in data.values() if x.size] or [np.zeros(1)])
    hi = float(np.quantile(allx, 0.995)) if allx.size > 1 else 1.0
    edges = [float(e) for e in np.linspace(0.0, max(hi, 1e-9), bins + 1)]
    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    for (name, x), color in zip(data.items(), _colors(len(data)), strict=True):
        if x.size == 0:
            continue
        w = np.full(x.size, 1.0 / x.size)
        ax.hist(np.minimum(x, edges[-1]), bins=edges, weights=w, histtype="stepfilled",
                alpha=0.25, color=color)
        ax.hist(np.minimum(x, edges[-1]), bins=edges, weights=w, histtype="step", lw=1.6,
                color=color, label=t("{name} (mean {mean})", name=name, mean=f"{x.mean():.1f}"))
    ax.set_xlabel(t("lead time ({unit}; the last bin holds the longest 0.5%)", unit=label))
    ax.set_ylabel(t("share of completed cases"))
    ax.set_title(title or t("Lead time histogram ({unit})", unit=label), loc="left")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _unit(unit: str) -> tuple[str, str]:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)} (got {unit!r})")
    col, words = UNITS[unit]
    return col, t(words)


def split_table(results: Any, by_class: bool = True) -> pd.DataFrame:
    """Mean calendar days per completed case in government work, queueing and applicant
    time (critical path), one row per scenario (and per class when there are several)."""
    res = as_results(results)
    rows = []
    for name, r in res.items():
        c = _measured(r)
        groups: list[tuple[str, pd.DataFrame]] = [(t("all cases"), c)]
        classes = list(r.model.class_names)
        if by_class and len(classes) > 1:
            groups += [(part_name(k, r.scenario.classes.get(k)), c[c["class"] == k])
                       for k in classes]
        for cls, g in groups:
            rows.append({
                "scenario": name, "class": cls, "cases": len(g),
                "service": g["service_hours"].mean() / 24.0 if len(g) else np.nan,
                "queue": g["queue_hours"].mean() / 24.0 if len(g) else np.nan,
                "applicant": g["applicant_hours"].mean() / 24.0 if len(g) else np.nan,
            })
    return pd.DataFrame(rows)


@with_fonts
def lead_time_split(results: Any, by_class: bool = True, title: str | None = None) -> Figure:
    """Where lead time goes: stacked bars of government work, queueing and applicant time
    (mean calendar days on the critical path of completed cases), one bar per scenario
    and, when a scenario has several case classes, per class."""
    tab = split_table(results, by_class)
    labels = [f"{s}\n{c}" if tab["scenario"].nunique() > 1 else c
              for s, c in zip(tab["scenario"], tab["class"], strict=True)]
    fig = _figure(7.5, 1.4 + 0.45 * len(tab) + 0.6)
    _split_bars(fig, tab, labels, height=0.6, share=0.06, fontsize=8)
    fig.axes[0].set_xlabel(t("mean calendar days per completed case (critical path)"))
    fig.axes[0].set_title(title or t("Where lead time goes"), loc="left")
    return fig


def _split_bars(fig: Figure, tab: pd.DataFrame, labels: list[str], height: float,
                share: float, fontsize: int) -> None:
    """One stacked bar per row of ``tab`` (columns service, queue, applicant: days), top
    row first, each part labelled where it is wider than ``share`` of the longest bar."""
    ax = fig.add_subplot()
    parts = ["service", "queue", "applicant"]
    y = np.arange(len(tab))[::-1]
    left = np.zeros(len(tab))
    longest = max(float(tab[parts].fillna(0.0).sum(axis=1).max()) if len(tab) else 0.0, 1e-9)
    for part in parts:
        v = tab[part].fillna(0.0).to_numpy(dtype=np.float64)
        ax.barh(y, v, left=left, color=SPLIT_COLORS[part], label=_split_label(part),
                height=height)
        for yi, li, vi in zip(y, left, v, strict=True):
            if vi > share * longest:
                ax.text(li + vi / 2, yi, f"{vi:.1f}", ha="center", va="center",
                        fontsize=fontsize, color="white")
        left += v
    ax.set_yticks(y, labels, fontsize=8)
    fig.legend(loc="outside lower center", fontsize=8, ncols=3, frameon=False)
    ax.grid(axis="x", alpha=0.3)


@with_fonts
def stage_split(result: RunResult, title: str | None = None, top: int = 20) -> Figure:
    """Where lead time goes, by stage: one stacked bar per stage of government work,
    queueing and applicant time (mean calendar days on the critical path of completed
    cases; ``RunResult.time_by_stage``), route order from the top; with more than ``top``
    stages, the ``top`` that weigh most in the mean lead time."""
    tab = result.time_by_stage()
    multi = tab["route"].nunique() > 1
    more = len(tab) - top
    if more > 0:
        weight = tab["total"] * tab["route_share"].fillna(0.0)
        tab = tab[tab.index.isin(weight.nlargest(top).index)]
        title = title or t("Where lead time goes: the {top} biggest of {n} stages", top=top,
                           n=len(tab) + more)
    labels = [str(n) if multi else str(x) for n, x in zip(tab.index, tab["name"], strict=True)]
    fig = _figure(7.5, 1.2 + 0.32 * len(tab) + 0.6)
    _split_bars(fig, tab, labels, height=0.65, share=0.08, fontsize=7)
    fig.axes[0].set_xlabel(
        t("mean calendar days per completed case in the stage (critical path)"))
    fig.axes[0].set_title(title or t("Where lead time goes, by stage"), loc="left")
    return fig


@with_fonts
def levers_chart(levers: Mapping[str, Any], top: int = 25, title: str | None = None) -> Figure:
    """The levers of ``govsim levers --json`` (its dict), ranked: one bar per lever with its
    paired effect on the KPI and the 95% CI as a whisker, the biggest lever on top (the
    first ``top`` levers)."""
    rows = list(levers["levers"])[:top]
    fig = _figure(7.5, 1.3 + 0.3 * max(len(rows), 1))
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    eff = np.array([r["effect"] if r["effect"] is not None else np.nan for r in rows],
                   dtype=np.float64)
    lo = np.array([r["ci95"][0] if r["ci95"][0] is not None else np.nan for r in rows],
                  dtype=np.float64)
    hi = np.array([r["ci95"][1] if r["ci95"][1] is not None else np.nan for r in rows],
                  dtype=np.float64)
    kinds = sorted({r["kind"] for r in rows})
    palette = dict(zip(kinds, _colors(len(kinds)), strict=True))
    ax.barh(y, np.nan_to_num(eff), color=[palette[r["kind"]] for r in rows], height=0.6)
    err = np.vstack([np.nan_to_num(eff - lo), np.nan_to_num(hi - eff)])
    ax.errorbar(np.nan_to_num(eff), y, xerr=np.clip(err, 0, None), fmt="none", ecolor="#222",
                elinewidth=0.8, capsize=2)
    ax.axvline(0, color="#444", lw=0.8)
    ax.set_yticks(y, [r["lever"] for r in rows], fontsize=7)
    ax.set_xlabel(t("paired difference of {kpi} to the baseline (95% CI)", kpi=levers["kpi"]))
    handles = [Patch(color=palette[k], label=t(k.replace("_", " "))) for k in kinds]
    fig.legend(handles=handles, loc="outside lower center", fontsize=8,
               ncols=max(min(len(kinds), 5), 1), frameon=False)
    ax.set_title(title or t("Levers of {scenario}, biggest first", scenario=levers["scenario"]),
                 loc="left")
    ax.grid(axis="x", alpha=0.3)
    return fig


@with_fonts
def station_chart(result: RunResult, title: str | None = None) -> Figure:
    """Utilization (with 95% CI) and mean queue wait per station, busiest first (the
    bottleneck is the biggest lever, which `govsim levers` measures).

    Agent pools are hatched; their "utilization" is the share of slots held.
    """
    if not isinstance(result, RunResult):
        res = as_results(result)
        result = next(iter(res.values()))
    st = result.station_summary()
    pools = set(result.model.station_names[result.model.n_service_stations:])
    # service stations busiest first (the first is the busiest), then agent pools
    st = st.loc[[n for n in st.index if n not in pools] + [n for n in st.index if n in pools]]
    names = [str(n) for n in st.index]
    n = len(names)
    fig = _figure(9.0, 1.0 + 0.42 * n + 0.5)
    ax_u, ax_w = fig.subplots(1, 2, sharey=True)
    y = np.arange(n)[::-1]
    util = st["utilization"].to_numpy(dtype=np.float64) * 100
    lo = st["utilization_ci95_lo"].to_numpy(dtype=np.float64) * 100
    hi = st["utilization_ci95_hi"].to_numpy(dtype=np.float64) * 100
    err = np.vstack([np.nan_to_num(util - lo), np.nan_to_num(hi - util)])
    colors = ["#C44E52" if u >= 85 else "#DD8452" if u >= 70 else "#4C72B0" for u in util]
    bars = ax_u.barh(y, util, xerr=err, color=colors, height=0.6, capsize=2)
    for b, name in zip(bars, names, strict=True):
        if name in pools:
            b.set_hatch("//")
    for yi, u, h in zip(y, util, np.fmax(hi, util), strict=True):
        if math.isfinite(u):
            ax_u.text(float(h) + 1, yi, f"{u:.0f}%", va="center", fontsize=8)
    ax_u.axvline(100, color="#444", lw=0.8, ls="--")
    top = float(np.nanmax(np.fmax(hi, util))) if n and np.isfinite(util).any() else 100.0
    ax_u.set_xlim(0, max(110.0, top + 14))
    s = result.scenario
    ax_u.set_yticks(y, [f"{part_name(nm, s.stations.get(nm) or s.pools.get(nm))} ({int(c)})"
                        + (t(" pool") if nm in pools else "")
                        for nm, c in zip(names, st["servers"], strict=True)], fontsize=8)
    ax_u.set_xlabel(t("utilization (%)"))
    ax_u.set_title(t("Utilization (servers)"), loc="left", fontsize=10)
    wait = st["mean_wait_hours"].to_numpy(dtype=np.float64)
    wlo = st["mean_wait_hours_ci95_lo"].to_numpy(dtype=np.float64)
    whi = st["mean_wait_hours_ci95_hi"].to_numpy(dtype=np.float64)
    werr = np.vstack([np.nan_to_num(np.maximum(wait - wlo, 0)),
                      np.nan_to_num(np.maximum(whi - wait, 0))])
    ax_w.barh(y, np.nan_to_num(wait), xerr=werr, color=colors, height=0.6, capsize=2)
    wtop = np.fmax(np.nan_to_num(whi), np.nan_to_num(wait))
    for yi, w, h in zip(y, wait, wtop, strict=True):
        if math.isfinite(w):
            ax_w.text(float(h), yi, " " + t("{v} h", v=f"{w:.1f}"), va="center", fontsize=8)
    ax_w.set_xlim(0, max(float(wtop.max()) * 1.18 if n else 1.0, 1e-6))
    ax_w.set_xlabel(t("mean wait in queue (calendar hours)"))
    ax_w.set_title(t("Queue wait"), loc="left", fontsize=10)
    for ax in (ax_u, ax_w):
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title or t("Stations of {scenario}: busiest first",
                            scenario=result.model.name), x=0.02,
                 ha="left", fontsize=11)
    return fig


def wip_series(result: RunResult, points: int = 400) -> pd.DataFrame:
    """Cases in the system (arrived, not ended) over time: mean, min and max over
    replications, indexed by day since the start."""
    c = result.cases
    t = np.linspace(0.0, result.model.horizon, points)
    per = []
    for _, g in c.groupby("replication", sort=True):
        arr = np.sort(g["arrival"].to_numpy(dtype=np.float64))
        end = g["completion"].to_numpy(dtype=np.float64)
        end = np.sort(end[np.isfinite(end)])
        per.append(np.searchsorted(arr, t, side="right") - np.searchsorted(end, t, side="right"))
    m = np.vstack(per) if per else np.zeros((1, points))
    return pd.DataFrame({"mean": m.mean(axis=0), "min": m.min(axis=0), "max": m.max(axis=0)},
                        index=pd.Index(t / 24.0, name="day"))


@with_fonts
def wip_over_time(results: Any, title: str | None = None) -> Figure:
    """Work in progress (cases arrived and not yet ended) over the run, mean over
    replications with its min-max band; the warm-up is shaded."""
    res = as_results(results)
    fig = _figure(7.0, 3.8)
    ax = fig.add_subplot()
    warm = 0.0
    for (name, r), color in zip(res.items(), _colors(len(res)), strict=True):
        w = wip_series(r)
        ax.fill_between(w.index, w["min"], w["max"], color=color, alpha=0.15, lw=0)
        ax.plot(w.index, w["mean"], color=color, lw=1.6, label=name)
        warm = max(warm, r.model.warmup / 24.0)
        if r.model.arrival_end < r.model.horizon:
            ax.axvline(r.model.arrival_end / 24.0, color=color, ls=":", lw=1)
    if warm > 0:
        ax.axvspan(0, warm, color="#999", alpha=0.12, lw=0, label=t("warm-up"))
    ax.set_xlabel(t("day since the start"))
    ax.set_ylabel(t("cases in the system"))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_title(title or t("Work in progress (band: min-max over replications)"), loc="left")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


@with_fonts
def sweep_heatmap(table: pd.DataFrame, metric: str, x: str, y: str | None = None,
                  title: str | None = None, fmt: str = "{:.1f}") -> Figure:
    """A metric over a sweep grid: a heatmap of ``metric`` with parameter ``x`` across
    and ``y`` down (mean over any other swept parameters), or a line when ``y`` is None.

    ``table`` has one row per point, a column per parameter and per metric (what
    :class:`sim.experiments.sweep.SweepResult` ``.table`` holds).
    """
    for col in (metric, x, *([y] if y else [])):
        if col not in table.columns:
            raise ValueError(f"column {col!r} is not in the sweep table")
    if y is None:
        g = table.groupby(x, sort=True)[metric].mean()
        fig = _figure(6.5, 3.8)
        ax = fig.add_subplot()
        xs = list(g.index)
        numeric = all(isinstance(v, int | float) for v in xs)
        pos = xs if numeric else list(range(len(xs)))
        ax.plot(pos, g.to_numpy(dtype=np.float64), marker="o", color="#4C72B0")
        if not numeric:
            ax.set_xticks(pos, [str(v) for v in xs])
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.set_title(title or t("{metric} over {x}", metric=metric, x=x), loc="left")
        return fig
    pv = table.pivot_table(index=y, columns=x, values=metric, aggfunc="mean", dropna=False)
    pv = pv.sort_index(axis=0).sort_index(axis=1)
    z = pv.to_numpy(dtype=np.float64)
    fig = _figure(1.6 + 0.75 * max(z.shape[1], 3), 1.4 + 0.5 * max(z.shape[0], 3))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(z)
    im = ax.imshow(masked, aspect="auto", cmap="viridis_r", origin="lower")
    ax.set_xticks(range(z.shape[1]), [f"{v:g}" if isinstance(v, float) else str(v)
                                      for v in pv.columns], fontsize=8)
    ax.set_yticks(range(z.shape[0]), [f"{v:g}" if isinstance(v, float) else str(v)
                                      for v in pv.index], fontsize=8)
    finite = z[np.isfinite(z)]
    mid = float(np.median(finite)) if finite.size else 0.0
    if z.size <= 400:
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                if math.isfinite(z[i, j]):
                    ax.text(j, i, fmt.format(z[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if z[i, j] > mid else "black")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(im, ax=ax, label=metric, shrink=0.9)
    ax.set_title(title or metric, loc="left")
    return fig


def save(fig: Figure, path: Any, dpi: int = 110) -> None:
    """Write a figure to a file (format from the suffix: .png, .svg, .pdf)."""
    with fonts():
        fig.savefig(path, dpi=dpi)
