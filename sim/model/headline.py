"""A scenario's headline measures: the figures its report, ``govsim run`` and its JSON lead
with, in the service's own units (``[headline]``, docs/model.md "Headline measures").

A measure is named like a KPI (the path users write):

* a case measure of :data:`CASE_MEASURES` (``lead_time_workdays``, ``answer_seconds``,
  ``resolved_share``, ...);
* a case measure with its threshold in the name: ``answered_within_15s_share`` (calls
  answered within 15 seconds of the calls offered), ``within_30_days_share`` (completed
  within 30 calendar days), ``within_30_workdays_share`` (working days);
* either of those over one class only: ``classes.NAME.MEASURE``;
* a station measure: ``stations.NAME.utilization`` (or ``occupancy``, the call-centre
  word for it), ``stations.NAME.mean_wait_hours``, ``stations.NAME.mean_queue_length``.

This module checks the names (the first stage, as the file loads); that the class or
station exists is checked with the other references (``scenario.check_references``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

from sim.model.fields import Strict, Text

#: case measures without a parameter
CASE_MEASURES: tuple[str, ...] = (
    "lead_time_workdays", "lead_time_days", "lead_time_workdays.p90", "lead_time_days.p90",
    "within_limit_share", "within_limit_share_government", "visits", "rework_rounds",
    "abandoned_share", "answer_seconds", "resolved_share", "throughput_per_day",
)
#: the case measures every run computes already: the column of ``per_replication`` each
#: reads (the others get a column ``headline.NAME``)
COLUMNS: dict[str, str] = {
    "lead_time_workdays": "lead_time_workdays.mean",
    "lead_time_workdays.p90": "lead_time_workdays.p90",
    "lead_time_days": "lead_time_days.mean", "lead_time_days.p90": "lead_time_days.p90",
    "within_limit_share": "within_limit_share",
    "within_limit_share_government": "within_limit_share_government",
    "visits": "visits.mean", "rework_rounds": "rework_rounds.mean",
    "abandoned_share": "abandoned_share", "throughput_per_day": "throughput_per_day"}
#: station measures (``stations.NAME.X``)
STATION_MEASURES: tuple[str, ...] = ("utilization", "occupancy", "mean_wait_hours",
                                     "mean_queue_length")
_ANSWERED = re.compile(r"^answered_within_(\d{1,4})s_share$")
_WITHIN = re.compile(r"^within_(\d{1,4})_(days|workdays)_share$")


@dataclass(frozen=True)
class Measure:
    """A parsed measure name."""

    name: str                #: as written
    base: str                #: the measure without its class or station
    cls: str | None = None   #: ``classes.NAME.`` prefix
    station: str | None = None  #: ``stations.NAME.`` prefix
    seconds: int | None = None  #: answered within this many seconds
    days: int | None = None     #: completed within this many days
    unit: str = ""             #: ``days`` or ``workdays`` for ``within_N_..._share``


def parse(name: str) -> Measure:
    """A measure name parsed; ValueError (naming the rule) when it is none."""
    if name.startswith("stations."):
        station, _, kpi = name[len("stations."):].rpartition(".")
        if not station or kpi not in STATION_MEASURES:
            raise ValueError(f"a station measure is stations.NAME.X with X one of "
                             f"{', '.join(STATION_MEASURES)}")
        return Measure(name, kpi, station=station)
    cls = None
    base = name
    if name.startswith("classes."):
        cls, _, base = name[len("classes."):].partition(".")
        if not cls or not base:
            raise ValueError("a class measure is classes.NAME.MEASURE")
    m = _ANSWERED.match(base)
    if m:
        sec = int(m.group(1))
        if not 1 <= sec <= 3600:
            raise ValueError("answered_within_Ns_share needs 1 <= N <= 3600 seconds")
        return Measure(name, base, cls=cls, seconds=sec)
    m = _WITHIN.match(base)
    if m:
        days = int(m.group(1))
        if days < 1:
            raise ValueError("within_N_days_share needs N >= 1")
        return Measure(name, base, cls=cls, days=days, unit=m.group(2))
    if base not in CASE_MEASURES:
        raise ValueError(f"must be one of {', '.join(CASE_MEASURES)}, answered_within_Ns_share, "
                         "within_N_days_share, within_N_workdays_share (optionally as "
                         "classes.NAME.MEASURE) or stations.NAME.X")
    return Measure(name, base, cls=cls)


def _check(name: str) -> str:
    parse(name)
    return name


MeasureName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_check)]


class Headline(Strict):
    """The measures a run leads with, in order (the report's cards, ``govsim run``'s first
    table, the ``headline`` list of its JSON)."""

    measures: list[MeasureName] = Field(min_length=1, max_length=12)
    note: Text = ""
