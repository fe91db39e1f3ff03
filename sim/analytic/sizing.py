"""Staffing: the smallest M/M/c server count meeting a predicate or a wait target."""

from __future__ import annotations

import math
from collections.abc import Callable

from sim.analytic._checks import (
    _check_nonnegative,
    _check_positive,
    _check_real,
    _check_servers,
)
from sim.analytic.erlang import MMCResult, _mmc_from_b

__all__ = ["min_servers_mmc", "staffing_for_wait"]


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
