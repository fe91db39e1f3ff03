"""Benchmarks of the compiled engine (run as ``python -m benchmarks``).

Speed is only ever reported as ratios measured in the same run (vector engine vs the
SimPy engine, vs a minimal hand-written numba loop, 2 processes vs 1), never as absolute
seconds, so figures from different machines compare.
"""
