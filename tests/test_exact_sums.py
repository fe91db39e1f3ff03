"""Exact sums (:class:`sim.results.stages.ExactSums`): what makes a streamed run's
per-stage KPIs those of the whole run bit for bit, however its cases were batched."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.results.stages import ExactSums

floats = st.floats(allow_nan=True, allow_infinity=False, width=64)


@settings(max_examples=200, deadline=None)
@given(xs=st.lists(st.tuples(floats, st.integers(0, 3)), max_size=200),
       cuts=st.lists(st.integers(0, 200), max_size=6), seed=st.integers(0, 2**32 - 1))
def test_sums_are_fsum_whatever_the_order_and_batches(xs: list[tuple[float, int]],
                                                      cuts: list[int], seed: int) -> None:
    """Each cell is the exact sum of its values, correctly rounded (NaN left out; past
    the largest float, infinite),
    for the values in any order, added in any batches."""
    x = np.array([v for v, _ in xs], dtype=np.float64)
    cell = np.array([c for _, c in xs], dtype=np.int64)
    want = [_rounded(sum((Fraction(v) for v, c in xs if c == k and not math.isnan(v)),
                         Fraction(0))) for k in range(4)]
    order = np.random.default_rng(seed).permutation(x.size)
    acc = ExactSums((2, 2))
    edges = [0, *sorted(min(c, x.size) for c in cuts), x.size]
    for a, b in itertools.pairwise(edges):
        acc.add(x[order[a:b]], cell[order[a:b]])
    got = acc.value().ravel().tolist()
    assert got == want


def _rounded(f: Fraction) -> float:
    try:
        return float(f)
    except OverflowError:
        return math.inf if f > 0 else -math.inf


def test_sums_where_numpy_rounds() -> None:
    """1e16 + 1 + 1 - 1e16: numpy's sum loses both ones, the exact sum keeps them; an
    infinite value is added beside; tiny and huge values in one cell."""
    acc = ExactSums((3,))
    acc.add(np.array([1e16, 1.0, 1.0, -1e16]), np.zeros(4, dtype=np.int64))
    acc.add(np.array([np.inf, 2.0, np.nan]), np.array([1, 1, 1]))
    acc.add(np.array([5e-324, 1e300, -1e300]), np.array([2, 2, 2]))
    assert float(np.sum([1e16, 1.0, 1.0, -1e16])) == 0.0
    assert acc.value().tolist() == [2.0, math.inf, 5e-324]
