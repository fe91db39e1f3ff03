"""Tests of sim.analytic against hand-derived and textbook queueing results."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from sim.analytic import (
    ErlangAResult,
    MMCResult,
    erlang_a,
    erlang_b,
    erlang_c,
    jackson,
    min_servers_mmc,
    mm1,
    mmc,
    mmc_wq_quantile,
    staffing_for_wait,
    tandem_mmc,
)

# ---------------------------------------------------------------------------
# independent reference formulas (explicit sums, no recursion)
# ---------------------------------------------------------------------------


def explicit_erlang_b(c: int, a: float) -> float:
    terms = [a**k / math.factorial(k) for k in range(c + 1)]
    return terms[-1] / sum(terms)


def explicit_erlang_c(c: int, a: float) -> float:
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def dense_erlang_a(lam: float, mu: float, theta: float, c: int, n_max: int) -> np.ndarray:
    """Stationary law of the truncated M/M/c+M chain by solving pi Q = 0 directly."""
    n = n_max + 1
    q = np.zeros((n, n))
    for i in range(n):
        if i + 1 < n:
            q[i, i + 1] = lam
        if i > 0:
            q[i, i - 1] = min(i, c) * mu + max(i - c, 0) * theta
        q[i, i] = -q[i].sum()
    a = np.vstack([q.T, np.ones(n)])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi, *_ = np.linalg.lstsq(a, b, rcond=None)
    return pi


# ---------------------------------------------------------------------------
# Erlang B / C
# ---------------------------------------------------------------------------


def test_erlang_b_hand_values() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)  # (1/2) / (1 + 1 + 1/2)
    assert erlang_b(3, 0.0) == 0.0


@pytest.mark.parametrize(("c", "a"), [(1, 0.3), (5, 3.0), (10, 8.0), (20, 25.0), (40, 30.5)])
def test_erlang_b_matches_explicit_sum(c: int, a: float) -> None:
    assert erlang_b(c, a) == pytest.approx(explicit_erlang_b(c, a), rel=1e-12)


def test_erlang_b_is_stable_for_large_systems() -> None:
    # a**c / c! overflows a float here; the recursion does not.
    b = erlang_b(2000, 1900.0)
    assert 0.0 < b < 1.0
    assert math.isfinite(erlang_c(2000, 1900.0))


def test_erlang_c_hand_value() -> None:
    assert erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0)
    assert erlang_c(1, 0.8) == pytest.approx(0.8)  # M/M/1: P(wait) = rho


def test_erlang_c_table_value() -> None:
    expected = explicit_erlang_c(10, 8.0)
    assert expected == pytest.approx(0.409, abs=1e-3)  # textbook table value
    assert erlang_c(10, 8.0) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("c", "a"), [(3, 2.5), (7, 1.0), (15, 14.2)])
def test_erlang_c_matches_explicit_sum(c: int, a: float) -> None:
    assert erlang_c(c, a) == pytest.approx(explicit_erlang_c(c, a), rel=1e-12)


def test_erlang_c_unstable_message_names_c_and_a() -> None:
    with pytest.raises(ValueError, match=r"c=2.*a=2\.0"):
        erlang_c(2, 2.0)
    with pytest.raises(ValueError, match=r"c=3.*a=4\.5"):
        erlang_c(3, 4.5)


# ---------------------------------------------------------------------------
# M/M/c
# ---------------------------------------------------------------------------


def test_mm1_textbook_values() -> None:
    r = mm1(0.8, 1.0)
    assert r.rho == pytest.approx(0.8)
    assert r.p_wait == pytest.approx(0.8)
    assert r.wq == pytest.approx(4.0)
    assert r.w == pytest.approx(5.0)
    assert r.lq == pytest.approx(3.2)
    assert r.l == pytest.approx(4.0)
    assert r == mmc(0.8, 1.0, 1)


def test_mm2_hand_values() -> None:
    # a = 1, C(2, 1) = 1/3, Wq = C / (2 mu - lam) = 1/3, W = 4/3
    r = mmc(1.0, 1.0, 2)
    assert r.rho == pytest.approx(0.5)
    assert r.p_wait == pytest.approx(1.0 / 3.0)
    assert r.wq == pytest.approx(1.0 / 3.0)
    assert r.w == pytest.approx(4.0 / 3.0)
    assert r.lq == pytest.approx(1.0 / 3.0)
    assert r.l == pytest.approx(4.0 / 3.0)


def test_mmc_little_and_units() -> None:
    # rates per hour: 30 arrivals/h, 4 services/h per server, 9 servers
    r = mmc(30.0, 4.0, 9)
    assert isinstance(r, MMCResult)
    assert r.rho == pytest.approx(30.0 / 36.0)
    assert r.p_wait == pytest.approx(explicit_erlang_c(9, 7.5), rel=1e-12)
    assert r.wq == pytest.approx(r.p_wait / (36.0 - 30.0))
    assert r.w == pytest.approx(r.wq + 0.25)
    assert r.lq == pytest.approx(30.0 * r.wq)
    assert r.l == pytest.approx(30.0 * r.w)
    assert r.offered_load == pytest.approx(7.5)


def test_mmc_result_is_frozen() -> None:
    r = mm1(0.5, 1.0)
    with pytest.raises(AttributeError):
        r.wq = 0.0  # type: ignore[misc]


def test_wq_distribution_mm1() -> None:
    r = mm1(0.8, 1.0)  # P(Wq > t) = 0.8 exp(-0.2 t)
    assert r.wq_tail(0.0) == pytest.approx(0.8)
    assert r.wq_tail(5.0) == pytest.approx(0.8 * math.exp(-1.0))
    assert r.wq_cdf(5.0) == pytest.approx(1.0 - 0.8 * math.exp(-1.0))
    # 20% of customers do not wait at all, so every quantile <= 0.2 is 0
    assert r.wq_quantile(0.0) == 0.0
    assert r.wq_quantile(0.2) == 0.0
    assert r.wq_quantile(0.9) == pytest.approx(5.0 * math.log(8.0))
    assert mmc_wq_quantile(0.8, 1.0, 1, 0.9) == pytest.approx(5.0 * math.log(8.0))


@pytest.mark.parametrize("p", [0.5, 0.8, 0.95, 0.999])
def test_wq_quantile_inverts_tail(p: float) -> None:
    r = mmc(9.0, 1.0, 10)
    t = r.wq_quantile(p)
    if t > 0.0:
        assert r.wq_tail(t) == pytest.approx(1.0 - p)
    else:
        assert 1.0 - r.p_wait >= p


def test_wq_quantile_rejects_bad_levels() -> None:
    r = mm1(0.5, 1.0)
    for bad in (1.0, -0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="p must be"):
            r.wq_quantile(bad)
    with pytest.raises(ValueError, match="t must be >= 0"):
        r.wq_tail(-1.0)


def test_mmc_unstable_message() -> None:
    with pytest.raises(ValueError, match=r"lam=2\.0.*mu=1\.0.*c=2"):
        mmc(2.0, 1.0, 2)
    with pytest.raises(ValueError, match="unstable"):
        mm1(1.5, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"lam": -1.0, "mu": 1.0, "c": 1}, r"lam must be > 0, got -1\.0"),
        ({"lam": 0.0, "mu": 1.0, "c": 1}, r"lam must be > 0, got 0\.0"),
        ({"lam": 1.0, "mu": 0.0, "c": 2}, r"mu must be > 0, got 0\.0"),
        ({"lam": 1.0, "mu": math.inf, "c": 2}, r"mu must be finite, got inf"),
        ({"lam": math.nan, "mu": 1.0, "c": 2}, r"lam must be finite, got nan"),
        ({"lam": 1.0, "mu": 1.0, "c": 0}, r"c must be an integer >= 1, got 0"),
        ({"lam": 1.0, "mu": 1.0, "c": 2.5}, r"c must be an integer >= 1, got 2\.5"),
        ({"lam": 1.0, "mu": 1.0, "c": 2.0}, r"c must be an integer >= 1, got 2\.0"),
        ({"lam": 1.0, "mu": 1.0, "c": True}, r"c must be an integer >= 1, got True"),
        ({"lam": "1", "mu": 1.0, "c": 2}, r"lam must be a real number, got '1'"),
    ],
)
def test_mmc_validation_messages(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        mmc(**kwargs)  # type: ignore[arg-type]


def test_erlang_validation_messages() -> None:
    with pytest.raises(ValueError, match=r"c must be an integer >= 1, got 0"):
        erlang_b(0, 1.0)
    with pytest.raises(ValueError, match=r"a must be >= 0, got -0\.5"):
        erlang_b(2, -0.5)
    with pytest.raises(ValueError, match=r"a must be >= 0, got -1"):
        erlang_c(2, -1)


def test_numpy_integer_servers_accepted() -> None:
    # numpy integers (e.g. from a staffing array) are accepted at runtime
    assert mmc(1.0, 1.0, np.int64(2)) == mmc(1.0, 1.0, 2)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Tandem and Jackson networks
# ---------------------------------------------------------------------------


def test_tandem_hand_values() -> None:
    # two M/M/1 stations: W = 1/(2-1) + 1/(3-1) = 1.5
    t = tandem_mmc(1.0, [2.0, 3.0], [1, 1])
    assert t.w == pytest.approx(1.5)
    assert t.l == pytest.approx(1.5)  # Little with lam = 1
    assert t.wq == pytest.approx(0.5 + 1.0 / 6.0)
    assert [s.lam for s in t.stations] == [1.0, 1.0]


def test_tandem_matches_independent_stations() -> None:
    lam, mus, servers = 5.0, [2.0, 6.0, 1.5], [3, 1, 4]
    t = tandem_mmc(lam, mus, servers)
    singles = [mmc(lam, m, c) for m, c in zip(mus, servers, strict=True)]
    assert t.stations == tuple(singles)
    assert t.w == pytest.approx(sum(s.w for s in singles))
    assert t.lq == pytest.approx(sum(s.lq for s in singles))


def test_tandem_errors() -> None:
    with pytest.raises(ValueError, match="station 1 is unstable"):
        tandem_mmc(3.0, [2.0, 1.0], [2, 3])
    with pytest.raises(ValueError, match="same length"):
        tandem_mmc(1.0, [2.0, 3.0], [1])
    with pytest.raises(ValueError, match="at least one station"):
        tandem_mmc(1.0, [], [])
    with pytest.raises(ValueError, match=r"servers\[1\] must be an integer >= 1, got 0"):
        tandem_mmc(1.0, [2.0, 3.0], [1, 0])
    with pytest.raises(ValueError, match=r"mus\[0\] must be > 0, got -2\.0"):
        tandem_mmc(1.0, [-2.0, 3.0], [1, 1])


def test_jackson_pure_tandem_equals_tandem_mmc() -> None:
    lam, mus, servers = 5.0, [2.0, 6.0, 1.5], [3, 1, 4]
    routing = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    j = jackson(np.array([lam, 0.0, 0.0]), routing, np.array(mus), np.array(servers))
    t = tandem_mmc(lam, mus, servers)
    assert j.arrival_rates == pytest.approx((lam, lam, lam))
    for sj, st in zip(j.stations, t.stations, strict=True):
        assert sj.w == pytest.approx(st.w, rel=1e-12)
        assert sj.l == pytest.approx(st.l, rel=1e-12)
    assert j.w == pytest.approx(t.w, rel=1e-12)
    assert j.wq == pytest.approx(t.wq, rel=1e-12)
    assert j.l == pytest.approx(t.l, rel=1e-12)
    assert j.throughput == pytest.approx(lam)


@pytest.mark.parametrize("p", [0.0, 0.25, 0.6])
def test_jackson_rework_feedback(p: float) -> None:
    # station 0 -> station 1; station 1 sends a fraction p back to station 0
    lam = 1.0
    routing = np.array([[0.0, 1.0], [p, 0.0]])
    j = jackson([lam, 0.0], routing, [3.0, 4.0], [1, 1])
    assert j.arrival_rates[0] == pytest.approx(lam / (1.0 - p))
    assert j.arrival_rates[1] == pytest.approx(lam / (1.0 - p))
    assert j.visit_ratios == pytest.approx((1.0 / (1.0 - p), 1.0 / (1.0 - p)))
    # each station is M/M/1 at rate lam/(1-p); network W by Little
    lam0 = lam / (1.0 - p)
    expected_l = lam0 / (3.0 - lam0) + lam0 / (4.0 - lam0)
    assert j.l == pytest.approx(expected_l)
    assert j.w == pytest.approx(expected_l / lam)


def test_jackson_self_loop_rework() -> None:
    # station 0 reworks itself with probability p, else goes to station 1
    p, lam = 0.2, 2.0
    j = jackson([lam, 0.0], [[p, 1.0 - p], [0.0, 0.0]], [5.0, 3.0], [1, 1])
    assert j.arrival_rates == pytest.approx((lam / (1.0 - p), lam))


def test_jackson_split_and_merge() -> None:
    # external arrivals at both stations, half of station 0 goes to station 1
    j = jackson([1.0, 2.0], [[0.0, 0.5], [0.0, 0.0]], [2.0, 1.0], [1, 3])
    assert j.arrival_rates == pytest.approx((1.0, 2.5))
    assert j.throughput == pytest.approx(3.0)
    assert j.stations[1] == mmc(2.5, 1.0, 3)
    assert j.w == pytest.approx((j.stations[0].l + j.stations[1].l) / 3.0)


def test_jackson_errors() -> None:
    with pytest.raises(ValueError, match="station 1 is unstable"):
        jackson([1.0, 0.0], [[0.0, 1.0], [0.5, 0.0]], [5.0, 2.0], [1, 1])
    with pytest.raises(ValueError, match="no exit"):
        jackson([1.0, 0.0], [[0.0, 1.0], [1.0, 0.0]], [5.0, 5.0], [1, 1])
    with pytest.raises(ValueError, match=r"routing row 0 sums to 1\.2"):
        jackson([1.0, 0.0], [[0.5, 0.7], [0.0, 0.0]], [5.0, 5.0], [1, 1])
    with pytest.raises(ValueError, match=r"routing must have shape \(2, 2\)"):
        jackson([1.0, 0.0], [[0.0]], [5.0, 5.0], [1, 1])
    with pytest.raises(ValueError, match=r"mus must have shape \(2,\)"):
        jackson([1.0, 0.0], np.zeros((2, 2)), [5.0], [1, 1])
    with pytest.raises(ValueError, match=r"servers\[1\] must be an integer >= 1, got 1\.5"):
        jackson([1.0, 0.0], np.zeros((2, 2)), [5.0, 5.0], [1, 1.5])
    with pytest.raises(ValueError, match=r"lam_ext\[1\] must be >= 0, got -1\.0"):
        jackson([1.0, -1.0], np.zeros((2, 2)), [5.0, 5.0], [1, 1])
    with pytest.raises(ValueError, match="positive total"):
        jackson([0.0, 0.0], np.zeros((2, 2)), [5.0, 5.0], [1, 1])
    with pytest.raises(ValueError, match="probabilities"):
        jackson([1.0, 0.0], [[0.0, -0.1], [0.0, 0.0]], [5.0, 5.0], [1, 1])


def test_jackson_zero_flow_station() -> None:
    # station 1 receives nothing: it contributes nothing to L and W
    j = jackson([1.0, 0.0], np.zeros((2, 2)), [2.0, 1.0], [1, 1])
    assert j.arrival_rates == (1.0, 0.0)
    assert j.stations[1].l == 0.0
    assert j.w == pytest.approx(1.0)


# ---------------------------------------------------------------------------
# Erlang A
# ---------------------------------------------------------------------------


def test_erlang_a_tends_to_erlang_c_as_theta_vanishes() -> None:
    lam, mu, c = 8.0, 1.0, 10
    r = erlang_a(lam, mu, 1e-9, c)
    assert isinstance(r, ErlangAResult)
    ref = mmc(lam, mu, c)
    assert r.p_wait == pytest.approx(ref.p_wait, rel=1e-6)
    assert r.wq == pytest.approx(ref.wq, rel=1e-6)
    assert r.lq == pytest.approx(ref.lq, rel=1e-6)
    assert r.l == pytest.approx(ref.l, rel=1e-6)
    assert r.p_abandon == pytest.approx(0.0, abs=1e-6)
    assert r.served_utilization == pytest.approx(ref.rho, rel=1e-6)


@pytest.mark.parametrize(("c", "a"), [(1, 1.0), (10, 8.0), (5, 7.0)])
def test_erlang_a_tends_to_loss_system_as_theta_explodes(c: int, a: float) -> None:
    r = erlang_a(a, 1.0, 1e9, c)
    b = explicit_erlang_b(c, a)
    assert r.p_abandon == pytest.approx(b, rel=1e-6)
    assert r.p_wait == pytest.approx(b, rel=1e-6)
    assert r.lq == pytest.approx(0.0, abs=1e-6)
    assert r.served_utilization == pytest.approx(a * (1.0 - b) / c, rel=1e-6)


def test_erlang_a_theta_equal_mu_is_poisson() -> None:
    # death rate n*mu in every state: M/M/inf, N ~ Poisson(a)
    lam, mu, c = 6.0, 1.5, 3
    a = lam / mu
    r = erlang_a(lam, mu, mu, c)
    pois = [math.exp(-a)]
    for k in range(1, 200):
        pois.append(pois[-1] * a / k)
    assert r.p_wait == pytest.approx(1.0 - sum(pois[:c]), rel=1e-10)
    assert r.l == pytest.approx(a, rel=1e-10)
    expected_lq = sum((k - c) * p for k, p in enumerate(pois) if k > c)
    assert r.lq == pytest.approx(expected_lq, rel=1e-10)
    assert r.p_abandon == pytest.approx(mu * expected_lq / lam, rel=1e-10)


@pytest.mark.parametrize(
    ("lam", "mu", "theta", "c"),
    [(8.0, 1.0, 0.3, 10), (12.0, 1.0, 0.5, 10), (3.0, 2.0, 4.0, 1), (20.0, 0.5, 0.05, 30)],
)
def test_erlang_a_matches_dense_generator_solve(
    lam: float, mu: float, theta: float, c: int
) -> None:
    r = erlang_a(lam, mu, theta, c)
    pi = dense_erlang_a(lam, mu, theta, c, n_max=c + 400)
    n = np.arange(pi.size)
    lq = float(np.dot(np.maximum(n - c, 0), pi))
    assert r.p_wait == pytest.approx(float(pi[c:].sum()), rel=1e-8)
    assert r.lq == pytest.approx(lq, rel=1e-8)
    assert r.l == pytest.approx(float(np.dot(n, pi)), rel=1e-8)
    assert r.p_abandon == pytest.approx(theta * lq / lam, rel=1e-8)
    assert r.wq == pytest.approx(lq / lam, rel=1e-8)


def test_erlang_a_overloaded_flow_balance() -> None:
    lam, mu, theta, c = 12.0, 1.0, 0.5, 10  # lam > c mu: still stable
    r = erlang_a(lam, mu, theta, c)
    # served flow = mu * E[busy] = mu * (L - Lq) = lam (1 - p_abandon)
    assert mu * (r.l - r.lq) == pytest.approx(lam * (1.0 - r.p_abandon), rel=1e-10)
    assert r.served_utilization == pytest.approx((r.l - r.lq) / c, rel=1e-10)
    assert r.served_utilization <= 1.0 + 1e-12
    assert r.p_abandon >= 1.0 - c * mu / lam  # at most c mu can be served
    assert 0.0 < r.p_wait < 1.0


def test_erlang_a_heavy_overload_small_theta() -> None:
    # fluid limit: queue settles where abandonment removes the excess lam - c mu
    lam, mu, theta, c = 11.0, 1.0, 1e-3, 10
    r = erlang_a(lam, mu, theta, c)
    assert r.p_abandon == pytest.approx((lam - c * mu) / lam, rel=1e-2)
    assert r.lq == pytest.approx((lam - c * mu) / theta, rel=1e-2)


def test_erlang_a_validation() -> None:
    with pytest.raises(ValueError, match=r"theta must be > 0, got 0\.0"):
        erlang_a(1.0, 1.0, 0.0, 1)
    with pytest.raises(ValueError, match=r"c must be an integer >= 1, got 0"):
        erlang_a(1.0, 1.0, 1.0, 0)
    with pytest.raises(ValueError, match=r"lam must be > 0, got -3\.0"):
        erlang_a(-3.0, 1.0, 1.0, 1)
    with pytest.raises(ValueError, match="max_states"):
        erlang_a(20.0, 1.0, 1e-9, 10, max_states=10_000)


# ---------------------------------------------------------------------------
# staffing
# ---------------------------------------------------------------------------


def brute_force_min_c(lam: float, mu: float, pred: Callable[[MMCResult], bool]) -> int:
    c = 1
    while c * mu <= lam or not pred(mmc(lam, mu, c)):
        c += 1
    return c


def test_min_servers_starts_at_smallest_stable_c() -> None:
    assert min_servers_mmc(4.5, 1.0, lambda r: True) == 5  # ceil(4.5)
    assert min_servers_mmc(4.0, 1.0, lambda r: True) == 5  # c = 4 has rho = 1
    assert min_servers_mmc(0.5, 1.0, lambda r: True) == 1


@pytest.mark.parametrize(
    ("lam", "mu", "target"), [(10.0, 1.0, 0.5), (30.0, 4.0, 0.05), (0.8, 1.0, 4.0)]
)
def test_min_servers_matches_brute_force(lam: float, mu: float, target: float) -> None:

    def pred(r: MMCResult) -> bool:
        return r.wq <= target

    c = min_servers_mmc(lam, mu, pred)
    assert c == brute_force_min_c(lam, mu, pred)
    assert mmc(lam, mu, c).wq <= target
    assert staffing_for_wait(lam, mu, target) == c


def test_min_servers_passes_mmc_results() -> None:
    seen: list[MMCResult] = []

    def pred(r: MMCResult) -> bool:
        seen.append(r)
        return r.c >= 8

    assert min_servers_mmc(6.3, 1.0, pred) == 8
    assert [r.c for r in seen] == [7, 8]
    for r in seen:
        ref = mmc(6.3, 1.0, r.c)
        assert r.wq == pytest.approx(ref.wq, rel=1e-12)
        assert r.p_wait == pytest.approx(ref.p_wait, rel=1e-12)


def test_staffing_for_wait_quantile() -> None:
    lam, mu, target, q = 30.0, 4.0, 0.05, 0.9
    c = staffing_for_wait(lam, mu, target, quantile=q)
    assert mmc(lam, mu, c).wq_quantile(q) <= target
    assert c - 1 <= lam / mu or mmc(lam, mu, c - 1).wq_quantile(q) > target
    # a zero target on a quantile means "at least q of customers do not wait"
    c0 = staffing_for_wait(lam, mu, 0.0, quantile=q)
    assert 1.0 - mmc(lam, mu, c0).p_wait >= q
    assert 1.0 - mmc(lam, mu, c0 - 1).p_wait < q


def test_staffing_errors() -> None:
    with pytest.raises(ValueError, match="target_wq must be > 0"):
        staffing_for_wait(10.0, 1.0, 0.0)
    with pytest.raises(ValueError, match=r"target_wq must be >= 0, got -1\.0"):
        staffing_for_wait(10.0, 1.0, -1.0)
    with pytest.raises(ValueError, match=r"quantile must be in \(0, 1\), got 0\.0"):
        staffing_for_wait(10.0, 1.0, 0.5, quantile=0.0)
    with pytest.raises(ValueError, match=r"quantile must be in \(0, 1\), got 1\.0"):
        staffing_for_wait(10.0, 1.0, 0.5, quantile=1.0)
    with pytest.raises(ValueError, match=r"no server count in \[11, 12\]"):
        min_servers_mmc(10.0, 1.0, lambda r: False, max_servers=12)
    with pytest.raises(ValueError, match=r"mu must be > 0, got 0"):
        min_servers_mmc(10.0, 0, lambda r: True)
