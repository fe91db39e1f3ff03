"""Route reforms: the shape of the routes -- items of a stage run side by side
(``parallel``, 并联审批) and assessment stages skipped for projects in assessed parks
(``regional_assessment``, 区域评估)."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from sim.errors import ReformError
from sim.model.schema import Scenario
from sim.reforms.catalogue import Arg, _is_glob, _known, reform, select

# --------------------------------------------------------------------------- route reforms


@reform("parallel", "并联审批 parallel approval",
        Arg("stages", "names", ("*",), "stages whose items run in parallel"),
        Arg("routes", "names", ("*",), "routes the stages belong to"),
        aliases=("并联审批", "parallel_approval"))
def parallel(s: Scenario, stages: Sequence[str], routes: Sequence[str]) -> None:
    """Run the items of a stage in parallel (并联审批).

    Every item of a selected stage starts when the stage starts, and the stage ends when
    its last item ends; the applicant prepares and submits them side by side. Stage
    order is unchanged (parallel approval is inside stages). A choice stage (one branch
    per case, docs/model.md "Paths and branches") stays a choice.
    """
    rnames = select("route", s.routes, routes)
    for p in stages:
        found = False
        for rn in rnames:
            names = [st.name for st in s.routes[rn].stages]
            for sn in (fnmatch.filter(names, p) if _is_glob(p) else [p] if p in names else []):
                for st in s.routes[rn].stages:
                    if st.name == sn and st.mode != "choice":  # a choice runs one branch
                        st.mode = "parallel"
                found = True
        if not found:
            known = [st.name for rn in rnames for st in s.routes[rn].stages]
            raise ReformError(f"no stage matches '{p}' in route(s) {', '.join(rnames)} "
                              f"{_known(known)}")


@reform("regional_assessment", "区域评估 regional assessment",
        Arg("items", "names", help="assessment items a park's regional assessment covers"),
        Arg("share", "probability", 0.17, "share of projects in assessed parks (SEED-derived: "
            "197 projects used regional assessments, of about 1,130 new projects in H1 -- "
            "566 key and, ASSUMPTION, as many ordinary)"),
        Arg("attribute", "name", None, "a true-or-false case attribute (in a park): the "
            "projects with it skip the items, case by case (share is then not used)"),
        aliases=("区域评估",))
def regional_assessment(s: Scenario, items: Sequence[str], share: float,
                        attribute: str | None = None) -> None:
    """Skip assessment items for projects in parks that have a regional assessment (区域评估).

    A project in an assessed park reuses the park's assessment: it neither prepares the
    report (applicant time and cost) nor queues for the approval. Where the selected
    items make up whole stages, the stage's ``probability`` is multiplied by (1 - share),
    so one draw per project skips them all together (exact). Items that share a stage with
    unselected ones get ``skip_probability`` 1 - (1 - skip)(1 - share) instead, drawn item
    by item (the share skipping all of them together is then smaller than ``share``).
    With a ``[costs]`` section, the applicant saves the skipped items' ``intermediary``
    cost (the assessment report) and fees, and the government their review hours.

    With ``attribute`` (a true-or-false case attribute every class declares, e.g.
    ``in_park``), the projects that have it skip the items and the others run them: each
    item's ``when`` becomes ``not ATTRIBUTE`` (and its own condition, if it had one).
    """
    names = set(select("item", s.items, items))
    if attribute is not None:
        lacking = [c for c, cls in s.classes.items() if attribute not in cls.attributes
                   or cls.attributes[attribute].probability is None]
        if lacking:
            raise ReformError(f"attribute '{attribute}' is not a true-or-false attribute of "
                              f"class(es) {', '.join(lacking)}")
        for n in sorted(names):
            it = s.items[n]
            it.when = f"not {attribute}" if it.when is None else \
                f"({it.when}) and not {attribute}"
        return
    whole: set[str] = set()
    for route in s.routes.values():
        for st in route.stages:
            if set(st.items) <= names:
                st.probability = st.probability * (1.0 - share)
                whole |= set(st.items)
    for n in names - whole:
        it = s.items[n]
        it.skip_probability = 1.0 - (1.0 - it.skip_probability) * (1.0 - share)
