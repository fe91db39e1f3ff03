"""The arrivals of a replication: Poisson cases mapped through their channel's intensity,
or a class's recorded times replayed or bootstrapped (the module text of
:mod:`sim.inputs`); what :func:`sim.inputs.draw` puts first, and what the streaming
engine reads before drawing the rest chunk by chunk."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.model.arrivalmap import arrival_times
from sim.model.assembly import ONLINE, PROXY, WINDOW, Model
from sim.model.calendar import WorkCalendar
from sim.model.recorded import bootstrap_indices
from sim.streams import Q_ARRIVAL, Q_CHANNEL, Q_RECORDED, Stream, _h

F64 = NDArray[np.float64]


@dataclass
class ArrivalStream:
    """Arrivals of one replication in arrival order (what :func:`draw` puts first)."""

    arrival: F64
    cls: NDArray[np.int64]
    channel: NDArray[np.int64]
    key: NDArray[np.int64]

    @property
    def n(self) -> int:
        return int(self.arrival.shape[0])


def arrival_stream(model: Model, replication: int, seed: int | None = None) -> ArrivalStream:
    """The arrival, class, channel and key of every case, as :func:`draw` gives them.

    Costs O(cases) floats, not O(cases x items): the streaming engine reads it to know
    every arrival time before drawing the other inputs chunk by chunk.
    """
    seed = model.seed if seed is None else seed
    rep = replication
    start_weekday = model.start_weekday
    always = WorkCalendar.always_open("always")
    arrs, clss, chans, keys = [], [], [], []
    for c, cname in enumerate(model.class_names):
        hc = _h(cname)
        if model.recorded(c) is not None:
            arrival, channel = _recorded_arrivals(model, c, rep, seed)
            n = arrival.shape[0]
            arrs.append(arrival)
            clss.append(np.full(n, c, dtype=np.int64))
            chans.append(channel)
            keys.append(np.arange(n, dtype=np.int64))
            continue
        total = model.expected_arrivals(c)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            seed, spawn_key=(rep, Q_ARRIVAL, hc))))
        n = int(rng.poisson(total)) if total > 0 else 0
        e = np.sort(rng.random(n)) * total
        u_ch = Stream(seed, (rep, Q_CHANNEL, hc)).take(0, 0, n)
        channel = _channels(model, c, u_ch)
        arrival = np.empty(n)
        for ch, cal in ((WINDOW, model.report), (ONLINE, always), (PROXY, always)):
            m = channel == ch
            if m.any():
                arrival[m] = arrival_times(e[m], total, cal, model.arrival_end, start_weekday,
                                           model.class_weekday_profile[c],
                                           model.class_hour_profile[c])
        arrs.append(arrival)
        clss.append(np.full(n, c, dtype=np.int64))
        chans.append(channel.astype(np.int64))
        keys.append(np.arange(n, dtype=np.int64))
    arrival, cls_a = np.concatenate(arrs), np.concatenate(clss)
    channel, key = np.concatenate(chans), np.concatenate(keys)
    order = np.lexsort((key, cls_a, arrival))
    return ArrivalStream(arrival[order], cls_a[order], channel[order], key[order])


def _recorded_arrivals(model: Model, c: int, rep: int, seed: int) -> tuple[
        F64, NDArray[np.int64]]:
    """The arrival times and channels of a class with recorded arrivals, in key order.

    Replay: the recorded times in the arrival window. Bootstrap: the first case at
    :meth:`~sim.model.assembly.Model.bootstrap_start`, each next one a resampled gap later
    (the stationary bootstrap of the recorded gaps, :func:`sim.model.recorded.bootstrap_indices`,
    from the class's stream ``Q_RECORDED``: slot 0 decides where a block starts, slot 1
    where it starts from), up to the end of the window; a recorded channel goes with its
    gap (the channel of the case that ends it). Without recorded channels, case ``k`` takes
    its channel from the class's channel stream, as a Poisson class's case ``k`` does.
    """
    t = model.recorded(c)
    assert t is not None
    rch = model.class_recorded_channel[c]
    end = model.arrival_end
    block = float(model.class_bootstrap_block[c])
    if block == 0.0:
        keep = (t >= 0.0) & (t < end)
        arrival = np.ascontiguousarray(t[keep])
        channel = None if rch is None else rch[keep]
    else:
        gaps = np.diff(t)
        st = Stream(seed, (rep, Q_RECORDED, _h(model.class_names[c])))
        t0 = model.bootstrap_start(c)
        want = int(model.expected_arrivals(c) * 1.25) + 16
        while True:
            idx = bootstrap_indices(gaps.shape[0], block, st.take(0, 0, want),
                                    st.take(1, 0, want))
            times = t0 + np.concatenate([[0.0], np.cumsum(gaps[idx])])
            if times[-1] >= end:
                break
            want *= 2  # a longer draw begins with the shorter one: only the tail is new
        n = int(np.searchsorted(times, end, side="left"))
        arrival = times[:n]
        channel = None if rch is None else np.concatenate([rch[:1], rch[1:][idx]])[:n]
    if channel is None:
        u = Stream(seed, (rep, Q_CHANNEL, _h(model.class_names[c]))).take(0, 0, arrival.shape[0])
        channel = _channels(model, c, u)
    return arrival, channel.astype(np.int64)


def _channels(model: Model, c: int, u: F64) -> NDArray[np.int64]:
    """The channel of each case of class ``c`` from its channel uniform ``u``."""
    online, proxy = float(model.class_online_share[c]), float(model.class_proxy_share[c])
    return np.where(u < online, ONLINE, np.where(u < online + proxy, PROXY, WINDOW))
