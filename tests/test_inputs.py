"""Drawn inputs: distributions match their declared moments; draws are keyed and reproducible."""

from __future__ import annotations

import ast
import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.arrivals
import sim.inputs
import sim.streams
from sim.inputs import draw
from sim.model import ONLINE, PROXY, WINDOW, build
from sim.model import scenario as S
from sim.model.arrivalmap import arrival_times
from sim.model.distributions import family
from sim.model.schema import Dist
from sim.streams import Stream

N = 200_000


@pytest.mark.parametrize("spec", [
    {"dist": "exponential", "mean": 2.0},
    {"dist": "gamma", "mean": 3.0, "cv": 0.5},
    {"dist": "gamma", "mean": 1.0, "cv": 2.0},
    {"dist": "lognormal", "mean": 4.0, "cv": 0.8},
    {"dist": "triangular", "min": 1.0, "mode": 2.0, "max": 6.0},
    {"dist": "triangular", "mean": 5.0, "cv": 0.3},
    {"dist": "empirical", "values": [1.0, 2.0, 2.0, 7.0]},
    {"dist": "deterministic", "mean": 1.5, "unit": "days"},
])
def test_sample_moments_match_declared(spec: dict[str, Any]) -> None:
    fam = family(Dist(**spec))
    x = fam.ppf(np.random.default_rng(1).random(N))
    assert (x >= 0).all()
    # standard error of the mean is sd / sqrt(N); allow 5 of them
    se = math.sqrt(fam.variance / N)
    assert abs(x.mean() - fam.mean) <= 5 * se + 1e-12
    if fam.variance > 0:
        # the sample variance's relative error is about sqrt((kurtosis - 1) / N); 5% is > 5 se here
        assert x.var() == pytest.approx(fam.variance, rel=0.05)


@pytest.mark.parametrize("cv", [0.01, 0.1, 0.3, 0.6, 1.0, 2.0, 3.0, 3.5, 0.002])
def test_gamma_quantile_is_the_exact_one(cv: float) -> None:
    # the tabulated quantile (cubic Hermite in normal scores) against scipy's gammaincinv,
    # over random uniforms and both tails down to the smallest uniform a draw can give
    from scipy import special

    rng = np.random.default_rng(7)
    u = np.concatenate([rng.random(100_000), np.logspace(-16.25, -1, 500),
                        1 - np.logspace(-15.9, -1, 500), [2.0**-54, 1 - 2.0**-53]])
    u = np.clip(u, 2.0**-54, 1 - 2.0**-53)
    k = 1 / cv**2
    fam = family(Dist(dist="gamma", mean=2.0, cv=cv))
    exact = special.gammaincinv(k, u) * (2.0 / k)
    got = fam.ppf(u)
    ok = exact > 0  # cv 3.5: the lowest quantiles underflow to 0 in both
    assert (got[~ok] == 0).all()
    assert np.max(np.abs(got[ok] / exact[ok] - 1)) < 1e-9


@pytest.mark.parametrize("law", [("gamma", 0.5), ("lognormal", 0.5)])
def test_quantiles_do_not_depend_on_their_blocks(law: tuple[str, float]) -> None:
    """Gamma and lognormal quantiles are computed a block of values at a time: any array,
    whatever its length or shape, gets each value's own quantile (the same as alone)."""
    from sim.model.distributions import _BLOCK, Family

    u = np.random.default_rng(3).random(2 * _BLOCK + 777)
    whole = Family.unit_ppf(law, u)
    pieces = np.concatenate([Family.unit_ppf(law, u[a:a + 999]) for a in range(0, u.size, 999)])
    assert np.array_equal(whole, pieces)
    assert np.array_equal(Family.unit_ppf(law, u[:-1].reshape(2, -1)), whole[:-1].reshape(2, -1))


def test_units_are_hours() -> None:
    assert family(Dist(dist="deterministic", mean=2, unit="days")).mean == 48.0
    assert family(Dist(dist="deterministic", mean=30, unit="minutes")).mean == 0.5


def test_any_range_of_a_stream_is_drawn_on_its_own() -> None:
    # a slot's numbers for cases k0 .. k1 - 1 are the same whatever was read before, in
    # whichever order (the stream jumps ahead, or round its period back)
    whole = Stream(5, (0, 14, 1, 2)).take(3, 0, 10_000)
    st = Stream(5, (0, 14, 1, 2))
    late = st.take(7, 100, 200)
    assert np.array_equal(st.take(3, 5_000, 6_000), whole[5_000:6_000])
    assert np.array_equal(st.take(3, 10, 20), whole[10:20])
    assert np.array_equal(Stream(5, (0, 14, 1, 2)).take(7, 150, 200), late[50:])
    # submissions are slots of their own: the first does not depend on how many there are
    two, four = Stream(5, (0, 14, 1, 2)).attempts(8, 0, 50, 2), \
        Stream(5, (0, 14, 1, 2)).attempts(8, 0, 50, 4)
    assert np.array_equal(two, four[:, :2])
    assert not np.array_equal(whole[:50], late[:50])


