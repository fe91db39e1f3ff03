"""Distribution fits: exponential, gamma and lognormal by maximum likelihood, chosen by
AIC, with the Kolmogorov-Smirnov statistic as the goodness of fit; an empirical
distribution (quantiles) where the data have a large mass at zero or no family fits.

Every fit says what it did in one text (the ``fit = ...`` part of a value's provenance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.model.schema import UNIT_HOURS, Dist

#: a sample shorter than this (hours) counts as zero (same-stamp events)
ZERO_HOURS = 1 / 60
#: share of zeros from which the sample is written as quantiles
ZERO_MASS = 0.10
#: KS statistic above which the best family is judged a poor fit
POOR_KS = 0.10
#: quantiles written for an empirical distribution
QUANTILES = 100
#: the largest sample a family is fitted on (a fixed-seed subsample beyond)
MAX_FIT = 20_000


@dataclass
class Fit:
    """A fitted distribution, its sample size and the text saying how it was chosen."""

    dist: Dist
    n: int
    text: str
    median_hours: float


def _quantiles(x: np.ndarray) -> list[float]:
    if len(x) <= QUANTILES:
        return sorted(float(v) for v in x)
    q = (np.arange(QUANTILES) + 0.5) / QUANTILES
    return [float(v) for v in np.quantile(x, q)]


def _round(v: float) -> float:
    return float(f"{v:.6g}")


def _candidates(x: np.ndarray) -> list[tuple[str, float, float, float, float]]:
    """(family, mean, cv, AIC, KS) of every family fitted to positive ``x``."""
    # heavy: scipy.stats costs 0.4 s to import, and only calibration fits distributions
    import scipy.stats as stats

    out = []
    m = float(x.mean())
    ll = float(np.sum(stats.expon.logpdf(x, scale=m)))
    ks = float(stats.kstest(x, "expon", args=(0, m)).statistic)
    out.append(("exponential", m, 1.0, 2 * 1 - 2 * ll, ks))
    logs = np.log(x)
    mu, s = float(logs.mean()), float(logs.std())
    if s > 0:
        ll = float(np.sum(stats.lognorm.logpdf(x, s, scale=math.exp(mu))))
        ks = float(stats.kstest(x, "lognorm", args=(s, 0, math.exp(mu))).statistic)
        out.append(("lognormal", math.exp(mu + s * s / 2), math.sqrt(math.expm1(s * s)),
                    2 * 2 - 2 * ll, ks))
        try:
            a, _, scale = stats.gamma.fit(x, floc=0)
        except (ValueError, RuntimeError, FloatingPointError):  # no optimum: no gamma
            a = scale = float("nan")
        if np.isfinite(a) and a > 0:
            ll = float(np.sum(stats.gamma.logpdf(x, a, scale=scale)))
            ks = float(stats.kstest(x, "gamma", args=(a, 0, scale)).statistic)
            out.append(("gamma", a * scale, 1 / math.sqrt(a), 2 * 2 - 2 * ll, ks))
    return out


def fit(x_hours: np.ndarray, unit: str = "hours", *, positive: bool = False) -> Fit:
    """Fit a duration sample given in hours; the Dist is written in ``unit``.

    ``positive``: the distribution must take only positive values (a service time):
    zeros of an empirical sample are raised to one minute.
    """
    x = np.asarray(x_hours, dtype=np.float64)
    x = x[np.isfinite(x)]
    x = np.maximum(x, 0.0)
    n = len(x)
    if n == 0:
        raise ValueError("no sample to fit")
    scale = UNIT_HOURS[unit]
    med = float(np.median(x))
    zero = float(np.mean(x < ZERO_HOURS))
    pos = x[x >= ZERO_HOURS]

    def empirical(why: str) -> Fit:
        y = np.maximum(x, ZERO_HOURS) if positive else x
        vals = [_round(v / scale) for v in _quantiles(y)]
        return Fit(Dist(dist="empirical", values=vals, unit=unit), n,
                   f"empirical, {len(vals)} quantiles ({why})", med)

    if n < 5:
        return empirical(f"only {n} observations")
    if zero >= ZERO_MASS or len(pos) < 5:
        return empirical(f"{zero:.0%} of the observations are zero: same-stamp events")
    if float(np.std(pos)) <= 1e-9 * float(np.mean(pos)) and zero == 0:
        return Fit(Dist(dist="deterministic", mean=_round(med / scale),
                        unit=unit), n, f"deterministic: all {n} observations equal", med)
    sample = pos
    if len(sample) > MAX_FIT:
        sample = np.random.default_rng(0).choice(sample, MAX_FIT, replace=False)
    cands = _candidates(sample)
    best = min(cands, key=lambda c: c[3])
    fam, mean, cv, aic, ks = best
    others = ", ".join(f"{c[0]} {c[3]:.1f}" for c in cands if c is not best)
    if ks > POOR_KS:
        return empirical(f"best family {fam} fits poorly: KS = {ks:.3f} > {POOR_KS}")
    dist = Dist(dist=fam, mean=_round(mean / scale),
                cv=None if fam == "exponential" else _round(cv), unit=unit)
    zeros = f"; {zero:.0%} zeros left out" if zero > 0 else ""
    return Fit(dist, n, f"{fam} by maximum likelihood, AIC = {aic:.1f} (vs {others}), "
               f"KS = {ks:.3f}{zeros}", med)
