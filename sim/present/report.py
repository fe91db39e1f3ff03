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

from sim import i18n
from sim.files import atomic_folder, write_atomic, write_json
from sim.i18n import name, t
from sim.model.headline import parse as parse_measure
from sim.model.scenario import to_toml
from sim.present import call_plots, plots
from sim.present.html import REPORT_NAME, Figure, _prepare, fig_png, render
from sim.results import drivers, headline
from sim.results.display import ci, num, run_result_html, station_name
from sim.results.result import RunResult

__all__ = ["run_result_html", "write_run_report"]


# --------------------------------------------------------------------------- sections


def _scenario_context(result: RunResult) -> dict[str, Any]:
    """What ``macros.html``'s ``scenario`` shows of a run's scenario: its description, the
    table of its parts, the reforms it went through, the offered load, the assumptions and
    sources, and the file as simulated."""
    s = result.scenario
    m = result.model
    rows: list[list[Any]] = [
        [t("classes"), ", ".join(
            f"{name(k, v)} ({v.rate:g}/{t(v.per)})" if v.rate is not None
            else f"{name(k, v)} ({t('recorded')}, {v.arrivals.mode if v.arrivals else ''})"
            for k, v in s.classes.items())],
        [t("stations"), str(len(s.stations)) + " (" + ", ".join(
            f"{name(k, v)}: {v.servers}" for k, v in s.stations.items()) + ")"],
        [t("agent pools"), ", ".join(t("{pool}: {n} agents x {caseload}", pool=name(k, v),
                                       n=v.agents, caseload=v.caseload)
                                     for k, v in s.pools.items()) or t("none")],
        [t("items"), str(len(s.items))],
        [t("materials (sum over items)"), str(sum(i.materials for i in s.items.values()))],
        [t("routes"), ", ".join(t("{route} ({n} stages)", route=k, n=len(v.stages))
                                for k, v in s.routes.items())],
        [t("start date"), str(s.run.start_date)],
        [t("horizon"), t("{days} days (arrivals over the first {arrival})",
                         days=f"{s.run.horizon_days:g}",
                         arrival=f"{(s.run.arrival_days or s.run.horizon_days):g}")],
        [t("warm-up"), t("{days} days (cases arriving earlier are left out of KPIs)",
                         days=f"{s.run.warmup_days:g}")],
    ]
    # the reforms it went through (recorded under ``reforms.applied[k]``): code, words
    applied = [v for k, v in s.assumptions.items() if k.startswith("reforms.applied[")]
    reforms = [(x.split(" -- ")[0], x.split(" -- ", 1)[1] if " -- " in x else "")
               for x in [*applied, *s.reforms]]
    load = [[station_name(k, s), int(m.station_servers[list(m.station_names).index(k)]),
             num(v, 1, pct=True)]
            for k, v in sorted(m.offered_load().items(), key=lambda kv: -kv[1])]
    return {"description": s.scenario.description, "rows": rows, "reforms": reforms,
            "load": load, "assumptions": [[k, v] for k, v in s.assumptions.items()],
            "sources": list(s.scenario.sources), "toml": to_toml(s)}


def _figures(results: Mapping[str, RunResult], single: RunResult | None,
             fig_dir: Path, prefix: str = "") -> list[Figure]:
    """Render the figures and write them to ``fig_dir``."""
    specs: list[tuple[str, str, str, Any]] = [
        ("lead_time_cdf", t("Lead time distribution"),
         t("Share of completed cases (after the warm-up, pooled over replications) finished "
           "within x working days; dashed: the statutory limit."),
         lambda: plots.lead_time_cdf(results)),
        ("lead_time_cdf_calendar", t("Lead time distribution, calendar days"),
         t("The same in calendar days (what the World Bank counts)."),
         lambda: plots.lead_time_cdf(results, unit="days")),
        ("lead_time_hist", t("Lead time histogram"),
         t("Share of completed cases per lead-time bin (working days)."),
         lambda: plots.lead_time_hist(results)),
        ("lead_time_split", t("Where lead time goes"),
         t("Mean calendar days on each case's critical path in government work (service), "
           "queueing, and with the applicant (preparing, fixing deficient submissions)."),
         lambda: plots.lead_time_split(results)),
        ("wip", t("Work in progress"),
         t("Cases arrived and not yet ended, mean over replications (band: min to max); "
           "shaded: the warm-up; dotted: the end of arrivals."),
         lambda: plots.wip_over_time(results)),
    ]
    declared = [parse_measure(x) for r in results.values() for x in headline.declared(r.model)]
    seconds: list[float] = sorted({float(m.seconds) for m in declared if m.seconds is not None})
    if seconds or any(m.base == "answer_seconds" for m in declared):
        # a call centre: its speed of answer, in seconds, leads the figures
        specs.insert(0, ("answer_cdf", t("Speed of answer"), t(
            "Share of answered cases that waited at most x seconds in queues (pooled over "
            "replications, after the warm-up); dashed: the service-level targets of the "
            "headline measures."), lambda: call_plots.answer_cdf(results, marks=seconds or [20.0])))
    if single is not None:
        specs.insert(len(specs) - 1, ("stations", t("Stations"),
                         t("Utilization with its 95% CI and mean queue wait per station, "
                           "busiest first; hatched: help-and-proxy agent pools (share of slots "
                           "held)."),
                         lambda: plots.station_chart(single)))
    else:
        for k, (label, r) in enumerate(results.items()):
            title = t("Stations: {scenario}", scenario=label)
            specs.append((f"stations_{k}", title,
                          t("Utilization and queue wait per station in {scenario}, busiest "
                            "first.", scenario=label),
                          lambda r=r, title=title: plots.station_chart(r, title=title)))
    return [_figure(fig_dir / f"{prefix}{key}.png", title, caption, make)
            for key, title, caption, make in specs]


