"""Argument checks shared by the closed-form results: each returns the value
as a float (or int) or raises ValueError naming the argument."""

from __future__ import annotations

import math
import numbers

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
