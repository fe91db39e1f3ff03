"""Scenario validation: every bad input gets one message naming file, field, rule, value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from sim.errors import ScenarioError
from sim.model import LoadWarning, build
from sim.model import scenario as S

CASES = [
    (lambda d: d["stations"]["front"].update(servers=0),
     "mini.toml: stations.front.servers must be an integer >= 1 (got 0)"),
    (lambda d: d["stations"]["front"].update(servers=-3),
     "mini.toml: stations.front.servers must be an integer >= 1 (got -3)"),
    (lambda d: d["stations"]["front"].update(servers="two"),
     "mini.toml: stations.front.servers must be an integer >= 1 (got 'two')"),
    (lambda d: d["stations"]["front"].update(servers=1.5),
     "mini.toml: stations.front.servers must be an integer >= 1 (got 1.5)"),
    (lambda d: d["stations"]["front"].update(colour="red"),
     "mini.toml: stations.front.colour is not a known field (got 'red')"),
    (lambda d: d.update(queues={}), "mini.toml: queues is not a known field (got {})"),
    (lambda d: d["classes"]["ordinary"].update(rate=-1),
     "mini.toml: classes.ordinary.rate must be a number >= 0 (got -1)"),
    (lambda d: d["items"]["intake"]["service"].update(mean=-2.5),
     "mini.toml: items.intake.service.mean must be a number >= 0 (got -2.5)"),
    (lambda d: d["items"]["intake"].update(station="nowhere"),
     "mini.toml: items.intake.station names an unknown station (known: front, review) "
     "(got 'nowhere')"),
    (lambda d: d["routes"]["main"]["stages"][1].update(items=["review_a", "ghost"]),
     "mini.toml: routes.main.stages[1].items[1] names an unknown item "
     "(known: intake, review_a, review_b) (got 'ghost')"),
    (lambda d: d["rework"].update(deficiency_per_material=1.5),
     "mini.toml: rework.deficiency_per_material must be a probability in [0, 1] (got 1.5)"),
    (lambda d: d["classes"]["ordinary"].update(online_share=-0.1),
     "mini.toml: classes.ordinary.online_share must be a probability in [0, 1] (got -0.1)"),
    (lambda d: d["calendars"]["office"].update(weekdays=[]),
     "mini.toml: calendars.office.weekdays leaves the calendar with no working time (got [])"),
    (lambda d: d["calendars"]["office"].update(hours=[["12:00", "09:00"]]),
     "mini.toml: calendars.office.hours[0] must be an increasing, non-overlapping period "
     "(got ['12:00', '09:00'])"),
    (lambda d: d["items"]["intake"]["service"].update(dist="weibull"),
     "mini.toml: items.intake.service.dist must be one of 'deterministic', 'exponential', "
     "'gamma', 'lognormal', 'triangular' or 'empirical' (got 'weibull')"),
    (lambda d: d["items"]["intake"].pop("station"), "mini.toml: items.intake.station is required"),
    (lambda d: d["run"].update(start_date="yesterday"),
     "mini.toml: run.start_date must be a date (YYYY-MM-DD) (got 'yesterday')"),
    (lambda d: d["items"]["intake"].update(service={"dist": "gamma", "mean": 1.0}),
     "mini.toml: items.intake.service needs 'cv' for a gamma distribution"),
    (lambda d: d["stations"]["front"].update(calendar="night"),
     "mini.toml: stations.front.calendar names an unknown calendar (known: always, office) "
     "(got 'night')"),
    (lambda d: d["stations"]["front"].update(priority="yes"),
     "mini.toml: stations.front.priority must be true or false (got 'yes')"),
    (lambda d: d["classes"]["key"].update(agent_pool="nobody"),
     "mini.toml: classes.key.agent_pool names an unknown pool (known: helpers) (got 'nobody')"),
    (lambda d: d["classes"]["ordinary"].update(hour_profile=[0.0] * 24),
     "mini.toml: classes.ordinary.hour_profile must have at least one positive weight "
     "(got [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0...)"),
    (lambda d: d["classes"]["key"].update(weekday_profile=[0.0] * 7),
     "mini.toml: classes.key.weekday_profile must have at least one positive weight "
     "(got [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])"),
]


@pytest.mark.parametrize(("mutate", "message"), CASES)
def test_bad_field_message(mini: dict[str, Any], mutate: Any, message: str) -> None:
    mutate(mini)
    with pytest.raises(ScenarioError) as exc:
        S.parse(mini, "mini.toml")
    assert str(exc.value) == message


def _write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"missing.toml: file not found"):
        S.load(tmp_path / "missing.toml")
    with pytest.raises(ScenarioError, match=r"^empty.toml: is empty"):
        S.load(_write(tmp_path, "  \n", "empty.toml"))
    with pytest.raises(ScenarioError, match=r"^bad.toml: is not valid TOML: .*line 1"):
        S.load(_write(tmp_path, "[stations\nservers = 1", "bad.toml"))


def test_zero_service_rejected(mini: dict[str, Any]) -> None:
    mini["items"]["intake"]["service"] = {"dist": "deterministic", "mean": 0.0}
    with pytest.raises(ScenarioError, match=r"items.intake.service must take only positive"):
        build(S.parse(mini, "mini.toml"), "mini.toml")


def test_overload_warning_names_station(mini: dict[str, Any]) -> None:
    mini["stations"]["review"]["servers"] = 1
    with pytest.warns(LoadWarning, match=r"station 'review' is loaded at 1\d\d% of its capacity"):
        build(S.parse(mini, "mini.toml"), "mini.toml")


def test_round_trip_through_toml(mini: dict[str, Any], tmp_path: Path) -> None:
    s = S.parse(mini)
    path = tmp_path / "copy.toml"
    S.save(s, path)
    again = S.load(path)
    again.scenario.name = s.scenario.name
    assert again == s


def test_json_schema_describes_fields() -> None:
    from sim.model.schema import Scenario

    schema = Scenario.model_json_schema()
    assert {"classes", "stations", "items", "routes", "run"} <= set(schema["properties"])
    station = schema["$defs"]["Station"]["properties"]["servers"]
    assert station.get("minimum") == 1
    json.dumps(schema)


def test_valid_file_loads(tmp_path: Path, mini: dict[str, Any]) -> None:
    p = _write(tmp_path, tomli_w.dumps(mini), "ok.toml")
    s = S.load(p)
    assert s.scenario.name == "mini"
    assert list(s.items) == ["intake", "review_a", "review_b"]
