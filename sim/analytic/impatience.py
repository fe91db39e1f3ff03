"""Erlang A: the M/M/c+M queue (exponential patience), solved as a truncated
birth-death chain.

Reference: Garnett, Mandelbaum & Reiman (2002); Kleinrock (1975) vol. I §3.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.analytic._checks import _check_positive, _check_servers

__all__ = ["ErlangAResult", "erlang_a"]


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
