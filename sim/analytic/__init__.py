"""Closed-form (and exactly computable) queueing results.

These are the reference values that the simulator's tests and the staffing
tool compare against.  Time units are whatever the caller uses: if rates are
given per hour, every returned time is in hours and every returned count is a
time-average number of customers.

Notation
--------
``lam``   arrival rate λ
``mu``    service rate μ of one server
``c``     number of parallel servers
``a``     offered load λ/μ (in Erlangs)
``rho``   per-server utilisation λ/(cμ)
``theta`` abandonment rate θ (1/mean patience) in the Erlang A model

References
----------
* L. Kleinrock, *Queueing Systems, Vol. I: Theory*, Wiley 1975, ch. 3
  (birth-death queues: M/M/1, M/M/m, M/M/m/m).
* D. Gross, J. F. Shortle, J. M. Thompson, C. M. Harris, *Fundamentals of
  Queueing Theory*, 4th ed., Wiley 2008, ch. 2 (Markovian queues) and the
  Jackson-network chapter.
* P. J. Burke, "The output of a queuing system", *Operations Research* 4 (1956).
* J. R. Jackson, "Networks of waiting lines", *Operations Research* 5 (1957).
* O. Garnett, A. Mandelbaum, M. Reiman, "Designing a call center with
  impatient customers", *Manufacturing & Service Operations Management* 4(3)
  (2002) -- the M/M/c+M ("Erlang A") model.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ErlangAResult",
    "JacksonResult",
    "MMCResult",
    "TandemResult",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "jackson",
    "min_servers_mmc",
    "mm1",
    "mmc",
    "mmc_wq_quantile",
    "staffing_for_wait",
    "tandem_mmc",
]


# --------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------


def _check_real(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise ValueError if it is not a finite real."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise ValueError unless it is finite and > 0."""
    v = _check_real(name, value)
    if v <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _check_nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise ValueError unless it is finite and >= 0."""
    v = _check_real(name, value)
    if v < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def _check_servers(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise ValueError unless it is an integer >= 1.

    Python and numpy integers are accepted; floats (even ``2.0``) and bools are
    rejected so that a fractional staffing level never slips through silently.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    v = int(value)
    if v < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return v


def _check_probability(name: str, value: object, *, allow_one: bool) -> float:
    v = _check_real(name, value)
    upper_ok = v <= 1.0 if allow_one else v < 1.0
    if v < 0.0 or not upper_ok:
        bound = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{name} must be in {bound}, got {value!r}")
    return v


# --------------------------------------------------------------------------
# Erlang B / Erlang C
# --------------------------------------------------------------------------


def erlang_b(c: int, a: float) -> float:
    """Erlang B (blocking) probability of the M/M/c/c loss system.

    .. math::  B(c, a) = \\frac{a^c / c!}{\\sum_{k=0}^{c} a^k / k!}

    computed with the numerically stable recursion (no factorials, no
    overflow for large ``c`` or ``a``)

    .. math::  B(0, a) = 1, \\qquad B(k, a) = \\frac{a\\,B(k-1, a)}{k + a\\,B(k-1, a)}.

    Reference: Kleinrock (1975) vol. I §3.7; Gross & Harris ch. 2.

    Args:
        c: number of servers, integer >= 1.
        a: offered load λ/μ in Erlangs, finite and >= 0 (``a == 0`` gives 0).

    Returns:
        The probability that an arriving customer finds all ``c`` servers busy
        (and, in the loss system, is blocked).
    """
    c = _check_servers("c", c)
    a = _check_nonnegative("a", a)
    return _erlang_b_unchecked(c, a)


def _erlang_b_unchecked(c: int, a: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


def _erlang_c_from_b(c: int, a: float, b: float) -> float:
    """Erlang C from Erlang B: C = c B / (c - a (1 - B)); requires a < c."""
    return c * b / (c - a * (1.0 - b))


def erlang_c(c: int, a: float) -> float:
    """Erlang C: probability that an arrival has to wait in M/M/c.

    .. math::
        C(c, a) = \\frac{\\frac{a^c}{c!}\\frac{c}{c-a}}
                        {\\sum_{k=0}^{c-1}\\frac{a^k}{k!} + \\frac{a^c}{c!}\\frac{c}{c-a}}
                = \\frac{c\\,B(c,a)}{c - a\\,(1 - B(c,a))}

    evaluated through the stable Erlang B recursion.  By PASTA this is also
    the stationary probability that all servers are busy.

    Reference: Kleinrock (1975) vol. I §3.5; Gross & Harris ch. 2.

    Args:
        c: number of servers, integer >= 1.
        a: offered load λ/μ in Erlangs, finite, ``0 <= a < c``.

    Raises:
        ValueError: on invalid arguments, or when ``a >= c`` (the queue is
            unstable and C is undefined); the message names ``c`` and ``a``.
    """
    c = _check_servers("c", c)
    a = _check_nonnegative("a", a)
    if a >= c:
        raise ValueError(
            f"Erlang C requires offered load a < c for stability; "
            f"got c={c}, a={a!r} (rho = a/c = {a / c:.6g} >= 1)"
        )
    return _erlang_c_from_b(c, a, _erlang_b_unchecked(c, a))


# --------------------------------------------------------------------------
# M/M/c
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MMCResult:
    """Steady-state performance of an M/M/c queue (FCFS, infinite waiting room).

    Attributes:
        lam: arrival rate λ.
        mu: service rate μ per server.
        c: number of servers.
        rho: per-server utilisation λ/(cμ) (< 1).
        p_wait: probability an arrival waits, Erlang C(c, λ/μ).
        wq: mean wait in queue, C / (cμ - λ).
        w: mean sojourn time, wq + 1/μ.
        lq: mean queue length, λ·wq (Little).
        l: mean number in system, λ·w (Little).
    """

    lam: float
    mu: float
    c: int
    rho: float
    p_wait: float
    wq: float
    w: float
    lq: float
    l: float  # noqa: E741  (standard queueing notation L)

    @property
    def offered_load(self) -> float:
        """Offered load a = λ/μ in Erlangs."""
        return self.lam / self.mu

    def wq_tail(self, t: float) -> float:
        """P(Wq > t) = C(c, a) · exp(-(cμ - λ) t) for t >= 0.

        Reference: Kleinrock (1975) vol. I §3.5 / Gross & Harris ch. 2
        (waiting-time distribution of M/M/c under FCFS).
        """
        t = _check_nonnegative("t", t)
        return self.p_wait * math.exp(-(self.c * self.mu - self.lam) * t)

    def wq_cdf(self, t: float) -> float:
        """P(Wq <= t) = 1 - C(c, a) · exp(-(cμ - λ) t) for t >= 0."""
        return 1.0 - self.wq_tail(t)

    def wq_quantile(self, p: float) -> float:
        """The p-quantile of the waiting time in queue, inf{t >= 0: P(Wq <= t) >= p}.

        Inverting P(Wq > t) = C exp(-(cμ - λ) t):

        .. math::  t_p = \\max\\Bigl(0, \\frac{\\ln(C / (1 - p))}{c\\mu - \\lambda}\\Bigr)

        which is 0 whenever p <= 1 - C (that fraction of customers does not
        wait at all).

        Args:
            p: probability level in [0, 1).
        """
        p = _check_probability("p", p, allow_one=False)
        if self.p_wait <= 0.0 or p <= 1.0 - self.p_wait:
            return 0.0
        return math.log(self.p_wait / (1.0 - p)) / (self.c * self.mu - self.lam)


def _mmc_from_b(lam: float, mu: float, c: int, b: float) -> MMCResult:
    """Build an MMCResult given Erlang B(c, λ/μ); assumes λ >= 0 and λ < cμ."""
    a = lam / mu
    p_wait = _erlang_c_from_b(c, a, b)
    wq = p_wait / (c * mu - lam)
    w = wq + 1.0 / mu
    return MMCResult(
        lam=lam,
        mu=mu,
        c=c,
        rho=lam / (c * mu),
        p_wait=p_wait,
        wq=wq,
        w=w,
        lq=lam * wq,
        l=lam * w,
    )


def _mmc_unchecked(lam: float, mu: float, c: int) -> MMCResult:
    return _mmc_from_b(lam, mu, c, _erlang_b_unchecked(c, lam / mu))


def mmc(lam: float, mu: float, c: int) -> MMCResult:
    """Steady-state M/M/c metrics.

    With a = λ/μ, ρ = a/c < 1 and C = Erlang C(c, a):

    .. math::
        W_q = \\frac{C}{c\\mu - \\lambda}, \\quad W = W_q + \\frac{1}{\\mu},
        \\quad L_q = \\lambda W_q, \\quad L = \\lambda W.

    Reference: Kleinrock (1975) vol. I §3.5; Gross & Harris ch. 2.

    Args:
        lam: arrival rate λ > 0.
        mu: service rate μ > 0 of each server.
        c: number of servers, integer >= 1.

    Raises:
        ValueError: invalid arguments, or λ >= cμ (unstable; the message names
            lam, mu and c).
    """
    lam = _check_positive("lam", lam)
    mu = _check_positive("mu", mu)
    c = _check_servers("c", c)
    if lam >= c * mu:
        raise ValueError(
            f"M/M/c is unstable: need lam < c*mu, got lam={lam!r}, mu={mu!r}, "
            f"c={c} (rho = {lam / (c * mu):.6g} >= 1)"
        )
    return _mmc_unchecked(lam, mu, c)


def mm1(lam: float, mu: float) -> MMCResult:
    """M/M/1 metrics, ``mmc(lam, mu, 1)``: ρ = λ/μ, Wq = ρ/(μ - λ), W = 1/(μ - λ).

    Reference: Kleinrock (1975) vol. I §3.2.
    """
    return mmc(lam, mu, 1)


def mmc_wq_quantile(lam: float, mu: float, c: int, p: float) -> float:
    """p-quantile of the M/M/c waiting time in queue; see :meth:`MMCResult.wq_quantile`."""
    return mmc(lam, mu, c).wq_quantile(p)


# --------------------------------------------------------------------------
# Tandem and general open Jackson networks
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TandemResult:
    """Steady state of a tandem line of M/M/c stations.

    Attributes:
        lam: external arrival rate (every station sees it, by Burke's theorem).
        stations: per-station results in line order.
        w: mean end-to-end sojourn time, Σ W_i.
        wq: total mean time spent queueing, Σ Wq_i.
        l: mean number in the whole line, Σ L_i = λ·w.
        lq: mean number queueing in the whole line, Σ Lq_i.
    """

    lam: float
    stations: tuple[MMCResult, ...]
    w: float
    wq: float
    l: float  # noqa: E741
    lq: float


def tandem_mmc(lam: float, mus: Sequence[float], servers: Sequence[int]) -> TandemResult:
    """Tandem (series) line of M/M/c stations fed by a Poisson(λ) stream.

    By Burke's theorem the departure process of a stable M/M/c queue is
    Poisson(λ), and by Jackson's theorem the joint stationary distribution is a
    product of the station marginals, so each station i behaves as an isolated
    M/M/c_i queue with arrival rate λ, and the mean end-to-end sojourn time is
    Σ_i W_i.

    Reference: Burke (1956); Jackson (1957); Gross & Harris, Jackson networks.

    Args:
        lam: external arrival rate λ > 0.
        mus: per-station service rate (per server), each > 0.
        servers: per-station number of servers, each an integer >= 1.

    Raises:
        ValueError: invalid or mismatched arguments, or a station with
            λ >= c_i μ_i (the message names the station index).
    """
    lam = _check_positive("lam", lam)
    mus_l = list(mus)
    servers_l = list(servers)
    if len(mus_l) != len(servers_l):
        raise ValueError(
            f"mus and servers must have the same length, got {len(mus_l)} and {len(servers_l)}"
        )
    if not mus_l:
        raise ValueError("tandem_mmc needs at least one station, got empty mus/servers")
    stations: list[MMCResult] = []
    for i, (mu_raw, c_raw) in enumerate(zip(mus_l, servers_l, strict=True)):
        mu = _check_positive(f"mus[{i}]", mu_raw)
        c = _check_servers(f"servers[{i}]", c_raw)
        if lam >= c * mu:
            raise ValueError(
                f"station {i} is unstable: lam={lam!r} >= servers[{i}]*mus[{i}] = "
                f"{c}*{mu!r} = {c * mu!r}"
            )
        stations.append(_mmc_unchecked(lam, mu, c))
    return TandemResult(
        lam=lam,
        stations=tuple(stations),
        w=sum(s.w for s in stations),
        wq=sum(s.wq for s in stations),
        l=sum(s.l for s in stations),
        lq=sum(s.lq for s in stations),
    )


@dataclass(frozen=True)
class JacksonResult:
    """Steady state of an open Jackson network of M/M/c stations.

    Attributes:
        arrival_rates: total arrival rate λ_i at each station (traffic equations).
        stations: per-station M/M/c results at rate λ_i.
        throughput: total external arrival rate Σ λ_ext (= departure rate).
        l: mean number in the network, Σ L_i.
        lq: mean number queueing in the network, Σ Lq_i.
        w: mean network sojourn time of a customer, Σ L_i / Σ λ_ext (Little).
        wq: mean total queueing time of a customer, Σ Lq_i / Σ λ_ext.
    """

    arrival_rates: tuple[float, ...]
    stations: tuple[MMCResult, ...]
    throughput: float
    l: float  # noqa: E741
    lq: float
    w: float
    wq: float

    @property
    def visit_ratios(self) -> tuple[float, ...]:
        """Mean number of visits per customer to each station, λ_i / Σ λ_ext."""
        return tuple(x / self.throughput for x in self.arrival_rates)


def jackson(
    lam_ext: ArrayLike,
    routing: ArrayLike,
    mus: ArrayLike,
    servers: ArrayLike,
) -> JacksonResult:
    """General open Jackson network of M/M/c stations.

    Station i receives external Poisson arrivals at rate λ_ext[i]; after service
    a customer moves to station j with probability P[i, j] and leaves the
    network with probability 1 - Σ_j P[i, j].  The total arrival rates solve the
    traffic equations

    .. math::  \\lambda = \\lambda_{ext} + P^T \\lambda
               \\iff (I - P^T)\\lambda = \\lambda_{ext},

    and by Jackson's theorem each station behaves as an independent M/M/c_i
    queue with arrival rate λ_i.  The network mean sojourn time follows from
    Little's law: W = Σ_i L_i / Σ_i λ_ext[i].

    Reference: Jackson (1957); Gross & Harris, Jackson networks.

    Args:
        lam_ext: shape (n,), external arrival rates, each >= 0, total > 0.
        routing: shape (n, n), P[i, j] = probability of routing i -> j; entries
            in [0, 1] and row sums <= 1; every customer must eventually leave
            (I - Pᵀ non-singular).
        mus: shape (n,), service rate per server at each station, each > 0.
        servers: shape (n,), integer number of servers at each station, >= 1.

    Raises:
        ValueError: invalid shapes or values, a routing matrix from which
            customers cannot leave, or an unstable station (λ_i >= c_i μ_i);
            the message names the station by index.
    """
    lam_v = np.asarray(lam_ext, dtype=float)
    if lam_v.ndim != 1 or lam_v.size == 0:
        raise ValueError(f"lam_ext must be a non-empty 1-D array, got shape {lam_v.shape}")
    n = lam_v.size
    P = np.asarray(routing, dtype=float)
    if P.shape != (n, n):
        raise ValueError(f"routing must have shape ({n}, {n}) to match lam_ext, got {P.shape}")
    mus_v = np.asarray(mus, dtype=float)
    if mus_v.shape != (n,):
        raise ValueError(f"mus must have shape ({n},) to match lam_ext, got {mus_v.shape}")
    servers_a = np.asarray(servers, dtype=object)  # keep ints as ints, floats as floats
    if servers_a.shape != (n,):
        raise ValueError(f"servers must have shape ({n},) to match lam_ext, got {servers_a.shape}")

    for i, x in enumerate(lam_v.tolist()):
        _check_nonnegative(f"lam_ext[{i}]", x)
    total_ext = float(lam_v.sum())
    if total_ext <= 0.0:
        raise ValueError(f"lam_ext must have a positive total, got {lam_v.tolist()!r}")
    mu_list = [_check_positive(f"mus[{i}]", x) for i, x in enumerate(mus_v.tolist())]
    c_list = [_check_servers(f"servers[{i}]", x) for i, x in enumerate(servers_a.tolist())]
    if not np.all(np.isfinite(P)) or np.any(P < 0.0) or np.any(P > 1.0):
        raise ValueError(f"routing entries must be probabilities in [0, 1], got {P.tolist()!r}")
    row_sums = P.sum(axis=1)
    bad_rows = np.flatnonzero(row_sums > 1.0 + 1e-12)
    if bad_rows.size:
        i = int(bad_rows[0])
        raise ValueError(f"routing row {i} sums to {float(row_sums[i])!r} > 1")

    lam_tot = _solve_traffic(lam_v, P)

    stations: list[MMCResult] = []
    for i in range(n):
        lam_i, mu_i, c_i = float(lam_tot[i]), mu_list[i], c_list[i]
        if lam_i >= c_i * mu_i:
            raise ValueError(
                f"station {i} is unstable: arrival rate lambda[{i}]={lam_i!r} >= "
                f"servers[{i}]*mus[{i}] = {c_i}*{mu_i!r} = {c_i * mu_i!r}"
            )
        stations.append(_mmc_unchecked(lam_i, mu_i, c_i))

    l_tot = sum(s.l for s in stations)
    lq_tot = sum(s.lq for s in stations)
    return JacksonResult(
        arrival_rates=tuple(float(x) for x in lam_tot),
        stations=tuple(stations),
        throughput=total_ext,
        l=l_tot,
        lq=lq_tot,
        w=l_tot / total_ext,
        wq=lq_tot / total_ext,
    )


def _solve_traffic(lam_ext: NDArray[np.float64], P: NDArray[np.float64]) -> NDArray[np.float64]:
    """Solve (I - Pᵀ) λ = λ_ext, rejecting networks customers cannot leave."""
    n = lam_ext.size
    A = np.eye(n) - P.T
    no_exit = (
        "routing matrix has no exit: customers would circulate forever (I - routing^T is singular)"
    )
    try:
        lam = np.linalg.solve(A, lam_ext)
    except np.linalg.LinAlgError as exc:
        raise ValueError(no_exit) from exc
    scale = float(np.max(np.abs(lam))) if lam.size else 0.0
    if not np.all(np.isfinite(lam)) or np.any(lam < -1e-9 * max(scale, 1.0)):
        raise ValueError(no_exit + f"; traffic equations gave {lam.tolist()!r}")
    if np.linalg.cond(A) > 1e12:
        raise ValueError(no_exit + " (numerically)")
    result: NDArray[np.float64] = np.clip(lam, 0.0, None)
    return result


# --------------------------------------------------------------------------
# Erlang A: M/M/c + M
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ErlangAResult:
    """Steady state of the M/M/c+M (Erlang A) queue.

    Attributes:
        lam, mu, theta, c: the model parameters.
        p_wait: P(N >= c), the probability an arrival must wait (PASTA).
        p_abandon: fraction of arrivals who abandon, θ·Lq/λ.
        wq: mean time in queue over *all* arrivals (served or abandoning),
            Lq/λ (Little).
        lq: mean queue length E[(N - c)^+].
        l: mean number in system E[N].
        served_utilization: λ(1 - p_abandon)/(cμ), which by flow balance
            equals E[busy servers]/c, so it is <= 1 (up to rounding) even when
            λ >= cμ.
        n_states: number of states 0..N used in the truncated chain (N + 1).
    """

    lam: float
    mu: float
    theta: float
    c: int
    p_wait: float
    p_abandon: float
    wq: float
    lq: float
    l: float  # noqa: E741
    served_utilization: float
    n_states: int


def erlang_a(
    lam: float,
    mu: float,
    theta: float,
    c: int,
    *,
    tol: float = 1e-12,
    max_states: int = 20_000_000,
) -> ErlangAResult:
    """Erlang A (M/M/c+M): Poisson arrivals, c exponential servers, FCFS queue,
    exponential patience with rate θ for customers waiting in queue.

    Solved exactly as a birth-death chain on n = 0..N customers in system with
    birth rate λ and death rate

    .. math::  \\mu_n = n\\mu \\; (n \\le c), \\qquad \\mu_n = c\\mu + (n - c)\\theta \\; (n > c),

    so π_n ∝ Π_{k=1}^{n} λ/μ_k.  The chain is truncated at the first N for which
    geometric bounds on the omitted mass Σ_{n>N} π_n (relative to the total
    mass) and on the omitted part of E[(N-c)^+] (relative to the part kept)
    are both below ``tol``.  Then

    * p_wait = Σ_{n>=c} π_n (PASTA),
    * lq = Σ_{n>c} (n - c) π_n,  wq = lq/λ (Little, over all arrivals),
    * p_abandon = θ·lq/λ (abandonment flow over arrival flow),
    * served_utilization = λ(1 - p_abandon)/(cμ).

    Because θ > 0 the chain is positive recurrent for every λ, so λ >= cμ is
    allowed.  As θ → 0 (with λ < cμ) the results tend to Erlang C; as θ → ∞,
    p_abandon tends to Erlang B(c, λ/μ).  With θ = μ the stationary law is
    Poisson(λ/μ) (the M/M/∞ queue).

    Reference: Garnett, Mandelbaum & Reiman (2002); Kleinrock (1975) vol. I
    §3.1 (birth-death equilibrium).

    Args:
        lam: arrival rate λ > 0.
        mu: service rate μ > 0 per server.
        theta: abandonment rate θ > 0 (1 / mean patience).
        c: number of servers, integer >= 1.
        tol: truncation tolerance (relative tail mass), in (0, 1e-3].
        max_states: give up (ValueError) if more states than this are needed,
            which only happens when θ is tiny and λ >= cμ.

    Raises:
        ValueError: invalid arguments, or the truncation needs more than
            ``max_states`` states.
    """
    lam = _check_positive("lam", lam)
    mu = _check_positive("mu", mu)
    theta = _check_positive("theta", theta)
    c = _check_servers("c", c)
    tol = _check_positive("tol", tol)
    if tol > 1e-3:
        raise ValueError(f"tol must be <= 1e-3, got {tol!r}")
    max_states = _check_servers("max_states", max_states)

    log_w, m_count = _erlang_a_log_weights(lam, mu, theta, c, tol, max_states)
    log_total = _logsumexp(log_w)
    probs = np.exp(log_w - log_total)
    probs /= probs.sum()

    n_idx = np.arange(probs.size, dtype=float)
    queue_len = np.maximum(n_idx - c, 0.0)
    p_wait = float(probs[c:].sum())
    lq = float(np.dot(queue_len, probs))
    l_mean = float(np.dot(n_idx, probs))
    p_abandon = theta * lq / lam
    return ErlangAResult(
        lam=lam,
        mu=mu,
        theta=theta,
        c=c,
        p_wait=p_wait,
        p_abandon=p_abandon,
        wq=lq / lam,
        lq=lq,
        l=l_mean,
        served_utilization=lam * (1.0 - p_abandon) / (c * mu),
        n_states=c + 1 + m_count,
    )


def _logsumexp(x: NDArray[np.float64]) -> float:
    m = float(np.max(x))
    return m + math.log(float(np.sum(np.exp(x - m))))


def _erlang_a_log_weights(
    lam: float, mu: float, theta: float, c: int, tol: float, max_states: int
) -> tuple[NDArray[np.float64], int]:
    """Unnormalised log π_n for n = 0..N and the number N - c of queue states.

    States n <= c: log π_n = n log a - log n!.  States n = c + m (m >= 1):
    log π_n = log π_c + Σ_{j=1}^{m} log(λ / (cμ + jθ)).  Built in chunks of
    growing size; after each chunk the first m at which the geometric tail
    bound drops below ``tol`` (relative to the mass so far) is taken as the
    truncation point.
    """
    a = lam / mu
    k = np.arange(1, c + 1, dtype=float)
    low = np.concatenate(([0.0], np.cumsum(math.log(a) - np.log(k))))
    log_lam = math.log(lam)
    c_mu = c * mu

    pieces: list[NDArray[np.float64]] = [low]
    log_mass = _logsumexp(low)
    log_q = -math.inf  # log Σ_{j<=m} j π_{c+j} accumulated so far
    last = float(low[-1])
    m0 = 1  # first queue index (n = c + m0) of the next chunk
    size = 256
    while True:
        size = min(size, max_states - c - m0)  # keep N + 1 = c + m0 + size <= max_states
        if size <= 0:
            raise ValueError(
                f"erlang_a truncation needs more than max_states={max_states} "
                f"states (lam={lam!r}, mu={mu!r}, theta={theta!r}, c={c}); "
                f"theta is too small relative to the overload lam - c*mu"
            )
        m = np.arange(m0, m0 + size, dtype=float)
        chunk = last + np.cumsum(log_lam - np.log(c_mu + m * theta))
        log_mass = float(np.logaddexp(log_mass, _logsumexp(chunk)))
        cum_q = np.logaddexp.accumulate(np.concatenate(([log_q], np.log(m) + chunk)))[1:]
        # Geometric tail bound after truncating at queue index m: all later
        # ratios are <= r = λ/(cμ + (m+1)θ) (decreasing in m), so with g = r/(1-r)
        #   Σ_{j>m} π_{c+j}    <= π_{c+m} g
        #   Σ_{j>m} j π_{c+j}  <= π_{c+m} (m g + g/(1-r)).
        # Require the first below tol relative to the total mass and the second
        # below tol relative to the partial Σ j π_{c+j} (so lq is accurate even
        # when it is tiny, e.g. for huge θ).
        r = lam / (c_mu + (m + 1.0) * theta)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            stable = r < 1.0
            g = np.where(stable, r / np.where(stable, 1.0 - r, 1.0), np.inf)
            g2 = m * g + g / np.where(stable, 1.0 - r, 1.0)
            bound_mass = np.exp(chunk - log_mass) * g
            bound_q = np.exp(chunk - cum_q) * g2
        ok = np.flatnonzero(stable & (bound_mass < tol) & (bound_q < tol))
        if ok.size:
            stop = int(ok[0]) + 1
            pieces.append(chunk[:stop])
            return np.concatenate(pieces), m0 - 1 + stop
        pieces.append(chunk)
        last = float(chunk[-1])
        log_q = float(cum_q[-1])
        m0 += size
        size = min(size * 2, 1 << 22)


# --------------------------------------------------------------------------
# Staffing
# --------------------------------------------------------------------------


def min_servers_mmc(
    lam: float,
    mu: float,
    predicate: Callable[[MMCResult], bool],
    *,
    max_servers: int | None = None,
) -> int:
    """Smallest number of servers c with ρ = λ/(cμ) < 1 such that ``predicate(mmc(lam, mu, c))``.

    The search starts at ceil(λ/μ) (skipping it if it gives ρ = 1, i.e. it
    starts at the smallest stable c = floor(λ/μ) + 1) and increases c by one.
    Erlang B is advanced with its recursion B(c) = aB(c-1)/(c + aB(c-1)), so
    the whole search costs O(c_final) arithmetic plus one predicate call per
    candidate.  The predicate is assumed monotone (true for all larger c once
    true), as delay metrics of M/M/c are; the first c that satisfies it is
    returned.

    Example: ``min_servers_mmc(10.0, 1.0, lambda r: r.wq <= 0.5)``.

    Args:
        lam: arrival rate λ > 0.
        mu: service rate μ > 0 per server.
        predicate: test on an :class:`MMCResult`.
        max_servers: give up above this many servers (default: the smallest
            stable c plus 10 000).

    Returns:
        The staffing level c (call ``mmc(lam, mu, c)`` for its metrics).

    Raises:
        ValueError: invalid arguments, or no c <= max_servers satisfies the
            predicate.
    """
    lam = _check_positive("lam", lam)
    mu = _check_positive("mu", mu)
    a = lam / mu
    c_min = max(1, math.floor(a) + 1)
    while c_min * mu <= lam:  # guard against floor() rounding at huge loads
        c_min += 1
    c_max = c_min + 10_000 if max_servers is None else _check_servers("max_servers", max_servers)
    b = 1.0
    for k in range(1, c_min):
        ab = a * b
        b = ab / (k + ab)
    for c in range(c_min, c_max + 1):
        ab = a * b
        b = ab / (c + ab)
        if predicate(_mmc_from_b(lam, mu, c, b)):
            return c
    raise ValueError(
        f"no server count in [{c_min}, {c_max}] satisfies the predicate "
        f"(lam={lam!r}, mu={mu!r}, max_servers={max_servers!r})"
    )


def staffing_for_wait(
    lam: float,
    mu: float,
    target_wq: float,
    *,
    quantile: float | None = None,
    max_servers: int | None = None,
) -> int:
    """Smallest stable c meeting a waiting-time target in M/M/c.

    * ``quantile is None``: mean wait Wq(c) <= ``target_wq``.
    * ``quantile = p``: the p-quantile of the wait <= ``target_wq``, i.e.
      P(Wq > target_wq) = C(c, a) exp(-(cμ - λ) target_wq) <= 1 - p
      (e.g. ``quantile=0.9, target_wq=0.25``: 90% wait at most 15 minutes
      when times are in hours).

    Thin wrapper around :func:`min_servers_mmc`.

    Args:
        lam: arrival rate λ > 0.
        mu: service rate μ > 0 per server.
        target_wq: waiting-time target, >= 0 (a target of 0 with the mean
            criterion is unattainable and raises ValueError).
        quantile: optional probability level in (0, 1).
        max_servers: see :func:`min_servers_mmc`.
    """
    target = _check_nonnegative("target_wq", target_wq)
    if quantile is None:
        if target == 0.0:
            raise ValueError(
                "target_wq must be > 0 for a mean-wait target "
                f"(the M/M/c mean wait is never 0), got {target_wq!r}"
            )
        return min_servers_mmc(lam, mu, lambda r: r.wq <= target, max_servers=max_servers)
    q = _check_real("quantile", quantile)
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    return min_servers_mmc(lam, mu, lambda r: r.wq_tail(target) <= 1.0 - q, max_servers=max_servers)
