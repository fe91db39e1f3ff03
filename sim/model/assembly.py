"""The assembled model: a validated scenario turned into flat arrays.

Both engines read this and nothing else of the scenario, so they cannot disagree on
what the scenario means. Names become indices; routes become CSR-style arrays
(``route_stage_ptr`` -> stages, ``stage_item_ptr`` -> items). Help-and-proxy agent
pools are stations too (index ``>= n_service_stations``), on the always-open calendar,
with no service: a case holds a slot from its arrival until it completes.

See ``docs/model.md`` for the event semantics the engines implement.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from sim.errors import ScenarioError
from sim.model import recorded
from sim.model.attrmodel import AttrModel, assemble
from sim.model.calendar import WorkCalendar
from sim.model.distributions import Family, family
from sim.model.fields import MAX_COUNT
from sim.model.flatroutes import PARALLEL as PARALLEL
from sim.model.flatroutes import SEQUENTIAL as SEQUENTIAL
from sim.model.flatroutes import Choice as Choice
from sim.model.flatroutes import flatten_routes
from sim.model.schedule import all_changes, server_hours
from sim.model.schema import Dist, Scenario
from sim.model.sessions import Sessions, all_sessions

HOURS_PER_DAY = 24.0
CAL_MARGIN_DAYS = 120  # calendars cover the horizon plus this, so late events resolve

# channels
WINDOW, ONLINE, PROXY = 0, 1, 2
CHANNELS = ("window", "online", "proxy")

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
B1 = NDArray[np.bool_]


class LoadWarning(UserWarning):
    """A station is offered as much work as it can do, or more."""


@dataclass(frozen=True)
class Model:
    """Everything an engine needs, as arrays indexed by station, item, class, route, stage.

    ``scenario`` is kept for what reports and experiments show or re-run (its name, run
    settings, TOML text); the engines and :mod:`sim.inputs` read only the other fields,
    which :func:`build` computes once. The class arrival rates (``class_rate`` per
    ``class_per``), the per-class arrival mix (``class_online_share``,
    ``class_proxy_share``, the profiles), the per-item draw probabilities
    (``item_skip_probability``, ``item_audit_probability``, ``item_revoke_probability``),
    the default ``seed`` and ``start_weekday`` are copied here so that drawing the inputs
    of a replication never reaches into the schema objects.
    """

    scenario: Scenario
    name: str
    seed: int  # run.seed: the default seed of a run
    start_weekday: int  # weekday of run.start_date (hour 0), Monday = 0 .. Sunday = 6
    horizon: float  # hours; the simulation stops here
    arrival_end: float  # hours; arrivals happen in [0, arrival_end)
    warmup: float  # hours; cases arriving before are left out of KPIs
    max_attempts: int
    calendars: tuple[WorkCalendar, ...]
    report_calendar: int  # index of the calendar working days are reported in
    # stations (service stations first, then agent pools)
    station_names: tuple[str, ...]
    n_service_stations: int
    station_servers: I64
    station_calendar: I64
    station_priority: B1
    station_renege: B1
    # items
    item_names: tuple[str, ...]
    item_station: I64
    item_materials: I64
    item_limit_workdays: F64  # nan when not given
    item_limit_hours: F64  # calendar hours; nan when not given
    item_online: B1
    item_conditional: B1
    item_deadline_hours: F64  # conditional acceptance: the longest fix run in parallel
    item_audit_station: I64  # -1: no audit
    item_deficiency_q: F64  # per-material deficiency probability
    item_skip_probability: F64  # P(a case that reaches the item's stage skips the item)
    item_audit_probability: F64  # P(an audit visit follows a completion); 0: no audit
    item_revoke_probability: F64  # P(that audit revokes the approval)
    # classes
    class_names: tuple[str, ...]
    class_route: I64
    class_priority: I64
    class_pool: I64  # station index of the agent pool, -1 for none
    class_rate: F64  # mean arrivals per class_per
    class_per: tuple[str, ...]  # "workday", "day" or "hour"
    class_online_share: F64  # share of the class's cases that come online
    class_proxy_share: F64  # share handled by help-and-proxy agents (window: the rest)
    # arrival intensity weights: 7 (Mon..Sun) and 24 (0h..23h) per class, None for flat
    class_weekday_profile: tuple[tuple[float, ...] | None, ...]
    class_hour_profile: tuple[tuple[float, ...] | None, ...]
    # routes
    route_names: tuple[str, ...]
    route_stage_ptr: I64  # stages of route r: route_stage_ptr[r] .. route_stage_ptr[r+1]
    route_limit_workdays: F64
    stage_names: tuple[str, ...]  # "route/stage"
    stage_mode: I64
    stage_item_ptr: I64  # items of stage s: stage_items[stage_item_ptr[s] .. stage_item_ptr[s+1]]
    stage_items: I64
    stage_probability: F64
    # distributions (hours)
    item_service: tuple[Family, ...] = field(repr=False)
    item_delay: tuple[Family | None, ...] = field(repr=False)
    item_lag: tuple[Family | None, ...] = field(repr=False)  # WORKING hours of the station
    item_fix: tuple[Family, ...] = field(repr=False)
    item_audit_service: tuple[Family | None, ...] = field(repr=False)
    station_patience: tuple[Family | None, ...] = field(repr=False)
    pool_deficiency_factor: F64 = field(repr=False)  # per pool (index - n_service_stations)
    # paths and branches (docs/model.md, "Paths and branches"): per place of stage_items,
    # the end (exclusive) of the branch it is in (a sequential or choice stage: one branch,
    # the whole stage; a parallel stage: each item alone unless it lists branches)
    stage_seg_end: I64 = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    # per stage: the choice a choice stage makes (None: every other stage; the engines
    # run a choice stage as a sequential one of the items its run_item leaves)
    stage_choice: tuple[Choice | None, ...] = ()
    # the case table's path columns: each choice stage name, and its branches' names (all
    # routes'); Inputs.attrs carries a case's path after its attributes
    path_names: tuple[str, ...] = ()
    path_labels: tuple[tuple[str, ...], ...] = ()
    # costs (docs/model.md, "Costs"); all zero when the scenario has no [costs] section
    has_costs: bool = False
    currency: str = "CNY"
    station_cost_per_hour: F64 = field(default_factory=lambda: np.zeros(0), repr=False)
    item_fee: F64 = field(default_factory=lambda: np.zeros(0), repr=False)
    item_intermediary: F64 = field(default_factory=lambda: np.zeros(0), repr=False)
    applicant_per_visit: float = 0.0
    applicant_per_day: float = 0.0
    # recorded arrivals (docs/model.md, "Recorded arrivals"), per class: the recorded times
    # in hours since the epoch (hour 0 = run.start_date 00:00), all of them, sorted (None:
    # Poisson arrivals), their channels (None: drawn from the shares), and the bootstrap's
    # mean block length in gaps (0: replay, the times as they are)
    class_recorded: tuple[F64 | None, ...] = ()
    class_recorded_channel: tuple[I64 | None, ...] = ()
    class_bootstrap_block: F64 = field(default_factory=lambda: np.zeros(0), repr=False)
    # case attributes (docs/model.md, "Case attributes"); None: no class declares any
    attributes: AttrModel | None = field(default=None, repr=False)
    # staffing over time (docs/model.md): every station's count changes, by (time, station)
    sched_time: F64 = field(default_factory=lambda: np.zeros(0), repr=False)
    sched_station: I64 = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    sched_servers: I64 = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    sessions: Sessions = field(default_factory=Sessions, repr=False)  # docs/model.md

    @property
    def window(self) -> tuple[float, float]:
        """The measurement window [warm-up, end of arrivals]: station figures and throughput
        are taken over it, while the system is fed; cases arriving in it make the KPIs."""
        return self.warmup, self.arrival_end

    @property
    def n_stations(self) -> int:
        return len(self.station_names)

    @property
    def n_items(self) -> int:
        return len(self.item_names)

    def calendar_of(self, station: int) -> WorkCalendar:
        return self.calendars[int(self.station_calendar[station])]

    def server_hours(self, s: int, t0: float, t1: float) -> float:
        """Scheduled server-working-hours of station ``s`` in ``[t0, t1]`` (a pool: hours)."""
        on = self.sched_station == s
        cal = self.calendar_of(s)
        return server_hours(cal, int(self.station_servers[s]), self.sched_time[on],
                            self.sched_servers[on], t0, t1)

    @property
    def report(self) -> WorkCalendar:
        return self.calendars[self.report_calendar]

    def route_items(self, route: int) -> list[int]:
        """Item indices of a route, in stage order."""
        s0, s1 = self.route_stage_ptr[route], self.route_stage_ptr[route + 1]
        return [int(j) for s in range(s0, s1)
                for j in self.stage_items[self.stage_item_ptr[s]:self.stage_item_ptr[s + 1]]]

    def deficiency_probability(self, item: int, channel: int, pool: int = -1) -> float:
        """P(a submission of ``item`` is deficient) = 1 - (1 - q)^materials."""
        q = float(self.item_deficiency_q[item])
        if channel == PROXY and pool >= 0:
            q *= float(self.pool_deficiency_factor[pool - self.n_service_stations])
        return 1.0 - (1.0 - q) ** int(self.item_materials[item])

    def recorded(self, cls: int) -> F64 | None:
        """The recorded times of class ``cls`` (hours since the epoch), None if it has none."""
        return self.class_recorded[cls] if self.class_recorded else None

    def bootstrap_start(self, cls: int) -> float:
        """Where a bootstrapped class's first case arrives: its first recorded time if that
        lies in the arrival window, else hour 0."""
        t = self.recorded(cls)
        assert t is not None
        return float(t[0]) if 0.0 <= t[0] < self.arrival_end else 0.0

    def expected_arrivals(self, cls: int) -> float:
        """Mean number of arrivals of class ``cls`` over the arrival window (recorded
        arrivals: the recorded times in it when replayed; when bootstrapped, the window
        after the first case divided by the recorded mean gap, plus that first case)."""
        t = self.recorded(cls)
        if t is not None:
            if self.class_bootstrap_block[cls] == 0:
                return float(np.count_nonzero((t >= 0.0) & (t < self.arrival_end)))
            mean_gap = float(t[-1] - t[0]) / (t.shape[0] - 1)
            return 1.0 + (self.arrival_end - self.bootstrap_start(cls)) / mean_gap
        units = {"workday": self.report.workdays(0.0, self.arrival_end),
                 "day": self.arrival_end / HOURS_PER_DAY,
                 "hour": self.arrival_end}[self.class_per[cls]]
        return float(self.class_rate[cls] * units)

    def expected_attempts(self, item: int, channel: int = WINDOW, pool: int = -1) -> float:
        """Mean submissions of an item: 1 + p + p^2 + ... up to max_attempts terms."""
        p = self.deficiency_probability(item, channel, pool)
        return float(sum(p**k for k in range(self.max_attempts)))

    def expected_submissions(self) -> NDArray[np.float64]:
        """Mean submissions of each item over the arrival window (rework included):
        arrivals x stage probability (x the branch's, in a choice stage by probability; a
        choice by condition counts every branch) x (1 - skip probability) x expected
        attempts."""
        subs = np.zeros(self.n_items)
        for c in range(len(self.class_names)):
            n = self.expected_arrivals(c)
            r = int(self.class_route[c])
            for s in range(self.route_stage_ptr[r], self.route_stage_ptr[r + 1]):
                p_stage = float(self.stage_probability[s])
                ch = self.stage_choice[s] if self.stage_choice else None
                for m, j in enumerate(
                        self.stage_items[self.stage_item_ptr[s]:self.stage_item_ptr[s + 1]]):
                    j = int(j)
                    if ch is not None and ch.cum is not None:  # its branch's probability
                        b = int(ch.item_branch[m])
                        p_stage = float(self.stage_probability[s]) * float(
                            ch.cum[b] - (ch.cum[b - 1] if b else 0.0))
                    skip = float(self.item_skip_probability[j])
                    subs[j] += n * p_stage * (1 - skip) * self.expected_attempts(j)
        return subs

    def expected_work(self) -> NDArray[np.float64]:
        """Mean service hours each item brings over the arrival window."""
        return self.expected_submissions() * np.array([f.mean for f in self.item_service])

    def offered_load(self) -> dict[str, float]:
        """Offered load per service station: mean work (service hours, rework included)
        arriving over the arrival window / servers x the station's working hours in it (a
        session station: :meth:`Sessions.offered`). At or above 1 the queue grows without
        bound."""
        work = np.bincount(self.item_station, weights=self.expected_work(),
                           minlength=self.n_stations)
        out = {self.station_names[k]: float(work[k] / self.server_hours(k, 0.0, self.arrival_end))
               for k in range(self.n_service_stations)}
        return self.sessions.offered(self, out)


def _working_lag(d: Dist, cal: WorkCalendar) -> Family:
    """A lag in working hours: 'days' are working days of the station's calendar."""
    fam = family(d)
    if d.unit != "days":
        return fam
    scale = cal.hours_per_day / HOURS_PER_DAY
    return replace(fam, mean=fam.mean * scale, lo=fam.lo * scale, mode=fam.mode * scale,
                   hi=fam.hi * scale, values=tuple(v * scale for v in fam.values))


