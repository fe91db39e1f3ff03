"""The report folder of a score (``govsim score ... --out DIR``): ``report.html`` (the
distance table, the KPI table real vs simulated, the cycle-time distributions overlaid,
the activities' frequency), ``score.json`` (the score's ``to_json()``), ``figures/*.png``.

Everything is built in memory first, then written through the atomic folder writer, so an
error leaves no half-written report. The score is taken duck-typed (``to_json``,
``activity_frequency``, ``real`` and ``simulated`` :class:`sim.calibrate.score.Cases`): this
layer does not import :mod:`sim.experiments`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.calibrate.score import Cases
from sim.files import atomic_folder, json_text, write_atomic
from sim.present import score_plots
from sim.present.html import REPORT_NAME, Figure, _prepare, fig_png, render
from sim.results.display import ci, num

__all__ = ["write_score_report"]


def cycle_days(cases: Cases) -> np.ndarray:
    """Each case's cycle time in calendar days (first to last event, local days)."""
    tb = cases.table
    return ((tb["last"] - tb["start"]).dt.days).to_numpy(dtype=float)


def write_score_report(sr: Any, out_dir: str | Path) -> Path:
    """Write the report folder of a score; returns the path of ``report.html``."""
    d = sr.to_json()
    real = cycle_days(sr.real)
    sims = [cycle_days(s) for s in sr.simulated]
    figs = {
        "cycle_time.png": (score_plots.cycle_time_ecdf(real, sims),
                           "Cycle time: empirical CDFs of the real and simulated cases"),
        "activities.png": (score_plots.activity_frequency(sr.activity_frequency()),
                           "The 20 most frequent real activities (and the simulated ones)"),
    }
    pngs = {name: fig_png(fig) for name, (fig, _) in figs.items()}
    dist_rows = [[r["label"], num(r["value"], 2), ci(r["ci95"], 2), r["unit"], r["meaning"]]
                 for r in d["distances"].values()]
    kpi_rows = []
    for r in d["kpis"].values():
        pct = r["unit"] == "share"
        digits = 1 if pct else 2
        inside = {True: "yes", False: "no", None: "–"}[r["real_in_ci"]]
        kpi_rows.append([r["label"], num(r["real"], digits, pct),
                         num(r["simulated"], digits, pct), ci(r["ci95"], digits, pct),
                         inside])
    p, c = d["period"], d["cases"]
    decision = ", ".join(d["decision"]) or "none named: the case's end"
    title = f"govsim score: {d['scenario']} against {d['log']}"
    sub = (f"cases started {p['start']} to {p['end']} ({p['days']} days); "
           f"{d['replications']} replications, seed {d['seed']}, engine {d['engine']}; "
           f"simulation from {p['simulation_start']} with {p['warmup_days']:g} warm-up days.")
    cards = [(f"{c['real']:,}", "real cases"),
             (num(c["simulated_mean"], 1), "simulated cases per replication"),
             (num(d["distances"]["cycle_time"]["value"], 1),
              "cycle-time distance (days)"),
             (num(d["distances"]["ngram"]["value"], 2), "3-gram distance (matched)")]
    page = render(
        "score.html", title=title, subtitle=sub, cards=cards,
        files=[(REPORT_NAME, "this report"), ("score.json", "the score as JSON"),
               ("figures/", "the figures as PNG files")],
        dist_rows=dist_rows, decision=decision,
        term=num(d["term_days"], 0) if d["term_days"] else "none", kpi_rows=kpi_rows,
        notes=d["notes"],
        figures=[Figure(pngs[name], name, caption) for name, (_, caption) in figs.items()])
    text = json_text(d)
    with atomic_folder(out_dir) as tmp:  # the folder's files appear whole or not at all
        out = _prepare(tmp)
        for name, png in pngs.items():
            write_atomic(out / "figures" / name, png)
        write_atomic(out / "score.json", text)
        write_atomic(out / REPORT_NAME, page)
    return Path(out_dir) / REPORT_NAME
