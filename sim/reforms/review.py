"""Review reforms: how an item's submission is accepted and checked -- conditional
acceptance (``conditional``, 容缺受理), commitment-based approval with later audits
(``commitment``, 告知承诺制) and finishing at the window (``handle_at_once``, 马上办)."""

from __future__ import annotations

from collections.abc import Sequence

from sim.errors import ReformError
from sim.model.distributions import family
from sim.model.schema import Scenario
from sim.reforms.catalogue import Arg, _known, reform, select
from sim.reforms.helpers import _item_q, scale_dist

# --------------------------------------------------------------------------- review reforms


def _attribute_arg(what: str) -> Arg:
    return Arg("attribute", "name", None, "a true-or-false case attribute (in a park): only "
               f"the cases with it get {what}; the others keep the item as it was")


def split_by_attribute(s: Scenario, names: Sequence[str], attribute: str) -> list[str]:
    """Each item in two on its station: the original for the cases without a
    true-or-false ``attribute`` (``when`` gains ``not ATTRIBUTE``) and a copy
    ``ITEM_ATTRIBUTE`` for those with it, right after it in every stage (branch) that lists
    it, so each case runs exactly one of them where the item was. The copy takes the
    item's costs and its place in the attributes' scales; its random numbers are its own
    stream's (common random numbers hold for the other cases). Returns the copies."""
    lacking = [c for c, cls in s.classes.items() if attribute not in cls.attributes
               or cls.attributes[attribute].probability is None]
    if lacking:
        raise ReformError(f"attribute '{attribute}' is not a true-or-false attribute of "
                          f"class(es) {', '.join(lacking)}")
    copies: dict[str, str] = {}
    for n in names:
        c = f"{n}_{attribute}"
        if c in s.items:
            raise ReformError(f"item '{n}' is split by '{attribute}' already (or '{c}' is "
                              "taken)")
        it = s.items[n]
        copy = it.model_copy(deep=True)
        copy.when = attribute if it.when is None else f"({it.when}) and {attribute}"
        it.when = f"not {attribute}" if it.when is None else f"({it.when}) and not {attribute}"
        if it.label:
            copy.label = f"{it.label} ({attribute})"
        if it.label_zh:
            copy.label_zh = f"{it.label_zh}（{attribute}）"
        s.items[c] = copy
        copies[n] = c
        if s.costs is not None and n in s.costs.items:
            s.costs.items[c] = s.costs.items[n].model_copy()
    for route in s.routes.values():
        route.stages = [st for st in (st.with_items(lambda its: [
            x for n in its for x in ((n, copies[n]) if n in copies else (n,))])
            for st in route.stages) if st is not None]
    for cls in s.classes.values():
        for a in cls.attributes.values():
            for sc in a.scale:
                if sc.items is not None and any(n in copies for n in sc.items):
                    sc.items = [*sc.items, *(copies[n] for n in sc.items if n in copies)]
    return list(copies.values())


@reform("conditional", "容缺受理 conditional acceptance",
        Arg("items", "names", ("*",), "items accepted with minor materials missing"),
        Arg("deadline_days", "float", None, "calendar days the applicant has to supply "
            "what is missing (default: the item's supplement_deadline_days, 10)", lo=0.0),
        _attribute_arg("conditional acceptance"),
        aliases=("容缺受理", "conditional_acceptance"))
def conditional(s: Scenario, items: Sequence[str], deadline_days: float | None,
                attribute: str | None = None) -> None:
    """Accept deficient submissions and let the fix run in parallel (容缺受理).

    A deficient submission of a selected item is accepted: the item goes on, and the
    applicant's fix runs alongside, due before its stage ends. A fix that takes longer
    than ``deadline_days`` cannot be deferred: that share of cases falls back to ordinary
    rework (the applicant fixes and resubmits), so the mechanism fails for a few.

    With ``attribute`` (a true-or-false case attribute every class declares), only the
    cases with it are accepted conditionally: each item is split in two
    (:func:`split_by_attribute`) and the copy ``ITEM_ATTRIBUTE`` is reformed.
    """
    names = select("item", s.items, items)
    if attribute is not None:
        names = split_by_attribute(s, names, attribute)
    for n in names:
        s.items[n].conditional = True
        if deadline_days is not None:
            s.items[n].supplement_deadline_days = deadline_days


