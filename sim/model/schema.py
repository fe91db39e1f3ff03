"""The scenario file schema (first validation stage: each field as it loads).

A scenario file is TOML. Its sections map one to one onto the models below; every
model forbids unknown keys so that a typo is an error, not a silent default. The
second stage, which checks references between parts (a route names items that
exist, an item names a station that exists...), is :func:`sim.model.scenario.check_references`.

Units are in the field names or in a distribution's ``unit``: service times are
*working* hours of the station's calendar; applicant delays and fix times are
*calendar* time; statutory limits are working days.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from sim.model.attributes import Attribute, Condition, parsed_condition
from sim.model.evidence import Check, Range
from sim.model.fields import (
    MAX_REPLICATIONS,
    MAX_SEED,
    Date,
    Days,
    Dist,
    Label,
    Name,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    Probability,
    Strict,
    Text,
    _int_at_least,
    _number,
    _probability,
)
from sim.model.fields import UNIT_HOURS as UNIT_HOURS  # re-exported: Dist's units
from sim.model.headline import Headline
from sim.model.routing import PATH_SUM_TOLERANCE as PATH_SUM_TOLERANCE
from sim.model.routing import Branch as Branch
from sim.model.routing import Route as Route
from sim.model.routing import Stage as Stage
from sim.model.schedule import ScheduleEntry
from sim.model.sessions import SessionEntry

# --------------------------------------------------------------------------- sections

TimeOfDay = Annotated[str, Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")]


class Calendar(Strict):
    """Working time of an office. ``always = true`` is open every hour (hotlines, theory)."""

    always: StrictBool = False
    hours: list[tuple[TimeOfDay, TimeOfDay]] = Field(
        default_factory=lambda: [("09:00", "12:00"), ("13:30", "17:30")],
        description="opening periods within a working day, "
        "e.g. [['09:00','12:00'],['13:30','17:30']]",
    )
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5], description="ISO weekdays that work (Mon=1)"
    )
    holidays: Literal["cn", "none"] = "cn"
    closed_dates: list[Date] = Field(default_factory=list)
    extra_workdays: list[Date] = Field(default_factory=list)
    note: Text = ""


class Run(Strict):
    """How long, how often and from which seed to simulate."""

    start_date: Date = dt.date(2023, 1, 1)
    horizon_days: Days = 365.0
    arrival_days: PosFloat | None = Field(
        None, description="cases arrive during the first arrival_days (default: horizon_days)"
    )
    warmup_days: NonNegFloat = 0.0
    replications: Annotated[int, _int_at_least(1, MAX_REPLICATIONS)] = 10
    seed: Annotated[int, _int_at_least(0, MAX_SEED)] = 2023
    max_attempts: Annotated[int, _int_at_least(1, 1_000)] = Field(
        6, description="submissions of one item at most; the last one is accepted whatever"
    )
    calendar: Name = Field("office", description="calendar that working days are reported in")

    @model_validator(mode="after")
    def _windows_fit(self) -> Run:
        if self.arrival_days is not None and self.arrival_days > self.horizon_days:
            raise ValueError(f"needs arrival_days <= horizon_days "
                             f"(got {self.arrival_days:g} > {self.horizon_days:g})")
        if self.warmup_days >= (self.arrival_days or self.horizon_days):
            raise ValueError(f"needs warmup_days < the arrival window "
                             f"(got {self.warmup_days:g})")
        return self


#: channel names a recorded arrival file may give, as the model codes them (WINDOW, ONLINE,
#: PROXY in sim.model.assembly)
CHANNEL_NAMES = ("window", "online", "proxy")


class RecordedArrivals(Strict):
    """Arrivals read from a file (docs/model.md, "Recorded arrivals"): a CSV with a ``time``
    column (ISO date-times, naive ones in the scenario's time zone, or numbers of hours since
    the run's start), an optional ``class`` column (rows of other classes are theirs) and an
    optional ``channel`` column (window, online, proxy). ``replay`` brings the cases at the
    recorded times; ``bootstrap`` resamples the gaps between them by a stationary bootstrap
    (Politis and Romano, 1994) with mean block length ``block`` gaps, per replication.

    ``hours``, ``clock`` and ``channels`` hold what the file says once it is read (the
    scenario's loader fills them; :func:`sim.model.scenario.to_toml` leaves them out); a
    scenario built in Python may give ``hours`` (``clock = "run"``: hours since the run's
    start) instead of a file.
    """

    file: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        None, description="CSV file, relative to the scenario file's folder")
    mode: Literal["replay", "bootstrap"] = "replay"
    block: Annotated[float, _number(1.0)] = Field(
        1.0, description="bootstrap: mean block length in gaps (1: gaps drawn independently)")
    hours: list[float] | None = Field(
        None, description="the recorded times, sorted: hours since the run's start "
        "(clock 'run') or wall-clock hours since 1970-01-01 00:00 (clock 'wall')")
    clock: Literal["run", "wall"] = "run"
    channels: list[Literal["window", "online", "proxy"]] | None = Field(
        None, description="the recorded channel of each time (default: drawn from the shares)")
    note: Text = ""

    @model_validator(mode="after")
    def _times_given(self) -> RecordedArrivals:
        if self.file is None and self.hours is None:
            raise ValueError("needs a 'file' (or, built in Python, 'hours')")
        if self.hours is not None:
            h = self.hours
            a = np.asarray(h, dtype=np.float64)
            if not np.isfinite(a).all():
                k = int(np.flatnonzero(~np.isfinite(a))[0])
                raise ValueError(f"needs finite hours (hours[{k}] = {h[k]})")
            back = np.flatnonzero(np.diff(a) < 0)
            if back.size:
                k = int(back[0]) + 1
                raise ValueError(f"needs hours sorted ascending (hours[{k}] = {h[k]:g} < "
                                 f"hours[{k - 1}] = {h[k - 1]:g})")
            if self.channels is not None and len(self.channels) != len(h):
                raise ValueError(f"needs one channel per time (got {len(self.channels)} "
                                 f"channels for {len(h)} times)")
            if self.mode == "bootstrap" and (len(h) < 2 or h[-1] <= h[0]):
                raise ValueError(f"needs at least two recorded times that differ to bootstrap "
                                 f"their gaps (got {len(h)} time{'s' if len(h) != 1 else ''}"
                                 f"{' spanning 0 hours' if len(h) >= 2 else ''})")
        return self


class PriorityRule(Strict):
    """A priority for the class's cases for which a condition on their attributes holds
    (docs/model.md, "Case attributes"): the first rule that holds gives the case's."""

    when: Condition = Field(description="a condition on the class's case attributes")
    priority: NonNegInt = Field(description="the case's priority (lower is served first)")
    note: Text = ""

    _when_parses = field_validator("when")(parsed_condition)


class CaseClass(Strict):
    """A stream of cases of one class: Poisson arrivals (or recorded ones), a channel mix
    and a route."""

    rate: NonNegFloat | None = Field(
        None, description="mean arrivals per `per` (required unless `arrivals` is given)")
    arrivals: RecordedArrivals | None = Field(
        None, description="recorded arrivals replayed or bootstrapped instead of the rate")
    per: Literal["workday", "day", "hour"] = "workday"
    route: Name = "main"
    priority: NonNegInt = Field(0, description="lower is served first at priority stations")
    priority_when: list[PriorityRule] = Field(
        default_factory=list, max_length=100,
        description="a case's priority by its attributes: the first rule whose condition "
        "holds, else `priority` (docs/model.md, 'Case attributes')")
    online_share: Probability = 0.0
    proxy_share: Probability = Field(0.0, description="share handled by help-and-proxy agents")
    agent_pool: Name | None = None
    attributes: dict[Name, Attribute] = Field(
        default_factory=dict, max_length=50,
        description="case attributes drawn per case (docs/model.md, 'Case attributes')")
    weekday_profile: list[NonNegFloat] | None = Field(None, description="7 weights, Mon..Sun")
    hour_profile: list[NonNegFloat] | None = Field(None, description="24 weights, 0h..23h")
    label: Label = Field("", description="the name outputs show (English; default: the key)")
    label_zh: Label = Field("", description="the name outputs show in Chinese (--lang zh)")
    note: Text = ""

    @field_validator("weekday_profile", "hour_profile")
    @classmethod
    def _some_positive_weight(cls, v: list[float] | None) -> list[float] | None:
        # all-zero weights leave no hour for an arrival (the arrival map would divide by 0)
        if v is not None and not any(w > 0 for w in v):
            raise ValueError("must have at least one positive weight")
        return v

    @model_validator(mode="after")
    def _shares_and_profiles(self) -> CaseClass:
        if self.arrivals is None and self.rate is None:
            raise ValueError("needs a 'rate' (or recorded 'arrivals')")
        if self.arrivals is not None:
            given = [k for k in ("rate", "weekday_profile", "hour_profile")
                     if getattr(self, k) is not None]
            if given:
                raise ValueError(f"has recorded 'arrivals', which conflict with "
                                 f"{', '.join(repr(k) for k in given)}: the recorded times "
                                 "replace the rate and its profiles (remove one)")
        if self.online_share + self.proxy_share > 1.0 + 1e-12:
            raise ValueError(f"needs online_share + proxy_share <= 1 "
                             f"(got {self.online_share + self.proxy_share:g})")
        if self.weekday_profile is not None and len(self.weekday_profile) != 7:
            n = len(self.weekday_profile)
            raise ValueError(f"needs 7 weights in weekday_profile (got {n})")
        if self.hour_profile is not None and len(self.hour_profile) != 24:
            raise ValueError(f"needs 24 weights in hour_profile (got {len(self.hour_profile)})")
        return self


class Station(Strict):
    """A pool of identical staff on one calendar, first come first served; ``servers`` is
    the count, or with a ``schedule`` the base count of the hours no entry covers."""

    servers: PosInt
    calendar: Name = "office"
    priority: StrictBool = Field(False, description="serve lower class priority numbers first")
    patience: Dist | None = Field(
        None, description="calendar time a waiting case stays before it gives up (reneging)"
    )
    schedule: list[ScheduleEntry] = Field(
        default_factory=list, max_length=1000,
        description="servers on duty by date range, weekday and hour (docs/model.md, "
        "'Staffing over time'); hours no entry covers have `servers`")
    sessions: list[SessionEntry] = Field(
        default_factory=list, max_length=1000,
        description="decide cases only at scheduled sessions, up to a capacity each "
        "(docs/model.md, 'Review sessions (batching)'); `servers` then counts for nothing")
    label: Label = Field("", description="the name outputs show (English; default: the key)")
    label_zh: Label = Field("", description="the name outputs show in Chinese (--lang zh)")
    note: Text = ""

    @model_validator(mode="before")
    @classmethod
    def _sessions_need_no_servers(cls, data: Any) -> Any:
        """A session station may leave ``servers`` out: the sessions decide, not servers."""
        if isinstance(data, dict) and data.get("sessions") and "servers" not in data:
            data = {**data, "servers": 1}
        return data

    @model_validator(mode="after")
    def _sessions_or_schedule(self) -> Station:
        if self.sessions and self.schedule:
            raise ValueError("has both 'sessions' and a 'schedule': a station that decides "
                             "at sessions has no servers on duty to schedule (remove one)")
        return self


class Pool(Strict):
    """Help-and-proxy agents: a case holds one of capacity x caseload slots while open."""

    agents: PosInt
    caseload: PosInt = 1
    deficiency_factor: Annotated[float, BeforeValidator(_probability)] = Field(
        1.0, description="multiplies the per-material deficiency probability"
    )
    label: Label = Field("", description="the name outputs show (English; default: the key)")
    label_zh: Label = Field("", description="the name outputs show in Chinese (--lang zh)")
    note: Text = ""


class Rework(Strict):
    """Deficient submissions: P(deficient) = 1 - (1 - q)^materials; the applicant fixes it."""

    deficiency_per_material: Probability = 0.0
    fix: Dist = Field(default_factory=lambda: Dist(dist="deterministic", mean=0.0))


class Item(Strict):
    """One approval item (审批事项): a step of a route served by one station."""

    station: Name
    service: Dist
    materials: NonNegInt = 0
    limit_workdays: NonNegFloat | None = Field(None, description="statutory limit")
    limit_hours: PosFloat | None = Field(
        None, description="statutory limit in CALENDAR hours from a submission to its decision "
        "(a limit worded 'within 24 hours'); reported beside limit_workdays, not summed into "
        "the route's limit")
    delay: Dist | None = Field(None, description="applicant time before submitting (calendar)")
    lag: Dist | None = Field(
        None, description="government time after each review that occupies no staff (expert "
        "panel, public notice, sign-off), in WORKING time of the station's calendar: unit "
        "'days' means working days of that calendar"
    )
    online: StrictBool = Field(False, description="can be handled online (no visit)")
    skip_probability: Probability = 0.0
    when: Condition | None = Field(
        None, description="a condition on case attributes: only the cases it holds for run "
        "the item (e.g. \"in_park\", \"size == 'large'\")")
    deficiency_per_material: Probability | None = None
    fix: Dist | None = None
    conditional: StrictBool = Field(False, description="容缺受理: a deficient submission goes on")
    supplement_deadline_days: NonNegFloat = Field(
        10.0,
        description="with conditional acceptance: a fix that takes longer falls back to rework",
    )
    audit_probability: Probability = 0.0
    audit_station: Name | None = None
    audit_service: Dist | None = None
    revoke_probability: Probability = 0.0
    department: Text = ""
    activity: Text = Field(
        "", description="the event-log activity this item stands for (default: its name); "
        "`govsim calibrate` writes it, `govsim score` matches on it")
    label: Label = Field("", description="the name outputs show (English; default: the key)")
    label_zh: Label = Field("", description="the name outputs show in Chinese (--lang zh)")
    note: Text = ""

    _when_parses = field_validator("when")(parsed_condition)

    @model_validator(mode="after")
    def _audit_complete(self) -> Item:
        incomplete = self.audit_station is None or self.audit_service is None
        if self.audit_probability > 0 and incomplete:
            raise ValueError("needs audit_station and audit_service when audit_probability > 0")
        return self


#: the largest amount of money one cost field takes (a billion of the currency: far above
#: any fee, hourly wage or consultant's report, far below what loses a cent in a sum)
MAX_MONEY = 1e9
Money = Annotated[float, _number(0.0, hi=MAX_MONEY),
                  Field(json_schema_extra={"minimum": 0, "maximum": MAX_MONEY})]


class StationCost(Strict):
    """What a station's staff cost the government."""

    cost_per_hour: Money = Field(0.0, description="staff cost per working hour of service")
    note: Text = ""


class ItemCost(Strict):
    """What an item costs the applicant besides time and visits."""

    fee: Money = Field(0.0, description="fee paid once per item the case submits")
    intermediary: Money = Field(
        0.0, description="an intermediary's service (a consultant's report, an assessment) "
        "the applicant buys once per item the case submits")
    note: Text = ""


class Costs(Strict):
    """Money: staff cost per working hour of service per station (government cost), and
    what the applicant pays per visit, per calendar day of applicant time, in fees and for
    intermediary services per item (applicant cost). docs/model.md, "Costs"."""

    currency: Annotated[str, Field(min_length=1, max_length=20)] = "CNY"
    applicant_per_visit: Money = Field(0.0, description="applicant cost of one in-person visit")
    applicant_per_day: Money = Field(
        0.0, description="applicant cost per calendar day of applicant time (preparing, "
        "fixing) on the critical path")
    stations: dict[Name, StationCost] = Field(default_factory=dict)
    items: dict[Name, ItemCost] = Field(default_factory=dict)
    note: Text = ""


#: the zone simulated times are reported in when a scenario names none
DEFAULT_TIME_ZONE = "Asia/Shanghai"


class Meta(Strict):
    name: Annotated[str, Field(max_length=200)] = ""
    description: Text = ""
    sources: list[str] = Field(default_factory=list)
    time_zone: str | None = Field(
        None, description="IANA time zone of the scenario's clock (run.start_date 00:00 "
        f"local is hour 0); the event log's timestamps carry it (default {DEFAULT_TIME_ZONE})")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name such as 'Asia/Shanghai'") \
                from None
        return v

    @property
    def zone(self) -> str:
        """The time zone in force: ``time_zone`` or the default."""
        return self.time_zone or DEFAULT_TIME_ZONE


class Calibration(Strict):
    """Where a calibrated scenario came from (written by ``govsim calibrate``), and how
    ``govsim score`` measures a log against it."""

    log: str = Field(description="file name of the event log it was discovered from")
    cases: NonNegInt = Field(0, description="cases trained on")
    events: NonNegInt = Field(0, description="events trained on")
    train_from: dt.date | None = Field(None, description="first training case started on")
    train_until: dt.date | None = Field(
        None, description="training cases started before this date (--train-until)")
    log_end: dt.date | None = Field(None, description="last event of the log")
    decision: list[str] = Field(
        default_factory=list, description="activities whose first completion is the decision "
        "(time to decision); empty: the case's last event")
    term_days: PosFloat | None = Field(
        None, description="legal term to decision in calendar days, as the log records it")
    method: Text = ""
    note: Text = ""


class Scenario(Strict):
    """A whole scenario file."""

    scenario: Meta = Field(default_factory=Meta)
    run: Run = Field(default_factory=Run)
    calendars: dict[Name, Calendar] = Field(default_factory=dict)
    classes: dict[Name, CaseClass] = Field(min_length=1)
    stations: dict[Name, Station] = Field(min_length=1)
    pools: dict[Name, Pool] = Field(default_factory=dict)
    items: dict[Name, Item] = Field(min_length=1)
    routes: dict[Name, Route] = Field(min_length=1)
    rework: Rework = Field(default_factory=Rework)
    costs: Costs | None = Field(None, description="staff cost, applicant cost and fees")
    reforms: list[str] = Field(default_factory=list, description="reforms applied on load")
    calibration: Calibration | None = Field(
        None, description="present in a scenario discovered from an event log")
    assumptions: dict[str, str] = Field(
        default_factory=dict, description="parameter -> source or reasoning"
    )
    headline: Headline | None = Field(
        None, description="the measures a run leads with, in the service's units")
    checks: list[Check] = Field(default_factory=list, max_length=50,
                                description="figures of the source the run is checked against")
    uncertainty: dict[Annotated[str, Field(min_length=1, max_length=300)], Range] = Field(
        default_factory=dict, max_length=100,
        description="parameter path (as govsim sweep --set) -> the range of its value")
