"""Figures of a call centre (matplotlib): the speed of answer, in seconds.

Like :mod:`sim.present.plots` (whose helpers it uses), each function takes results and
returns a :class:`matplotlib.figure.Figure` drawn in the language in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from sim.i18n import t
from sim.present.fonts import with_fonts
from sim.present.plots import _colors, _figure, _measured, as_results

__all__ = ["answer_cdf"]


@with_fonts
def answer_cdf(results: Any, marks: Sequence[float] = (15, 20), title: str | None = None,
               ) -> Figure:
    """Empirical CDF of the time answered cases spent in queues, in seconds (a call
    centre's speed of answer), per scenario overlaid; ``marks``: service-level targets."""
    res = as_results(results)
    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    top = 1.0
    for (name, r), color in zip(res.items(), _colors(len(res)), strict=True):
        x = np.sort(_measured(r)["queue_hours"].to_numpy(dtype=np.float64) * 3600.0)
        if x.size == 0:
            continue
        top = max(top, float(np.quantile(x, 0.995)))
        ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", color=color, lw=1.8,
                label=t("{name} (mean {mean})", name=name, mean=t("{v} s", v=f"{x.mean():.1f}")))
    for k, m in enumerate(marks):  # labels one above the other: targets lie close
        ax.axvline(m, color="#444", ls="--", lw=1)
        ax.annotate(t("{v} s", v=f"{m:g}"), (m, 0.02 + 0.07 * k), xytext=(4, 0),
                    textcoords="offset points", fontsize=8, color="#444")
    ax.set_xlim(0, max(top, *marks) * 1.05)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel(t("wait before an answer (seconds)"))
    ax.set_ylabel(t("share of answered cases"))
    ax.set_title(title or t("Speed of answer"), loc="left")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig
