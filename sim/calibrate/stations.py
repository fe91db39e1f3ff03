"""Resources -> stations: pools of staff grouped by what they do.

Each item has a resource profile (the share of its events each resource did). Items with
the same main resource (the one doing most of their events) share a station, and so do
two items whose profiles overlap by at least ``OVERLAP`` (histogram intersection: the sum
over resources of the smaller share), transitively. Each resource then
belongs to the station where most of its events are; a station's servers are its
resources active in the training window (with start events: the most services each
resource ran at once, summed, so a log whose resource is a whole office still counts its
staff).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calibrate.view import View, sanitize

OVERLAP = 0.9


@dataclass
class Pool:
    name: str
    items: list[str]
    resources: list[str]
    servers: int
    events: int
    text: str


def _concurrency(ev: pd.DataFrame) -> int:
    """The most intervals [start, end) of ``ev`` open at once."""
    s = ev["hour_start"].to_numpy()
    e = ev["hour"].to_numpy()
    ok = np.isfinite(s)
    if not ok.any():
        return 1
    t = np.concatenate([s[ok], e[ok]])
    d = np.concatenate([np.ones(ok.sum()), -np.ones(ok.sum())])
    order = np.lexsort((d, t))  # ends before starts at one instant
    return max(1, int(np.cumsum(d[order]).max()))


def pools(view: View, items: dict[str, str]) -> tuple[list[Pool], dict[str, str]]:
    """The stations and each item's station (item name -> pool name)."""
    ev = view.events
    act_item = {a: n for n, a in items.items()}
    sub = ev[ev["activity"].isin(set(act_item))].copy()
    sub["item"] = sub["activity"].map(act_item)
    staffed = sub[sub["resource"].notna()]
    counts = staffed.groupby(["item", "resource"]).size().unstack(fill_value=0)
    share = counts.div(counts.sum(axis=1), axis=0)
    names = [n for n in items if n in share.index]
    parent = {n: n for n in items}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    top = share.loc[names].idxmax(axis=1) if names else pd.Series(dtype=object)
    first_of: dict[str, str] = {}
    for n in names:  # items with the same main resource share a station
        r = str(top[n])
        if r in first_of:
            parent[root(n)] = root(first_of[r])
        else:
            first_of[r] = n
    mat = share.loc[names].to_numpy()
    for i in range(len(names)):
        inter = np.minimum(mat[i][None, :], mat[i + 1:]).sum(axis=1)
        for k in np.flatnonzero(inter >= OVERLAP):
            a, b = root(names[i]), root(names[i + 1 + int(k)])
            if a != b:
                parent[b] = a
    groups: dict[str, list[str]] = {}
    for n in items:  # route order
        groups.setdefault(root(n), []).append(n)
    group_of = {n: root(n) for n in items}
    # each resource in the group where most of its events are
    by_group = staffed.assign(g=staffed["item"].map(group_of)).groupby(["resource", "g"]).size()
    home = by_group.groupby(level=0).idxmax().map(lambda t: t[1]) if len(by_group) else \
        pd.Series(dtype=object)
    taken: set[str] = set()
    out: list[Pool] = []
    station_of: dict[str, str] = {}
    if view.has_starts:
        sub["hour_start"] = view.hours(sub["start"])
    for num, (g, members) in enumerate(groups.items(), start=1):
        res = sorted(str(r) for r in home.index[home == g])
        mine = staffed[staffed["item"].isin(set(members))]
        n_ev = len(mine)
        if view.has_starts and res:
            servers = sum(_concurrency(sub[(sub["resource"] == r) & sub["item"].isin(
                set(members))]) for r in res)
            how = (f"{len(res)} resource(s), the most services each ran at once summed "
                   f"(start events): {servers}")
        else:
            servers = max(1, len(res))
            how = (f"{len(res)} distinct resources active in the training window whose "
                   f"events are mostly here" if res else
                   "no resource has most of its events here (or the log names none): 1 "
                   "server assumed")
        label = res[0] if len(res) == 1 else f"pool_{num}"
        if not label[0].isalpha():
            label = f"staff_{label}"
        name = sanitize(label, taken)
        for n in members:
            station_of[n] = name
        shown = ", ".join(members[:6]) + (", ..." if len(members) > 6 else "")
        text = (f"items {shown} ({len(members)}) share their main resource (or profiles "
                f"overlapping >= {OVERLAP:g}); {how}")
        out.append(Pool(name, members, res, servers, n_ev, text))
    return out, station_of