def _calendar(name: str, s: Scenario, days: int) -> WorkCalendar:
    if name == "always" and name not in s.calendars:
        return WorkCalendar.always_open(name)
    c = s.calendars[name]
    if c.always:
        return WorkCalendar.always_open(name)
    return WorkCalendar.build(
        name, s.run.start_date, days, [(a, b) for a, b in c.hours],
        weekdays=tuple(d - 1 for d in c.weekdays), holidays=c.holidays,
        closed_dates=tuple(c.closed_dates), extra_workdays=tuple(c.extra_workdays),
    )


def _recorded(s: Scenario, c_names: list[str]) -> tuple[tuple[F64 | None, ...],
                                                        tuple[I64 | None, ...], F64]:
    """The Model fields of recorded arrivals (hours since the epoch, channels, blocks)."""
    times: list[F64 | None] = []
    chans: list[I64 | None] = []
    block: list[float] = []
    for c in c_names:
        a = s.classes[c].arrivals
        if a is None or a.hours is None:
            times.append(None)
            chans.append(None)
            block.append(0.0)
            continue
        times.append(recorded.run_hours(np.asarray(a.hours), a.clock, s.run.start_date))
        chans.append(None if a.channels is None else np.asarray(
            [CHANNELS.index(ch) for ch in a.channels], dtype=np.int64))
        block.append(a.block if a.mode == "bootstrap" else 0.0)
    return tuple(times), tuple(chans), np.asarray(block, dtype=np.float64)


