"""Scenarios the benchmarks run, built in code (dict -> ``sim.model.scenario.parse``)."""

from __future__ import annotations

from typing import Any

from sim.model import Model, build
from sim.model.scenario import parse


def tandem_dict(cases: int, stations: int = 37, servers: int = 3, load: float = 0.8,
                rate_per_hour: float = 1.0, warmup_days: float = 10.0,
                tail_days: float = 40.0, seed: int = 1) -> dict[str, Any]:
    """``stations`` M/M/``servers`` stations in series, always open, offered ``load``.

    Poisson arrivals at ``rate_per_hour`` over the time ``cases`` of them take on
    average; the horizon adds ``tail_days`` so that (at a stable load) every case ends.
    """
    mean = load * servers / rate_per_hour  # hours of one service
    arrival_days = cases / rate_per_hour / 24.0
    names = [f"s{k:02d}" for k in range(stations)]
    return {
        "scenario": {"name": f"tandem-{stations}x{servers}-rho{load:g}"},
        "run": {"arrival_days": arrival_days, "horizon_days": arrival_days + tail_days,
                "warmup_days": min(warmup_days, arrival_days / 2), "replications": 1,
                "seed": seed, "max_attempts": 1, "calendar": "always"},
        "calendars": {"always": {"always": True}},
        "classes": {"case": {"rate": rate_per_hour, "per": "hour", "route": "line"}},
        "stations": {n: {"servers": servers, "calendar": "always"} for n in names},
        "items": {f"i{n}": {"station": n, "service": {"dist": "exponential", "mean": mean}}
                  for n in names},
        "routes": {"line": {"stages": [{"name": f"at_{n}", "items": [f"i{n}"]}
                                       for n in names]}},
    }


def tandem(cases: int, **kw: Any) -> Model:
    return build(parse(tandem_dict(cases, **kw), "<tandem>"), "<tandem>", warn=False)
