"""Activities -> items, the route (stage order, parallel stages, skip probabilities) and
the loops (the missing-information request and its answer, activities that repeat).

- An activity is an item when it occurs in at least ``min_share`` of the training cases,
  unless it is folded into the rework loop (the request, the answer, and the activities
  that occur only inside request..answer windows).
- Order: the median relative position of each item's first occurrence in its cases.
- Two consecutive items form (or extend) a parallel stage when each strict order is seen
  in at least ``PARALLEL_SHARE`` of the cases holding both (equal stamps, or the same day
  where a stamp is date-only, are no evidence).
- skip_probability = 1 - the share of the reference cases (those that reached the
  decision, when one is named; else all training cases) that hold the item.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.calibrate.view import View, sanitize
from sim.logs.eventlog import LogError

PARALLEL_SHARE = 0.2
#: share of an activity's occurrences inside request..answer windows that folds it
FOLD_SHARE = 0.95
#: a repeat share (per occurrence) from which an item's own loop is modelled
REPEAT_SHARE = 0.02


@dataclass
class Loop:
    """The rework loop: request/answer activities and what they say."""

    request: str
    answer: str
    item_activity: str  # the activity most often just before a request
    requests: int
    answered: int
    cases_with: int
    fix_hours: np.ndarray
    folded: list[str]
    before_share: float


@dataclass
class Discovered:
    items: dict[str, str]  # item name -> activity
    order: list[str]  # item names in route order
    stages: list[list[str]]
    parallel_evidence: dict[tuple[str, str], tuple[int, int, int]]
    presence: dict[str, float]  # item -> share of reference cases holding it
    reference: str
    n_reference: int
    left_out: list[str]
    left_out_events: float
    repeats: dict[str, tuple[float, np.ndarray, int]] = field(default_factory=dict)
    loop: Loop | None = None


def check_activities(view: View, names: list[str], flag: str) -> None:
    """Every activity named by a flag exists in the log; a LogError otherwise."""
    have = set(view.events["activity"].unique())
    for a in names:
        if a not in have:
            near = sorted(have)[:8]
            raise LogError(view.source, f"{flag} {a!r}", "names no activity of the training "
                           f"cases (activities are e.g. {', '.join(map(repr, near))})")


def rework_loop(view: View, request: str, answer: str, candidates: set[str]) -> Loop:
    """Requests, their answers (the next answer after each request) and what folds in;
    the loop's item is the candidate activity most often last before a request."""
    ev = view.events
    t = ev["hour"].to_numpy()
    act = ev["activity"].to_numpy()
    case = ev["case"].to_numpy()
    fix: list[float] = []
    windows: list[tuple[str, float, float]] = []
    before: dict[str, int] = {}
    requests = 0
    prevs: list[list[str]] = []
    bounds = np.flatnonzero(np.r_[True, case[1:] != case[:-1], True])
    with_req = 0
    for a, b in itertools.pairwise(bounds):
        acts = act[a:b]
        if request not in acts:
            continue
        with_req += 1
        for i in np.flatnonzero(acts == request):
            requests += 1
            k = a + i
            nxt = np.flatnonzero(acts[i + 1:] == answer)
            if len(nxt):
                j = a + i + 1 + int(nxt[0])
                fix.append(t[j] - t[k])
                windows.append((case[k], t[k], t[j]))
            prev = [x for x in acts[:i][::-1] if x in candidates and x not in (request, answer)]
            prevs.append(prev)
    inside = pd.Series(0, index=pd.Index(np.unique(act)))
    if windows:
        w = pd.DataFrame(windows, columns=["case", "lo", "hi"])
        m = ev[["case", "activity", "hour"]].merge(w, on="case")
        hit = m[(m["hour"] > m["lo"]) & (m["hour"] < m["hi"])]
        inside = hit.groupby("activity").size()
    total = ev.groupby("activity").size()
    share = (inside.reindex(total.index).fillna(0) / total)
    req_cases = set(case[act == request])
    holders = ev.groupby("activity")["case"].agg(lambda c: len(set(c) & req_cases) / c.nunique())
    folded = [request, answer, *sorted(
        a for a in share.index if a not in (request, answer)
        and (share[a] >= FOLD_SHARE or holders[a] >= FOLD_SHARE))]
    fold_set = set(folded)
    for prev in prevs:  # the nearest candidate before each request that is not folded
        near = next((x for x in prev if x not in fold_set), None)
        if near is not None:
            before[near] = before.get(near, 0) + 1
    item_act = max(before, key=lambda k: before[k]) if before else ""
    bshare = before.get(item_act, 0) / max(1, requests)
    return Loop(request, answer, item_act, requests, len(fix), with_req,
                np.asarray(fix, dtype=float), folded, bshare)


