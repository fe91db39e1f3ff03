"""Results as HTML: the small table helpers and the compact view Jupyter shows.

``RunResult._repr_html_`` (and the sweep's and staffing's) use these, and so do the HTML
reports of :mod:`sim.present`, so a notebook and a report show the same rows.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

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
        rows.append([label, num(v["mean"]), ci(v["ci95"]), num(v["p50"]), num(v["p90"]),
                     ci(v.get("p90_ci95")), num(v["p95"])])
    return rows


def per_case_rows(d: Mapping[str, Any]) -> list[list[Any]]:
    k = d["kpis"]
    lim = k.get("limit_workdays")
    within = f" ({lim:g} working days)" if lim else ""
    rows: list[list[Any]] = [
        [f"share within the statutory limit{within}, on the whole lead time",
         num(k["within_limit_share"], 1, pct=True), ci(k["within_limit_share_ci95"], 1, True)],
    ]
    if "within_limit_share_government" in k:
        rows.append([f"share within the statutory limit{within}, on government time "
                     "(service, queue, lag)", num(k["within_limit_share_government"], 1, pct=True),
                     ci(k["within_limit_share_government_ci95"], 1, True)])
    for key, dg in (("visits", 2), ("rework_rounds", 2), ("supplements", 2),
                    ("throughput_per_day", 2), ("open_at_horizon", 1), ("abandoned_share", 3),
                    ("revoked", 3)):
        v = k.get(key)
        if v is None:
            continue
        rows.append([BY_NAME[key].label, num(v["mean"], dg), ci(v["ci95"], dg)])
    for part in ("service", "queue", "applicant"):
        v = k["lead_time_split_days"][part]
        rows.append([BY_NAME[f"lead_time_split_days.{part}"].label + " (critical path)",
                     num(v["mean"]), ci(v["ci95"])])
    for key in ("gov_cost_per_case", "applicant_cost_per_case"):
        if key in k:  # the scenario has costs
            rows.append([f"{BY_NAME[key].label} ({k['currency']})", num(k[key]["mean"], 0),
                         ci(k[key]["ci95"], 0)])
    return rows


def station_rows(d: Mapping[str, Any]) -> tuple[list[list[Any]], list[str]]:
    rows, classes = [], []
    first_station = True
    items = sorted(d["stations"].items(), key=lambda kv: kv[1].get("kind") == "pool")
    for name, s in items:
        pool = s.get("kind") == "pool"
        rows.append([name + (" (agent pool)" if pool else ""), s["servers"],
                     num(s["utilization"], 1, pct=True), ci(s.get("utilization_ci95"), 1, True),
                     num(s["mean_wait_hours"], 2), ci(s.get("mean_wait_hours_ci95"), 2),
                     num(s["mean_queue_length"], 2), num(s.get("throughput_per_day"), 2)])
        classes.append("bottleneck" if first_station and not pool else "")
        if not pool:
            first_station = False
    return rows, classes


STATION_HEADERS = ("station", "servers", "utilization", "95% CI", "mean wait (h)", "95% CI",
                   "mean queue", "served per day")


def stations_html(d: Mapping[str, Any]) -> str:
    rows, classes = station_rows(d)
    return table(STATION_HEADERS, rows, numeric=(False, True, True, True, True, True, True, True),
                 row_classes=classes)


def run_result_html(result: RunResult) -> str:
    """Compact HTML of a RunResult for Jupyter: headline KPIs and stations."""
    d = result.to_dict()
    c = d["cases"]
    head = (f"<p><b>{esc(result.model.name)}</b>: {d['replications']} replications, seed "
            f"{d['seed']}, engine {esc(d['engine'])}; {c['arrived']:,} cases after the warm-up, "
            f"{c['completed']:,} completed, {c['open_at_horizon']:,} open at the horizon.</p>")
    return ("<div class=\"govsim-result\">" + head
            + table(("lead time", "mean", "95% CI", "P50", "P90", "P90 95% CI", "P95"),
                    kpi_rows(d), numeric=(False, True, True, True, True, True, True))
            + table(("per case", "mean", "95% CI"), per_case_rows(d),
                    numeric=(False, True, True))
            + stations_html(d)
            + "<p style=\"font-size:smaller\">Tables: <code>.summary()</code>, "
            "<code>.station_summary()</code>, <code>.cases</code>, "
            "<code>.per_replication</code>; figures: <code>sim.plots</code>.</p></div>")
