"""The submissions in the event loop's form (sim.engines.vector.attempts): the drawn values
moved, read back exactly where a case reaches them; rows handed back by their cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.engines.vector.attempts import reached, split
from sim.engines.vector.chunked import PAGE, Pages
from sim.inputs import draw
from sim.model.assembly import build
from sim.model.scenario import load

ROOT = Path(__file__).resolve().parents[1]


def _construction_inputs(n: int = 400):  # type: ignore[no-untyped-def]
    m = build(load(ROOT / "scenarios" / "hohhot-construction-2023.toml"), "construction",
              warn=False)
    return draw(m, 0, cases=slice(0, n))


def test_split_by_hand() -> None:
    """Two cases, three items, K = 3: rows only for run items deficient at submission 0."""
    run = np.array([[True, True, False], [True, False, True]])
    svc = np.arange(18, dtype=np.float64).reshape(2, 3, 3) + 1.0
    dfc = np.zeros((2, 3, 3), dtype=np.bool_)
    dfc[0, 1, 0] = dfc[0, 1, 1] = True   # case 0, item 1: deficient twice
    dfc[0, 2, 0] = True                  # not run: no row
    dfc[1, 2, 0] = True                  # case 1, item 2: once
    fix = np.where(dfc, 100.0 + svc, 0.0)
    a = split(run, svc, dfc, fix)
    assert a.K == 3
    np.testing.assert_array_equal(a.ptr, [0, 1, 2])
    np.testing.assert_array_equal(a.key, [0 * 3 + 1, 1 * 3 + 2])
    np.testing.assert_array_equal(a.service, [[svc[0, 1, 1], svc[0, 1, 2]],
                                              [svc[1, 2, 1], svc[1, 2, 2]]])
    np.testing.assert_array_equal(a.fix, [[fix[0, 1, 0], fix[0, 1, 1]],
                                          [fix[1, 2, 0], fix[1, 2, 1]]])
    np.testing.assert_array_equal(a.deficient, [[True, False], [False, False]])
    np.testing.assert_array_equal(a.service0, svc[:, :, 0])
    # read back: service, deficiency (False at the last submission) and fix
    c, j, k = np.array([0, 0, 0, 1, 1]), np.array([1, 1, 1, 2, 0]), np.array([0, 1, 2, 1, 0])
    s, d, f = a.at(c, j, k)
    np.testing.assert_array_equal(s, svc[c, j, k])
    np.testing.assert_array_equal(d, [True, True, False, False, False])
    np.testing.assert_array_equal(f, [fix[0, 1, 0], fix[0, 1, 1], 0.0, 0.0, 0.0])


def test_split_keeps_every_reachable_submission() -> None:
    """Construction (K = 4): every submission a case reaches reads back its drawn value,
    and the rows are about the pairs deficient at submission 0 (a fraction of n x J)."""
    inp = _construction_inputs()
    n, J, K = inp.service.shape
    a = split(inp.run_item, inp.service, inp.deficient, inp.fix)
    made = np.zeros((n, J, K), dtype=np.bool_)
    made[:, :, 0] = inp.run_item
    for k in range(1, K):
        made[:, :, k] = made[:, :, k - 1] & inp.deficient[:, :, k - 1]
    c, j, k = np.nonzero(made)
    s, d, f = a.at(c, j, k)
    np.testing.assert_array_equal(s, inp.service[c, j, k])
    np.testing.assert_array_equal(d, inp.deficient[c, j, k] & (k < K - 1))
    np.testing.assert_array_equal(f[d], inp.fix[c, j, k][d])
    assert a.key.size == int(reached(inp.run_item, inp.deficient).sum())
    assert 0 < a.key.size < 0.3 * n * J


def test_rows_handed_back_only_when_their_cases_are_free() -> None:
    """Rows owned by cases (ptr): a page goes back only when every row on it belongs to a
    free case; pages past the rows written are left alone."""
    pages = Pages()
    n = 300
    counts = np.arange(n) % 7          # 0 .. 6 rows a case
    ptr = np.concatenate([[0], np.cumsum(counts)])
    rows = int(ptr[-1])
    a = pages.zeros((rows + 1000, 3), np.float64)  # 24 bytes a row: rows straddle pages
    a[:rows] = 1.0
    free = np.zeros(n, dtype=np.bool_)
    free[50:250] = True
    pages.release_rows(a, free, ptr, rows)
    owner = np.repeat(np.arange(n), counts)
    flat = a.reshape(-1).view(np.uint8)
    for p in range(rows * 24 // PAGE):
        r0, r1 = p * PAGE // 24, ((p + 1) * PAGE - 1) // 24
        gone = not flat[p * PAGE:(p + 1) * PAGE].any()
        assert gone == bool(free[owner[r0:r1 + 1]].all()), p
    assert (a[:rows][owner < 50] == 1.0).all() and (a[:rows][owner >= 250] == 1.0).all()
    free[:] = True
    pages.release_rows(a, free, ptr, rows)
    assert not a[: rows * 24 // PAGE * PAGE // 24].any()


def test_sorted_visits_freed_without_the_garbage_collector() -> None:
    """Visits.sorted() keeps no cycle: dropped, the sorted copy is freed at once (the
    streaming engine sorts a batch of visits per chunk; a cycle piled them up)."""
    import gc
    import weakref

    from sim.results.records import Visits

    n = 50
    rng = np.random.default_rng(0)
    i = rng.integers(0, 5, n)
    f = rng.random(n)
    v = Visits(i, i * 0, i * 0, i * 0, i * 0, f, f, f, np.zeros(n, dtype=np.bool_))
    s = v.sorted()
    assert s.sorted() is s and v.sorted() is s
    assert (np.diff(s.case) >= 0).all()
    ref = weakref.ref(s)
    gc.disable()
    try:
        del s, v
        assert ref() is None
    finally:
        gc.enable()
