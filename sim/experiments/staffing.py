"""Staffing to a target: the fewest servers per station that meet it, checked by simulation.

``govsim staff FILE --target 'lead_time_workdays.p90<=120'`` and, from Python,
``sim.staff("file.toml", "lead_time_workdays.p90<=120")``.

How
---
1. **Queueing formulas first.** Each service station's offered work (Erlangs: mean work
   that cases bring per working hour, rework included, from
   :meth:`sim.model.assembly.Model.offered_load`) and its mean service time give an M/M/c
   approximation. The starting staffing is the smallest ``c`` with Erlang C mean wait
   no longer than one mean service time (:func:`sim.analytic.min_servers_mmc`); for a
   target on one station's wait, :func:`sim.analytic.staffing_for_wait` sizes that
   station for the target itself.
2. **Bounds.** When the start misses the target, the staffing with every station at its
   bound (``--max-servers``) is simulated: if even that misses, no staffing within the
   bounds meets it, and the answer says so (with the value reached) instead of searching.
3. **Simulation.** While the simulated target fails, the busiest station (the one with
   the highest simulated utilization that is below its bound; for a target on one
   station, that station) gets more servers: one, or 5% of a large station.
4. **Trim.** Once the target holds, each station in turn (least utilized first) gives
   servers back one at a time while the target still holds and the station stays
   stable, until a whole round gives nothing back: no single station can lose a server,
   the answer is the fewest by that test.

Every staffing is simulated with the same seed (common random numbers), so two
staffings differ only by their servers, and the search is repeatable.

A target is ``METRIC OP VALUE`` with ``OP`` one of ``<=, <, >=, >`` and ``METRIC`` a
sweep metric (:func:`sim.experiments.sweep.metric_names`):
``lead_time_workdays.mean|p50|p90|p95``, ``lead_time_days.*``, ``within_limit_share``,
``stations.NAME.mean_wait_hours`` (calendar hours, waiting for the office to open
included) or ``stations.NAME.mean_wait_workhours`` (working hours, what Erlang C
counts)... (``station.NAME.KPI``, the older spelling, is accepted too.) With
``confident=True`` the target must hold for the unfavourable end of the metric's 95%
confidence interval, not only its mean estimate.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analytic import min_servers_mmc, staffing_for_wait
from sim.errors import UsageError
from sim.experiments.grid import apply_point
from sim.experiments.run import run
from sim.experiments.settings import resolve
from sim.experiments.sources import load_scenario
from sim.experiments.sweep import metric_names, point_metrics
from sim.files import json_safe
from sim.model.assembly import build
from sim.model.schema import Scenario
from sim.results.display import esc
from sim.results.kpis import STATION_PREFIX, canonical, split_station, station_kpi

__all__ = ["StaffingResult", "Target", "parse_target", "staff", "station_rates"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda a, b: a <= b, "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b,
}
_TARGET = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(<=|>=|<|>)\s*([-+0-9.eE%]+)\s*$")


@dataclass(frozen=True)
class Target:
    """``metric op value``, e.g. ``lead_time_workdays.p90 <= 120``."""

    metric: str
    op: str
    value: float
    confident: bool = False

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    @property
    def wants_low(self) -> bool:
        return self.op in ("<=", "<")

    @property
    def column(self) -> str:
        """The metric column the target is checked on (a CI end when ``confident``)."""
        if not self.confident:
            return self.metric
        m = self.metric
        lo_hi = "hi" if self.wants_low else "lo"
        if m.endswith((".mean", ".p90")) and m.startswith("lead_time"):
            return f"{m}_ci95_{lo_hi}"
        if m == "within_limit_share":
            return f"{m}_ci95_{lo_hi}"
        if m.startswith(STATION_PREFIX) and m.endswith(".mean_wait_hours") and self.wants_low:
            return f"{m}_ci95_hi"
        raise UsageError(f"--confident: {m} has no confidence interval to check (use one of "
                         "lead_time_*.mean, lead_time_*.p90, within_limit_share, "
                         "stations.NAME.mean_wait_hours)")

    def value_of(self, metrics: Mapping[str, Any]) -> float:
        v = metrics.get(self.column)
        return math.nan if v is None else float(v)

    def met(self, metrics: Mapping[str, Any]) -> bool:
        v = self.value_of(metrics)
        return math.isfinite(v) and _OPS[self.op](v, self.value)

    @property
    def station(self) -> str | None:
        st = split_station(self.metric)
        return st[0] if st is not None else None


def parse_target(text: str, scenario: Scenario | None = None, confident: bool = False) -> Target:
    """``"lead_time_workdays.p90<=120"`` -> Target; a share may be written ``90%``."""
    m = _TARGET.match(text or "")
    if not m:
        raise UsageError(f"--target {text!r}: expected METRIC OP VALUE, e.g. "
                         "'lead_time_workdays.p90<=120' (OP one of <=, <, >=, >)")
    metric, op, raw = m.groups()
    metric = canonical(metric)
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"--target {text!r}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"--target {text!r}: the value must be finite")
    known = metric_names(scenario)
    if metric not in known:
        alias = {"lead_time_workdays": "lead_time_workdays.mean",
                 "lead_time_days": "lead_time_days.mean"}.get(metric)
        if alias is None:
            raise UsageError(f"--target {text!r}: unknown metric {metric!r} (known: "
                             + ", ".join(metric_names(None)[:8]) + ", within_limit_share, "
                             "stations.NAME.mean_wait_hours, ...)")
        metric = alias
    named = split_station(metric)
    if scenario is not None and named is not None:
        st = named[0]
        if st in scenario.pools:
            raise UsageError(f"--target {text!r}: {st} is an agent pool; staff sizes service "
                             "stations")
    t = Target(metric, op, value, confident)
    _ = t.column  # check a CI exists when confident
    return t


# --------------------------------------------------------------------------- analytic sizing


@dataclass(frozen=True)
class StationRates:
    """A service station as an M/M/c queue, per working hour of its calendar."""

    name: str
    servers: int
    lam: float  # visits per working hour
    mean_service: float  # working hours per visit
    offered: float  # Erlangs = lam * mean_service

    @property
    def utilization(self) -> float:
        return self.offered / self.servers if self.servers else math.inf

    @property
    def min_stable(self) -> int:
        return max(1, math.floor(self.offered) + 1) if self.offered > 0 else 1


def station_rates(model: Any) -> dict[str, StationRates]:
    """Visit rate and mean service of every service station (as offered_load counts them)."""
    n = model.n_service_stations
    subs = model.expected_submissions()
    visits = np.bincount(model.item_station, weights=subs, minlength=model.n_stations)
    work = np.bincount(model.item_station, weights=model.expected_work(),
                       minlength=model.n_stations)
    out = {}
    for k in range(n):
        cal = model.calendar_of(k)
        hours = float(cal.to_work(model.arrival_end) - cal.to_work(0.0))
        name = model.station_names[k]
        lam = visits[k] / hours if hours > 0 else 0.0
        ms = work[k] / visits[k] if visits[k] > 0 else 0.0
        out[name] = StationRates(name, int(model.station_servers[k]), float(lam), float(ms),
                                 float(lam * ms))
    return out


def analytic_start(rates: StationRates, target: Target | None = None) -> int:
    """The M/M/c starting point for one station (see the module doc)."""
    if rates.lam <= 0 or rates.mean_service <= 0:
        return 1
    mu = 1.0 / rates.mean_service
    if target is not None and target.station == rates.name and target.wants_low and \
            target.metric.endswith((".mean_wait_hours", ".mean_wait_workhours")) and \
            target.value > 0:
        # the formulas count working hours; a calendar-hour target is at least as loose
        return staffing_for_wait(rates.lam, mu, target.value)
    return min_servers_mmc(rates.lam, mu, lambda r: r.wq <= rates.mean_service)


# --------------------------------------------------------------------------- the search


@dataclass
class Evaluation:
    servers: dict[str, int]
    value: float
    met: bool
    utilization: dict[str, float]
    seconds: float
    step: str


@dataclass
class StaffingResult:
    """What :func:`staff` found."""

    target: Target
    met: bool
    servers: dict[str, int]
    scenario_servers: dict[str, int]
    analytic: dict[str, int]
    bounds: dict[str, int]
    value: float
    metrics: dict[str, Any]
    evaluations: list[Evaluation] = field(default_factory=list)
    scenario: Scenario | None = field(default=None, repr=False)
    settings: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"StaffingResult(target={str(self.target)!r}, met={self.met}, "
                f"servers={self.servers}, value={self.value:.4g}, "
                f"evaluations={len(self.evaluations)})")

    @property
    def table(self) -> pd.DataFrame:
        """Per station: scenario servers, analytic start, answer, bound, utilization."""
        rows = []
        for name in self.servers:
            rows.append({
                "station": name, "scenario": self.scenario_servers[name],
                "analytic": self.analytic[name], "staffed": self.servers[name],
                "change": self.servers[name] - self.scenario_servers[name],
                "max": self.bounds[name],
                "utilization": self.metrics.get(station_kpi(name, "utilization")),
                "mean_wait_hours": self.metrics.get(station_kpi(name, "mean_wait_hours")),
                "mean_wait_workhours": self.metrics.get(station_kpi(name, "mean_wait_workhours")),
            })
        return pd.DataFrame(rows).set_index("station")

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame([{"step": e.step, "total_servers": sum(e.servers.values()),
                              str(self.target.column): e.value, "met": e.met,
                              "seconds": e.seconds} for e in self.evaluations])

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "target": str(self.target), "checked_on": self.target.column, "met": self.met,
            "value": self.value, "servers": self.servers,
            "scenario_servers": self.scenario_servers, "analytic_servers": self.analytic,
            "max_servers": self.bounds, "total_servers": sum(self.servers.values()),
            "settings": self.settings,
            "evaluations": [{"step": e.step, "servers": e.servers, "value": e.value,
                             "met": e.met} for e in self.evaluations],
            "metrics": self.metrics,
        })

    def _repr_html_(self) -> str:
        head = (f"<p><b>Staffing for {esc(self.target)}</b>"
                + (" (checked on the 95% CI end)" if self.target.confident else "")
                + f": {'met' if self.met else 'NOT met'} with {sum(self.servers.values())} "
                f"servers (scenario: {sum(self.scenario_servers.values())}); simulated "
                f"{esc(self.target.column)} = {self.value:.3g}; {len(self.evaluations)} "
                "staffings simulated.</p>")
        return head + self.table.to_html(float_format=lambda v: f"{v:.3g}")


def staff(source: str | Path | Scenario, target: str | Target,
          max_servers: int | Mapping[str, int] | None = None,
          stations: Sequence[str] | None = None, replications: int | None = None,
          seed: int | None = None, engine: str | None = None, reforms: Sequence[str] = (),
          workers: int = 1, confident: bool = False, max_evaluations: int = 200,
          log: Callable[[str], None] | None = None,
          max_memory: float | None = None) -> StaffingResult:
    """The fewest servers per station that meet ``target`` (see the module doc).

    Args:
        source: a scenario file or a :class:`~sim.model.schema.Scenario`.
        target: ``"METRIC OP VALUE"`` or a :class:`Target`.
        max_servers: the bound per station (one number for all, or ``{station: n}``);
            default: twice the scenario's servers or 20, whichever is more.
        stations: the stations to staff (default: every service station, or the one
            station a station target names); the others keep the scenario's servers.
        replications, seed, engine, reforms, workers: as for :func:`sim.run`.
        confident: check the target on the unfavourable end of the 95% CI.
        max_evaluations: give up (with an error) after this many simulations.
        log: called with a line of text per simulated staffing.

    Raises:
        UsageError: a bad target or station, or no staffing within the bounds meets the
            target (the message gives the best value reached).
    """
    base = load_scenario(source, reforms)
    cfg = resolve(base.run, replications=replications, seed=seed, engine=engine,
                  workers=workers, max_memory=max_memory)
    tgt = target if isinstance(target, Target) else parse_target(target, base, confident)
    if confident and not tgt.confident:
        tgt = Target(tgt.metric, tgt.op, tgt.value, True)
        _ = tgt.column
    if tgt.confident and cfg.replications < 2:
        raise UsageError("--confident needs at least 2 replications")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build(base, base.scenario.name or "<scenario>", warn=False)
    rates = station_rates(model)
    held = [k for k in rates if base.stations[k].sessions]  # review sessions: no servers
    if stations and any(k in held for k in stations):
        raise UsageError(f"--stations: {', '.join(k for k in stations if k in held)} decides "
                         "at review sessions (no servers to staff; sweep "
                         "stations.NAME.sessions[k].capacity instead)")
    rates = {k: r for k, r in rates.items() if k not in held}
    names = list(rates)
    if not stations and tgt.station is not None:
        stations = [tgt.station]  # a target on one station's wait staffs that station
    if stations:
        unknown = [s for s in stations if s not in rates]
        if unknown:
            pools = [s for s in unknown if s in base.pools]
            raise UsageError(f"--stations: {', '.join(unknown)} "
                             + ("is an agent pool (staff sizes service stations)" if pools
                                else f"is not a service station (known: {', '.join(names)})"))
        names = [s for s in names if s in stations]
    if tgt.station is not None and tgt.station not in names:
        raise UsageError(f"--target {tgt}: the station {tgt.station} is not being staffed")
    scen_servers = {k: rates[k].servers for k in names}
    bounds: dict[str, int] = {}
    for k in names:
        if max_servers is None:
            b = max(2 * scen_servers[k], 20)
        elif isinstance(max_servers, Mapping):
            b = int(max_servers.get(k, max(2 * scen_servers[k], 20)))
        else:
            b = int(max_servers)
        if b < 1:
            raise UsageError(f"--max-servers must be an integer >= 1 (got {b})")
        bounds[k] = b
    floor = {k: rates[k].min_stable for k in names}
    unstable = [k for k in names if floor[k] > bounds[k]]
    if unstable:
        k = unstable[0]
        raise UsageError(
            f"no staffing within the bounds can meet {tgt}: station {k} needs at least "
            f"{floor[k]} servers to keep up with its work ({rates[k].offered:.1f} servers' "
            f"worth arrives) but --max-servers allows {bounds[k]}")
    start = {k: min(max(analytic_start(rates[k], tgt), floor[k]), bounds[k]) for k in names}

    settings = {"replications": cfg.replications, "seed": cfg.seed,
                "engine": cfg.engine, "reforms": list(reforms), "stations": names}
    cache: dict[tuple[int, ...], tuple[Evaluation, dict[str, Any]]] = {}
    evaluations: list[Evaluation] = []

    def evaluate(servers: dict[str, int], step: str) -> tuple[Evaluation, dict[str, Any]]:
        key = tuple(servers[k] for k in names)
        if key in cache:
            return cache[key]
        if len(evaluations) >= max_evaluations:
            raise UsageError(f"no answer after {max_evaluations} simulated staffings "
                             f"(raise --max-evaluations); the last reached "
                             f"{tgt.column} = {evaluations[-1].value:.3g}")
        s = apply_point(base, staffing_point(base, servers))
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = run(s, replications=cfg.replications, seed=cfg.seed, engine=cfg.engine,
                      workers=cfg.workers, max_memory=cfg.max_memory)
        metrics = point_metrics(res)
        ev = Evaluation(dict(servers), tgt.value_of(metrics), tgt.met(metrics),
                        {k: float(metrics.get(station_kpi(k, "utilization")) or 0.0)
                         for k in names}, time.perf_counter() - t0, step)
        evaluations.append(ev)
        cache[key] = (ev, metrics)
        if log:
            log(f"{len(evaluations):>3}. {step}: {sum(servers.values())} servers -> "
                f"{tgt.column} = {ev.value:.4g} ({'met' if ev.met else 'not met'}, "
                f"{ev.seconds:.1f} s)")
        return ev, metrics

    def result(servers: dict[str, int], met: bool) -> StaffingResult:
        ev, metrics = cache[tuple(servers[k] for k in names)]
        scen = apply_point(base, staffing_point(base, servers))
        return StaffingResult(tgt, met, dict(servers), scen_servers, start, bounds, ev.value,
                              metrics, evaluations, scen, settings)

    # 1. the analytic start; 2. if it misses, is the target reachable at all?
    cur = dict(start)
    ev, _ = evaluate(cur, "analytic start (Erlang C)")
    if not ev.met:
        top = dict(bounds)
        ev_top, m_top = evaluate(top, "every station at its bound")
        if not ev_top.met:
            raise UsageError(
                f"no staffing within the bounds meets {tgt}: even with every station at "
                f"its bound (--max-servers; {sum(top.values())} servers) the simulation "
                f"gives {tgt.column} = {ev_top.value:.4g}" + _why(tgt, m_top))

    # 3. add servers at the busiest station until the target holds (5% of a large station at
    # a time, one at a small one; the trim below gives back any overshoot)
    while not ev.met:
        grow = [k for k in names if cur[k] < bounds[k]]
        if not grow:  # cannot happen: every station at its bound met the target
            break
        if tgt.station is not None and tgt.station in grow:
            k = tgt.station
        else:
            k = max(grow, key=lambda x: (ev.utilization.get(x, 0.0), -names.index(x)))
        step = min(max(1, cur[k] // 20), bounds[k] - cur[k])
        cur[k] += step
        ev, _ = evaluate(cur, f"+{step} at {k} (busiest, {ev.utilization.get(k, 0.0):.0%})")

    # 4. trim: each station in turn gives back servers while the target holds; repeat
    # until a whole round gives nothing back
    changed = True
    while changed:
        changed = False
        for k in sorted(names, key=lambda x: (ev.utilization.get(x, 0.0), names.index(x))):
            while cur[k] > floor[k]:
                trial = {**cur, k: cur[k] - 1}
                ev_t, _ = evaluate(trial, f"-1 at {k} (trim)")
                if not ev_t.met:
                    break
                cur, ev, changed = trial, ev_t, True
    return result(cur, True)


def staffing_point(base: Scenario, servers: Mapping[str, int]) -> dict[str, int]:
    """The ``--set`` point of a staffing: each station's base count, and every entry of
    its schedule moved by the same number of servers (never below 0: the rota keeps its
    shape; docs/model.md, "Staffing over time")."""
    point: dict[str, int] = {}
    for k, v in servers.items():
        st = base.stations[k]
        point[f"stations.{k}.servers"] = v
        for m, e in enumerate(st.schedule):
            point[f"stations.{k}.schedule[{m}].servers"] = max(0, e.servers + v - st.servers)
    return point


def _why(tgt: Target, metrics: Mapping[str, Any]) -> str:
    """A hint at what the staffing cannot change."""
    if tgt.metric.endswith(".mean_wait_hours"):
        return ("; the wait is in calendar hours and includes waiting for the office to "
                "open, which staff cannot shorten (mean_wait_workhours counts working hours)")
    if not tgt.metric.startswith("lead_time"):
        return ""
    unit = "days"
    parts = {p: metrics.get(f"split.{p}_days") for p in ("service", "queue", "applicant")}
    if any(v is None for v in parts.values()):
        return ""
    return (f"; on the critical path a case spends {parts['service']:.1f} calendar {unit} in "
            f"service, {parts['queue']:.1f} queueing and {parts['applicant']:.1f} with the "
            "applicant, which staff cannot shorten")
