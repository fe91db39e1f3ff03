"""The model layer: what a scenario file says, checked, and assembled for the engines.

``schema`` (the file's fields and their rules: the first validation stage, with its
checked scalars in ``fields``), ``scenario`` (loading, references between parts: the
second stage, the one revalidation after an edit, writing back), ``recorded`` (recorded
arrival files, read once at load), ``calendar`` (working calendars and China's holiday schedule),
``distributions`` (inverse CDFs), ``assembly`` (a scenario turned into the flat
:class:`Model` the input drawer and the engines read). Nothing here imports from a
layer above.
"""

from __future__ import annotations

from sim.model.assembly import CHANNELS, ONLINE, PROXY, WINDOW, LoadWarning, Model, build

__all__ = ["CHANNELS", "ONLINE", "PROXY", "WINDOW", "LoadWarning", "Model", "build"]
