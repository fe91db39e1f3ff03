"""The one table of KPIs: name, unit, label, direction and format of every figure a run
reports, read by run, compare, sweep, staff, the reports and the terminal tables.

A KPI's ``name`` is the path users write (``govsim compare --json`` keys, ``sim.compare``
tables, ``govsim sweep --metric``, ``govsim staff --target``). Station KPIs are spelled
``stations.NAME.KPI``, like the ``stations`` object of ``govsim run --json``; the older
``station.NAME.KPI`` (sweeps and staffing before 0.2) is still accepted as an alias
(:func:`canonical`), and a resumed sweep reads points recorded under it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STATION_PREFIX = "stations."
STATION_ALIAS = "station."


@dataclass(frozen=True)
class KPI:
    """One reported figure."""

    name: str                     #: the path users write (station KPIs: the last part)
    label: str                    #: what tables and reports call it
    unit: str                     #: its unit, in words
    kind: str                     #: format family: days, share, count, hours, money
    lower_is_better: bool | None  #: the direction a reform wants (None: neither)
    column: str | None = None     #: its column of ``RunResult.per_replication``

    def format(self, value: float | None, sign: bool = False) -> str:
        """``value`` as tables show it (``-`` when missing)."""
        return format_value(value, self.kind, sign)


def format_value(value: float | None, kind: str, sign: bool = False) -> str:
    """A number in the format of a KPI ``kind``: days and hours 1 decimal, counts 2, money
    0, shares as a percentage with 1 decimal; ``sign`` shows ``+`` (for differences)."""
    if value is None or not math.isfinite(value):
        return "-"
    plus = "+" if sign else ""
    if kind == "share":
        return f"{value * 100:{plus},.1f}%"
    if kind == "count":
        return f"{value:{plus},.2f}"
    if kind == "money":
        return f"{value:{plus},.0f}"
    return f"{value:{plus},.1f}"


def _lead(unit: str, words: str) -> tuple[KPI, ...]:
    base = f"lead_time_{unit}"
    return (KPI(base, f"lead time, {words}", words, "days", True, f"{base}.mean"),
            *(KPI(f"{base}.{q}", f"  {q.upper()}", words, "days", True, f"{base}.{q}")
              for q in ("p50", "p90", "p95")))


#: the cost KPIs (scenarios with a ``[costs]`` section only): means over completed cases,
#: in the scenario's ``costs.currency``
COST_KPIS: tuple[KPI, ...] = (
    KPI("gov_cost_per_case", "government cost per case", "currency", "money", True,
        "gov_cost.mean"),
    KPI("applicant_cost_per_case", "applicant cost per case", "currency", "money", True,
        "applicant_cost.mean"),
)

#: the case KPIs, in the order tables show them
CASE_KPIS: tuple[KPI, ...] = (
    *_lead("workdays", "working days"),
    *_lead("days", "calendar days"),
    KPI("within_limit_share", "within the limit (whole lead time)", "share of cases", "share",
        False, "within_limit_share"),
    KPI("within_limit_share_government", "within the limit (government time: service, "
        "queue, lag)", "share of cases", "share", False, "within_limit_share_government"),
    KPI("visits", "in-person visits per case", "visits", "count", True, "visits.mean"),
    KPI("rework_rounds", "rework rounds per case", "rounds", "count", True,
        "rework_rounds.mean"),
    KPI("supplements", "conditional supplements per case", "supplements", "count", None,
        "supplements.mean"),
    KPI("revoked", "approvals revoked by audits per case", "approvals", "count", True,
        "revoked.mean"),
    KPI("lead_time_split_days.service", "days in government work", "calendar days", "days", True,
        "split.service_days"),
    KPI("lead_time_split_days.queue", "days in queues", "calendar days", "days", True,
        "split.queue_days"),
    KPI("lead_time_split_days.applicant", "days with the applicant", "calendar days", "days",
        True, "split.applicant_days"),
    KPI("throughput_per_day", "completed per day (throughput)", "cases per day", "count", False,
        "throughput_per_day"),
    KPI("completed", "completed (per rep.)", "cases", "count", False, "completed"),
    KPI("open_at_horizon", "open at horizon (per rep.)", "cases", "count", True,
        "open_at_horizon"),
    KPI("abandoned_share", "abandoned", "share of cases", "share", True, "abandoned_share"),
    *COST_KPIS,
)

#: the station KPIs (``stations.NAME.<name>``)
STATION_KPIS: tuple[KPI, ...] = (
    KPI("servers", "servers", "staff", "count", None),
    KPI("utilization", "busy", "share of staffed time", "share", None),
    KPI("mean_wait_hours", "mean wait", "calendar hours", "hours", True),
    KPI("mean_wait_workhours", "mean wait", "working hours", "hours", True),
    KPI("mean_queue_length", "mean queue", "cases", "count", True),
)

BY_NAME: dict[str, KPI] = {k.name: k for k in CASE_KPIS}
STATION_BY_NAME: dict[str, KPI] = {k.name: k for k in STATION_KPIS}


def station_kpi(station: str, kpi: str) -> str:
    """The name of a station KPI: ``stations.NAME.KPI``."""
    return f"{STATION_PREFIX}{station}.{kpi}"


def canonical(name: str) -> str:
    """A KPI name in its one spelling: ``station.NAME.KPI`` becomes ``stations.NAME.KPI``."""
    if name.startswith(STATION_ALIAS):
        return STATION_PREFIX + name[len(STATION_ALIAS):]
    return name


def split_station(name: str) -> tuple[str, str] | None:
    """``stations.NAME.KPI`` (or its alias) -> (NAME, KPI); None for a case KPI."""
    name = canonical(name)
    if not name.startswith(STATION_PREFIX):
        return None
    station, _, kpi = name[len(STATION_PREFIX):].rpartition(".")
    return (station, kpi) if station else None


def lookup(name: str) -> KPI | None:
    """The KPI a name means (a station KPI's entry for ``stations.NAME.KPI``)."""
    st = split_station(name)
    if st is not None:
        return STATION_BY_NAME.get(st[1])
    return BY_NAME.get(name)