@reform("commitment", "告知承诺制 commitment-based approval",
        Arg("items", "names", help="items approved on the applicant's written commitment"),
        Arg("check_hours", "float", 0.5, "mean working hours of the short check that "
            "replaces the review (ASSUMPTION: half an hour; never more than the review)",
            lo=0.0, lo_open=True),
        Arg("audit_probability", "probability", 0.1, "share of approvals audited afterwards "
            "(ASSUMPTION: 10% random inspection, 双随机)"),
        Arg("audit_hours", "float", None, "mean working hours of an audit (default: the "
            "review it replaces)", lo=0.0, lo_open=True),
        Arg("audit_station", "name", None, "station whose staff audit (default: the item's "
            "own)"),
        Arg("revoke", "probability", None, "share of audits that revoke the approval "
            "(default: the item's first-submission deficiency probability before the "
            "reform -- the audit finds what a review would have)"),
        _attribute_arg("commitment-based approval"),
        aliases=("告知承诺制", "promise"))
def commitment(s: Scenario, items: Sequence[str], check_hours: float, audit_probability: float,
               audit_hours: float | None, audit_station: str | None,
               revoke: float | None, attribute: str | None = None) -> None:
    """Replace review by a short check of a commitment; audit a random share later (告知承诺制).

    The item's service keeps its shape with its mean cut to ``check_hours`` (never raised),
    with no government lag after it (no expert panel or notice); the check accepts the
    commitment, so the submission is not sent back for missing materials (deficiency 0).
    After the case completes, ``audit_probability`` of approvals are audited: an audit
    takes inspectors' time at ``audit_station`` (by default the review's own time, at the
    item's station) and revokes ``revoke`` of those audited.

    With ``attribute`` (a true-or-false case attribute every class declares, e.g.
    ``in_park``), only the cases with it are approved on commitment: each item is split
    in two (:func:`split_by_attribute`), the copy ``ITEM_ATTRIBUTE`` reformed, the
    original reviewed as before for the others.
    """
    if audit_station is not None and audit_station not in s.stations:
        raise ReformError(f"station '{audit_station}' does not exist {_known(s.stations)}")
    names = select("item", s.items, items)
    if attribute is not None:
        names = split_by_attribute(s, names, attribute)
    for n in names:
        it = s.items[n]
        review = it.service
        f = family(review)
        p_def = 1.0 - (1.0 - _item_q(s, it)) ** it.materials
        it.service = scale_dist(review, min(check_hours, f.mean) / f.mean)
        it.lag = None
        it.deficiency_per_material = 0.0
        it.conditional = False
        if audit_probability > 0:
            it.audit_station = audit_station or it.station
            it.audit_service = (review if audit_hours is None
                                else scale_dist(review, audit_hours / f.mean))
            it.revoke_probability = p_def if revoke is None else revoke
        it.audit_probability = audit_probability


@reform("handle_at_once", "马上办 handle at once",
        Arg("items", "names", help="items finished at the window in one visit"),
        Arg("station", "name", None, "the front-window station that does it (default: the "
            "item's own)"),
        Arg("service_hours", "float", None, "mean working hours at the window (default: the "
            "item's service)", lo=0.0, lo_open=True),
        aliases=("马上办", "at_once"))
def handle_at_once(s: Scenario, items: Sequence[str], station: str | None,
                   service_hours: float | None) -> None:
    """Finish items at the window in one visit (马上办).

    The clerk at ``station`` checks the materials on the spot and completes the item while
    the applicant waits: the submission is never sent back (deficiency 0, so one visit and
    no rework) and no back-office step follows (no government lag). ``service_hours`` sets
    the window time.
    """
    if station is not None and station not in s.stations:
        raise ReformError(f"station '{station}' does not exist {_known(s.stations)}")
    for n in select("item", s.items, items):
        it = s.items[n]
        if station is not None:
            it.station = station
        if service_hours is not None:
            it.service = scale_dist(it.service, service_hours / family(it.service).mean)
        it.deficiency_per_material = 0.0
        it.conditional = False
        it.lag = None