def _evidence(first: pd.DataFrame, a: str, b: str) -> tuple[int, int, int]:
    """(cases holding both, a strictly before b, b strictly before a)."""
    x = first[[a, b]].dropna()
    if x.empty:
        return 0, 0, 0
    ta, tb = x[a].to_numpy(), x[b].to_numpy()
    da, db = first[f"{a}\0d"].loc[x.index].to_numpy(), first[f"{b}\0d"].loc[x.index].to_numpy()
    coarse = da | db  # a date-only stamp: compare days
    day_a, day_b = np.floor(ta / 24), np.floor(tb / 24)
    ab = np.where(coarse, day_a < day_b, ta < tb)
    ba = np.where(coarse, day_b < day_a, tb < ta)
    return len(x), int(ab.sum()), int(ba.sum())


def discover(view: View, *, min_share: float, decision: list[str],
             loop: Loop | None) -> Discovered:
    ev = view.events
    n = view.n_cases
    folded = set(loop.folded) if loop else set()
    per_act = ev.groupby("activity")["case"].nunique() / n
    keep = [a for a in per_act.index if per_act[a] >= min_share and a not in folded]
    if not keep:
        raise LogError(view.source, "", f"no activity occurs in >= {min_share:g} of the "
                       f"{n} training cases (the most common is in "
                       f"{per_act.max():.1%}); nothing to make an item of (lower --min-share)",
                       min_share)
    kept = ev["activity"].isin(set(keep)).to_numpy()
    left = sorted(set(per_act.index) - set(keep) - folded)
    left_events = float(np.mean(~kept & ~ev["activity"].isin(folded).to_numpy()))
    taken: set[str] = set()
    names = {a: sanitize(a, taken) for a in sorted(keep)}
    sub = ev[kept]
    # first occurrence of each kept activity per case, its rank among the case's firsts
    firsts = sub.groupby(["case", "activity"], sort=False).head(1)
    rank = firsts.groupby("case").cumcount()
    size = firsts.groupby("case")["activity"].transform("size")
    rel = np.where(size > 1, rank / (size - 1).clip(lower=1), 0.5)
    pos = pd.DataFrame({"activity": firsts["activity"].to_numpy(), "rel": rel,
                        "rank": rank.to_numpy()})
    med = pos.groupby("activity")["rel"].agg(["median", "mean"])
    order_acts = list(med.sort_values(["median", "mean"]).index)
    # strict-order evidence between consecutive items
    wide = firsts.pivot(index="case", columns="activity", values="hour")
    dwide = firsts.assign(d=~firsts["timed"].to_numpy(dtype=bool)) \
        .pivot(index="case", columns="activity", values="d")
    for a in order_acts:
        wide[f"{a}\0d"] = dwide[a].eq(True)  # NaN (no such event): False
    stages: list[list[str]] = []
    evidence: dict[tuple[str, str], tuple[int, int, int]] = {}
    for a in order_acts:
        if stages:
            prev = stages[-1]
            ok = True
            for b in (prev[-1], prev[0]) if len(prev) > 1 else (prev[-1],):
                both, ab, ba = _evidence(wide, b, a)
                evidence[(names[b], names[a])] = (both, ab, ba)
                if both == 0 or min(ab, ba) < PARALLEL_SHARE * both:
                    ok = False
            if ok:
                prev.append(a)
                continue
        stages.append([a])
    # presence among the reference cases
    if decision:
        dec_cases = set(ev.loc[ev["activity"].isin(set(decision)), "case"])
        ref_name = f"the {len(dec_cases)} training cases that reached the decision"
    else:
        dec_cases = set(view.cases.index)
        ref_name = f"all {len(dec_cases)} training cases"
    if not dec_cases:
        dec_cases = set(view.cases.index)
        ref_name = f"all {len(dec_cases)} training cases (none reached the decision)"
    has = firsts[firsts["case"].isin(dec_cases)].groupby("activity")["case"].nunique()
    presence = {names[a]: float(has.get(a, 0)) / len(dec_cases) for a in keep}
    # self-repeats: occurrences beyond the first, per occurrence; gaps between repeats
    repeats: dict[str, tuple[float, np.ndarray, int]] = {}
    occ = sub.groupby("activity").size()
    holders = sub.groupby("activity")["case"].nunique()
    for a in keep:
        if loop is not None and a == loop.item_activity:
            continue
        p = float((occ[a] - holders[a]) / occ[a])
        if p >= REPEAT_SHARE:
            s = sub[sub["activity"] == a]
            same = s["case"].to_numpy()[1:] == s["case"].to_numpy()[:-1]
            gaps = np.diff(s["hour"].to_numpy())[same]
            repeats[names[a]] = (p, gaps, int(occ[a]))
    return Discovered(items={names[a]: a for a in order_acts},
                      order=[names[a] for a in order_acts],
                      stages=[[names[a] for a in st] for st in stages],
                      parallel_evidence=evidence, presence=presence, reference=ref_name,
                      n_reference=len(dec_cases), left_out=left, left_out_events=left_events,
                      repeats=repeats, loop=loop)
