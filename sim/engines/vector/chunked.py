"""A replication run chunk by chunk, handing out its records as they become final.

:func:`run_chunked` gives the same records as ``simulate(model, draw(model, r, seed))``
(tests check it), but keeps neither the whole drawn inputs nor the visit records:

* **Inputs** are drawn ``chunk`` cases at a time (:func:`~sim.inputs.draw_cases`) into
  arrays as long as the replication (the submissions in the loop's form,
  :mod:`~.attempts`: submission 0 of every (case, item), the later ones and the fixes on
  rows of the pairs that reach them, so about one pair in six on the construction
  scenario carries K - 1 more) whose pages the system gives out only when written
  (anonymous mappings, :class:`Pages`). A case whose references drop to zero is finished
  (the test the kernel itself uses to move its lowest live case): the kernel never reads
  its rows again, so every page that holds only finished cases' rows (inputs, case and
  branch tables) is handed back (``madvise(MADV_DONTNEED)``). Memory follows the cases in
  the system, not the cases of the replication.
* **Visit records**: a visit's row is final once its end time is set (at dispatch, at a
  renege, when a pool slot is let go); after each chunk the final rows are handed to the
  caller and the others moved to the front of the record arrays, and the row numbers the
  kernel keeps (in its branch, case and queue-node tables) are renumbered to match.
* **Per-case records** (a :class:`~sim.results.records.RepResult` of a slice of cases)
  are handed out in case order, as soon as every case of the slice is finished.

The kernel (:mod:`~.loop`) is not changed: it runs on the whole arrays with ``base = 0``.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from sim.engines.vector.attempts import Attempts, split
from sim.engines.vector.feedforward import is_broadcast
from sim.engines.vector.layout import (
    BF_AP,
    BF_Q,
    BF_S,
    BI_VROW,
    CF_A,
    CF_Q,
    CF_S,
    CI_PHASE,
    CI_PVROW,
    CI_REFS,
    ND_VROW,
    P_SEQ,
    SC_NCOUNT,
    SC_NEXT,
    SC_NV,
)
from sim.engines.vector.state import _compile_model, _input_args, _State
from sim.errors import UsageError
from sim.inputs import Inputs, arrival_stream, draw_cases
from sim.model.assembly import Model
from sim.results.records import (
    AUDIT,
    COMPLETED,
    OPEN,
    SUBMISSION,
    ItemSums,
    RepResult,
    StageSums,
    Visits,
    visit_costs,
)

PAGE = mmap.PAGESIZE
#: ``outcome_at(case, item, attempt)``: the deficiency and fix of those submissions
OutcomeAt = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
#: the drawn submissions, kept in the loop's form (:mod:`~.attempts`)
SUBMISSIONS = ("service", "deficient", "fix")


class Pages:
    """Zero-filled arrays on private anonymous mappings, whose pages can be handed back."""

    def __init__(self) -> None:
        self.maps: dict[int, tuple[mmap.mmap, np.ndarray]] = {}

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        dt = np.dtype(dtype)
        size = int(np.prod(shape)) * dt.itemsize
        mm = mmap.mmap(-1, max(size, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        a = np.frombuffer(mm, dtype=np.uint8, count=size).view(dt).reshape(shape)
        self.maps[id(a)] = (mm, np.zeros(-(-size // PAGE), dtype=np.bool_))
        return a

    def release_rows(self, a: np.ndarray, free: np.ndarray, ptr: np.ndarray, rows: int,
                     near: np.ndarray | None = None, busy: np.ndarray | None = None,
                     ) -> None:
        """Hand back every page of ``a`` among its first ``rows`` rows whose rows all
        belong to ``free`` cases (case ``i`` has rows ``ptr[i] .. ptr[i + 1] - 1``; ``ptr``
        covers the cases with rows written, non-decreasing). ``near``: the cases freed
        since the last call, whose pages alone are looked at (a page can only have become
        free through one of them); ``busy``: :func:`busy_before` of ``free``."""
        if id(a) not in self.maps or a.size == 0 or rows == 0:
            return
        per_row = a.nbytes // a.shape[0]
        whole = rows * per_row // PAGE  # whole pages of written rows only
        if whole == 0:
            return
        if near is None:
            pages = np.arange(whole)
        else:
            near = near[near < ptr.shape[0] - 1]
            near = near[ptr[near + 1] > ptr[near]]  # the cases with rows
            pages = _pages_of(ptr[near] * per_row, ptr[near + 1] * per_row - 1)
            pages = pages[pages < whole]
        r0 = (pages * PAGE) // per_row  # each page's first and last row, and their cases
        r1 = ((pages + 1) * PAGE - 1) // per_row
        c0 = np.searchsorted(ptr, r0, side="right") - 1
        c1 = np.searchsorted(ptr, r1, side="right") - 1
        busy = busy_before(free) if busy is None else busy
        self._drop(a, pages[(busy[c1 + 1] - busy[c0]) == 0])

    def release(self, a: np.ndarray, free: np.ndarray, near: np.ndarray | None = None,
                busy: np.ndarray | None = None) -> None:
        """Hand back every page of ``a`` (rows = cases, or ``len(a) // len(free)`` rows a
        case) whose cases are all ``free``; ``near`` and ``busy`` as for
        :meth:`release_rows`."""
        if id(a) not in self.maps or a.size == 0:
            return
        n = free.shape[0]
        per_case = a.nbytes // n
        if near is None:
            pages = np.arange(self.maps[id(a)][1].shape[0])
        else:
            pages = _pages_of(near * per_case, (near + 1) * per_case - 1)
        first = (pages * PAGE) // per_case
        last = np.minimum(((pages + 1) * PAGE - 1) // per_case, n - 1)
        busy = busy_before(free) if busy is None else busy
        self._drop(a, pages[(busy[last + 1] - busy[first]) == 0])

    def _drop(self, a: np.ndarray, pages: np.ndarray) -> None:
        """Hand back ``pages`` of ``a`` (sorted, distinct) not yet handed back."""
        mm, released = self.maps[id(a)]
        pages = pages[~released[pages]]
        if not pages.size:
            return
        released[pages] = True
        # runs of consecutive pages, one madvise each
        cut = np.flatnonzero(np.diff(pages) != 1) + 1
        for p0, p1 in zip(pages[np.concatenate([[0], cut])],
                          pages[np.concatenate([cut - 1, [pages.size - 1]])], strict=True):
            length = min((int(p1) + 1) * PAGE, len(mm)) - int(p0) * PAGE
            if length > 0:
                mm.madvise(mmap.MADV_DONTNEED, int(p0) * PAGE, length)


def busy_before(free: np.ndarray) -> np.ndarray:
    """``busy[i]``: how many of cases ``0 .. i - 1`` are not free (``len(free) + 1``)."""
    busy = np.zeros(free.shape[0] + 1, dtype=np.int64)
    np.cumsum(~free, out=busy[1:])
    return busy


def _pages_of(b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """The pages (sorted, distinct) that byte ranges ``b0[i] .. b1[i]`` touch."""
    p0, p1 = np.asarray(b0, dtype=np.int64) // PAGE, np.asarray(b1, dtype=np.int64) // PAGE
    counts = p1 - p0 + 1
    if not counts.size:
        return np.zeros(0, dtype=np.int64)
    if int(counts.max()) <= 2:
        return np.unique(np.concatenate([p0, p1]))
    start = np.repeat(np.cumsum(counts) - counts, counts)
    return np.unique(np.repeat(p0, counts) + (np.arange(int(counts.sum())) - start))


@dataclass
class Cases:
    """Per-case records of cases ``first .. first + len - 1`` (all finished)."""

    first: int
    result: RepResult
    arrival: np.ndarray  #: the cases' arrival times, classes and channels
    cls: np.ndarray
    channel: np.ndarray
    audits: np.ndarray   #: audits each case's inputs drew (counted for completed cases)
    revoked: np.ndarray  #: revocations each case's inputs drew
    #: with costs: each case's government cost and the fees it paid (else None)
    gov: np.ndarray | None = None
    paid: np.ndarray | None = None
    attrs: np.ndarray | None = None  #: (len, A) the cases' attribute values


def run_chunked(model: Model, replication: int, seed: int | None = None, chunk: int = 16384,
                record_visits: bool = True,
                on_visits: Callable[[Visits, Inputs, OutcomeAt], None] | None = None,
                ) -> Iterator[Cases | Visits | ItemSums | StageSums]:
    """One replication, yielding :class:`Cases` (in case order) and final visit records
    (:class:`~sim.results.records.Visits`, when ``record_visits``) as they become final,
    and last (when ``record_visits``) the per-item sums of all its visits
    (:class:`~sim.results.records.ItemSums`: the drawn lags they need go with the pages)
    and then the per-stage sums of its completed cases after the warm-up
    (:class:`~sim.results.records.StageSums`, added as the cases end).

    ``chunk``: cases drawn at a time (the kernel stops at each chunk's first arrival).
    ``on_visits(visits, inputs, outcome_at)`` is called with each batch of final visits
    while their cases' inputs are still there (the whole replication's arrays, indexed by
    case; the submissions' arrays stand for their shape only: ``outcome_at`` gives their
    deficiency and fix)."""
    if chunk < 1:
        raise UsageError(f"run_chunked: chunk must be >= 1 (got {chunk})")
    cm = _compile_model(model)
    stream = arrival_stream(model, replication, seed)
    n = stream.n
    if n == 0:
        return
    pages = Pages()
    proto = draw_cases(model, replication, seed, 0, 1, stream)
    full: dict[str, Any] = {"replication": replication}
    drawn: list[str] = []
    for f in fields(Inputs):
        if f.name == "replication":
            continue
        x = getattr(proto, f.name)
        if f.name in ("arrival", "cls", "channel", "key"):
            full[f.name] = getattr(stream, f.name)
        elif f.name in SUBMISSIONS:  # kept in the loop's form (`att`), read for the shape
            full[f.name] = np.broadcast_to(np.zeros(1, dtype=x.dtype), (n, *x.shape[1:]))
        elif f.name == "revoked" or is_broadcast(x):
            # revocations are only counted; broadcast arrays stand for the whole replication
            full[f.name] = np.broadcast_to(x.flat[0], (n, *x.shape[1:]))
        else:
            full[f.name] = pages.zeros((n, *x.shape[1:]), x.dtype)
            drawn.append(f.name)
    inp = Inputs(**full)
    # the submissions: the first of every (case, item), the later ones on rows of the pairs
    # that reach them (at most n * J rows: pages never written are never given)
    J, K = model.n_items, int(proto.service.shape[2])
    rows = n * J if K > 1 else 0
    att = Attempts(pages.zeros((n, J), np.float64), pages.zeros((n, J), np.bool_),
                   np.zeros(n + 1, dtype=np.int64), pages.zeros((rows,), np.int64),
                   pages.zeros((rows, K - 1), np.float64), pages.zeros((rows, K - 1), np.bool_),
                   pages.zeros((rows, K - 1), np.float64), K)
    args = _input_args(model, inp, att)

    def outcome_at(c: np.ndarray, j: np.ndarray, k: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray]:
        return att.at(c, j, k)[1:]
    W = cm.width
    state = _State(cm, n, record_visits, 1 << 16, alloc=pages.zeros, stages=True)
    stage_sums = StageSums(model)
    audits = np.zeros(n, dtype=np.int64)
    revoked = np.zeros(n, dtype=np.int64)
    # costs are summed visit by visit as the visits are handed out (their cases' inputs
    # are still there then: pages go back after)
    costs = (np.zeros(n), np.zeros(n)) if model.has_costs and record_visits else None
    items = ItemSums(model) if record_visits else None
    tri = np.full((n, 3), np.nan)
    final = np.zeros(n, dtype=np.bool_)  # finished, its triple read, its pages handed back
    # the attributes stay whole (a few numbers a case): the case rows carry them
    big = [full[name] for name in drawn if name != "attrs"] + [
        att.service0, att.deficient0, state.cs_i, state.cs_f, state.br_i, state.br_f,
        state.stg]
    by_row = [att.key, att.service, att.deficient, att.fix]  # rows: cases by att.ptr
    # after the last arrival the kernel still stops every `step` hours (what a chunk of
    # arrivals spans on average), so records keep flowing out and pages keep going back
    step = max(model.arrival_end, 1.0) * chunk / n
    emitted = loaded = 0
    t_stop = 0.0
    while True:
        hi = min(n, loaded + chunk)
        if hi > loaded:
            part = draw_cases(model, replication, seed, loaded, hi, stream)
            for name in drawn:
                x = getattr(part, name)
                if x.any():  # an all-zero chunk leaves its pages untouched (never given)
                    full[name][loaded:hi] = x
            _add_attempts(att, loaded, split(part.run_item, part.service, part.deficient,
                                             part.fix if K > 1 else np.zeros(part.service.shape)))
            audits[loaded:hi] = part.audit.sum(axis=1)
            revoked[loaded:hi] = part.revoked.sum(axis=1)
            del part
            loaded = hi
        if loaded < n:
            t_stop = float(stream.arrival[loaded])
        else:
            t_stop = t_stop + step if t_stop + step < model.horizon else math.inf
        state.run(cm, record_visits, 0, loaded, t_stop, args)
        last = t_stop == math.inf
        if record_visits:
            v = _drain(state, last)
            if v is not None:
                assert items is not None
                items.add(v, full["lag"])
                if on_visits is not None:
                    on_visits(v, inp, outcome_at)
                if costs is not None:
                    g, p = _visit_costs(model, v, att, full["audit_service"])
                    np.add.at(costs[0], v.case, g)
                    np.add.at(costs[1], v.case, p)
                yield v
        # cases finished since the last chunk (all of them after the last one)
        lo = _first_false(final, emitted)
        idx = np.arange(lo, n if last else int(state.sc[SC_NEXT]))
        idx = idx[~final[idx]]
        if not last:  # ended (completed or abandoned) and nothing pending (audits)
            idx = idx[(state.cs_i[idx, CI_REFS] == 0) & (state.status[idx] != OPEN)]
        if idx.size:
            _triple(state, W, idx, tri)
            use = (state.status[idx] == COMPLETED) & (stream.arrival[idx] >= model.warmup)
            stage_sums.add(stream.cls[idx], state.stg[idx].reshape(idx.size, -1, 3), use)
            final[idx] = True
            if not last:
                busy = busy_before(final)  # pages of the cases just finished alone
                for a in big:
                    pages.release(a, final, idx, busy)
                for a in by_row:
                    pages.release_rows(a, final, att.ptr[:loaded + 1], int(att.ptr[loaded]),
                                       idx, busy)
        top = _first_false(final, lo)
        while emitted < top:
            b = min(top, emitted + chunk)
            yield Cases(emitted, RepResult(
                replication=replication, status=state.status[emitted:b].copy(),
                end=state.end[emitted:b].copy(), visits_count=state.visits[emitted:b].copy(),
                rework=state.rework[emitted:b].copy(), supplements=state.supp[emitted:b].copy(),
                t_service=tri[emitted:b, 0].copy(), t_queue=tri[emitted:b, 1].copy(),
                t_applicant=tri[emitted:b, 2].copy()), stream.arrival[emitted:b],
                stream.cls[emitted:b], stream.channel[emitted:b], audits[emitted:b],
                revoked[emitted:b],
                gov=costs[0][emitted:b] if costs is not None else None,
                paid=costs[1][emitted:b] if costs is not None else None,
                attrs=inp.attrs[emitted:b].copy())
            emitted = b
        if last:
            if items is not None:
                yield items
            yield stage_sums
            return


def _visit_costs(model: Model, v: Visits, att: Attempts, audit_service: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~sim.results.records.visit_costs` of ``v``, the submissions' hours read from
    ``att``: visit ``r`` given as case ``r`` of per-visit arrays (broadcast, no copies)."""
    n, J = len(v.case), att.service0.shape[1]
    hours, audit = np.zeros(n), np.zeros(n)
    sub, aud = v.kind == SUBMISSION, v.kind == AUDIT
    hours[sub] = att.at(v.case[sub], v.item[sub], v.attempt[sub])[0]
    audit[aud] = audit_service[v.case[aud], v.item[aud]]
    return visit_costs(model, replace(v, case=np.arange(n)),
                       np.broadcast_to(hours[:, None, None], (n, J, att.K)),
                       np.broadcast_to(audit[:, None], (n, J)))


