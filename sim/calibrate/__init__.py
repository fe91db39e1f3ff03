"""A scenario discovered from an event log (``govsim calibrate``): the training view
(``view``), the office calendar and arrivals (``arrivals``), activities -> items and the
route with its loops (``route``), resources -> stations (``stations``), processing times
and delays (``times``), distribution fits (``fit``), and the assembly with every value's
provenance (``build``); and the score of a simulated log against a real one
(``score``, ``govsim score``). docs/calibrate.md says what it discovers and how.
"""

from sim.calibrate.build import DEFAULT_MIN_SHARE, Calibrated, calibrate

__all__ = ["DEFAULT_MIN_SHARE", "Calibrated", "calibrate"]
