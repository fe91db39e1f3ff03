"""Results as HTML: the small table helpers and the compact view Jupyter shows.

``RunResult._repr_html_`` (and the sweep's and staffing's) use these, and so do the HTML
reports of :mod:`sim.present`, so a notebook and a report show the same rows.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sim.i18n import name as part_name
from sim.i18n import t
from sim.model.headline import parse as parse_measure
from sim.results import headline
from sim.results.kpis import BY_NAME

if TYPE_CHECKING:
    from sim.results.result import RunResult


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def num(x: Any, digits: int = 1, pct: bool = False) -> str:
    if x is None:
        return "–"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return esc(x)
    if not math.isfinite(v):
        return "–"
    if pct:
        return f"{v * 100:.{digits}f}%"
    return f"{v:,.{digits}f}"


def ci(ci: Sequence[Any] | None, digits: int = 1, pct: bool = False) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "–"
    return f"[{num(ci[0], digits, pct)}, {num(ci[1], digits, pct)}]"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[bool] = (),
          row_classes: Sequence[str] = (), caption: str = "") -> str:
    """An HTML table; cells are escaped unless given as :class:`Raw`."""
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr></thead>")
    out.append("<tbody>")
    for k, row in enumerate(rows):
        cls = f' class="{row_classes[k]}"' if k < len(row_classes) and row_classes[k] else ""
        cells = []
        for j, cell in enumerate(row):
            is_num = numeric[j] if j < len(numeric) else False
            text = cell.html if isinstance(cell, Raw) else esc(cell)
            cells.append(f'<td class="num">{text}</td>' if is_num else f"<td>{text}</td>")
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


class Raw:
    """HTML that a table cell takes as is."""

    def __init__(self, html_text: str) -> None:
        self.html = html_text


def kpi_rows(d: Mapping[str, Any]) -> list[list[Any]]:
    k = d["kpis"]
    rows: list[list[Any]] = []
    for key, label in (("lead_time_workdays", "lead time, working days"),
                       ("lead_time_days", "lead time, calendar days")):
        v = k[key]
        rows.append([t(label), num(v["mean"]), ci(v["ci95"]), num(v["p50"]), num(v["p90"]),
                     ci(v.get("p90_ci95")), num(v["p95"])])
    return rows


def per_case_rows(d: Mapping[str, Any]) -> list[list[Any]]:
    k = d["kpis"]
    lim = k.get("limit_workdays")
    within = t(" ({n} working days)", n=f"{lim:g}") if lim else ""
    rows: list[list[Any]] = [
        [t("share within the statutory limit{within}, on the whole lead time", within=within),
         num(k["within_limit_share"], 1, pct=True), ci(k["within_limit_share_ci95"], 1, True)],
    ]
    if "within_limit_share_government" in k:
        rows.append([t("share within the statutory limit{within}, on government time "
                       "(service, queue, lag)", within=within),
                     num(k["within_limit_share_government"], 1, pct=True),
                     ci(k["within_limit_share_government_ci95"], 1, True)])
    for key, dg in (("visits", 2), ("rework_rounds", 2), ("supplements", 2),
                    ("throughput_per_day", 2), ("open_at_horizon", 1), ("abandoned_share", 1),
                    ("revoked", 3)):
        v = k.get(key)
        if v is None:
            continue
        pct = BY_NAME[key].kind == "share"  # a share as a percentage, like the others
        rows.append([t(BY_NAME[key].label), num(v["mean"], dg, pct), ci(v["ci95"], dg, pct)])
    for part in ("service", "queue", "applicant"):
        v = k["lead_time_split_days"][part]
        rows.append([t(BY_NAME[f"lead_time_split_days.{part}"].label) + t(" (critical path)"),
                     num(v["mean"]), ci(v["ci95"])])
    for key in ("gov_cost_per_case", "applicant_cost_per_case"):
        if key in k:  # the scenario has costs
            rows.append([f"{t(BY_NAME[key].label)} ({k['currency']})", num(k[key]["mean"], 0),
                         ci(k[key]["ci95"], 0)])
    return rows


def station_rows(d: Mapping[str, Any], scenario: Any = None) -> tuple[list[list[Any]], list[str]]:
    """The station table's rows (busiest first, then agent pools) and their classes; with
    ``scenario``, stations are shown by their labels (``label`` / ``label_zh``)."""
    rows, classes = [], []
    first_station = True
    items = sorted(d["stations"].items(), key=lambda kv: kv[1].get("kind") == "pool")
    for name, s in items:
        pool = s.get("kind") == "pool"
        rows.append([station_name(name, scenario) + (t(" (agent pool)") if pool else ""),
                     s["servers"],
                     num(s["utilization"], 1, pct=True), ci(s.get("utilization_ci95"), 1, True),
                     num(s["mean_wait_hours"], 2), ci(s.get("mean_wait_hours_ci95"), 2),
                     num(s["mean_queue_length"], 2), num(s.get("throughput_per_day"), 2)])
        classes.append("bottleneck" if first_station and not pool else "")
        if not pool:
            first_station = False
    return rows, classes


def headline_html(model: Any, d: Mapping[str, Any]) -> str:
    """The table of the headline measures (``d``: the JSON of the run), in their units; a
    default measure that does not apply (no limit: no share within it) is left out."""
    rows = []
    for h in d["headline"]:
        if h["mean"] is None and not headline.declared(model):
            continue
        label, unit, kind = headline.describe(model, parse_measure(h["name"]))
        lo, hi = h["ci95"]
        rows.append([label, headline.format_value(h["mean"], kind),
                     "–" if lo is None else f"[{headline.format_value(lo, kind)}, "
                     f"{headline.format_value(hi, kind)}]", unit])
    return table([t(x) for x in ("headline measure", "mean", "95% CI", "unit")], rows,
                 numeric=(False, True, True, False))


def lead_headers() -> list[str]:
    """The lead-time table's headers, in the language in force."""
    return [t(h) for h in ("lead time", "mean", "95% CI", "P50", "P90", "P90 95% CI", "P95")]


