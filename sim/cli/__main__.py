"""``python -m sim.cli``: the govsim command."""

from sim.cli import entry

entry()