def _figure(path: Path, title: str, caption: str, make: Any) -> Figure:
    """Render one figure and write it to ``path``."""
    png = fig_png(make())
    write_atomic(path, png)
    return Figure(png, title, caption, title=title)


def _stages_section(result: RunResult, fig_dir: Path) -> Figure | None:
    """Where lead time goes, by stage: the stacked bars (first screen of the report)."""
    if len(result.time_by_stage()) < 2:
        return None
    return _figure(fig_dir / "lead_time_by_stage.png", t("Where lead time goes, by stage"),
                   t("Mean calendar days each stage adds to a completed case's critical path: "
                     "government work (service and government lags), queueing, and with the "
                     "applicant; the stages of a route add up to its mean lead time (95% CIs of "
                     "each stage's total in result.json, kpis.lead_time_by_stage)."),
                   lambda: plots.stage_split(result))


def _write_records(result: RunResult, out: Path, prefix: str = "") -> None:
    cases = result.cases
    write_atomic(out / f"{prefix}cases.csv", cases.to_csv(index=False))
    write_atomic(out / f"{prefix}stations.csv", result.stations.to_csv(index=False))
    write_atomic(out / f"{prefix}per_replication.csv", result.per_replication.to_csv())
    write_json(out / f"{prefix}result.json", result.to_dict())
    write_atomic(out / f"{prefix}scenario.toml", to_toml(result.scenario))


