"""Headline measures ([headline]): checked as the file loads, computed from the records,
in the JSON under new keys, leading the report and govsim run."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim
from sim.cli import main
from sim.errors import ScenarioError
from sim.model.headline import parse as parse_measure
from sim.model.scenario import parse
from tests.conftest import ROOT

HOTLINE = ROOT / "scenarios" / "hohhot-12345-hotline.toml"
CALL_MEASURES = ["answer_seconds", "answered_within_15s_share", "answered_within_20s_share",
                 "abandoned_share", "stations.agents.occupancy"]


def _hotline(**run: Any) -> dict[str, Any]:
    with open(HOTLINE, "rb") as fh:
        d = tomllib.load(fh)
    d["run"] = {**d["run"], "horizon_days": 2, "arrival_days": 2, **run}
    d["headline"] = {"measures": CALL_MEASURES}
    return d


@pytest.fixture(scope="module")
def hot() -> Any:
    return sim.run(parse(_hotline(), "hotline.toml"), replications=2, seed=3)


def test_measures_computed_from_the_records(hot: Any) -> None:
    d = hot.to_dict()
    head = {h["name"]: h for h in d["headline"]}
    assert list(head) == CALL_MEASURES
    c = hot.cases
    c = c[~c["warmup"]]
    asa, within15, within20 = [], [], []
    for _, g in c.groupby("replication"):
        done = g[g["status"] == "completed"]
        offered = (g["status"] != "open").sum()
        wait_s = done["queue_hours"].to_numpy() * 3600.0
        asa.append(wait_s.mean())
        within15.append((wait_s <= 15).sum() / offered)
        within20.append((wait_s <= 20).sum() / offered)
    assert head["answer_seconds"]["mean"] == pytest.approx(np.mean(asa), rel=1e-12)
    assert head["answered_within_15s_share"]["mean"] == pytest.approx(np.mean(within15))
    assert head["answered_within_20s_share"]["mean"] == pytest.approx(np.mean(within20))
    assert 0 < head["answered_within_15s_share"]["mean"] <= head["answered_within_20s_share"][
        "mean"] < 1
    assert head["abandoned_share"]["mean"] == pytest.approx(d["kpis"]["abandoned_share"]["mean"])
    assert head["stations.agents.occupancy"]["mean"] == pytest.approx(
        d["stations"]["agents"]["utilization"])
    assert head["answer_seconds"]["unit"] == "seconds"
    # new JSON keys beside the old ones (none renamed)
    assert d["kpis"]["answer_seconds"]["mean"] == head["answer_seconds"]["mean"]
    assert "answered_within_15s_share" in d["kpis"] and "lead_time_workdays" in d["kpis"]


def test_streamed_run_gives_the_same_measures(hot: Any) -> None:
    streamed = sim.run(parse(_hotline(), "hotline.toml"), replications=2, seed=3, stream=True)
    a = {h["name"]: h["mean"] for h in hot.to_dict()["headline"]}
    b = {h["name"]: h["mean"] for h in streamed.to_dict()["headline"]}
    assert a == pytest.approx(b, rel=1e-12)


def test_class_and_day_measures() -> None:
    with open(ROOT / "scenarios" / "hohhot-disputes-2023.toml", "rb") as fh:
        d = tomllib.load(fh)
    d["run"] = {**d["run"], "arrival_days": 20, "horizon_days": 120, "warmup_days": 5}
    d["headline"] = {"measures": ["lead_time_days", "resolved_share",
                                  "classes.enforcement_simple.within_30_days_share"]}
    r = sim.run(parse(d, "disputes.toml"), replications=2, seed=1)
    head = {h["name"]: h for h in r.to_dict()["headline"]}
    c = r.cases
    c = c[(~c["warmup"]) & (c["class"] == "enforcement_simple")]
    expect = np.mean([(g[g["status"] == "completed"]["lead_days"] <= 30).mean()
                      for _, g in c.groupby("replication")])
    assert head["classes.enforcement_simple.within_30_days_share"]["mean"] == pytest.approx(
        expect)
    assert head["lead_time_days"]["mean"] == pytest.approx(
        r.to_dict()["kpis"]["lead_time_days"]["mean"])
    assert 0 < head["resolved_share"]["mean"] <= 1


def test_default_headline_without_a_section(mini: dict[str, Any]) -> None:
    r = sim.run(parse(mini, "mini.toml"), replications=2)
    names = [h["name"] for h in r.to_dict()["headline"]]
    assert names[:3] == ["lead_time_workdays", "lead_time_workdays.p90", "lead_time_days"]


@pytest.mark.parametrize(("measures", "field", "rule"), [
    (["bogus"], "headline.measures[0]", "must be one of lead_time_workdays"),
    (["answered_within_0s_share"], "headline.measures[0]", "1 <= N <= 3600"),
    (["stations.agents.speed"], "headline.measures[0]", "stations.NAME.X with X one of"),
    (["classes.nobody.answer_seconds"], "headline.measures[0]", "names an unknown class"),
    (["answer_seconds", "stations.clerks.utilization"], "headline.measures[1]",
     "names an unknown station"),
    ([], "headline.measures", ""),
])
def test_bad_measures_name_the_field(measures: list[str], field: str, rule: str) -> None:
    d = _hotline()
    d["headline"] = {"measures": measures}
    with pytest.raises(ScenarioError) as e:
        parse(d, "hotline.toml")
    assert str(e.value).startswith(f"hotline.toml: {field} ")
    assert rule in str(e.value)


def test_parse() -> None:
    m = parse_measure("classes.simple.within_30_workdays_share")
    assert (m.cls, m.days, m.unit) == ("simple", 30, "workdays")
    assert parse_measure("answered_within_20s_share").seconds == 20
    assert parse_measure("stations.agents.occupancy").station == "agents"


def test_run_leads_with_the_headline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import tomli_w

    path = tmp_path / "hotline.toml"
    path.write_text(tomli_w.dumps(_hotline()), encoding="utf-8")
    out_json = tmp_path / "out.json"
    assert main(["run", str(path), "-n", "2", "--json", str(out_json), "--out",
                 str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert out.index("Headline measures") < out.index("Lead time (completed cases)")
    assert "average speed" in out and " s " in out
    assert json.loads(out_json.read_text())["headline"][0]["name"] == "answer_seconds"
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    cards = html[html.index('<div class="cards">'):html.index("<nav>")]
    assert "average speed of answer" in cards and "answered within 15 s" in cards
    assert "mean lead time" not in cards  # no 0.0-day cards for a hotline
    assert main(["run", str(path), "-n", "2", "-q", "--lang", "zh", "--out",
                 str(tmp_path / "zh")]) == 0
    zh = (tmp_path / "zh" / "report.html").read_text(encoding="utf-8")
    assert "平均应答时间" in zh and "15 秒内接通率" in zh and "座席占用率" in zh


def test_hotline_report_leads_figures_with_the_speed_of_answer(hot: Any, tmp_path: Path) -> None:
    from sim.present import report

    html = report.write_run_report(hot, tmp_path / "r").read_text(encoding="utf-8")
    assert (tmp_path / "r" / "figures" / "answer_cdf.png").is_file()
    assert html.index("Speed of answer") < html.index("Lead time distribution")


def test_compare_report_differences_lead_with_the_headline(hot: Any, tmp_path: Path) -> None:
    from sim.present import compare_report

    html = compare_report.write_compare_report({"a": hot, "b": hot}, tmp_path / "c").read_text(
        encoding="utf-8")
    diffs = html[html.index('id="differences"'):html.index('id="figures"')]
    assert diffs.index("average speed of answer") < diffs.index("answered within 15 s") < \
        diffs.index("abandoned") < diffs.index("mean lead time")
