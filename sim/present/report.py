"""Report folders: one self-contained HTML file plus the records behind it.

``govsim run FILE --out DIR`` calls :func:`write_run_report`; ``govsim compare ...
--out DIR`` calls :func:`write_compare_report`. A folder holds

``report.html``
    opens in any browser with no server and no network: figures are embedded as
    base64 PNG, the style is inline; it shows the scenario, the seed, the engine, the
    KPIs with 95% confidence intervals, where lead time goes, the stations (bottleneck
    first), work in progress, and the assumptions and sources the scenario rests on;
``cases.csv``
    one row per case and replication (``sim.records.CASE_COLUMNS``);
``stations.csv``, ``per_replication.csv``
    per station and replication; one row of KPIs per replication;
``result.json``
    the JSON contract of ``govsim run --json`` (``RunResult.to_dict()``);
``scenario.toml``
    the scenario as simulated (reforms applied);
``figures/*.png``
    the figures, as files.

:func:`run_result_html` is the compact HTML a notebook shows for a RunResult.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import UsageError
from sim.files import write_atomic, write_json
from sim.results.display import (
    Raw,
    ci,
    esc,
    kpi_rows,
    num,
    per_case_rows,
    run_result_html,
    stations_html,
    table,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim.results.result import RunResult

__all__ = ["run_result_html", "write_compare_report", "write_run_report"]

REPORT_NAME = "report.html"

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans CJK SC",
"Microsoft YaHei",sans-serif;margin:0;color:#222;background:#fafafa;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:1.5rem 2rem 4rem;background:#fff}
h1{font-size:1.6rem;margin:.2rem 0 .3rem}h2{font-size:1.2rem;margin-top:2.2rem;
border-bottom:2px solid #e5e5e5;padding-bottom:.2rem}h3{font-size:1rem;margin-top:1.4rem}
.sub{color:#666;margin-top:0}table{border-collapse:collapse;margin:.6rem 0;font-size:.86rem}
th,td{border:1px solid #ddd;padding:.25rem .55rem;vertical-align:top}
th{background:#f2f4f7;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bottleneck td{background:#fff4e5}.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #e2e2e2;border-radius:6px;padding:.6rem .9rem;min-width:10rem;
background:#fcfcfd}
.card .v{font-size:1.35rem;font-weight:600}.card .l{font-size:.78rem;color:#666}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.82rem;color:#555}pre{background:#f6f8fa;padding:.8rem;overflow:auto;
font-size:.78rem;max-height:40rem}.note{font-size:.85rem;color:#555}details{margin:.6rem 0}
nav a{margin-right:.8rem;font-size:.88rem}code{background:#f3f3f3;padding:0 .2rem}
"""

