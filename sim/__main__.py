"""``python -m sim``: the govsim command."""

from sim.cli import entry

entry()