def _cards(result: RunResult, d: Mapping[str, Any], busiest: str,
           levers: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """The report's cards: the scenario's headline measures first (``[headline]``, in
    their units), then the busiest station and the biggest lever."""
    cards = headline.cards(result.model, d["headline"])
    util = d["stations"].get(busiest, {}).get("utilization")
    cards.append((station_name(busiest, result.scenario), t("busiest station")
                  + (t(" ({util} utilization)", util=num(util, 0, pct=True))
                     if util is not None else "")))
    if levers and levers.get("levers"):
        big = levers["levers"][0]
        cards.append((big["lever"], t("bottleneck: the biggest lever ({kpi} {effect}, 95% CI "
                                      "{ci})", kpi=levers["kpi"], effect=_signed(big["effect"], 1),
                                      ci=ci(big["ci95"], 1))))
    return cards


def _signed(x: Any, digits: int = 1, pct: bool = False) -> str:
    """A difference as text, with ``+`` when positive."""
    text = num(x, digits, pct)
    return "+" + text if isinstance(x, int | float) and x > 0 else text


def _levers_section(levers: Mapping[str, Any], fig_dir: Path) -> dict[str, Any]:
    """The ranked levers (``govsim levers``), as ``run.html`` shows them: a bar chart and
    the table."""
    png = fig_png(plots.levers_chart(levers))
    write_atomic(fig_dir / "levers.png", png)
    b = levers["baseline"]
    rows = [[r["rank"], r["lever"], r.get("change", ""), _signed(r["effect"], 2),
             ci(r["ci95"], 2), _signed(r["relative"], 1, pct=True),
             (f"{num(r['utilization'], 0, pct=True)} -> {num(r['utilization_after'], 0, pct=True)}"
              if "utilization" in r else "")] for r in levers["levers"]]
    return {
        "intro": t(
            "What each small change buys on {kpi} (baseline {mean}, 95% CI {ci}): the paired "
            "difference to the baseline over {n} replications on common random numbers (seed "
            "{seed}), with its Student-t 95% interval, which covers simulation noise only, not "
            "the assumptions. The first is the bottleneck: the biggest lever.",
            kpi=levers["kpi"], mean=num(b["mean"], 2), ci=ci(b["ci95"], 2),
            n=levers["replications"], seed=levers["seed"]),
        "figure": Figure(png, t("Levers"), t(
            "Paired effect of each lever (whiskers: 95% CI), biggest first (the first 25; the "
            "table has every lever); colour: the kind of lever.")),
        "headers": [t(h) for h in ("#", "lever", "change", "effect", "95% CI", "relative",
                                   "utilization")],
        "rows": rows, "skipped": levers.get("skipped") or [],
    }


def _split_table(results: Mapping[str, RunResult]) -> dict[str, Any]:
    """The lead-time split per class (and scenario, when several): headers, rows and which
    columns are numbers, for ``macros.html``'s ``split_table``."""
    tab = plots.split_table(results)
    multi = tab["scenario"].nunique() > 1
    headers = [t(h) for h in (*(("scenario",) if multi else ()), "class", "completed cases",
                              "government work", "queueing", "applicant", "total")]
    rows = []
    for _, r in tab.iterrows():
        total = sum(float(r[p]) for p in ("service", "queue", "applicant"))
        rows.append([*([r["scenario"]] if multi else []), r["class"], f"{int(r['cases']):,}",
                     num(r["service"]), num(r["queue"]), num(r["applicant"]), num(total)])
    n0 = 1 if multi else 0
    return {"headers": headers, "rows": rows,
            "numeric": (*([False] * (n0 + 1)), True, True, True, True, True)}


# --------------------------------------------------------------------------- run report


def write_run_report(result: RunResult, out_dir: str | Path,
                     levers: Mapping[str, Any] | None = None, lang: str | None = None) -> Path:
    """Write the report folder of one run (all of it or, after an error, none of it);
    returns the path of ``report.html``. ``levers`` (the dict of ``govsim levers --json``,
    measured on this run's scenario) adds the ranked levers and ``levers.json``. ``lang``:
    ``en`` or ``zh`` (default: the language in force, :mod:`sim.i18n`)."""
    with i18n.use(lang), atomic_folder(out_dir) as tmp:
        _run_report(result, _prepare(tmp), levers)
    return Path(out_dir) / REPORT_NAME


def _run_report(result: RunResult, out: Path, levers: Mapping[str, Any] | None = None) -> Path:
    d = result.to_dict()
    _write_records(result, out)
    figs = _figures({result.model.name: result}, result, out / "figures")
    busiest = result.bottleneck()
    lever_section = _levers_section(levers, out / "figures") if levers else None
    if levers:
        write_json(out / "levers.json", levers)
    c = d["cases"]
    title = t("govsim report: {scenario}", scenario=result.model.name)
    sub = (t("{n} replications, seed {seed}, engine {engine}; {arrived} cases arrived after "
             "the warm-up, {completed} completed, {open} open at the horizon",
             n=d["replications"], seed=d["seed"], engine=d["engine"],
             arrived=f"{c['arrived']:,}", completed=f"{c['completed']:,}",
             open=f"{c['open_at_horizon']:,}")
           + (t(", {n} abandoned", n=f"{c['abandoned']:,}") if c["abandoned"] else "")
           + t("."))
    lead_note = (t("Lead times over cases that arrived after the warm-up and completed by the "
                   "horizon (cases still open are counted, not dropped)."))
    if result.scenario.headline is not None and result.scenario.headline.note:
        lead_note = result.scenario.headline.note
    nav = [("kpis", "Key figures"), *([("levers", "Levers")] if levers else []),
           ("figures", "Figures"), ("stations", "Stations"), ("scenario", "Scenario"),
           ("assumptions", "Assumptions"), ("sources", "Sources"), ("files", "Files")]
    stations_note = (
        t("Service stations busiest first, then agent pools; the highlighted row is the "
          "busiest station")
        + (t(" (the bottleneck, the biggest lever, is {lever}: see Levers)",
             lever=levers["levers"][0]["lever"]) if levers and levers.get("levers")
           else t(" (a queue there is not always what lead time waits for: `govsim levers` "
                  "measures what each change buys)")) + t("."))
    files = [(REPORT_NAME, t("this report")),
             ("cases.csv", t("one row per case and replication")),
             ("stations.csv", t("one row per station and replication")),
             ("per_replication.csv", t("KPIs of each replication")),
             ("result.json", t("the results (JSON contract of govsim run --json)")),
             ("scenario.toml", t("the scenario as simulated")),
             *([("levers.json", t("the ranked levers (govsim levers --json)"))]
               if levers else []),
             ("figures/", t("the figures as PNG files"))]
    page = render(
        "run.html", title=title, subtitle=sub, cards=_cards(result, d, busiest, levers),
        answer=drivers.answer(d, result.scenario), nav=nav, files=files,
        stages=_stages_section(result, out / "figures"), model=result.model, d=d,
        kpi_note=t("Means over replications with Student-t 95% confidence intervals.") + " "
        + lead_note, split=_split_table({result.model.name: result}),
        levers=lever_section, figures=figs, stations_note=stations_note,
        scenario=result.scenario, sc=_scenario_context(result))
    path = out / REPORT_NAME
    write_atomic(path, page)
    return path
