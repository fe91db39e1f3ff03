"""Duration distributions, turned from uniforms into values by the inverse CDF.

Inputs are drawn as uniforms and transformed here (never inside an engine). Drawing
uniforms first keeps common random numbers strong: when a reform changes a mean, the
same uniform maps to the new value, so two scenarios differ only where they differ.
Each family declares its parameters through :class:`~sim.model.schema.Dist` and exposes
``mean`` and ``variance`` so tests can compare them with samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import special

from sim.model.schema import UNIT_HOURS, Dist

_TINY = 2.0**-54  # keeps u inside (0, 1): no zero or infinite durations

# The gamma quantile x(u) of shape k, as y(z) = log x(Phi(z)) on a grid of normal scores z:
# y is smooth in z in both tails (the lower tail is quadratic in z, the upper one
# logarithmic), so a cubic Hermite interpolant with exact slopes is within 1e-10 of it
# (relative error of x; tests/test_distributions.py checks it against gammaincinv). This
# is 20x faster than gammaincinv on every value. Shapes outside [_GAMMA_K_MIN, _GAMMA_K_MAX]
# (cv > 3.2, whose lower tail underflows; cv < 0.003, whose slopes lose digits) are computed
# directly.
_Z_LO, _Z_HI, _Z_NODES = -8.5, 8.5, 4097
_Z_STEP = (_Z_HI - _Z_LO) / (_Z_NODES - 1)
_GAMMA_K_MIN, _GAMMA_K_MAX = 0.1, 1e5
_BLOCK = 8192  # values transformed at a time (the same values, fewer trips to memory)


@lru_cache(maxsize=512)
def _gamma_table(k: float) -> tuple[NDArray[np.float64], ...]:
    """The cubic of each interval of the normal-score grid for the gamma of shape k, as
    coefficients (c0, c1, c2, c3) in the position s in [0, 1) within the interval."""
    z = np.linspace(_Z_LO, _Z_HI, _Z_NODES)
    # each tail from its own side, so that 1 - u never rounds to 0
    x = np.where(z < 0, special.gammaincinv(k, special.ndtr(z)),
                 special.gammainccinv(k, special.ndtr(-z)))
    y = np.log(x)
    # dy/dz = phi(z) / (x f(x)), f the density of gamma(k, 1); times the step: dy/ds
    log_phi = -0.5 * z * z - 0.5 * math.log(2 * math.pi)
    d = np.exp(log_phi - k * y + x + special.gammaln(k)) * _Z_STEP
    # the cubic Hermite interpolant between nodes i and i + 1, in Horner's form
    y0, y1, d0, d1 = y[:-1], y[1:], d[:-1], d[1:]
    return y0, d0, 3.0 * (y1 - y0) - 2.0 * d0 - d1, 2.0 * (y0 - y1) + d0 + d1


def _gamma_ppf(k: float, u: NDArray[np.float64]) -> NDArray[np.float64]:
    """Quantiles of gamma(k, 1) at ``u`` in [2^-54, 1 - 2^-53]."""
    if not _GAMMA_K_MIN <= k <= _GAMMA_K_MAX:
        return np.asarray(special.gammaincinv(k, u), dtype=np.float64)
    c0, c1, c2, c3 = _gamma_table(k)
    u = np.asarray(u, dtype=np.float64)
    out = np.empty(u.shape)
    flat_u, flat = u.reshape(-1), out.reshape(-1)
    for a in range(0, flat_u.shape[0], _BLOCK):  # a block at a time: it stays in cache
        t = special.ndtri(flat_u[a:a + _BLOCK])
        t -= _Z_LO
        t *= 1.0 / _Z_STEP
        i = np.minimum(t.astype(np.intp), _Z_NODES - 2)
        s = t - i
        o = flat[a:a + _BLOCK]
        np.take(c3, i, out=o)
        o *= s
        o += c2[i]
        o *= s
        o += c1[i]
        o *= s
        o += c0[i]
        np.exp(o, out=o)
    return out


@dataclass(frozen=True)
class Family:
    """A distribution in hours, ready to transform uniforms."""

    kind: str
    mean: float
    cv: float
    lo: float = 0.0
    mode: float = 0.0
    hi: float = 0.0
    values: tuple[float, ...] = ()

    @property
    def variance(self) -> float:
        return (self.cv * self.mean) ** 2

    @property
    def positive(self) -> bool:
        """Every value the family can take is > 0 (what a service time needs)."""
        if self.kind in ("exponential", "gamma", "lognormal"):
            return self.mean > 0.0
        return self.minimum > 0.0

    @property
    def minimum(self) -> float:
        """The smallest value the family can take (0 for unbounded-below families)."""
        if self.kind == "deterministic":
            return self.mean
        if self.kind == "triangular":
            return self.lo
        if self.kind == "empirical":
            return min(self.values)
        return 0.0

    @property
    def shape_key(self) -> tuple[str, float] | None:
        """For a family that is its mean times a unit-mean law (exponential, gamma and
        lognormal with cv > 0): that law's key, so uniforms of every family sharing it can
        be transformed in one call (:meth:`unit_ppf`); else None."""
        if self.kind == "exponential" or (self.kind in ("gamma", "lognormal")
                                          and self.cv > 0.0):
            return self.kind, self.cv
        return None

    @staticmethod
    def unit_ppf(key: tuple[str, float], u: NDArray[np.float64], overwrite: bool = False,
                 ) -> NDArray[np.float64]:
        """Inverse CDF of the unit-mean law ``key`` (a :attr:`shape_key`) at ``u`` in [0, 1)
        (``overwrite``: ``u``, float64 and contiguous, may be written over)."""
        kind, cv = key
        # uniforms are in [0, 1): only 0 needs moving
        u = np.maximum(u, _TINY, out=u) if overwrite else np.maximum(u, _TINY)
        if kind == "exponential":
            return -np.log1p(-u)
        if kind == "gamma":
            k = 1.0 / cv**2
            return _gamma_ppf(k, u) * (1.0 / k)
        s2 = math.log1p(cv**2)  # lognormal: exp(sqrt(s2) z - s2 / 2), a block at a time
        out = np.empty(u.shape)
        flat_u, flat = u.reshape(-1), out.reshape(-1)
        for a in range(0, flat_u.shape[0], _BLOCK):
            z = flat[a:a + _BLOCK]
            special.ndtri(flat_u[a:a + _BLOCK], out=z)
            z *= math.sqrt(s2)
            z -= s2 / 2
            np.exp(z, out=z)
        return out

    def ppf(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Inverse CDF at uniforms ``u`` (any shape): for a family with a :attr:`shape_key`,
        exactly ``mean * unit_ppf(key, u)``."""
        u = np.asarray(u, dtype=np.float64)
        key = self.shape_key
        if key is not None:
            return self.unit_ppf(key, u) * self.mean
        # uniforms are in [0, 1): only 0 needs moving (1 - _TINY rounds to 1 anyway)
        u = np.maximum(u, _TINY)
        m = self.mean
        if self.kind in ("deterministic", "gamma", "lognormal"):  # the last two: cv 0
            return np.full(u.shape, m)
        if self.kind == "triangular":
            a, c, b = self.lo, self.mode, self.hi
            f = (c - a) / (b - a)
            left = a + np.sqrt(u * (b - a) * (c - a))
            right = b - np.sqrt((1 - u) * (b - a) * (b - c))
            return np.where(u < f, left, right)
        if self.kind == "empirical":
            vals = np.asarray(self.values)
            idx = np.minimum((u * len(vals)).astype(np.int64), len(vals) - 1)
            return vals[idx]
        raise AssertionError(self.kind)


