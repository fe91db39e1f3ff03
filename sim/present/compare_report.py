"""The report folder of a comparison: the scenarios side by side, and their differences.

``govsim compare A B ... --out DIR`` calls :func:`write_compare_report`. The folder holds
``report.html`` (the KPIs per scenario, the paired differences to the first scenario with
95% CIs, the overlaid figures, the stations and the scenario of each),
``compare.json`` (the comparison's ``to_dict()``), ``figures/*.png``, and per scenario a
folder ``<k>_<label>/`` with the records a run report writes (``cases.csv``,
``stations.csv``, ``per_replication.csv``, ``result.json``, ``scenario.toml``).

A comparison is taken duck-typed (its ``labels`` and ``results``, or a mapping
``{label: RunResult}``): this layer does not import :mod:`sim.experiments`. The per-scenario
sections come from :mod:`sim.present.report`, the page machinery from
:mod:`sim.present.html`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim import i18n
from sim.files import atomic_folder, write_atomic, write_json
from sim.i18n import t
from sim.model.headline import COLUMNS
from sim.model.headline import parse as parse_measure
from sim.present import plots
from sim.present.html import REPORT_NAME, _prepare, _slug, render
from sim.present.report import _figures, _scenario_context, _split_table, _write_records
from sim.results import headline
from sim.results.display import ci, num, station_name
from sim.results.result import RunResult
from sim.results.stats import paired_differences

__all__ = ["write_compare_report"]


def _compare_parts(cr: Any) -> tuple[dict[str, RunResult], dict[str, Any] | None]:
    """The named RunResults of a comparison and its JSON (duck-typed on CompareResult)."""
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
    ("gov_cost.mean", "government cost per case", 0, False),
    ("applicant_cost.mean", "applicant cost per case", 0, False),
)


def _differences(cr: Any, results: Mapping[str, RunResult]) -> list[dict[str, Any]]:
    """Differences (other - first) per replication with 95% CIs of the headline KPIs: per
    other scenario, its heading, the table and the costs saved (``compare.html``)."""
    names = list(results)
    base_name = names[0]
    base = results[base_name]
    out = []
    for name in names[1:]:
        r = results[name]
        diff = paired_differences(base.per_replication, r.per_replication)
        rows = []
        # the baseline's own headline measures first (answer seconds, service level, ...)
        heads = [(COLUMNS.get(h, f"headline.{h}"), *headline.describe(base.model,
                                                                      parse_measure(h)))
                 for h in headline.declared(base.model)]
        specs = [(key, label, 1 if kind != "count" else 2, kind == "share", True)
                 for key, label, _, kind in heads]
        specs += [(key, label, dg, pct, False) for key, label, dg, pct in DIFF_KPIS
                  if key not in {h[0] for h in heads}]
        for key, label, dg, pct, shown in specs:
            if key not in diff.index:
                continue
            b = base.per_replication[key].mean()
            o = r.per_replication[key].mean()
            row = diff.loc[key]
            rows.append([label if shown else t(label), num(b, dg, pct), num(o, dg, pct),
                         ("+" if row["mean"] > 0 else "") + num(row["mean"], dg, pct),
                         ci([row["ci95_lo"], row["ci95_hi"]], dg, pct)])
        saved = cr.savings(names.index(name)) if hasattr(cr, "savings") else None
        savings = "" if saved is None else "; ".join(
            t("{what} saved: {per_case} {cur} per case (95% CI {ci_case}), {over} {cur} "
              "over the {cases} cases completed per replication (95% CI {ci_over})",
              what=t(name_), per_case=num(v["per_case"]["mean"], 0), cur=saved["currency"],
              ci_case=ci(v["per_case"]["ci95"], 0), over=num(v["over_cases"]["mean"], 0),
              cases=num(saved["cases"], 0), ci_over=ci(v["over_cases"]["ci95"], 0))
            for name_, v in (("government cost", saved["gov_cost"]),
                             ("applicant cost", saved["applicant_cost"])))
        out.append({"heading": t("{other} minus {base}", other=name, base=base_name),
                    "headers": (t("KPI"), base_name, name, t("difference"),
                                t("95% CI of the difference")),
                    "rows": rows, "savings": savings})
    return out


def write_compare_report(compare_result: Any, out_dir: str | Path,
                         lang: str | None = None) -> Path:
    """Write the report folder of a comparison; returns the path of ``report.html``.

    ``compare_result`` is a :class:`sim.experiments.compare.CompareResult` (its ``labels`` and
    ``results``; a mapping ``{label: RunResult}`` works too), the first the baseline. Per
    scenario the folder gets ``<k>_<label>/`` with its own records; the top level gets
    ``report.html``, ``compare.json`` (the comparison's ``to_dict()`` when it has one)
    and the overlaid figures.
    """
    with i18n.use(lang), atomic_folder(out_dir) as tmp:  # lang: en, zh (None: in force)
        _compare_report(compare_result, _prepare(tmp))
    return Path(out_dir) / REPORT_NAME


def _compare_report(compare_result: Any, out: Path) -> Path:
    results, d = _compare_parts(compare_result)
    if d is not None:
        write_json(out / "compare.json", d)
    files: list[tuple[str, str]] = [(REPORT_NAME, t("this report"))]
    if d is not None:
        files.append(("compare.json", t("the comparison (JSON)")))
    for k, (name, r) in enumerate(results.items()):
        sub = out / f"{k}_{_slug(name)}"
        sub.mkdir(exist_ok=True)
        _write_records(r, sub)
        files.append((f"{sub.name}/", t("records of {scenario}: cases.csv, stations.csv, "
                                        "per_replication.csv, result.json, scenario.toml",
                                        scenario=name)))
    files.append(("figures/", t("the figures as PNG files")))
    figs = _figures(results, None, out / "figures")
    first = next(iter(results.values()))
    title = t("govsim comparison: {scenarios}", scenarios=t(" vs ").join(results))
    sub_title = t("{n} replications each, seed {seed}, engine {engine}.", n=first.replications,
                  seed=first.seed, engine=first.engine)
    cards = []
    for name, r in results.items():  # each scenario's headline measures, in their units
        for value, caption in headline.cards(r.model, r.to_dict()["headline"])[:3]:
            cards.append((value, f"{name}: {caption}"))
    nav = [("kpis", "Key figures"), ("differences", "Differences"), ("figures", "Figures"),
           ("stations", "Stations"), ("scenario", "Scenarios"), ("files", "Files")]
    rows = []
    for name, r in results.items():
        k = r.to_dict()["kpis"]
        rows.append([name, num(k["lead_time_workdays"]["mean"]),
                     ci(k["lead_time_workdays"]["ci95"]), num(k["lead_time_workdays"]["p90"]),
                     num(k["lead_time_days"]["mean"]),
                     num(k["within_limit_share"], 1, pct=True), num(k["visits"]["mean"], 2),
                     station_name(r.bottleneck(), r.scenario)])
    crn = bool(getattr(compare_result, "crn", True))
    diff_note = t(
        "Differences to the first scenario, paired by replication: every scenario ran from "
        "the same seed, so cases share their random numbers (common random numbers) and the "
        "intervals are sharp.") if crn else t(
        "Differences to the first scenario, from independent runs (each scenario its own "
        "seed): the intervals are wider than with common random numbers.")
    page = render(
        "compare.html", title=title, subtitle=sub_title, cards=cards, nav=nav, files=files,
        kpi_headers=[t(h) for h in ("scenario", "mean lead time (wd)", "95% CI", "P90 (wd)",
                                    "mean (calendar days)", "within limit",
                                    "in-person visits", "busiest station")],
        kpi_rows=rows, split=_split_table(results), diff_note=diff_note,
        differences=_differences(compare_result, results), figures=figs,
        results=list(results.items()),
        scenarios=[(name, _scenario_context(r)) for name, r in results.items()])
    path = out / REPORT_NAME
    write_atomic(path, page)
    return path