STATION_HEADERS = ("station", "servers", "utilization", "95% CI", "mean wait (h)", "95% CI",
                   "mean queue", "served per day")


def station_name(key: str, scenario: Any = None) -> str:
    """A station's or agent pool's name to show (its label where the scenario has one)."""
    if scenario is None:
        return key
    return part_name(key, scenario.stations.get(key) or scenario.pools.get(key))


def stations_html(d: Mapping[str, Any], scenario: Any = None) -> str:
    rows, classes = station_rows(d, scenario)
    return table([t(h) for h in STATION_HEADERS], rows,
                 numeric=(False, True, True, True, True, True, True, True), row_classes=classes)


def run_result_html(result: RunResult) -> str:
    """Compact HTML of a RunResult for Jupyter: headline KPIs and stations."""
    d = result.to_dict()
    c = d["cases"]
    head = (f"<p><b>{esc(result.model.name)}</b>: " + esc(t(
        "{n} replications, seed {seed}, engine {engine}; {arrived} cases after the warm-up, "
        "{completed} completed, {open} open at the horizon.", n=d["replications"],
        seed=d["seed"], engine=d["engine"], arrived=f"{c['arrived']:,}",
        completed=f"{c['completed']:,}", open=f"{c['open_at_horizon']:,}")) + "</p>")
    return ("<div class=\"govsim-result\">" + head + headline_html(result.model, d)
            + table(lead_headers(), kpi_rows(d), numeric=(False, True, True, True, True, True,
                                                         True))
            + table((t("per case"), t("mean"), t("95% CI")), per_case_rows(d),
                    numeric=(False, True, True))
            + stations_html(d, result.scenario)
            + "<p style=\"font-size:smaller\">Tables: <code>.summary()</code>, "
            "<code>.station_summary()</code>, <code>.cases</code>, "
            "<code>.per_replication</code>; figures: <code>sim.plots</code>.</p></div>")
