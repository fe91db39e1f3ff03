"""All randomness of a replication, drawn once, before any engine runs.

Engines draw nothing: they consume an :class:`Inputs`. Every array is keyed so that
common random numbers hold case by case across scenarios:

* a case is identified by its class and its index in that class's arrival stream
  (``key``), not by its position in time, so changing one class's channel mix does
  not reshuffle the others;
* each item of each class has its own stream (a PCG64 generator seeded by
  ``SeedSequence(seed, spawn_key=(replication, Q_ITEM, class, item))``), read at fixed
  places: the number of quantity slot ``s`` (skip, delay, audit...; service, deficiency,
  fix, lag and patience have one slot per submission) for the case of key ``i`` is
  number ``s * SPAN + i`` of the stream, reached by jumping ahead (``advance``), not
  by drawing what lies before. So an item removed by a reform takes no numbers from the
  others, the first submission's numbers do not depend on how many resubmissions are
  allowed, and any range of cases can be drawn on its own (what the streaming engine
  does) with the numbers of the whole draw. A stage's and a class's channel choices
  have streams of their own, keyed the same way;
* uniforms are drawn first and turned into durations by the inverse CDF, so a reform
  that changes a mean maps the same uniform to the new duration.

Arrivals: a class with recorded arrivals brings its recorded times, replayed or
bootstrapped (see :func:`sim.arrivals._recorded_arrivals`); every other class brings Poisson(N)
cases over the arrival window, N its expected count. Each case has a point E in
[0, N) (sorted uniforms) and a channel; its arrival time maps E through the cumulative
intensity of its channel: window cases arrive only when the intake calendar is open,
online and proxy cases at any hour, both shaped by the optional weekday and hour-of-day
profiles. The same E keeps a case's place in
the stream whichever channel it takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.arrivals import ArrivalStream, arrival_stream
from sim.model.assembly import ONLINE, PROXY, WINDOW, Choice, Model
from sim.model.distributions import Family
from sim.streams import (
    Q_ATTRIBUTE,
    Q_ITEM,
    Q_PATH,
    Q_STAGE,
    S_AUDIT,
    S_AUDIT_SERVICE,
    S_DEFICIENT,
    S_DELAY,
    S_FIX,
    S_LAG,
    S_PATIENCE,
    S_REVOKE,
    S_SERVICE,
    S_SKIP,
    Stream,
    _h,
)

F64 = NDArray[np.float64]


@dataclass
class Inputs:
    """The drawn inputs of one replication; arrays over cases in arrival order.

    Shapes: ``n`` cases, ``J = model.n_items`` items, ``K`` submissions at most (1 when
    no item can be deficient). Arrays that carry nothing in a scenario (no reneging, no
    rework) are read-only broadcast views, so they cost no memory.

    Every uniform is drawn, but durations are computed (by the inverse CDF) only where
    a case can use them: a submission ``k`` of an item the case runs whose earlier
    submissions were all deficient (its service, lag and patience), the fix of such a
    submission if it is deficient and not the last, the delay of an item the case runs,
    the service of an audit that happens. Elsewhere they are 0 (patience: infinite).
    The values that are computed do not depend on which others are.
    """

    replication: int
    arrival: F64  # (n,) hours since the epoch, non-decreasing
    cls: NDArray[np.int64]  # (n,) class index
    channel: NDArray[np.int64]  # (n,) WINDOW / ONLINE / PROXY
    key: NDArray[np.int64]  # (n,) index of the case within its class's stream
    run_item: NDArray[np.bool_]  # (n, J) the case goes through this item
    visit: NDArray[np.bool_]  # (n, J) a submission of this item is an in-person visit
    delay: F64  # (n, J) applicant calendar hours before the first submission
    service: F64  # (n, J, K) working hours of the k-th submission's service
    deficient: NDArray[np.bool_]  # (n, J, K) the k-th submission is found deficient
    fix: F64  # (n, J, K) calendar hours the applicant takes to fix the k-th submission
    patience: F64  # (n, J, K) calendar hours the case waits in queue before giving up
    audit: NDArray[np.bool_]  # (n, J) an audit visit follows the case's completion
    audit_service: F64  # (n, J) working hours of that audit
    revoked: NDArray[np.bool_]  # (n, J) the audit revokes the approval
    # (n, J, K) working hours of government lag after the k-th service (default: none)
    lag: F64 = field(default_factory=lambda: np.zeros((0, 0, 0)))
    # (n, A + P) case attributes' values (sim.model.attrmodel; NaN: the class has not the
    # one), then the branch each case took at each of the P choice stages (the index of its
    # name in model.path_labels; NaN: the case's route has not the stage, or skips it)
    attrs: F64 = field(default_factory=lambda: np.zeros((0, 0)))
    # (n,) each case's priority (docs/model.md, "Queues and dispatch": its class's, or the
    # first of the class's priority_when rules that holds); empty: every case its class's
    priority: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if self.lag.size == 0 and self.lag.shape != self.service.shape:
            self.lag = np.broadcast_to(0.0, self.service.shape)
        if self.attrs.shape[0] != self.arrival.shape[0] and self.attrs.size == 0:
            self.attrs = np.zeros((self.arrival.shape[0], 0))

    @property
    def n(self) -> int:
        return int(self.arrival.shape[0])

    @property
    def attempts(self) -> int:
        return int(self.service.shape[2])

    def take(self, idx: NDArray[np.int64]) -> Inputs:
        """The inputs of a subset of cases (in the given order)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            keep = f.name == "replication" or (f.name == "priority" and v.shape[0] != self.n)
            out[f.name] = v if keep else np.ascontiguousarray(v[idx])
        return Inputs(**out)


