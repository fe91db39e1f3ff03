"""Experiments on scenarios: run settings checked once, one process pool (and the Dask
executor), running replications, comparing scenarios, parameter grids, sweeps, staffing."""
