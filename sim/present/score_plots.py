"""Figures of a score (matplotlib, no pyplot state): the real and simulated cycle-time
distributions overlaid, and the activities' frequency real vs simulated.

They take plain values (days per case; a frequency table), so this layer needs nothing of
:mod:`sim.experiments`; :mod:`sim.present.score_report` hands them a score's values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

REAL, SIMULATED = "#333333", "#4C72B0"


def cycle_time_ecdf(real_days: np.ndarray, simulated_days: Sequence[np.ndarray],
                    title: str = "Cycle time, real vs simulated") -> Figure:
    """Empirical CDFs of the cases' cycle time (first to last event, calendar days): the
    real log in black, each simulated replication in a light line and their pool bold."""
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for k, x in enumerate(simulated_days):
        x = np.sort(np.asarray(x, dtype=float))
        if x.size:
            ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", color=SIMULATED,
                    lw=0.7, alpha=0.35, label="replications" if k == 0 else None)
    pooled = np.sort(np.concatenate([np.asarray(x, dtype=float) for x in simulated_days]
                                    or [np.zeros(0)]))
    for x, color, name in ((pooled, SIMULATED, "simulated (pooled)"),
                           (np.sort(np.asarray(real_days, dtype=float)), REAL, "real")):
        if x.size:
            ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", color=color, lw=1.9,
                    label=f"{name}: median {np.median(x):.0f}, P90 "
                          f"{np.quantile(x, 0.9):.0f} days")
    ax.set_ylim(0, 1.01)
    ax.set_xlim(left=0)
    ax.set_xlabel("cycle time (calendar days, first to last event)")
    ax.set_ylabel("share of cases")
    ax.set_title(title, loc="left")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def activity_frequency(freq: pd.DataFrame, top: int = 20,
                       title: str = "Activity frequency, real vs simulated") -> Figure:
    """Horizontal bars of the ``top`` most frequent activities: events in the real log and
    the simulated mean per replication (``freq``: index activity, columns real and
    simulated)."""
    f = freq.head(top).iloc[::-1]
    fig = Figure(figsize=(7.0, max(2.5, 0.32 * len(f) + 1.2)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(f))
    ax.barh(y + 0.2, f["real"].to_numpy(dtype=float), height=0.4, color=REAL, label="real")
    ax.barh(y - 0.2, f["simulated"].to_numpy(dtype=float), height=0.4, color=SIMULATED,
            label="simulated (mean per replication)")
    ax.set_yticks(y, [str(a) for a in f.index], fontsize=7)
    ax.set_xlabel("events")
    ax.set_title(title, loc="left")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(loc="lower right", fontsize=8)
    return fig
