"""``python -m sim.cli``: the govsim command."""

import sys

from sim.cli import main

sys.exit(main())