def _add_attempts(att: Attempts, lo: int, part: Attempts) -> None:
    """Put the submissions of cases ``lo ..`` (``part``, keyed from its first case) in."""
    hi = lo + part.service0.shape[0]
    if part.service0.any():
        att.service0[lo:hi] = part.service0
    if part.deficient0.any():
        att.deficient0[lo:hi] = part.deficient0
    r0 = int(att.ptr[lo])
    r = part.key.shape[0]
    att.ptr[lo + 1:hi + 1] = r0 + part.ptr[1:]
    if r:
        att.key[r0:r0 + r] = part.key + lo * att.service0.shape[1]
        att.service[r0:r0 + r] = part.service
        att.deficient[r0:r0 + r] = part.deficient
        att.fix[r0:r0 + r] = part.fix


def _first_false(a: np.ndarray, start: int) -> int:
    """The first index ``>= start`` where ``a`` is False (``len(a)`` if none)."""
    rest = np.flatnonzero(~a[start:])
    return start + int(rest[0]) if rest.size else a.shape[0]


def _triple(state: _State, W: int, idx: np.ndarray, out: np.ndarray) -> None:
    """The critical-path triple of cases ``idx`` (what :func:`~.state._finish` computes)."""
    seq = state.cs_i[idx, CI_PHASE] == P_SEQ
    g = idx * W
    for col, (bf, cf) in enumerate(((BF_S, CF_S), (BF_Q, CF_Q), (BF_AP, CF_A))):
        out[idx, col] = np.where(seq, state.br_f[g, bf], state.cs_f[idx, cf])