# Counts the figures that decoded and marks the page, so a headless browser (and a
# person reading the DOM) can tell that every figure rendered. No network, no server.
CHECK_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('figure img');
  var ok = 0;
  imgs.forEach(function (im) { if (im.complete && im.naturalWidth > 0) { ok += 1; } });
  document.body.setAttribute('data-figures', String(imgs.length));
  document.body.setAttribute('data-figures-rendered', String(ok));
  document.body.setAttribute('data-tables', String(document.querySelectorAll('table').length));
});
"""


# --------------------------------------------------------------------------- small HTML helpers


def fig_png(fig: Figure, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def figure_html(png: bytes, alt: str, caption: str) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<meta name=\"generator\" content=\"govsim {_version()}\">"
            f"<title>{esc(title)}</title><style>{CSS}</style>"
            f"<script>{CHECK_SCRIPT}</script></head>\n<body><main>\n{body}\n</main></body></html>\n")


def _version() -> str:
    try:
        return metadata.version("govsim")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _prepare(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    try:
        (out / "figures").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    return out


# --------------------------------------------------------------------------- sections


def _reforms_html(s: Any) -> str:
    """The reforms a scenario went through (recorded under ``reforms.applied[k]``)."""
    applied = [v for k, v in s.assumptions.items() if k.startswith("reforms.applied[")]
    specs = [*applied, *s.reforms]
    if not specs:
        return "none"
    return "<ol>" + "".join(f"<li><code>{esc(x.split(' -- ')[0])}</code>"
                            + (f" {esc(x.split(' -- ', 1)[1])}" if " -- " in x else "")
                            + "</li>" for x in specs) + "</ol>"


def _scenario_section(result: RunResult, heading: str = "Scenario", anchors: bool = True) -> str:
    from sim.model.scenario import to_toml

    s = result.scenario
    m = result.model

    def anchor(name: str) -> str:
        return f' id="{name}"' if anchors else ""

    parts = [f"<h2{anchor('scenario')}>{esc(heading)}</h2>"]
    if s.scenario.description:
        parts.append(f"<p>{esc(s.scenario.description)}</p>")
    rows: list[list[Any]] = [
        ["classes", ", ".join(f"{k} ({v.rate:g}/{v.per})" for k, v in s.classes.items())],
        ["stations", str(len(s.stations)) + " (" + ", ".join(
            f"{k}: {v.servers}" for k, v in s.stations.items()) + ")"],
        ["agent pools", ", ".join(f"{k}: {v.agents} agents x {v.caseload}"
                                  for k, v in s.pools.items()) or "none"],
        ["items", str(len(s.items))],
        ["materials (sum over items)", str(sum(i.materials for i in s.items.values()))],
        ["routes", ", ".join(f"{k} ({len(v.stages)} stages)" for k, v in s.routes.items())],
        ["start date", str(s.run.start_date)],
        ["horizon", f"{s.run.horizon_days:g} days (arrivals over the first "
                    f"{(s.run.arrival_days or s.run.horizon_days):g})"],
        ["warm-up", f"{s.run.warmup_days:g} days (cases arriving earlier are left out of KPIs)"],
        ["reforms applied", Raw(_reforms_html(s))],
    ]
    parts.append(table(("", ""), rows))
    load = m.offered_load()
    if load:
        parts.append("<h3>Offered load (analytic, before simulation)</h3>")
        parts.append(table(("station", "servers", "offered load"),
                           [[k, int(m.station_servers[list(m.station_names).index(k)]),
                             num(v, 1, pct=True)]
                            for k, v in sorted(load.items(), key=lambda kv: -kv[1])],
                           numeric=(False, True, True)))
    parts.append(f"<h3{anchor('assumptions')}>Assumptions</h3>")
    if s.assumptions:
        parts.append(table(("parameter", "assumption and why"),
                           [[k, v] for k, v in s.assumptions.items()]))
    else:
        parts.append("<p class=\"note\">The scenario lists no assumptions.</p>")
    parts.append(f"<h3{anchor('sources')}>Sources</h3>")
    if s.scenario.sources:
        parts.append("<ul>" + "".join(f"<li>{esc(x)}</li>" for x in s.scenario.sources)
                     + "</ul>")
    else:
        parts.append("<p class=\"note\">The scenario lists no sources.</p>")
    parts.append("<details><summary>The scenario file as simulated (TOML, reforms applied)"
                 f"</summary><pre>{esc(to_toml(s))}</pre></details>")
    return "\n".join(parts)


def _figures(results: Mapping[str, RunResult], single: RunResult | None,
             fig_dir: Path, prefix: str = "") -> list[str]:
    """Render the figures, write them to ``fig_dir`` and return their HTML."""
    from sim.present import plots  # matplotlib: imported when a report is made, not with the CLI

    specs: list[tuple[str, str, str, Any]] = [
        ("lead_time_cdf", "Lead time distribution",
         "Share of completed cases (after the warm-up, pooled over replications) finished "
         "within x working days; dashed: the statutory limit.",
         lambda: plots.lead_time_cdf(results)),
        ("lead_time_cdf_calendar", "Lead time distribution, calendar days",
         "The same in calendar days (what the World Bank counts).",
         lambda: plots.lead_time_cdf(results, unit="days")),
        ("lead_time_hist", "Lead time histogram",
         "Share of completed cases per lead-time bin (working days).",
         lambda: plots.lead_time_hist(results)),
        ("lead_time_split", "Where lead time goes",
         "Mean calendar days on each case's critical path in government work (service), "
         "queueing, and with the applicant (preparing, fixing deficient submissions). The "
         "records give the split per case, not per stage.",
         lambda: plots.lead_time_split(results)),
        ("wip", "Work in progress",
         "Cases arrived and not yet ended, mean over replications (band: min to max); shaded: "
         "the warm-up; dotted: the end of arrivals.",
         lambda: plots.wip_over_time(results)),
    ]
    if single is not None:
        specs.insert(4, ("stations", "Stations",
                         "Utilization with its 95% CI and mean queue wait per station, busiest "
                         "first; hatched: help-and-proxy agent pools (share of slots held).",
                         lambda: plots.station_chart(single)))
    else:
        for k, (name, r) in enumerate(results.items()):
            specs.append((f"stations_{k}", f"Stations: {name}",
                          f"Utilization and queue wait per station in {name}, busiest first.",
                          lambda r=r, name=name: plots.station_chart(r, title=f"Stations: {name}")))
    out = []
    for key, title, caption, make in specs:
        fig = make()
        png = fig_png(fig)
        write_atomic(fig_dir / f"{prefix}{key}.png", png)
        out.append(f"<h3>{esc(title)}</h3>" + figure_html(png, title, caption))
    return out


def _header(title: str, subtitle: str, cards: Sequence[tuple[str, str]]) -> str:
    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    cmd = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
    parts = [f"<h1>{esc(title)}</h1>", f"<p class=\"sub\">{esc(subtitle)}</p>",
             f"<p class=\"note\">Generated {esc(now)} by govsim {esc(_version())}"
             + (f" (<code>{esc(cmd)}</code>)" if cmd.startswith("govsim") else "") + ".</p>",
             "<div class=\"cards\">"]
    for value, label in cards:
        parts.append(f"<div class=\"card\"><div class=\"v\">{esc(value)}</div>"
                     f"<div class=\"l\">{esc(label)}</div></div>")
    parts.append("</div>")
    return "\n".join(parts)


def _files_section(names: Sequence[tuple[str, str]]) -> str:
    return ("<h2 id=\"files\">Files in this folder</h2><ul>"
            + "".join(f"<li><a href=\"{esc(f)}\">{esc(f)}</a>: {esc(what)}</li>"
                      for f, what in names)
            + "</ul>")


def _write_records(result: RunResult, out: Path, prefix: str = "") -> None:
    cases = result.cases
    write_atomic(out / f"{prefix}cases.csv", cases.to_csv(index=False))
    write_atomic(out / f"{prefix}stations.csv", result.stations.to_csv(index=False))
    write_atomic(out / f"{prefix}per_replication.csv", result.per_replication.to_csv())
    write_json(out / f"{prefix}result.json", result.to_dict())
    from sim.model.scenario import to_toml

    write_atomic(out / f"{prefix}scenario.toml", to_toml(result.scenario))


def _cards(d: Mapping[str, Any], bottleneck: str) -> list[tuple[str, str]]:
    k = d["kpis"]
    lim = k.get("limit_workdays")
    cards = [
        (num(k["lead_time_workdays"]["mean"]), "mean lead time (working days), 95% CI "
         + ci(k["lead_time_workdays"]["ci95"])),
        (num(k["lead_time_workdays"]["p90"]), "P90 lead time (working days)"),
        (num(k["lead_time_days"]["mean"]), "mean lead time (calendar days)"),
    ]
    if k["within_limit_share"] is not None:
        cards.append((num(k["within_limit_share"], 1, pct=True),
                      f"within the limit{f' of {lim:g} working days' if lim else ''}"))
    cards.append((num(k["visits"]["mean"], 2), "in-person visits per case"))
    cards.append((bottleneck, "bottleneck (highest utilization)"))
    return cards


# --------------------------------------------------------------------------- run report


def write_run_report(result: RunResult, out_dir: str | Path) -> Path:
    """Write the report folder of one run; returns the path of ``report.html``."""
    out = _prepare(out_dir)
    d = result.to_dict()
    _write_records(result, out)
    figs = _figures({result.model.name: result}, result, out / "figures")
    bott = result.bottleneck()
    c = d["cases"]
    title = f"govsim report: {result.model.name}"
    sub = (f"{d['replications']} replications, seed {d['seed']}, engine {d['engine']}; "
           f"{c['arrived']:,} cases arrived after the warm-up, {c['completed']:,} completed, "
           f"{c['open_at_horizon']:,} open at the horizon"
           + (f", {c['abandoned']:,} abandoned" if c["abandoned"] else "") + ".")
    body = [
        _header(title, sub, _cards(d, bott)),
        "<nav><a href=\"#kpis\">KPIs</a><a href=\"#figures\">Figures</a>"
        "<a href=\"#stations\">Stations</a><a href=\"#scenario\">Scenario</a>"
        "<a href=\"#assumptions\">Assumptions</a><a href=\"#sources\">Sources</a>"
        "<a href=\"#files\">Files</a></nav>",
        "<h2 id=\"kpis\">Key figures</h2>",
        "<p class=\"note\">Means over replications with Student-t 95% confidence intervals; "
        "lead times over cases that arrived after the warm-up and completed by the horizon "
        "(cases still open are counted, not dropped).</p>",
        table(("lead time", "mean", "95% CI", "P50", "P90", "P90 95% CI", "P95"),
              kpi_rows(d), numeric=(False, True, True, True, True, True, True)),
        table(("per case", "mean", "95% CI"), per_case_rows(d), numeric=(False, True, True)),
        "<h3>Lead time split by case class (calendar days, critical path)</h3>",
        _split_table_html({result.model.name: result}),
        "<h2 id=\"figures\">Figures</h2>",
        *figs,
        "<h2 id=\"stations\">Stations</h2>",
        "<p class=\"note\">Service stations busiest first, then agent pools; the highlighted "
        "row is the bottleneck.</p>",
        stations_html(d),
        _scenario_section(result),
        _files_section([(REPORT_NAME, "this report"), ("cases.csv", "one row per case and "
                        "replication"), ("stations.csv", "one row per station and replication"),
                        ("per_replication.csv", "KPIs of each replication"),
                        ("result.json", "the results (JSON contract of govsim run --json)"),
                        ("scenario.toml", "the scenario as simulated"),
                        ("figures/", "the figures as PNG files")]),
    ]
    path = out / REPORT_NAME
    write_atomic(path, _page(title, "\n".join(body)))
    return path


def _split_table_html(results: Mapping[str, RunResult]) -> str:
    from sim.present import plots

    t = plots.split_table(results)
    multi = t["scenario"].nunique() > 1
    headers = (*(("scenario",) if multi else ()), "class", "completed cases",
               "government work", "queueing", "applicant", "total")
    rows = []
    for _, r in t.iterrows():
        total = sum(float(r[p]) for p in ("service", "queue", "applicant"))
        rows.append([*([r["scenario"]] if multi else []), r["class"], f"{int(r['cases']):,}",
                     num(r["service"]), num(r["queue"]), num(r["applicant"]), num(total)])
    n0 = 1 if multi else 0
    return table(headers, rows, numeric=(*([False] * (n0 + 1)), True, True, True, True, True))


# --------------------------------------------------------------------------- compare report


def _compare_parts(cr: Any) -> tuple[dict[str, RunResult], dict[str, Any] | None]:
    """The named RunResults of a comparison and its JSON (duck-typed on CompareResult)."""
    from sim.present import plots

    res = plots.as_results(cr)
    d = None
    to_dict = getattr(cr, "to_dict", None)
    if callable(to_dict):
        d = to_dict()
    return res, d


DIFF_KPIS: tuple[tuple[str, str, int, bool], ...] = (
    ("lead_time_workdays.mean", "mean lead time (working days)", 1, False),
    ("lead_time_workdays.p90", "P90 lead time (working days)", 1, False),
    ("lead_time_days.mean", "mean lead time (calendar days)", 1, False),
    ("lead_time_days.p90", "P90 lead time (calendar days)", 1, False),
    ("within_limit_share", "share within the limit", 1, True),
    ("visits.mean", "in-person visits", 2, False),
    ("rework_rounds.mean", "rework rounds", 2, False),
    ("split.service_days", "days in government work", 1, False),
    ("split.queue_days", "days queueing", 1, False),
    ("split.applicant_days", "days with the applicant", 1, False),
    ("throughput_per_day", "completed per day", 2, False),
)


def _differences_html(cr: Any, results: Mapping[str, RunResult]) -> str:
    """Differences (other - first) per replication with 95% CIs of the headline KPIs."""
    from sim.results.stats import paired_differences

    names = list(results)
    base_name = names[0]
    base = results[base_name]
    crn = bool(getattr(cr, "crn", True))
    parts = ["<p class=\"note\">Differences to the first scenario, " + (
        "paired by replication: every scenario ran from the same seed, so cases share their "
        "random numbers (common random numbers) and the intervals are sharp."
        if crn else "from independent runs (each scenario its own seed): the intervals are "
        "wider than with common random numbers.") + "</p>"]
    for name in names[1:]:
        r = results[name]
        diff = paired_differences(base.per_replication, r.per_replication)
        rows = []
        for key, label, dg, pct in DIFF_KPIS:
            if key not in diff.index:
                continue
            b = base.per_replication[key].mean()
            o = r.per_replication[key].mean()
            row = diff.loc[key]
            rows.append([label, num(b, dg, pct), num(o, dg, pct),
                         ("+" if row["mean"] > 0 else "") + num(row["mean"], dg, pct),
                         ci([row["ci95_lo"], row["ci95_hi"]], dg, pct)])
        parts.append(f"<h3>{esc(name)} minus {esc(base_name)}</h3>")
        parts.append(table(("KPI", base_name, name, "difference", "95% CI of the difference"),
                           rows, numeric=(False, True, True, True, True)))
    return "\n".join(parts)


def write_compare_report(compare_result: Any, out_dir: str | Path) -> Path:
    """Write the report folder of a comparison; returns the path of ``report.html``.

    ``compare_result`` is a :class:`sim.compare.CompareResult` (its ``labels`` and
    ``results``; a mapping ``{label: RunResult}`` works too), the first the baseline. Per
    scenario the folder gets ``<k>_<label>/`` with its own records; the top level gets
    ``report.html``, ``compare.json`` (the comparison's ``to_dict()`` when it has one)
    and the overlaid figures.
    """
    out = _prepare(out_dir)
    results, d = _compare_parts(compare_result)
    if d is not None:
        write_json(out / "compare.json", d)
    files: list[tuple[str, str]] = [(REPORT_NAME, "this report")]
    if d is not None:
        files.append(("compare.json", "the comparison (JSON)"))
    for k, (name, r) in enumerate(results.items()):
        sub = out / f"{k}_{_slug(name)}"
        sub.mkdir(exist_ok=True)
        _write_records(r, sub)
        files.append((f"{sub.name}/", f"records of {name}: cases.csv, stations.csv, "
                      "per_replication.csv, result.json, scenario.toml"))
    files.append(("figures/", "the figures as PNG files"))
    figs = _figures(results, None, out / "figures")
    first = next(iter(results.values()))
    title = "govsim comparison: " + " vs ".join(results)
    sub_title = (f"{first.replications} replications each, seed {first.seed}, engine "
                 f"{first.engine}.")
    cards = []
    for name, r in results.items():
        per = r.per_replication
        cards.append((num(per["lead_time_workdays.mean"].mean()),
                      f"{name}: mean lead time (working days)"))
    body = [
        _header(title, sub_title, cards),
        "<nav><a href=\"#kpis\">KPIs</a><a href=\"#differences\">Differences</a>"
        "<a href=\"#figures\">Figures</a><a href=\"#stations\">Stations</a>"
        "<a href=\"#scenario\">Scenarios</a><a href=\"#files\">Files</a></nav>",
        "<h2 id=\"kpis\">Key figures per scenario</h2>",
    ]
    rows = []
    for name, r in results.items():
        dd = r.to_dict()
        k = dd["kpis"]
        rows.append([name, num(k["lead_time_workdays"]["mean"]),
                     ci(k["lead_time_workdays"]["ci95"]), num(k["lead_time_workdays"]["p90"]),
                     num(k["lead_time_days"]["mean"]),
                     num(k["within_limit_share"], 1, pct=True), num(k["visits"]["mean"], 2),
                     r.bottleneck()])
    body.append(table(("scenario", "mean lead time (wd)", "95% CI", "P90 (wd)",
                       "mean (calendar days)", "within limit", "visits", "bottleneck"), rows,
                      numeric=(False, True, True, True, True, True, True, False)))
    body.append("<h3>Lead time split (calendar days, critical path)</h3>")
    body.append(_split_table_html(results))
    body.append("<h2 id=\"differences\">Paired differences</h2>")
    body.append(_differences_html(compare_result, results))
    body.append("<h2 id=\"figures\">Figures</h2>")
    body.extend(figs)
    body.append("<h2 id=\"stations\">Stations</h2>")
    for name, r in results.items():
        body.append(f"<h3>{esc(name)}</h3>")
        body.append(stations_html(r.to_dict()))
    for k, (name, r) in enumerate(results.items()):
        body.append(_scenario_section(r, heading=f"Scenario: {name}", anchors=k == 0))
    body.append(_files_section(files))
    path = out / REPORT_NAME
    write_atomic(path, _page(title, "\n".join(body)))
    return path


def _slug(name: str) -> str:
    s = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name).strip("-")
    return s[:60] or "scenario"
