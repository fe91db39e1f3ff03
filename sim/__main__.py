"""``python -m sim``: the govsim command."""

import sys

from sim.cli import main

sys.exit(main())