def family(d: Dist) -> Family:
    """Resolve a schema distribution into hours."""
    h = UNIT_HOURS[d.unit]
    if d.dist == "empirical":
        vals = np.asarray(d.values, dtype=np.float64) * h
        mean = float(vals.mean())
        cv = float(vals.std() / mean) if mean > 0 else 0.0
        return Family("empirical", mean, cv, values=tuple(float(v) for v in vals))
    if d.dist == "triangular":
        if d.mean is not None:
            m = d.mean * h
            half = m * (d.cv or 0.0) * math.sqrt(6.0)
            lo, mo, hi = m - half, m, m + half
        else:
            assert d.min is not None and d.mode is not None and d.max is not None
            lo, mo, hi = d.min * h, d.mode * h, d.max * h
        mean = (lo + mo + hi) / 3.0
        var = (lo * lo + mo * mo + hi * hi - lo * mo - lo * hi - mo * hi) / 18.0
        if hi == lo:
            return Family("deterministic", mean, 0.0)
        return Family("triangular", mean, math.sqrt(var) / mean if mean else 0.0, lo, mo, hi)
    assert d.mean is not None
    mean = d.mean * h
    if d.dist == "deterministic":
        return Family("deterministic", mean, 0.0)
    if d.dist == "exponential":
        return Family("exponential", mean, 1.0)
    return Family(d.dist, mean, float(d.cv or 0.0))
