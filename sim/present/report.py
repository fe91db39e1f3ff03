"""The report folder of one run: one self-contained HTML file plus the records behind it.

``govsim run FILE --out DIR`` calls :func:`write_run_report`. A folder holds

``report.html``
    opens in any browser with no server and no network: figures are embedded as
    base64 PNG, the style is inline; it shows the scenario, the seed, the engine, the
    KPIs with 95% confidence intervals, where lead time goes, the stations (bottleneck
    first), work in progress, and the assumptions and sources the scenario rests on;
``cases.csv``
    one row per case and replication (``sim.results.records.CASE_COLUMNS``);
``stations.csv``, ``per_replication.csv``
    per station and replication; one row of KPIs per replication;
``result.json``
    the JSON contract of ``govsim run --json`` (``RunResult.to_dict()``);
``scenario.toml``
    the scenario as simulated (reforms applied);
``figures/*.png``
    the figures, as files.

The sections here (scenario, figures, lead-time split, records) are reused per scenario
by the comparison report, :mod:`sim.present.compare_report`; the page machinery is in
:mod:`sim.present.html`. :func:`run_result_html` is the compact HTML a notebook shows for
a RunResult.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.files import atomic_folder, write_atomic, write_json
from sim.model.scenario import to_toml
from sim.present import plots
from sim.present.html import (
    REPORT_NAME,
    _files_section,
    _header,
    _page,
    _prepare,
    fig_png,
    figure_html,
)
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
from sim.results.result import RunResult

__all__ = ["run_result_html", "write_run_report"]


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
    s = result.scenario
    m = result.model

    def anchor(name: str) -> str:
        return f' id="{name}"' if anchors else ""

    parts = [f"<h2{anchor('scenario')}>{esc(heading)}</h2>"]
    if s.scenario.description:
        parts.append(f"<p>{esc(s.scenario.description)}</p>")
    rows: list[list[Any]] = [
        ["classes", ", ".join(f"{k} ({v.rate:g}/{v.per})" if v.rate is not None
                              else f"{k} (recorded, {v.arrivals.mode if v.arrivals else ''})"
                              for k, v in s.classes.items())],
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
         "queueing, and with the applicant (preparing, fixing deficient submissions).",
         lambda: plots.lead_time_split(results)),
        ("wip", "Work in progress",
         "Cases arrived and not yet ended, mean over replications (band: min to max); shaded: "
         "the warm-up; dotted: the end of arrivals.",
         lambda: plots.wip_over_time(results)),
    ]
    if single is not None:
        specs.insert(len(specs) - 1, ("stations", "Stations",
                         "Utilization with its 95% CI and mean queue wait per station, busiest "
                         "first; hatched: help-and-proxy agent pools (share of slots held).",
                         lambda: plots.station_chart(single)))
    else:
        for k, (name, r) in enumerate(results.items()):
            specs.append((f"stations_{k}", f"Stations: {name}",
                          f"Utilization and queue wait per station in {name}, busiest first.",
                          lambda r=r, name=name: plots.station_chart(r, title=f"Stations: {name}")))
    return [_figure(fig_dir / f"{prefix}{key}.png", title, caption, make)
            for key, title, caption, make in specs]


def _figure(path: Path, title: str, caption: str, make: Any) -> str:
    """Render one figure, write it to ``path`` and return its HTML."""
    png = fig_png(make())
    write_atomic(path, png)
    return f"<h3>{esc(title)}</h3>" + figure_html(png, title, caption)


def _stages_section(result: RunResult, fig_dir: Path) -> str:
    """Where lead time goes, by stage: the stacked bars (first screen of the report)."""
    if len(result.time_by_stage()) < 2:
        return ""
    return _figure(fig_dir / "lead_time_by_stage.png", "Where lead time goes, by stage",
                   "Mean calendar days each stage adds to a completed case's critical path: "
                   "government work (service and government lags), queueing, and with the "
                   "applicant; the stages of a route add up to its mean lead time (95% CIs of "
                   "each stage's total in result.json, kpis.lead_time_by_stage).",
                   lambda: plots.stage_split(result))


def _write_records(result: RunResult, out: Path, prefix: str = "") -> None:
    cases = result.cases
    write_atomic(out / f"{prefix}cases.csv", cases.to_csv(index=False))
    write_atomic(out / f"{prefix}stations.csv", result.stations.to_csv(index=False))
    write_atomic(out / f"{prefix}per_replication.csv", result.per_replication.to_csv())
    write_json(out / f"{prefix}result.json", result.to_dict())
    write_atomic(out / f"{prefix}scenario.toml", to_toml(result.scenario))


def _cards(d: Mapping[str, Any], busiest: str,
           levers: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
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
                      f"within the limit{f' of {lim:g} working days' if lim else ''}, "
                      "on the whole lead time"))
    if k.get("within_limit_share_government") is not None:
        cards.append((num(k["within_limit_share_government"], 1, pct=True),
                      "within the limit on government time (service, queue, lag)"))
    cards.append((num(k["visits"]["mean"], 2), "in-person visits per case"))
    util = d["stations"].get(busiest, {}).get("utilization")
    cards.append((busiest, "busiest station"
                  + (f" ({num(util, 0, pct=True)} utilization)" if util is not None else "")))
    if levers and levers.get("levers"):
        big = levers["levers"][0]
        cards.append((big["lever"], f"bottleneck: the biggest lever ({levers['kpi']} "
                      f"{_signed(big['effect'], 1)}, 95% CI {ci(big['ci95'], 1)})"))
    return cards


def _signed(x: Any, digits: int = 1, pct: bool = False) -> str:
    """A difference as text, with ``+`` when positive."""
    text = num(x, digits, pct)
    return "+" + text if isinstance(x, int | float) and x > 0 else text


def _levers_section(levers: Mapping[str, Any], fig_dir: Path) -> str:
    """The ranked levers (``govsim levers``): a bar chart and the table."""
    png = fig_png(plots.levers_chart(levers))
    write_atomic(fig_dir / "levers.png", png)
    b = levers["baseline"]
    rows = [[r["rank"], r["lever"], r.get("change", ""), _signed(r["effect"], 2),
             ci(r["ci95"], 2), _signed(r["relative"], 1, pct=True),
             (f"{num(r['utilization'], 0, pct=True)} -> {num(r['utilization_after'], 0, pct=True)}"
              if "utilization" in r else "")] for r in levers["levers"]]
    parts = [
        "<h2 id=\"levers\">Levers, ranked</h2>",
        f"<p>What each small change buys on <code>{esc(levers['kpi'])}</code> (baseline "
        f"{num(b['mean'], 2)}, 95% CI {ci(b['ci95'], 2)}): the paired difference to the "
        f"baseline over {levers['replications']} replications on common random numbers "
        f"(seed {levers['seed']}), with its Student-t 95% interval, which covers simulation "
        "noise only, not the assumptions. The first is the bottleneck: the biggest lever.</p>",
        figure_html(png, "Levers", "Paired effect of each lever (whiskers: 95% CI), biggest "
                    "first (the first 25; the table has every lever); colour: the kind of "
                    "lever."),
        table(("#", "lever", "change", "effect", "95% CI", "relative", "utilization"), rows,
              numeric=(True, False, False, True, True, True, True)),
    ]
    if levers.get("skipped"):
        parts.append("<details><summary>Levers skipped here</summary><ul>" + "".join(
            f"<li>{esc(x['lever'])}: {esc(x['reason'])}</li>" for x in levers["skipped"])
            + "</ul></details>")
    return "\n".join(parts)


def _split_table_html(results: Mapping[str, RunResult]) -> str:
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


# --------------------------------------------------------------------------- run report


def write_run_report(result: RunResult, out_dir: str | Path,
                     levers: Mapping[str, Any] | None = None) -> Path:
    """Write the report folder of one run (all of it or, after an error, none of it);
    returns the path of ``report.html``. ``levers`` (the dict of ``govsim levers --json``,
    measured on this run's scenario) adds the ranked levers and ``levers.json``."""
    with atomic_folder(out_dir) as tmp:
        _run_report(result, _prepare(tmp), levers)
    return Path(out_dir) / REPORT_NAME


def _run_report(result: RunResult, out: Path, levers: Mapping[str, Any] | None = None) -> Path:
    d = result.to_dict()
    _write_records(result, out)
    figs = _figures({result.model.name: result}, result, out / "figures")
    busiest = result.bottleneck()
    lever_html = _levers_section(levers, out / "figures") if levers else ""
    if levers:
        write_json(out / "levers.json", levers)
    c = d["cases"]
    title = f"govsim report: {result.model.name}"
    sub = (f"{d['replications']} replications, seed {d['seed']}, engine {d['engine']}; "
           f"{c['arrived']:,} cases arrived after the warm-up, {c['completed']:,} completed, "
           f"{c['open_at_horizon']:,} open at the horizon"
           + (f", {c['abandoned']:,} abandoned" if c["abandoned"] else "") + ".")
    body = [
        _header(title, sub, _cards(d, busiest, levers), answer=d["answer"]),
        _stages_section(result, out / "figures"),
        "<nav><a href=\"#kpis\">KPIs</a>" + ("<a href=\"#levers\">Levers</a>" if levers else "")
        + "<a href=\"#figures\">Figures</a>"
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
        lever_html,
        "<h2 id=\"figures\">Figures</h2>",
        *figs,
        "<h2 id=\"stations\">Stations</h2>",
        "<p class=\"note\">Service stations busiest first, then agent pools; the highlighted "
        "row is the busiest station" + (" (the bottleneck, the biggest lever, is "
        f"{esc(levers['levers'][0]['lever'])}: see Levers)" if levers and levers.get("levers")
        else " (a queue there is not always what lead time waits for: `govsim levers` "
        "measures what each change buys)") + ".</p>",
        stations_html(d),
        _scenario_section(result),
        _files_section([(REPORT_NAME, "this report"), ("cases.csv", "one row per case and "
                        "replication"), ("stations.csv", "one row per station and replication"),
                        ("per_replication.csv", "KPIs of each replication"),
                        ("result.json", "the results (JSON contract of govsim run --json)"),
                        ("scenario.toml", "the scenario as simulated"),
                        *([("levers.json", "the ranked levers (govsim levers --json)")]
                          if levers else []),
                        ("figures/", "the figures as PNG files")]),
    ]
    path = out / REPORT_NAME
    write_atomic(path, _page(title, "\n".join(body)))
    return path
