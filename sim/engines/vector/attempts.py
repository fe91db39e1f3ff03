"""The submissions of an item after its first, stored only where a case reaches them.

The drawn inputs give every (case, item) ``K`` submissions (``service``, ``deficient``,
``fix`` of shape ``(n, J, K)``), but a submission ``k >= 1`` is reached only when the
case runs the item and its submission 0 is found deficient (submission 0's own fix is
read then too): about one pair in six on the construction scenario. The event loop
reads them in this form instead (:class:`Attempts`):

* ``service0``, ``deficient0``: ``(n, J)``, submission 0 of every pair;
* one **row** per pair that reaches submission 1 (it runs the item and its submission 0
  is deficient), in (case, item) order: ``key = case * J + item``, ``service[r, k - 1]``
  and ``deficient[r, k - 1]`` of submission ``k >= 1``, ``fix[r, k]`` of submission
  ``k <= K - 2``; ``ptr[case] .. ptr[case + 1] - 1`` are the case's rows.

The values are the drawn ones, moved: the loop reads exactly what it read in the
``(n, J, K)`` arrays (it never reads a submission it does not reach), so every record is
the same bit for bit. Costs about ``17 J + 8`` bytes a case plus ``8 + 17 (K - 1)`` a
row, instead of ``17 J K``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.engines.vector.kernels import F64, I64, _inline, _u


@dataclass
class Attempts:
    """Submissions in the loop's form (see the module's text); ``K`` at most."""

    service0: F64      # (n, J)
    deficient0: Any    # (n, J) bool
    ptr: I64           # (n + 1,) the rows of case i: ptr[i] .. ptr[i + 1] - 1
    key: I64           # (R,) case * J + item, increasing
    service: F64       # (R, K - 1) submission k >= 1: column k - 1
    deficient: Any     # (R, K - 1) bool
    fix: F64           # (R, K - 1) the fix of submission k <= K - 2: column k
    K: int

    def args(self) -> tuple[Any, ...]:
        """The loop's arguments."""
        return (self.service0, self.deficient0, self.ptr, self.key, self.service,
                self.deficient, self.fix)

    def rows_of(self, c: np.ndarray, j: np.ndarray) -> I64:
        """The row of each pair (case ``c``, item ``j``); every pair must have one. Reads
        only the rows of those cases (the others may have been handed back)."""
        J = self.service0.shape[1]
        want = np.asarray(c, dtype=np.int64) * J + j
        r = self.ptr[c].astype(np.int64)
        todo = np.flatnonzero(self.key[r] != want)
        while todo.size:  # a case's rows are in item order: probe forward
            r[todo] += 1
            todo = todo[self.key[r[todo]] != want[todo]]
        return r

    def at(self, c: np.ndarray, j: np.ndarray, k: np.ndarray) -> tuple[F64, np.ndarray, F64]:
        """Service, deficiency and fix of submission ``k`` of (case ``c``, item ``j``),
        for submissions a case reached (as the ``(n, J, K)`` arrays give them: the fix
        and deficiency of the last submission are 0 and False)."""
        c, j, k = (np.asarray(x, dtype=np.int64) for x in (c, j, k))
        svc = np.zeros(c.shape[0])
        dfc = np.zeros(c.shape[0], dtype=np.bool_)
        fix = np.zeros(c.shape[0])
        first = k == 0
        svc[first] = self.service0[c[first], j[first]]
        dfc[first] = self.deficient0[c[first], j[first]]
        later = ~first
        if later.any():
            r = self.rows_of(c[later], j[later])
            svc[later] = self.service[r, k[later] - 1]
            dfc[later] = self.deficient[r, k[later] - 1]
        # a fix is read where the submission is deficient and not the last: it has a row
        m = dfc & (k < self.K - 1)
        dfc &= k < self.K - 1
        if m.any():
            r = self.rows_of(c[m], j[m])
            fix[m] = self.fix[r, k[m]]
        return svc, dfc, fix


def reached(run_item: np.ndarray, deficient: np.ndarray) -> np.ndarray:
    """(n, J): the pairs that reach submission 1 (one row each)."""
    if deficient.shape[2] < 2:
        return np.zeros(run_item.shape, dtype=np.bool_)
    return np.asarray(run_item, dtype=np.bool_) & np.asarray(deficient[:, :, 0], dtype=np.bool_)


def split(run_item: np.ndarray, service: np.ndarray, deficient: np.ndarray,
          fix: np.ndarray) -> Attempts:
    """The ``(n, J, K)`` submissions in the loop's form (rows keyed from case 0)."""
    n, J, K = service.shape
    if K == 1:
        return Attempts(np.ascontiguousarray(service[:, :, 0], dtype=np.float64),
                        np.ascontiguousarray(deficient[:, :, 0], dtype=np.bool_),
                        np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64),
                        np.zeros((0, 0)), np.zeros((0, 0), dtype=np.bool_), np.zeros((0, 0)), 1)
    m = reached(run_item, deficient)
    c, j = np.nonzero(m)  # row-major: in (case, item) order
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(m.sum(axis=1), out=ptr[1:])
    return Attempts(
        service0=np.ascontiguousarray(service[:, :, 0], dtype=np.float64),
        deficient0=np.ascontiguousarray(deficient[:, :, 0], dtype=np.bool_),
        ptr=ptr, key=(c * J + j).astype(np.int64),
        service=np.ascontiguousarray(service[c, j, 1:], dtype=np.float64).reshape(-1, K - 1),
        deficient=np.ascontiguousarray(deficient[c, j, 1:], dtype=np.bool_).reshape(-1, K - 1),
        fix=np.ascontiguousarray(fix[c, j, :K - 1], dtype=np.float64).reshape(-1, K - 1),
        K=K)


@_inline
def _arow(a_ptr: I64, a_key: I64, li: int, J: int, j: int) -> int:
    """The row of (case row ``li``, item ``j``) (it has one: it reached submission 1)."""
    key = li * J + j
    r = a_ptr[_u(li)]
    while a_key[_u(r)] != key:
        r += 1
    return r