def build(s: Scenario, source: str = "<scenario>", warn: bool = True) -> Model:
    """Assemble the model of a checked scenario."""
    run, model_h = s.run, s.run.horizon_days * HOURS_PER_DAY
    days = math.ceil(run.horizon_days) + CAL_MARGIN_DAYS
    cal_names = sorted({st.calendar for st in s.stations.values()} | {run.calendar})
    cals: list[WorkCalendar] = []
    for n in cal_names:
        try:
            cal = _calendar(n, s, days)
        except ValueError as exc:
            raise ScenarioError(source, f"calendars.{n}", str(exc), None) from None
        if cal.to_work(model_h) <= 0.0:
            raise ScenarioError(source, f"calendars.{n}", "has no working time within the horizon",
                                None)
        last_year = (run.start_date + dt.timedelta(days=run.horizon_days)).year
        missing = [y for y in cal.uncovered_years if run.start_date.year <= y <= last_year]
        if warn and missing:
            warnings.warn(f"{source}: calendars.{n}: no official holiday schedule for "
                          f"{', '.join(map(str, missing))}; only weekdays apply there",
                          stacklevel=2)
        cals.append(cal)
    cal_index = {n: k for k, n in enumerate(cal_names)}
    always = cal_index.get("always")
    if always is None:
        cals.append(WorkCalendar.always_open("always"))
        always = len(cals) - 1

    st_names = list(s.stations)
    pool_names = list(s.pools)
    all_st = st_names + pool_names
    st_index = {n: k for k, n in enumerate(all_st)}
    n_srv = len(st_names)
    servers = [s.stations[n].servers for n in st_names] + [
        s.pools[p].agents * s.pools[p].caseload for p in pool_names]
    st_cal = [cal_index[s.stations[n].calendar] for n in st_names] + [always] * len(pool_names)
    prio = [s.stations[n].priority for n in st_names] + [True] * len(pool_names)
    renege = [s.stations[n].patience is not None for n in st_names] + [False] * len(pool_names)
    patience = tuple(family(p) if (p := s.stations[n].patience) is not None else None
                     for n in st_names) + (None,) * len(pool_names)

    it_names = list(s.items)
    it_index = {n: k for k, n in enumerate(it_names)}
    items = [s.items[n] for n in it_names]
    service = tuple(family(it.service) for it in items)
    for n, fam in zip(it_names, service, strict=True):
        if not fam.positive:
            raise ScenarioError(source, f"items.{n}.service", "must take only positive values "
                                "(a service of zero working hours is not a service)",
                                fam.minimum)
    for n, it in zip(it_names, items, strict=True):
        if it.audit_service is not None and not family(it.audit_service).positive:
            raise ScenarioError(source, f"items.{n}.audit_service", "must take only positive "
                                "values", family(it.audit_service).minimum)
    fix = tuple(family(it.fix if it.fix is not None else s.rework.fix) for it in items)
    q = [it.deficiency_per_material if it.deficiency_per_material is not None
         else s.rework.deficiency_per_material for it in items]

    r_names = list(s.routes)
    rp = flatten_routes(s, it_index)
    c_names = list(s.classes)
    rec_times, rec_channels, rec_block = _recorded(s, c_names)
    costs = s.costs
    rate = [costs.stations[n].cost_per_hour if costs and n in costs.stations else 0.0
            for n in all_st]
    fee = [costs.items[n].fee if costs and n in costs.items else 0.0 for n in it_names]
    inter = [costs.items[n].intermediary if costs and n in costs.items else 0.0
             for n in it_names]
    sched_t, sched_s, sched_n = all_changes(
        [(servers[k], s.stations[n].schedule) for k, n in enumerate(st_names)],
        run.start_date, model_h)
    model = Model(
        scenario=s,
        name=s.scenario.name or "scenario",
        seed=run.seed,
        start_weekday=run.start_date.weekday(),
        horizon=model_h,
        arrival_end=(run.arrival_days or run.horizon_days) * HOURS_PER_DAY,
        warmup=run.warmup_days * HOURS_PER_DAY,
        max_attempts=run.max_attempts,
        calendars=tuple(cals),
        report_calendar=cal_index[run.calendar],
        station_names=tuple(all_st),
        n_service_stations=n_srv,
        station_servers=np.asarray(servers, dtype=np.int64),
        station_calendar=np.asarray(st_cal, dtype=np.int64),
        station_priority=np.asarray(prio, dtype=np.bool_),
        station_renege=np.asarray(renege, dtype=np.bool_),
        item_names=tuple(it_names),
        item_station=np.asarray([st_index[it.station] for it in items], dtype=np.int64),
        item_materials=np.asarray([it.materials for it in items], dtype=np.int64),
        item_limit_workdays=np.asarray(
            [it.limit_workdays if it.limit_workdays is not None else math.nan for it in items]),
        item_limit_hours=np.asarray(
            [it.limit_hours if it.limit_hours is not None else math.nan for it in items]),
        item_online=np.asarray([it.online for it in items], dtype=np.bool_),
        item_conditional=np.asarray([it.conditional for it in items], dtype=np.bool_),
        item_deadline_hours=np.asarray([it.supplement_deadline_days * 24.0 for it in items]),
        item_audit_station=np.asarray(
            [st_index[it.audit_station] if it.audit_station and it.audit_probability > 0 else -1
             for it in items], dtype=np.int64),
        item_deficiency_q=np.asarray(q, dtype=np.float64),
        item_skip_probability=np.asarray([it.skip_probability for it in items],
                                         dtype=np.float64),
        item_audit_probability=np.asarray([it.audit_probability for it in items],
                                          dtype=np.float64),
        item_revoke_probability=np.asarray([it.revoke_probability for it in items],
                                           dtype=np.float64),
        class_names=tuple(c_names),
        class_route=np.asarray([r_names.index(s.classes[c].route) for c in c_names],
                               dtype=np.int64),
        class_priority=np.asarray([s.classes[c].priority for c in c_names], dtype=np.int64),
        class_pool=np.asarray([st_index[ap] if (ap := s.classes[c].agent_pool) is not None
                               else -1 for c in c_names], dtype=np.int64),
        class_rate=np.asarray([s.classes[c].rate or 0.0 for c in c_names], dtype=np.float64),
        class_per=tuple(s.classes[c].per for c in c_names),
        class_online_share=np.asarray([s.classes[c].online_share for c in c_names],
                                      dtype=np.float64),
        class_proxy_share=np.asarray([s.classes[c].proxy_share for c in c_names],
                                     dtype=np.float64),
        class_weekday_profile=tuple(tuple(w) if (w := s.classes[c].weekday_profile) is not None
                                    else None for c in c_names),
        class_hour_profile=tuple(tuple(w) if (w := s.classes[c].hour_profile) is not None
                                 else None for c in c_names),
        route_names=tuple(r_names),
        **vars(rp),
        item_service=service,
        item_delay=tuple(family(it.delay) if it.delay else None for it in items),
        item_lag=tuple(_working_lag(it.lag, cals[st_cal[st_index[it.station]]])
                       if it.lag else None for it in items),
        item_fix=fix,
        item_audit_service=tuple(family(it.audit_service) if it.audit_service else None
                                 for it in items),
        station_patience=patience,
        pool_deficiency_factor=np.asarray([s.pools[p].deficiency_factor for p in pool_names],
                                          dtype=np.float64),
        has_costs=costs is not None,
        currency=costs.currency if costs else "CNY",
        station_cost_per_hour=np.asarray(rate, dtype=np.float64),
        item_fee=np.asarray(fee, dtype=np.float64),
        item_intermediary=np.asarray(inter, dtype=np.float64),
        applicant_per_visit=costs.applicant_per_visit if costs else 0.0,
        applicant_per_day=costs.applicant_per_day if costs else 0.0,
        class_recorded=rec_times, class_recorded_channel=rec_channels,
        class_bootstrap_block=rec_block,
        attributes=assemble(s, it_names, c_names),
        sched_time=sched_t, sched_station=sched_s, sched_servers=sched_n,
        sessions=all_sessions([(n, s.stations[n].sessions, cals[st_cal[k]]) for k, n in
                               enumerate(st_names)], run.start_date, model_h, source),
    )
    for c, name in enumerate(c_names):
        if model.recorded(c) is not None and model.class_bootstrap_block[c] > 0 \
                and model.expected_arrivals(c) > MAX_COUNT:
            t = model.recorded(c)
            assert t is not None
            raise ScenarioError(source, f"classes.{name}.arrivals", "has a recorded mean gap "
                                f"of {(t[-1] - t[0]) / (t.shape[0] - 1):.3g} hours: "
                                f"bootstrapped, it would bring "
                                f"{model.expected_arrivals(c):.3g} cases to the arrival "
                                f"window (at most {MAX_COUNT:,})")
    if warn:
        for c, name in enumerate(c_names):
            t = model.recorded(c)
            if t is None or model.class_bootstrap_block[c] > 0:
                continue
            out = int(np.count_nonzero((t < 0.0) | (t >= model.arrival_end)))
            if out:
                warnings.warn(f"{source}: classes.{name}.arrivals: {out:,} of {t.shape[0]:,} "
                              "recorded arrivals lie outside the run's arrival window "
                              f"({run.start_date.isoformat()} + {model.arrival_end / 24:g} "
                              "days) and are left out", stacklevel=2)
    if warn:
        for name, rho in model.offered_load().items():
            if rho >= 1.0:
                warnings.warn(f"{source}: station '{name}' is loaded at {rho:.0%} of its capacity "
                              "(>= 100%): its queue grows without bound", LoadWarning,
                              stacklevel=2)
    return model