def case_priority(model: Model, inp: Inputs) -> NDArray[np.int64]:
    """Each case's priority: ``inp.priority``, or its class's where the inputs carry none
    (inputs written by hand)."""
    if inp.priority.shape == (inp.n,):
        return inp.priority
    return np.asarray(model.class_priority, dtype=np.int64)[inp.cls]


def draw(model: Model, replication: int, seed: int | None = None, *,
         cases: slice | None = None) -> Inputs:
    """Draw every random input of one replication (``seed`` defaults to ``model.seed``).

    ``cases=slice(a, b)``: only cases ``a .. b - 1`` in arrival order, equal to the
    same rows of the whole draw (see :func:`draw_cases`).
    """
    lo, hi = 0, 2**62
    if cases is not None:
        if cases.step not in (None, 1):
            raise ValueError("draw: cases must be a slice with step 1")
        lo = 0 if cases.start is None else int(cases.start)
        hi = hi if cases.stop is None else int(cases.stop)
    return draw_cases(model, replication, seed, lo, hi)


# --------------------------------------------------------------------------- drawing a slice


class _Durations:
    """The durations of a class's cases, collected item by item and computed together:
    one inverse-CDF call per unit-mean law that families share (gamma of one cv, ...,
    scaled by each family's mean), the other families one by one, and one scatter per
    array, straight into the output arrays (``out``, arrival order: key position ``c`` of
    the class is row ``row_of[c]``, -1 if that key is not among the rows drawn). Each value
    is what ``fam.ppf`` gives for its uniform, times the case attributes' ``scales`` of
    its array and item one after another
    (:meth:`~sim.model.attrmodel.AttrModel.duration_scales`); only the places a case uses
    are computed."""

    def __init__(self, out: dict[str, np.ndarray], row_of: NDArray[np.intp],
                 scales: list[tuple[str, list[int], F64]]) -> None:
        self._out = out
        self._row_of = row_of
        self._every = bool((row_of >= 0).all())
        # each (array, item)'s multipliers, in the order the scales apply (an item named
        # twice in a rule: twice)
        self._scales: dict[tuple[str, int], list[F64]] = {}
        for what, items, x in scales:
            for j in items:
                self._scales.setdefault((what, j), []).append(x)
        self._by_law: dict[tuple[str, float],
                           list[tuple[str, int, NDArray[np.intp], NDArray[np.intp], F64,
                                      float]]] = {}

    def _scaled(self, name: str, j: int, c: NDArray[np.intp], v: F64) -> F64:
        """``v`` (the values of item ``j`` of cases ``c`` in array ``name``) times each
        scale of theirs, in place."""
        for x in self._scales.get((name, j), ()):
            v *= x[c]
        return v

    def add(self, fam: Family, u: F64, where: NDArray[np.bool_], name: str, j: int) -> None:
        """``out[name][rows, j][where] = fam.ppf(u[where])``, when :meth:`compute` runs
        (``u`` and ``where`` are (m,), the class's cases in key order, or (K, m):
        submission k's row, for place (row, j, k) of a (n, J, K) array)."""
        f = np.flatnonzero(where)
        if not f.size:
            return
        shape = self._out[name].shape
        m = self._row_of.shape[0]
        c = f if where.ndim == 1 else f % m
        rows = self._row_of[c]
        if not self._every:  # keys of the class not among the rows drawn: left out
            keep = rows >= 0
            f, c, rows = f[keep], c[keep], rows[keep]
        if len(shape) == 2:  # (n, J)
            idx = rows * shape[1] + j
        else:  # (n, J, K): place k * m + c of (K, m)
            idx = rows * (shape[1] * shape[2]) + (j * shape[2] + (f - c) // m)
        law = fam.shape_key
        if law is None:
            self._out[name].reshape(-1)[idx] = self._scaled(name, j, c,
                                                            fam.ppf(u.reshape(-1)[f]))
        else:
            self._by_law.setdefault(law, []).append(
                (name, j, c, idx, u.reshape(-1)[f], fam.mean))

    def compute(self) -> None:
        for law, parts in self._by_law.items():
            x = Family.unit_ppf(law, np.concatenate([p[4] for p in parts]), overwrite=True)
            at = 0
            for name, j, c, idx, u, mean in parts:  # each times its family's mean, in place
                v = np.multiply(x[at:at + u.size], mean, out=x[at:at + u.size])
                self._out[name].reshape(-1)[idx] = self._scaled(name, j, c, v)
                at += u.size
        self._by_law.clear()


def draw_cases(model: Model, replication: int, seed: int | None, start: int, stop: int,
               stream: ArrivalStream | None = None) -> Inputs:
    """The inputs of cases ``start .. stop - 1`` (arrival order) of one replication.

    Equal, array by array, to ``draw(model, replication, seed)`` restricted to those
    cases (broadcast arrays stay broadcast), but draws only the numbers those cases use.
    ``stream`` (from :func:`arrival_stream`) saves recomputing it.

    Each class is drawn item by item: its masks into arrays of its own (its cases in key
    order, so every write is a slice), gathered into arrival order once per array; its
    durations computed together and written straight to their places (:class:`_Durations`).
    """
    seed = model.seed if seed is None else seed
    rep = replication
    J, K_max = model.n_items, model.max_attempts
    q_any = any(model.deficiency_probability(j, 0) > 0 for j in range(J))
    K = K_max if q_any else 1
    renege_any = bool(model.station_renege.any())
    lag_any = any(f is not None for f in model.item_lag)
    a = arrival_stream(model, rep, seed) if stream is None else stream
    start, stop = max(0, start), min(a.n, stop)
    stop = max(start, stop)
    n = stop - start
    out: dict[str, np.ndarray] = {
        "arrival": a.arrival[start:stop].copy(), "cls": a.cls[start:stop].copy(),
        "channel": a.channel[start:stop].copy(), "key": a.key[start:stop].copy(),
        "run_item": np.zeros((n, J), dtype=np.bool_), "visit": np.zeros((n, J), dtype=np.bool_),
        "delay": np.zeros((n, J)), "service": np.zeros((n, J, K)),
        "lag": np.zeros((n, J, K)) if lag_any else np.broadcast_to(0.0, (n, J, K)),
        "deficient": np.zeros((n, J, K), dtype=np.bool_),
        "fix": np.zeros((n, J, K)) if K > 1 else np.broadcast_to(0.0, (n, J, K)),
        "patience": (np.full((n, J, K), np.inf) if renege_any
                     else np.broadcast_to(np.inf, (n, J, K))),
        "audit": np.zeros((n, J), dtype=np.bool_), "audit_service": np.zeros((n, J)),
        "revoked": np.zeros((n, J), dtype=np.bool_),
        "attrs": np.full((n, attr_width(model)), np.nan),
        "priority": np.asarray(model.class_priority, dtype=np.int64)[a.cls[start:stop]],
    }
    for c in range(len(model.class_names)):
        rows = np.flatnonzero(out["cls"] == c)
        if rows.size:
            keys = out["key"][rows]
            k0 = int(keys.min())
            sel = keys - k0
            channel = np.full(int(sel.max()) + 1, WINDOW, dtype=np.int64)
            channel[sel] = out["channel"][rows]  # keys not among the rows are not kept
            row_of = np.full(channel.shape[0], -1, dtype=np.intp)
            row_of[sel] = rows
            local = _draw_class(model, rep, seed, c, k0, channel, K, out, row_of)
            if rows.size == sel.size == channel.shape[0]:
                # every key k0 .. k1 - 1 is here: scatter the rows in key order at once
                for name, arr in local.items():
                    out[name][row_of] = arr
            else:
                for name, arr in local.items():  # the class's rows in arrival order
                    out[name][rows] = arr[sel]
    return Inputs(replication=rep, **out)


def attr_width(model: Model) -> int:
    """Columns of ``Inputs.attrs``: the case attributes, then the choice stages' paths."""
    return (model.attributes.n if model.attributes is not None else 0) + len(model.path_names)


def _branches(model: Model, choice: Choice, rep: int, seed: int, hc: int, s: int, k0: int,
              k1: int, codes: F64 | None) -> NDArray[np.intp]:
    """The branch of choice stage ``s`` each case of keys ``k0 .. k1 - 1`` takes: by
    probability, the first whose cumulative probability exceeds the case's uniform (slot 0
    of the stage's own stream ``Q_PATH``, drawn whether or not the case reaches the stage);
    by condition, the first whose condition holds, else the last."""
    if choice.cum is not None:
        u = Stream(seed, (rep, Q_PATH, hc, _h(model.stage_names[s]))).take(0, k0, k1)
        return np.minimum(np.searchsorted(choice.cum, u, side="right"),
                          choice.cum.size - 1).astype(np.intp)
    am = model.attributes
    n = k1 - k0
    out = np.full(n, len(choice.when) - 1, dtype=np.intp)
    free = np.ones(n, dtype=np.bool_)
    for b, cond in enumerate(choice.when[:-1]):
        assert cond is not None and am is not None and codes is not None
        take = free & am.holds(cond, codes)
        out[take] = b
        free &= ~take
    return out


def _draw_class(model: Model, rep: int, seed: int, c: int, k0: int,
                channel: NDArray[np.int64], K: int, out: dict[str, np.ndarray],
                row_of: NDArray[np.intp]) -> dict[str, np.ndarray]:
    """The inputs of the cases of class ``c`` with keys ``k0 .. k0 + len(channel) - 1``
    (``channel``: theirs, from the arrival stream): the durations written to their rows of
    ``out`` (key position ``c`` is row ``row_of[c]``), the masks, attributes and priorities
    returned as arrays (m, J) and (m, J, K) in key order."""
    J, m = model.n_items, channel.shape[0]
    k1 = k0 + m
    hc = _h(model.class_names[c])
    loc: dict[str, np.ndarray] = {
        "run_item": np.zeros((m, J), dtype=np.bool_), "visit": np.zeros((m, J), dtype=np.bool_),
        "deficient": np.zeros((m, J, K), dtype=np.bool_),
        "audit": np.zeros((m, J), dtype=np.bool_), "revoked": np.zeros((m, J), dtype=np.bool_),
    }
    am = model.attributes
    n_attr = am.n if am is not None else 0
    if attr_width(model):
        loc["attrs"] = np.full((m, attr_width(model)), np.nan)
    if am is not None:  # each attribute on its own keyed stream, slot 0
        loc["attrs"][:, :n_attr] = codes = am.draw(c, lambda a: Stream(
            seed, (rep, Q_ATTRIBUTE, hc, _h(a))).take(0, k0, k1), m)
        mat = am.materials(c, codes)
    dur = _Durations(out, row_of, am.duration_scales(c, codes) if am is not None else [])
    window, online = channel == WINDOW, channel == ONLINE
    proxy = channel == PROXY
    pool = int(model.class_pool[c])
    r = int(model.class_route[c])
    for s in range(model.route_stage_ptr[r], model.route_stage_ptr[r + 1]):
        p_stage = float(model.stage_probability[s])
        stage_on = (np.ones(m, dtype=np.bool_) if p_stage >= 1.0 else Stream(
            seed, (rep, Q_STAGE, hc, _h(model.stage_names[s]))).take(0, k0, k1) < p_stage)
        choice = model.stage_choice[s] if model.stage_choice else None
        if choice is not None:  # the branch each case takes (docs/model.md, "Paths")
            branch = _branches(model, choice, rep, seed, hc, s, k0, k1,
                               codes if am is not None else None)
            loc["attrs"][:, n_attr + choice.path] = np.where(
                stage_on, np.asarray(choice.code, dtype=np.float64)[branch], np.nan)
        for m_at, j in enumerate(
                model.stage_items[model.stage_item_ptr[s]:model.stage_item_ptr[s + 1]]):
            j = int(j)
            st = Stream(seed, (rep, Q_ITEM, hc, _h(model.item_names[j])))
            on = stage_on.copy()
            if choice is not None:
                on &= branch == choice.item_branch[m_at]
            p_skip = float(model.item_skip_probability[j])
            if p_skip > 0:
                on &= st.take(S_SKIP, k0, k1) >= p_skip
            if am is not None and (cond := am.item_when[j]) is not None:
                on &= am.holds(cond, codes)
            loc["run_item"][:, j] = on
            loc["visit"][:, j] = window | (online & ~model.item_online[j])
            dfam = model.item_delay[j]
            if dfam is not None:
                dur.add(dfam, st.take(S_DELAY, k0, k1), on, "delay", j)
            # submission k is made only if the case runs the item and the earlier ones
            # were deficient; (K, m) rows: submission k's cases in one contiguous row
            made = np.empty((K, m), dtype=np.bool_)
            made[0] = on
            if K > 1:
                p_case = np.full(m, model.deficiency_probability(j, WINDOW))
                if pool >= 0:
                    p_case[proxy] = model.deficiency_probability(j, PROXY, pool)
                if am is not None and j in mat:  # materials scaled: p from q per case
                    p_case = 1.0 - (1.0 - p_case) ** mat[j]
                u_def = st.attempt_rows(S_DEFICIENT, k0, k1, K)
                deficient = u_def < p_case
                loc["deficient"][:, j] = deficient.T
                for k in range(1, K):
                    np.logical_and(made[k - 1], deficient[k - 1], out=made[k])
                fixed = made & deficient
                fixed[K - 1] = False
                dur.add(model.item_fix[j], st.attempt_rows(S_FIX, k0, k1, K), fixed, "fix", j)
            dur.add(model.item_service[j], st.attempt_rows(S_SERVICE, k0, k1, K), made,
                    "service", j)
            lfam = model.item_lag[j]
            if lfam is not None:
                dur.add(lfam, st.attempt_rows(S_LAG, k0, k1, K), made, "lag", j)
            pat: Family | None = model.station_patience[int(model.item_station[j])]
            if pat is not None:
                dur.add(pat, st.attempt_rows(S_PATIENCE, k0, k1, K), made, "patience", j)
            if model.item_audit_station[j] >= 0:
                au = (st.take(S_AUDIT, k0, k1) < float(model.item_audit_probability[j])) & on
                loc["audit"][:, j] = au
                afam = model.item_audit_service[j]
                assert afam is not None
                dur.add(afam, st.take(S_AUDIT_SERVICE, k0, k1), au, "audit_service", j)
                loc["revoked"][:, j] = au & (st.take(S_REVOKE, k0, k1)
                                          < float(model.item_revoke_probability[j]))
    dur.compute()
    if am is not None and am.priority_when[c]:  # docs/model.md, "Case attributes"
        loc["priority"] = am.priority(c, codes, int(model.class_priority[c]))
    return loc
