"""Calibration: a scenario discovered from an event log, and the score of a simulated log
against a real one (:mod:`sim.calibrate.score`)."""
