"""Where a case's time went, stage by stage (docs/model.md, "Critical-path
decomposition"): the width of :attr:`~sim.results.records.RepResult.t_stages`, each stage's
own part, and their sums over a run's completed cases (added batch by batch when streamed).
With the records, the engines' contract; re-exported by :mod:`sim.results.records`."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from sim.model.assembly import Model

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def max_route_stages(model: Model) -> int:
    """The most stages of any route (``P``, the width of :attr:`RepResult.t_stages`)."""
    return int(np.diff(np.asarray(model.route_stage_ptr)).max())


def stage_parts(t_stages: F64) -> F64:
    """Each stage's own (service, queue, applicant) hours: the triple at its end less the
    triple at the previous stage's end (the agent-pool wait falls in the first stage);
    NaN for the stages a case did not end."""
    prev = np.zeros_like(t_stages)
    prev[:, 1:] = t_stages[:, :-1]
    return t_stages - prev


class StageSums:
    """Sums of each stage's (service, queue, applicant) hours over the completed cases of
    its route that arrived after the warm-up, added a batch of cases at a time (a streamed
    run adds the cases as they end); :meth:`kpis` gives the means by stage in calendar days
    (``stage.<route/stage>.<part>_days``), the same whatever the batches."""

    PARTS = ("service", "queue", "applicant")

    def __init__(self, model: Model) -> None:
        self.model = model
        R = len(model.route_stage_ptr) - 1
        self.sums = np.zeros((R, max_route_stages(model), 3))
        self.count = np.zeros(R)

    def add(self, cls: I64, t_stages: F64, use: NDArray[np.bool_]) -> None:
        """Add the cases ``use`` selects (completed, after the warm-up) of a batch: their
        classes and their ``RepResult.t_stages`` rows."""
        route = np.asarray(self.model.class_route)[cls[use]]
        parts = stage_parts(t_stages[use])
        R = self.count.shape[0]
        self.count += np.bincount(route, minlength=R)
        for r in np.unique(route):
            self.sums[r] += np.nansum(parts[route == r], axis=0)

    def kpis(self) -> dict[str, float]:
        model, ptr = self.model, self.model.route_stage_ptr
        out: dict[str, float] = {}
        for r in range(len(ptr) - 1):
            n = self.count[r]
            out[f"route.{model.route_names[r]}.completed"] = float(n)
            for pos, s in enumerate(range(ptr[r], ptr[r + 1])):
                for k, part in enumerate(self.PARTS):
                    out[f"stage.{model.stage_names[s]}.{part}_days"] = (
                        float(self.sums[r, pos, k] / n) / 24.0 if n else math.nan)
        return out