def _drain(state: _State, last: bool) -> Visits | None:
    """The final visit rows (every row after the last chunk), the others moved to the
    front of the record arrays and the row numbers the kernel keeps renumbered."""
    nv = int(state.sc[SC_NV])
    if nv == 0:
        return None
    vi, vf, vr = state.v_i[:nv], state.v_f[:nv], state.v_r[:nv]
    done = np.ones(nv, dtype=np.bool_) if last else np.isfinite(vf[:, 2])
    out = Visits(case=vi[done, 0], item=vi[done, 1], attempt=vi[done, 2],
                 station=vi[done, 3], kind=vi[done, 4], joined=vf[done, 0],
                 start=vf[done, 1], end=vf[done, 2], reneged=vr[done])
    if last:
        state.sc[SC_NV] = 0
        return out
    keep = np.flatnonzero(~done)
    new = np.full(nv, -1, dtype=np.int64)
    new[keep] = np.arange(keep.size)
    # rows still open belong to cases still in the system: renumber their references
    # (a reference to a final row is never followed again and is left as it is)
    live = np.unique(vi[keep, 0])
    W = state.br_i.shape[0] // state.cs_i.shape[0]
    g = (live[:, None] * W + np.arange(W)).ravel()
    _renumber(state.br_i, g, BI_VROW, new)
    _renumber(state.cs_i, live, CI_PVROW, new)
    _renumber(state.nd_i, np.arange(int(state.sc[SC_NCOUNT])), ND_VROW, new)
    state.v_i[:keep.size] = vi[keep]
    state.v_f[:keep.size] = vf[keep]
    state.v_r[:keep.size] = vr[keep]
    state.sc[SC_NV] = keep.size
    return out


def _renumber(table: np.ndarray, rows: np.ndarray, col: int, new: np.ndarray) -> None:
    ref = table[rows, col]
    ok = (ref >= 0) & (ref < new.shape[0])
    ok[ok] = new[ref[ok]] >= 0
    table[rows[ok], col] = new[ref[ok]]
