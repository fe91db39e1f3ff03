"""What the page shows of a comparison: the answer in a sentence, the KPI table with the
paired differences and their CIs, the lead-time distributions (an inline SVG: drawn in
milliseconds, no matplotlib on the planner's wait), where the time goes, the stations.

Everything here reads a :class:`~sim.experiments.compare.CompareResult` (baseline first,
variant second) and returns plain values for the template; the words come from
:mod:`sim.serve.texts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim import i18n
from sim.experiments.compare import CompareResult
from sim.model.assembly import Model
from sim.model.headline import parse as parse_measure
from sim.model.schema import Scenario
from sim.reforms import CATALOGUE
from sim.results import headline as hl
from sim.results.kpis import BY_NAME, format_value
from sim.results.stats import ci95
from sim.serve.texts import label, t
from sim.serve.variant import Variant

#: the KPIs of the page's table, in order (those the scenario reports)
PAGE_KPIS = ("lead_time_workdays", "lead_time_workdays.p50", "lead_time_workdays.p90",
             "lead_time_days", "within_limit_share", "visits", "rework_rounds",
             "lead_time_split_days.service", "lead_time_split_days.queue",
             "lead_time_split_days.applicant", "throughput_per_day", "abandoned_share",
             "gov_cost_per_case", "applicant_cost_per_case")
SPLIT = (("split.service_days", "split_service", "#4e79a7"),
         ("split.queue_days", "split_queue", "#e15759"),
         ("split.applicant_days", "split_applicant", "#f28e2b"))
COLORS = ("#4e79a7", "#e15759")


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def reform_title(name: str, lang: str) -> str:
    """A reform's title in ``lang``: the catalogue's titles lead with the Chinese name
    (``一网通办 one-network online handling``)."""
    title = CATALOGUE[name].title
    head, _, rest = title.partition(" ")
    if _has_cjk(head):
        return head if lang == "zh" else (rest or title)
    return title


def changes_text(v: Variant, base: Scenario, lang: str) -> str:
    parts = [reform_title(n, lang) + (f" ({', '.join(f'{k}={x}' for k, x in args)})"
                                      if args else "") for n, args in v.reforms]
    parts += [t(lang, "staff_change", station=label(base.stations[s], s, lang), servers=n)
              for s, n in v.servers]
    sep = "、" if lang == "zh" else ", "
    if len(parts) > 1:
        return sep.join(parts[:-1]) + t(lang, "and") + parts[-1]
    return parts[0] if parts else ""


def fmt(value: float | None, kind: str, sign: bool = False) -> str:
    """:func:`format_value`, with a value that rounds to zero shown unsigned (``0.0``, not
    ``-0.0`` or ``+0.0``)."""
    text = format_value(value, kind, sign)
    return text.lstrip("+-") if text.strip("+-0.,%") == "" and text != "-" else text


@dataclass
class Computed:
    """What every part of the page reads of a comparison, computed once (in the job's
    thread, so a page or a language switch renders in milliseconds)."""

    res: CompareResult
    tab: pd.DataFrame
    dicts: list[dict[str, Any]]
    lead: list[np.ndarray]

    @classmethod
    def of(cls, res: CompareResult) -> Computed:
        return cls(res, res.table(), [r.to_dict() for r in res.results],
                   [_measured(res, k) for k in range(len(res.results))])


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def describe(name: str, model: Model, lang: str) -> tuple[str, str, str] | None:
    """(label with its unit, unit, kind) of a measure in ``lang``, from the shared catalogue
    (``sim.results.headline``); None for a KPI that is no headline measure."""
    try:
        m = parse_measure(name)
    except ValueError:
        return None
    with i18n.use(lang):
        text, unit, kind = hl.describe(model, m)
        shown = text if kind == "share" else text + i18n.t(" ({unit})", unit=unit)
    return shown, unit, kind


def _paired(c: Computed, name: str) -> dict[str, float]:
    """A headline measure the comparison table lacks (a station's occupancy): means and the
    paired difference over replications (common random numbers pair them by index)."""
    m = parse_measure(name)
    per = [hl.per_replication(r.model, m, r.per_replication, r.stations) for r in c.res.results]
    n = min(len(x) for x in per)
    diff = ci95(per[1][:n] - per[0][:n]) if n else (math.nan,) * 3
    return {"base": ci95(per[0])[0], "variant": ci95(per[1])[0], "diff": diff[0],
            "diff_ci95_lo": diff[1], "diff_ci95_hi": diff[2]}


def kpi_rows(c: Computed, lang: str) -> list[dict[str, Any]]:
    """Per KPI, the scenario's headline measures first (in their units), then the page's
    others: its label, the two means, the paired difference and its 95% CI (text), and the
    raw numbers (``data-*`` attributes the browser test reads)."""
    tab = c.tab
    b, o = c.res.labels
    model = c.res.results[0].model
    heads = list(hl.measures(model))
    # a service whose headline counts no days (seconds, shares) shows no lead times in days
    in_days = any((describe(h, model, "en") or ("", "", "days"))[2] == "days" for h in heads)
    rows = []
    for name in [*heads, *(k for k in PAGE_KPIS if k not in heads)]:
        described = describe(name, model, lang)
        if name in tab.index:
            vals = {s: _num(tab.loc[name, (o if s.startswith("diff") or s == "variant" else b,
                                           "mean" if s in ("base", "variant") else s)])
                    for s in ("base", "variant", "diff", "diff_ci95_lo", "diff_ci95_hi")}
        elif name.startswith("stations.") and name in heads:
            vals = _paired(c, name)
        else:
            continue
        if described is not None:
            text, unit, kind = described
        elif name in BY_NAME:
            text, unit, kind = t(lang, f"k_{name}"), "", BY_NAME[name].kind
        else:
            continue
        if not any(math.isfinite(vals[s]) for s in ("base", "variant")):
            continue
        if name not in heads and kind == "days" and not in_days:
            continue  # the hotline: no "0.0 working days" rows under its seconds
        shown = "days" if kind == "seconds" else kind  # seconds: one decimal, like days
        lo, hi = vals["diff_ci95_lo"], vals["diff_ci95_hi"]
        rows.append({
            "name": name, "label": text, "unit": unit, "kind": kind,
            "headline": name in heads,
            "base": fmt(vals["base"], shown),
            "variant": fmt(vals["variant"], shown),
            "diff": fmt(vals["diff"], shown, sign=True),
            "lo": fmt(lo, shown, True) if math.isfinite(lo) else "-",
            "hi": fmt(hi, shown, True) if math.isfinite(hi) else "-",
            "ci": (f"[{fmt(lo, shown, True)}, {fmt(hi, shown, True)}]"
                   if math.isfinite(lo) and math.isfinite(hi) else "-"),
            "raw": vals,
            "better": _better(name, vals["diff"], lo, hi)})
    return rows


def _lower_is_better(name: str) -> bool | None:
    """The direction of a KPI, or of a headline measure that is no KPI (seconds to answer:
    lower; shares answered or resolved within a time: higher); None: no direction."""
    k = BY_NAME.get(name)
    if k is not None:
        return k.lower_is_better
    base = name.split(".", 2)[-1] if name.startswith("classes.") else name
    if base == "answer_seconds":
        return True
    if base.startswith(("answered_within_", "within_")) or base == "resolved_share":
        return False
    return None


def _better(name: str, d: float, lo: float, hi: float) -> str:
    """``better``/``worse`` where the CI excludes zero and the KPI has a direction."""
    lower = _lower_is_better(name)
    if lower is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    if lo <= 0 <= hi or d == 0:
        return ""
    return "better" if (d < 0) == lower else "worse"


def sentence(c: Computed, v: Variant, base: Scenario, lang: str,
             rows: list[dict[str, Any]] | None = None) -> str:
    """The answer in one sentence: what the change does to the scenario's first headline
    measure, in its unit (with the paired CI), and to its first share (the share within
    the limit, answered within 20 s, ...)."""
    rows = kpi_rows(c, lang) if rows is None else rows
    heads = [r for r in rows if r["headline"]] or rows
    if not heads:
        return t(lang, "no_change")
    lead = heads[0]
    d, lo, hi = (lead["raw"][k] for k in ("diff", "diff_ci95_lo", "diff_ci95_hi"))
    key = ("sentence_unsure" if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 <= hi
           else "sentence_lower" if d < 0 else "sentence_higher")
    with i18n.use(lang):
        measure = hl.describe(c.res.results[0].model, parse_measure(lead["name"]))[0] \
            if describe(lead["name"], c.res.results[0].model, lang) else lead["label"]
    unit = "" if lead["kind"] == "share" else f" {lead['unit']}" if lead["unit"] else ""
    share = next((r for r in heads[1:] if r["kind"] == "share"), None)
    lim = c.dicts[0]["kpis"].get("limit_workdays")
    if share is None:
        within = t(lang, "sentence_end")
    elif share["name"] == "within_limit_share":
        within = (t(lang, "sentence_within", limit=f"{lim:g}", base=share["base"],
                    variant=share["variant"]) if lim else
                  t(lang, "sentence_within_nolimit", base=share["base"],
                    variant=share["variant"]))
    else:
        within = t(lang, "sentence_share", measure=share["label"], base=share["base"],
                   variant=share["variant"])
    return t(lang, key, changes=changes_text(v, base, lang), measure=measure, unit=unit,
             base=lead["base"], variant=lead["variant"], diff=lead["diff"],
             lo=lead["lo"] if lead["ci"] != "-" else "-",
             hi=lead["hi"] if lead["ci"] != "-" else "-",
             within=within)


def _measured(res: CompareResult, k: int) -> np.ndarray:
    c = res.results[k].cases
    keep = (~c["warmup"].to_numpy(dtype=bool)) & (c["status"] == "completed").to_numpy()
    return np.sort(c["lead_workdays"].to_numpy(dtype=np.float64)[keep])


def cdf_svg(c: Computed, lang: str, width: int = 640, height: int = 300) -> str:
    """The two lead-time CDFs (working days) as an inline SVG with axes, the limit and a
    legend."""
    left, right, top, bottom = 56, 16, 34, 44  # the legend above the plot
    data = c.lead
    xmax = max((float(np.quantile(x, 0.995)) for x in data if x.size), default=1.0)
    lim = c.dicts[0]["kpis"].get("limit_workdays")
    xmax = max(xmax, float(lim) * 1.05 if lim else 0.0, 1.0)
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + pw * min(x, xmax) / xmax

    def sy(y: float) -> float:
        return top + ph * (1.0 - y)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" class="cdf" '
           f'aria-label="{t(lang, "distribution")}">',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" '
           'stroke="#ccc"/>']
    step = _tick(xmax)
    x = 0.0
    while x <= xmax + 1e-9:
        out.append(f'<line x1="{sx(x):.1f}" y1="{top}" x2="{sx(x):.1f}" y2="{top + ph}" '
                   f'stroke="#eee"/><text x="{sx(x):.1f}" y="{top + ph + 16}" font-size="11" '
                   f'text-anchor="middle" fill="#555">{x:g}</text>')
        x += step
    for y in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{left}" y1="{sy(y):.1f}" x2="{left + pw}" y2="{sy(y):.1f}" '
                   f'stroke="#eee"/><text x="{left - 6}" y="{sy(y) + 4:.1f}" font-size="11" '
                   f'text-anchor="end" fill="#555">{y:.0%}</text>')
    if lim:
        out.append(f'<line x1="{sx(lim):.1f}" y1="{top}" x2="{sx(lim):.1f}" y2="{top + ph}" '
                   f'stroke="#444" stroke-dasharray="5,4"/><text x="{sx(lim) + 4:.1f}" '
                   f'y="{top + 14}" font-size="11" fill="#444">'
                   f'{t(lang, "limit", limit=f"{lim:g}")}</text>')
    names = (t(lang, "baseline"), t(lang, "variant"))
    for k, x_sorted in enumerate(data):
        if not x_sorted.size:
            continue
        q = np.linspace(0.0, 1.0, 201)
        xs = np.quantile(x_sorted, q)
        pts = " ".join(f"{sx(float(a)):.1f},{sy(float(b)):.1f}" for a, b in zip(xs, q,
                                                                               strict=True))
        # the baseline wide and solid under the variant, dashed: both show where they agree
        style = ('stroke-width="4"' if k == 0 else
                 'stroke-width="2.2" stroke-dasharray="8,5"')
        out.append(f'<polyline fill="none" stroke="{COLORS[k % 2]}" {style} '
                   f'points="{pts}"/>')
        p50, p90 = np.quantile(x_sorted, 0.5), np.quantile(x_sorted, 0.9)
        lx = left + 300 * k
        dash = ' stroke-dasharray="8,5"' if k else ""
        out.append(f'<line x1="{lx}" y1="14" x2="{lx + 26}" y2="14" stroke="{COLORS[k % 2]}" '
                   f'stroke-width="3"{dash}/><text x="{lx + 32}" y="18" font-size="12" '
                   f'fill="#222">{names[k]} (P50 {p50:.1f}, P90 {p90:.1f})</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 8}" font-size="12" '
               f'text-anchor="middle" fill="#333">{t(lang, "workdays_axis")}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" font-size="12" text-anchor="middle" '
               f'fill="#333" transform="rotate(-90 14 {top + ph / 2})">'
               f'{t(lang, "share_axis")}</text></svg>')
    return "".join(out)


def _tick(span: float) -> float:
    raw = span / 6.0
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def split_rows(c: Computed, lang: str) -> list[dict[str, Any]]:
    """Per scenario: the critical-path split of the mean lead time (calendar days) as
    bar segments (share of the longest total, for the bar widths)."""
    parts: list[list[tuple[str, float, str]]] = []
    for r in c.res.results:
        per = r.per_replication
        parts.append([(t(lang, key), float(per[col].mean()) if col in per else math.nan, color)
                      for col, key, color in SPLIT])
    totals = [sum(d for _, d, _ in p if math.isfinite(d)) for p in parts]
    top = max(totals, default=1.0) or 1.0
    return [{"name": t(lang, "baseline" if k == 0 else "variant"), "total": totals[k],
             "segments": [{"label": lab, "days": f"{d:,.1f}", "color": c,
                           "width": f"{100.0 * d / top:.2f}"}
                          for lab, d, c in p if math.isfinite(d) and d > 0]}
            for k, p in enumerate(parts)]


def station_rows(c: Computed, base: Scenario, other: Scenario | None,
                 lang: str, seconds: bool = False) -> list[dict[str, Any]]:
    """Per station of either scenario, busiest in the variant first: servers,
    utilization and mean wait (hours; ``seconds`` for a service measured in seconds),
    baseline and variant."""

    def wait(st: dict[str, Any]) -> str:
        h = st.get("mean_wait_hours")
        if not seconds or h is None:
            return format_value(h, "hours")
        return format_value(float(h) * 3600.0, "days")  # one decimal

    b = c.dicts[0]["stations"]
    o = c.dicts[1]["stations"]
    names = list(dict.fromkeys([*o, *b]))
    names.sort(key=lambda n: -(o.get(n) or b.get(n) or {}).get("utilization", 0.0))
    rows = []
    for n in names:
        obj = base.stations.get(n) or (other.stations.get(n) if other else None) \
            or base.pools.get(n) or (other.pools.get(n) if other else None)
        sb, so = b.get(n, {}), o.get(n, {})
        rows.append({
            "name": n, "label": label(obj, n, lang),
            "servers": (sb.get("servers", "-"), so.get("servers", "-")),
            "util": (format_value(sb.get("utilization"), "share"),
                     format_value(so.get("utilization"), "share")),
            "wait": (wait(sb), wait(so)),
            "changed": sb.get("servers") != so.get("servers")})
    return rows
