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


class ExactSums:
    """Sums of floats kept exactly, so that they do not depend on how the values were
    batched or ordered (numpy's sums round at every step, in an order set by the batch).

    A finite float is an integer mantissa ``M`` (53 bits) times ``2**e``; each cell keeps
    the integer sum of ``M * 2**(e + SHIFT)`` (a Python integer: exact at any size). A
    batch is summed per (cell, exponent) with numpy in two halves of the mantissa, whose
    partial sums stay below 2**53 and so are exact too. NaN values are left out (like
    ``np.nansum``); infinite ones are added as floats beside the exact part."""

    SHIFT = 1126  #: 2**-1126: below the smallest subnormal's last bit (2**-1074 / 2**52)
    _HALF = 27    #: the low half of a mantissa: 27 bits, the high one (signed) 26
    _BATCH = 1 << 25  #: at most this many values per numpy sum (< 2**26: exact halves)

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        size = int(np.prod(shape))
        self._int = [0] * size
        self._inf = np.zeros(size)

    def add(self, x: F64, cell: NDArray[np.int64]) -> None:
        """Add values ``x`` to cells ``cell`` (flat indices into ``shape``; same shape)."""
        x, cell = np.ravel(x), np.ravel(np.broadcast_to(cell, np.shape(x)))
        finite = np.isfinite(x)
        inf = ~finite & ~np.isnan(x)
        if inf.any():
            np.add.at(self._inf, cell[inf], x[inf])
        x, cell = x[finite], cell[finite]
        for a in range(0, x.shape[0], self._BATCH):
            self._add(x[a:a + self._BATCH], cell[a:a + self._BATCH])

    def _add(self, x: F64, cell: NDArray[np.int64]) -> None:
        if not x.size:
            return
        mant, exp = np.frexp(x)
        m = mant * 2.0**53  # the mantissa as an integer (exact)
        hi = np.floor(m * 2.0**-self._HALF)
        lo = m - hi * 2.0**self._HALF  # 0 <= lo < 2**27
        e = exp.astype(np.int64)
        e0 = int(e.min())
        span = int(e.max()) - e0 + 1
        key = cell * span + (e - e0)  # (cell, exponent) pairs, counted without a sort
        size = int(np.prod(self.shape)) * span
        h = np.bincount(key, weights=hi, minlength=size)
        low = np.bincount(key, weights=lo, minlength=size)
        acc = self._int
        for k in np.flatnonzero(np.bincount(key, minlength=size)).tolist():
            c, de = divmod(k, span)
            acc[c] += ((int(h[k]) << self._HALF) + int(low[k])) << (e0 + de - 53 + self.SHIFT)

    def value(self) -> F64:
        """The sums, each correctly rounded to a float (then any infinite part added)."""
        scale = 1 << self.SHIFT

        def rounded(v: int) -> float:
            try:
                return v / scale  # int / int: correctly rounded
            except OverflowError:  # past the largest float
                return math.inf if v > 0 else -math.inf
        out = np.array([rounded(v) for v in self._int], dtype=np.float64) + self._inf
        return out.reshape(self.shape)


class StageSums:
    """Sums of each stage's (service, queue, applicant) hours over the completed cases of
    its route that arrived after the warm-up, added a batch of cases at a time (a streamed
    run adds the cases as they end); :meth:`kpis` gives the means by stage in calendar days
    (``stage.<route/stage>.<part>_days``), the same whatever the batches: each sum is kept
    exactly (:class:`ExactSums`) and rounded once, so a streamed run, however its cases
    were batched, gives the numbers of the whole run bit for bit."""

    PARTS = ("service", "queue", "applicant")

    def __init__(self, model: Model) -> None:
        self.model = model
        R = len(model.route_stage_ptr) - 1
        self._exact = ExactSums((R, max_route_stages(model), 3))
        self.count = np.zeros(R)

    @property
    def sums(self) -> F64:
        """(routes, stages, 3): the sums so far, each correctly rounded."""
        return self._exact.value()

    def add(self, cls: I64, t_stages: F64, use: NDArray[np.bool_]) -> None:
        """Add the cases ``use`` selects (completed, after the warm-up) of a batch: their
        classes and their ``RepResult.t_stages`` rows."""
        route = np.asarray(self.model.class_route)[cls[use]]
        parts = stage_parts(t_stages[use])
        R = self.count.shape[0]
        self.count += np.bincount(route, minlength=R)
        # each value's cell in the (routes, stages, 3) table
        S3 = parts.shape[1] * 3
        cell = route[:, None] * S3 + np.arange(S3)
        self._exact.add(parts.reshape(parts.shape[0], S3), cell)


    def kpis(self) -> dict[str, float]:
        model, ptr = self.model, self.model.route_stage_ptr
        out: dict[str, float] = {}
        sums = self.sums
        for r in range(len(ptr) - 1):
            n = self.count[r]
            out[f"route.{model.route_names[r]}.completed"] = float(n)
            for pos, s in enumerate(range(ptr[r], ptr[r + 1])):
                for k, part in enumerate(self.PARTS):
                    out[f"stage.{model.stage_names[s]}.{part}_days"] = (
                        float(sums[r, pos, k] / n) / 24.0 if n else math.nan)
        return out
