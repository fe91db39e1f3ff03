"""Cases that end without a decision (withdrawn, terminated on request, suspended for good)
as a second class on its own route.

A log holds cases that never reach a decision activity. Some are only cut off by the log's
end; the others ended without one. The share that ended so is measured on the *mature*
training cases, those started at least :data:`MATURE_DAYS` before the log's last event
(nearly every case that will be decided is decided by then: BPIC15_1's P90 is 160 days).
The arrivals are split by that share: ``applications`` (decided) follow the main route;
``withdrawn`` follow a copy of it without the decision items, each stage taken with the
probability that its items occur in the mature undecided cases. An item's own skip
probability (measured on the decided cases) applies on both routes, so a stage's
probability is the undecided cases' presence share divided by the item's presence share
(capped at 1: the schema's one skip per item cannot be made more likely on one route).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sim.calibrate.view import View
from sim.model.schema import CaseClass, Item, Route, Stage

#: a case started this many days before the log's last event has had time to be decided
MATURE_DAYS = 365
#: below this share (or with fewer mature cases) no second class is made
MIN_SHARE, MIN_CASES = 0.02, 30


@dataclass
class Withdrawn:
    share: float          #: of the mature training cases, ended without a decision
    mature: int           #: mature training cases
    undecided: int        #: of them, without a decision
    case_class: CaseClass
    route: Route
    text: str


def withdrawn(view: View, decision: list[str], main: Route, items: dict[str, Item],
              cc: CaseClass) -> Withdrawn | None:
    """The withdrawn class and its route, or None (no decision named, too few cases)."""
    if not decision:
        return None
    first = view.cases["first"].dt.tz_convert(view.zone).dt.date
    cutoff = view.log_end - dt.timedelta(days=MATURE_DAYS)
    mature = set(view.cases.index[(first <= cutoff).to_numpy()])
    if len(mature) < MIN_CASES:
        return None
    ev = view.events
    decided = set(ev.loc[ev["activity"].isin(set(decision)), "case"])
    undecided = mature - decided
    share = len(undecided) / len(mature)
    if share < MIN_SHARE or not undecided:
        return None
    mine = ev[ev["case"].isin(undecided)]
    presence = (mine.groupby("activity")["case"].nunique() / len(undecided)).to_dict()
    stages = []
    for stage in main.stages:
        kept = [i for i in stage.items if items[i].activity not in decision]
        if not kept:
            continue
        p = max(float(presence.get(items[i].activity, 0.0))
                / max(1e-9, 1.0 - items[i].skip_probability) for i in kept)
        p = float(f"{min(1.0, p):.4g}")
        if p < 0.005:
            continue
        stages.append(Stage(name=stage.name, mode=stage.mode if len(kept) > 1 else
                            "sequential", items=kept, probability=p))
    if not stages:
        return None
    text = (f"{len(undecided)} of the {len(mature)} training cases started at least "
            f"{MATURE_DAYS} days before the log's last event ({view.log_end}) reached no "
            f"decision activity ({', '.join(decision)}): {share:.1%} of the arrivals end "
            f"without a decision")
    route = Route(stages=stages, note="the main route without its decision items; each "
                  "stage with the probability that its items occur in the mature cases "
                  "that ended without a decision")
    assert cc.rate is not None  # a calibrated class has a rate
    wc = cc.model_copy(update={"rate": float(f"{cc.rate * share:.6g}"), "route": "withdrawn",
                               "note": text})
    return Withdrawn(share, len(mature), len(undecided), wc, route, text)

