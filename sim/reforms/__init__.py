"""The reform catalogue: named, documented, composable transformations of a scenario.

:mod:`sim.reforms.catalogue` holds the machinery (declared arguments, the registry, spec
parsing, :func:`apply`, describing changes) and the spec syntax; each family module
registers its reforms in :data:`CATALOGUE` when imported, and the imports below run in
catalogue order (the order ``govsim reforms`` lists them): :mod:`~sim.reforms.items`
(cut_items, merge_items, one_go, cut_materials), :mod:`~sim.reforms.channels` (online,
proxy), :mod:`~sim.reforms.review` (conditional, commitment, handle_at_once) and
:mod:`~sim.reforms.routes` (parallel, regional_assessment). The commands are in
:mod:`sim.cli.reforms`.
"""

from __future__ import annotations

from sim.reforms.catalogue import (
    CATALOGUE,
    REQUIRED,
    Arg,
    Reform,
    apply,
    changes,
    describe_changes,
    lookup,
    parse_spec,
    reform,
    select,
)
from sim.reforms.helpers import expected_work, scale_dist

# the families register their reforms as they are imported: keep this catalogue order
# isort: off
from sim.reforms.items import cut_items, merge_items, one_go, cut_materials
from sim.reforms.channels import online, proxy
from sim.reforms.review import conditional, commitment, handle_at_once
from sim.reforms.routes import parallel, regional_assessment
# isort: on

__all__ = ["CATALOGUE", "REQUIRED", "Arg", "Reform", "apply", "changes", "commitment",
           "conditional", "cut_items", "cut_materials", "describe_changes", "expected_work",
           "handle_at_once", "lookup", "merge_items", "one_go", "online", "parallel",
           "parse_spec", "proxy", "reform", "regional_assessment", "scale_dist", "select"]
