"""The Python face analysts use in notebooks: ``sim.load``, ``sim.run``, ``sim.compare``,
``sim.levers`` (what each small change buys, ranked), ``sim.uncertainty`` (how sure, over
the assumptions' ranges), ``sim.sweep``, ``sim.staff``,
``sim.calibrate`` (a scenario from an event log),
``sim.score`` (a scenario against a real log).

Everything the command line does goes through these same functions, so a notebook and
a planner's terminal get the same numbers for the same seed. They live in
:mod:`sim.experiments`; this module only gathers them.
"""

from __future__ import annotations

from sim.calibrate import Calibrated, calibrate
from sim.experiments.compare import CompareResult, compare
from sim.experiments.levers import LeversResult, levers
from sim.experiments.run import run
from sim.experiments.score import ScoreResult, score
from sim.experiments.sources import apply_reforms, load, load_model
from sim.experiments.staffing import StaffingResult, staff
from sim.experiments.sweep import SweepResult, sweep
from sim.experiments.uncertainty import UncertaintyResult, uncertainty
from sim.results.result import RunResult

__all__ = ["Calibrated", "CompareResult", "LeversResult", "RunResult", "ScoreResult",
           "StaffingResult", "SweepResult", "UncertaintyResult", "apply_reforms", "calibrate",
           "compare", "levers", "load", "load_model", "run", "score", "staff", "sweep",
           "uncertainty"]
