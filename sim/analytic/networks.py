"""Tandem lines and general open Jackson networks of M/M/c stations.

Reference: Burke (1956); Jackson (1957); Gross & Harris (2008), Jackson networks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.analytic._checks import _check_nonnegative, _check_positive, _check_servers
from sim.analytic.erlang import MMCResult, _mmc_unchecked

__all__ = ["JacksonResult", "TandemResult", "jackson", "tandem_mmc"]


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
