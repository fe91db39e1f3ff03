"""Routes as flat arrays (CSR style: route -> stages -> items), with each choice stage's
branches (docs/model.md, "Cases" and "Paths and branches"): a part of
:func:`sim.model.assembly.build`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.model.attributes import Node, parse_condition
from sim.model.schema import Scenario

# stage modes
SEQUENTIAL, PARALLEL = 0, 1

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Choice:
    """What a choice stage chooses between (docs/model.md, "Paths and branches")."""

    path: int  # its column in Model.path_names
    code: tuple[int, ...]  # per branch: its name's index in Model.path_labels[path]
    cum: F64 | None  # by probability: the cumulative probabilities in branch order
    when: tuple[Node | None, ...]  # by condition: per branch (the last None: otherwise)
    item_branch: I64  # per item of the stage (its places in stage_items): its branch


@dataclass(frozen=True)
class RoutePlan:
    """The routes of a scenario, flat (the arrays :class:`~sim.model.assembly.Model` keeps)."""

    route_stage_ptr: I64
    route_limit_workdays: F64
    stage_names: tuple[str, ...]
    stage_mode: I64
    stage_item_ptr: I64
    stage_items: I64
    stage_probability: F64
    stage_seg_end: I64
    stage_choice: tuple[Choice | None, ...]
    path_names: tuple[str, ...]
    path_labels: tuple[tuple[str, ...], ...]


def flatten_routes(s: Scenario, it_index: dict[str, int]) -> RoutePlan:
    """Every route of ``s`` in route order, its stages and their items as indices."""
    r_names = list(s.routes)
    items = [s.items[n] for n in s.items]
    stage_ptr = [0]
    stage_names: list[str] = []
    stage_mode: list[int] = []
    stage_item_ptr = [0]
    stage_items: list[int] = []
    stage_prob: list[float] = []
    seg_end: list[int] = []
    choices: list[Choice | None] = []
    path_names: list[str] = []
    path_labels: list[list[str]] = []
    r_limit: list[float] = []
    for rn in r_names:
        route = s.routes[rn]
        total = 0.0
        for st in route.stages:
            stage_names.append(f"{rn}/{st.name}")
            stage_mode.append(PARALLEL if st.mode == "parallel" else SEQUENTIAL)
            idx = [it_index[n] for n in st.items]
            p0 = len(stage_items)
            stage_items.extend(idx)
            stage_item_ptr.append(len(stage_items))
            stage_prob.append(st.probability)
            groups = ([list(b.items) for b in st.branches] if st.branches is not None else
                      [[n] for n in st.items] if st.mode == "parallel" else [list(st.items)])
            at = p0
            for g in (groups if st.mode == "parallel" else [list(st.items)]):
                at += len(g)
                seg_end.extend([at] * len(g))
            if st.mode == "choice":
                assert st.branches is not None
                if st.name not in path_names:
                    path_names.append(st.name)
                    path_labels.append([])
                pc = path_names.index(st.name)
                lab = path_labels[pc]
                lab.extend(b.name for b in st.branches if b.name not in lab)
                by_prob = st.branches[0].probability is not None
                choices.append(Choice(
                    pc, tuple(lab.index(b.name) for b in st.branches),
                    np.cumsum([b.probability or 0.0 for b in st.branches]) if by_prob
                    else None,
                    tuple(parse_condition(b.when) if b.when is not None else None
                          for b in st.branches),
                    np.asarray([b for b, g in enumerate(groups) for _ in g], dtype=np.int64)))
            else:
                choices.append(None)
            limits = [sum(x for j in g if (x := items[it_index[j]].limit_workdays) is not None)
                      for g in groups
                      if any(items[it_index[j]].limit_workdays is not None for j in g)]
            if limits:  # a path's limits add up; branches (side by side, or one of): longest
                total += max(limits) if st.mode != "sequential" else sum(limits)
        stage_ptr.append(len(stage_names))
        r_limit.append(route.limit_workdays if route.limit_workdays is not None
                       else (total if total > 0 else math.nan))

    return RoutePlan(
        route_stage_ptr=np.asarray(stage_ptr, dtype=np.int64),
        route_limit_workdays=np.asarray(r_limit, dtype=np.float64),
        stage_names=tuple(stage_names),
        stage_mode=np.asarray(stage_mode, dtype=np.int64),
        stage_item_ptr=np.asarray(stage_item_ptr, dtype=np.int64),
        stage_items=np.asarray(stage_items, dtype=np.int64),
        stage_probability=np.asarray(stage_prob, dtype=np.float64),
        stage_seg_end=np.asarray(seg_end, dtype=np.int64),
        stage_choice=tuple(choices),
        path_names=tuple(path_names),
        path_labels=tuple(tuple(x) for x in path_labels),
    )