def test_same_seed_same_inputs_and_keys_differ(mini: dict[str, Any]) -> None:
    m = build(S.parse(mini))
    a, b = draw(m, 0), draw(m, 0)
    for f in ("arrival", "service", "deficient", "delay", "channel"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    c = draw(m, 1)
    assert not np.array_equal(a.arrival[:10], c.arrival[:10])
    assert np.all(np.diff(a.arrival) >= 0)
    assert a.arrival.max() < m.arrival_end


def test_removing_an_item_keeps_other_items_numbers(mini: dict[str, Any]) -> None:
    m1 = build(S.parse(mini))
    mini["routes"]["main"]["stages"][1]["items"] = ["review_a"]
    del mini["items"]["review_b"]
    m2 = build(S.parse(mini))
    a, b = draw(m1, 0), draw(m2, 0)
    assert np.array_equal(a.arrival, b.arrival)
    ja, jb = m1.item_names.index("review_a"), m2.item_names.index("review_a")
    assert np.array_equal(a.service[:, ja], b.service[:, jb])
    assert np.array_equal(a.deficient[:, ja], b.deficient[:, jb])


def test_fewer_materials_never_more_deficient(mini: dict[str, Any]) -> None:
    m1 = build(S.parse(mini))
    mini["items"]["review_a"]["materials"] = 2
    m2 = build(S.parse(mini))
    j = m1.item_names.index("review_a")
    a, b = draw(m1, 0), draw(m2, 0)
    assert (b.deficient[:, j] <= a.deficient[:, j]).all()
    assert b.deficient[:, j].sum() < a.deficient[:, j].sum()


def test_window_arrivals_only_when_open(mini: dict[str, Any]) -> None:
    m = build(S.parse(mini))
    inp = draw(m, 0)
    win = inp.channel == WINDOW
    assert win.any() and (inp.channel == ONLINE).any() and (inp.channel == PROXY).any()
    assert np.all(m.report.is_open(inp.arrival[win]))
    # online arrivals happen outside opening hours too
    assert not np.all(m.report.is_open(inp.arrival[inp.channel == ONLINE]))
    # proxy share 0.5 of the key class
    key = inp.cls == m.class_names.index("key")
    assert 0.3 < (inp.channel[key] == PROXY).mean() < 0.7
    # visits: window submissions and online cases at items that are not online
    assert np.array_equal(inp.visit[:, 0], inp.channel != PROXY)


def test_arrival_counts_match_the_rate(mini: dict[str, Any]) -> None:
    m = build(S.parse(mini))
    n = np.array([draw(m, r).n for r in range(20)])
    expected = sum(m.expected_arrivals(c) for c in range(len(m.class_names)))
    # Poisson: sd of the mean of 20 counts is sqrt(expected / 20)
    assert abs(n.mean() - expected) < 4 * math.sqrt(expected / 20)


@settings(max_examples=30, deadline=None)
@given(hours=st.lists(st.floats(0.01, 10.0), min_size=24, max_size=24),
       week=st.lists(st.floats(0.01, 10.0), min_size=7, max_size=7))
def test_profiled_arrivals_follow_the_profile(hours: list[float], week: list[float]) -> None:
    from sim.model.calendar import WorkCalendar

    cal = WorkCalendar.always_open()
    e = np.linspace(0.0, 1000.0, 5001)[:-1]
    t = arrival_times(e, 1000.0, cal, 24.0 * 7 * 4, 0, week, hours)
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() <= 24.0 * 7 * 4
    # the share of arrivals in each hour of the day follows hour x weekday weights
    w = np.outer(week, hours).sum(axis=0)
    share = np.bincount((t % 24).astype(int), minlength=24) / t.size
    assert np.allclose(share, w / w.sum(), atol=2.5 / np.sqrt(t.size) + 1e-3)


def test_computed_durations_are_the_full_transforms(mini: dict[str, Any]) -> None:
    """Where draw() computes a service or fix time, it is the inverse CDF of the same
    uniform a transform of every uniform would use; elsewhere it is 0."""
    from sim.streams import Q_ITEM, S_FIX, S_SERVICE, _h

    m = build(S.parse(mini))
    inp = draw(m, 1)
    seed = m.scenario.run.seed
    K = inp.attempts
    assert K > 1
    checked = 0
    for c, cname in enumerate(m.class_names):
        rows = np.flatnonzero(inp.cls == c)
        keys = inp.key[rows]
        for j, jname in enumerate(m.item_names):
            for q, fam, arr in ((S_SERVICE, m.item_service[j], inp.service),
                                (S_FIX, m.item_fix[j], inp.fix)):
                u = Stream(seed, (1, Q_ITEM, _h(cname), _h(jname))).attempts(
                    q, 0, int(keys.max()) + 1, K)
                full = fam.ppf(u)[keys]
                got = arr[rows, j, :]
                done = got != 0.0
                np.testing.assert_array_equal(got[done], full[done])
                checked += int(done.sum())
                # a first submission of an item the case runs always has its service
                if q == S_SERVICE:
                    assert np.all(done[inp.run_item[rows, j], 0])
                    assert not done[~inp.run_item[rows, j]].any()
    assert checked > 500


def _scenario_reads(source: str) -> list[int]:
    """Lines of ``source`` that read an attribute named ``scenario`` or import the schema."""
    schema = ("sim.model.schema", "sim.model.scenario")
    return [node.lineno for node in ast.walk(ast.parse(source))
            if (isinstance(node, ast.Attribute) and node.attr == "scenario")
            or (isinstance(node, ast.ImportFrom) and node.module in schema)]


def test_inputs_read_only_the_assembled_model() -> None:
    """sim/inputs.py (and the arrivals and streams it draws with) draws from the Model's
    fields, never from the raw scenario."""
    for path in (sim.inputs.__file__, sim.arrivals.__file__, sim.streams.__file__):
        with open(path, encoding="utf-8") as f:
            lines = _scenario_reads(f.read())
        assert lines == [], f"{path} reads the scenario at lines {lines}: carry it in Model"
    assert _scenario_reads("def f(model):\n    return model.scenario.run.seed\n") == [2]


def test_draw_does_not_need_the_scenario(mini: dict[str, Any]) -> None:
    """A model whose scenario is gone draws the same inputs."""
    m = build(S.parse(mini))
    bare = dataclasses.replace(m, scenario=None)
    a, b = draw(m, 3), draw(bare, 3)
    for f in dataclasses.fields(a):
        np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name), err_msg=f.name)
