"""Item reforms: abolish items (``cut_items``), merge them (``merge_items``) or bundle
them into one submission (``one_go``) -- both through :func:`_combine` -- and cut the
materials they ask for (``cut_materials``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sim.errors import ReformError, format_value
from sim.model.assembly import build
from sim.model.distributions import family
from sim.model.schema import Dist, Item, ItemCost, Scenario
from sim.reforms.catalogue import Arg, _known, reform, select
from sim.reforms.helpers import _dist_hours, _item_q, _moments, _stations_used, expected_work
from sim.reforms.rota import move_staff

# --------------------------------------------------------------------------- item reforms


@reform("cut_items", "取消审批事项 cut approval items",
        Arg("items", "names", help="items to abolish"),
        aliases=("cut",))
def cut_items(s: Scenario, items: Sequence[str]) -> None:
    """Abolish items: they leave every route and the scenario.

    A stage left with no items is dropped; a route left with no stage is an error. The
    stations keep their staff (the work they no longer do is the reform's gain), and the
    other items keep their names and random numbers.
    """
    names = select("item", s.items, items)
    for rname, route in s.routes.items():
        stages = []
        for st in route.stages:
            try:
                kept = st.with_items(lambda its: [n for n in its if n not in names])
            except ValueError as exc:
                raise ReformError(str(exc)) from None
            if kept is not None:
                stages.append(kept)
        if not stages:
            raise ReformError(f"would leave route '{rname}' with no items")
        route.stages = stages
    for n in names:
        del s.items[n]
        if s.costs is not None:
            s.costs.items.pop(n, None)  # the fee and the intermediary go with the item


def _combine(s: Scenario, items: Sequence[str], name: str | None, station: str | None,
             delay: str, staff: bool, what: str) -> None:
    names = select("item", s.items, items)
    if len(names) < 2:
        raise ReformError(f"items must name at least two items to {what} (got "
                          f"{format_value('+'.join(names))})")
    target = name or names[0]
    if target in s.items and target not in names:
        raise ReformError(f"name '{target}' is taken by an item that is not {what}d")
    its = [s.items[n] for n in names]
    st_name = station or its[0].station
    if st_name not in s.stations:
        raise ReformError(f"station '{st_name}' does not exist {_known(s.stations)}")

    # where the items are: every route that uses one uses all, in stages of one probability
    all_in_one_parallel_stage = False
    for rname, route in s.routes.items():
        present = [n for st in route.stages for n in st.items if n in names]
        if not present:
            continue
        missing = [n for n in names if n not in present]
        if missing:
            raise ReformError(f"route '{rname}' uses {', '.join(present)} but not "
                              f"{', '.join(missing)}: a merged item must replace the same "
                              "items in every route")
        stages = [st for st in route.stages if any(n in names for n in st.items)]
        if len({st.probability for st in stages}) > 1:
            raise ReformError(f"items {', '.join(names)} sit in stages of route '{rname}' "
                              "with different probabilities; a case would do work it skipped")
        all_in_one_parallel_stage = len(stages) == 1 and stages[0].mode == "parallel"

    model = build(s, warn=False)
    # staff follow the work they did (expected service hours, rework included)
    moves: dict[str, int] = {}
    if staff:
        work = expected_work(s, model)
        for donor in {it.station for it in its} - {st_name}:
            total = sum(w for n, w in work.items() if s.items[n].station == donor)
            moved = sum(work[n] for n in names if s.items[n].station == donor)
            servers = s.stations[donor].servers
            k = round(servers * moved / total) if total > 0 else 0
            others = any(it.station == donor for n, it in s.items.items() if n not in names)
            moves[donor] = k if others else servers

    # the merged item
    keep = [1.0 - it.skip_probability for it in its]
    p_run = 1.0 - math.prod(it.skip_probability for it in its)
    if p_run <= 0.0:  # every item is always skipped: weigh them equally
        keep, p_run = [1.0] * len(its), 1.0
    means_vars = [_moments(it.service) for it in its]
    mean = sum(k * m for k, (m, _) in zip(keep, means_vars, strict=True)) / p_run
    var = sum(k * v for k, (_, v) in zip(keep, means_vars, strict=True)) / p_run
    materials = sum(it.materials for it in its)
    delays = [it.delay for it in its if it.delay is not None]
    new_delay: Dist | None = None
    if delays and delay == "longest":
        new_delay = max(delays, key=lambda d: _moments(d)[0])
    elif delays:
        mv = [_moments(d) for d in delays]
        new_delay = _dist_hours(sum(m for m, _ in mv), sum(v for _, v in mv))
    lags = [(model.item_lag[model.item_names.index(n)], it.lag) for n, it in zip(
        names, its, strict=True) if it.lag is not None]
    new_lag: Dist | None = None
    if lags and delay == "longest":
        new_lag = max(lags, key=lambda fl: fl[0].mean if fl[0] else 0.0)[1]
    elif lags:  # working hours of the merged item's station
        new_lag = _dist_hours(sum(f.mean for f, _ in lags if f),
                              sum(f.variance for f, _ in lags if f))
    qs = [_item_q(s, it) for it in its]
    if len(set(qs)) == 1 or materials == 0:
        q: float | None = its[0].deficiency_per_material
    else:
        q = 1.0 - math.exp(sum(it.materials * math.log1p(-min(qi, 1 - 1e-15))
                               for it, qi in zip(its, qs, strict=True)) / materials)
    fixes = [(family(it.fix if it.fix is not None else s.rework.fix).mean, k, it.fix)
             for k, it in enumerate(its)]
    new_fix = max(fixes, key=lambda t: (t[0], -t[1]))[2]
    limits = [it.limit_workdays for it in its if it.limit_workdays is not None]
    limit = (max(limits) if all_in_one_parallel_stage else sum(limits)) if limits else None
    audited = max(its, key=lambda it: it.audit_probability)
    depts = list(dict.fromkeys(it.department for it in its if it.department))
    merged = Item(
        station=st_name, service=_dist_hours(mean, var), materials=materials,
        limit_workdays=limit, delay=new_delay, lag=new_lag,
        online=all(it.online for it in its),
        skip_probability=1.0 - p_run, deficiency_per_material=q, fix=new_fix,
        conditional=all(it.conditional for it in its),
        supplement_deadline_days=min(it.supplement_deadline_days for it in its),
        audit_probability=1.0 - math.prod(1.0 - it.audit_probability for it in its),
        audit_station=audited.audit_station if audited.audit_probability > 0 else None,
        audit_service=audited.audit_service if audited.audit_probability > 0 else None,
        revoke_probability=audited.revoke_probability if audited.audit_probability > 0 else 0.0,
        department=" + ".join(depts),
        note=f"{what}d from {', '.join(names)}",
    )

    # the routes: the merged item takes the place of the first item listed
    for route in s.routes.values():
        stages = []
        for st in route.stages:
            try:
                kept = st.with_items(lambda its: [target if n == names[0] else n for n in its
                                                  if n == names[0] or n not in names])
            except ValueError as exc:
                raise ReformError(str(exc)) from None
            if kept is not None:
                stages.append(kept)
        route.stages = stages
    s.items = {(target if n == names[0] else n): (merged if n == names[0] else it)
               for n, it in s.items.items() if n == names[0] or n not in names}
    if s.costs is not None:
        _combine_costs(s, names, target, keep, p_run)
    used = _stations_used(s)
    for donor, k in moves.items():
        servers = s.stations[donor].servers
        k = k if donor not in used else min(k, servers - 1)
        if k <= 0:
            continue
        # the servers move with their rota (sim/reforms/rota.py)
        move_staff(s.stations[donor], s.stations[st_name], k, closes=k >= servers)
        if k >= servers:
            del s.stations[donor]
            if s.costs is not None:
                s.costs.stations.pop(donor, None)


def _combine_costs(s: Scenario, names: Sequence[str], target: str, keep: Sequence[float],
                   p_run: float) -> None:
    """The merged item's fee and intermediary cost: what the items cost a case on average
    (each weighed by its chance to run, like the service time), so that merging moves no
    money by itself."""
    assert s.costs is not None
    costs = [s.costs.items.pop(n, None) for n in names]
    if all(c is None for c in costs):
        return
    fee = sum(k * c.fee for k, c in zip(keep, costs, strict=True) if c is not None) / p_run
    inter = sum(k * c.intermediary for k, c in zip(keep, costs, strict=True)
                if c is not None) / p_run
    s.costs.items[target] = ItemCost(fee=fee, intermediary=inter,
                                     note=f"from {', '.join(names)}")


_COMBINE_ARGS = (
    Arg("name", "name", None, "name of the merged item (default: the first item's, which "
        "keeps its random numbers)"),
    Arg("station", "name", None, "station that serves it (default: the first item's)"),
    Arg("delay", "choice", "longest", "waits: the longest of the items' applicant delays "
        "(materials prepared at once) and government lags (run side by side), or their sums",
        choices=("longest", "sum")),
    Arg("staff", "bool", True, "move staff with the work: each other station gives the "
        "merged item's station its share of servers for the work moved"),
)


@reform("merge_items", "事项合并 merge items into one",
        Arg("items", "names", help="items to merge (at least two); the first names the result"),
        *_COMBINE_ARGS, aliases=("merge", "合并"))
def merge_items(s: Scenario, items: Sequence[str], name: str | None, station: str | None,
                delay: str, staff: bool) -> None:
    """Replace several items by one that pools their work and materials.

    The merged item takes the place (and by default the name) of the first item listed,
    in every route; the others leave the routes. It is served at the first item's station
    (or ``station``) with a gamma service whose mean is the items' expected work,
    sum((1 - skip_i) mean_i) / (1 - prod skip_i) -- the plain sum when no item is
    skippable -- and whose variance pools theirs likewise. It has the sum of their
    materials (one submission, one rework loop), their combined deficiency
    (prod (1 - q_i)^m_i), the longest of their fix times, the sum of their statutory limits
    (the largest when they were parallel branches of one stage), the longest applicant
    delay and the longest government lag (``delay=sum`` adds them), and it is skipped only
    when every item would have been (prod skip_i). It is online / conditional only if all
    of them were; audits combine. With ``staff=true`` each other station hands over
    servers in proportion to the expected work it loses (a station left with no work hands
    over all and closes); the servers take their rota with them (a schedule's entries:
    :mod:`sim.reforms.rota`), so the staff on duty at every hour add up as before.
    Every route that uses one of the items must use all, in stages of one probability.
    """
    _combine(s, items, name, station, delay, staff, "merge")


@reform("one_go", "一件事一次办 one thing, one go: bundle items into one submission",
        Arg("items", "names", help="items to bundle (at least two); the first names the "
            "bundle"),
        *_COMBINE_ARGS, aliases=("one_thing_one_go", "一件事一次办", "一件事"))
def one_go(s: Scenario, items: Sequence[str], name: str | None, station: str | None,
           delay: str, staff: bool) -> None:
    """Bundle several items into one submission and one queue (一件事一次办).

    The applicant prepares one package (the longest of the items' preparations) and
    submits it once to one queue -- the first item's station, or ``station`` (a one-stop
    window) -- where the bundle's work is done as one service; one check of the pooled
    materials, one rework loop. In this model that is the same transformation as
    ``merge_items`` (see it for the exact rules); the two names keep the policy language:
    a merge abolishes items, a bundle keeps them as one package.
    """
    _combine(s, items, name, station, delay, staff, "bundle")


@reform("cut_materials", "精简申报材料 cut application materials",
        Arg("total", "int", None, "materials over the selected items after the cut "
            "(default 145, the seed's figure, when factor is not given)", lo=0),
        Arg("factor", "float", None, "multiply each item's materials by this instead",
            lo=0.0, hi=1.0),
        Arg("items", "names", ("*",), "items whose materials are cut"),
        aliases=("materials", "精简材料"))
def cut_materials(s: Scenario, total: int | None, factor: float | None,
                  items: Sequence[str]) -> None:
    """Cut the number of materials each item asks for; rework falls through the materials model.

    A submission is deficient with probability 1 - (1 - q)^materials, so fewer materials
    mean fewer deficient submissions, fewer rework rounds and less rework load at the
    stations. ``total=N`` scales the selected items' materials in proportion so that they
    add up to exactly N (largest remainders; no item gains a material); ``factor=f``
    multiplies each count by f and rounds. Without either, ``total=145`` (the seed: 500+
    materials cut to 145). A total above the current one is an error: this reform only cuts.
    """
    if total is not None and factor is not None:
        raise ReformError("give total or factor, not both")
    names = select("item", s.items, items)
    counts = [s.items[n].materials for n in names]
    have = sum(counts)
    if factor is not None:
        new = [math.floor(m * factor + 0.5) for m in counts]
    else:
        target = 145 if total is None else total
        if target > have:
            raise ReformError(f"total={target} is more than the {have} materials the selected "
                              "items ask for now: a cut cannot add materials")
        if have == 0:
            new = counts
        else:
            exact = [m * target / have for m in counts]
            new = [math.floor(x) for x in exact]
            order = sorted(range(len(names)), key=lambda k: (-(exact[k] - new[k]), k))
            for k in order[: target - sum(new)]:
                new[k] += 1
    for n, m in zip(names, new, strict=True):
        s.items[n].materials = m
