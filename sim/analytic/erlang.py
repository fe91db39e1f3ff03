"""Erlang B, Erlang C and the M/M/c queue (M/M/1 as c = 1).

Reference: Kleinrock (1975) vol. I ch. 3; Gross & Harris (2008) ch. 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.analytic._checks import (
    _check_nonnegative,
    _check_positive,
    _check_probability,
    _check_servers,
)

__all__ = ["MMCResult", "erlang_b", "erlang_c", "mm1", "mmc", "mmc_wq_quantile"]


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
