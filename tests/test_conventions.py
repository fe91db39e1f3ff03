"""Terminal conventions: reform --write keeps the file's comments, --json - writes to
standard output, every file written is named at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import api
from sim.cli import main
from sim.model import scenario as scenario_io
from sim.model.rewrite import plain
from tests.conftest import DATA, ROOT

CONSTRUCTION = ROOT / "scenarios" / "hohhot-construction-2023.toml"


def _comments(text: str) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line]


@pytest.mark.parametrize("reforms", [
    ["cut_materials:total=145", "online:0.9"],
    ["cut_items:items=energy_review", "merge_items:items=eia_approval+soil_water_conservation",
     "parallel"],
])
def test_reform_write_keeps_comments(tmp_path: Path, reforms: list[str],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reformed.toml"
    argv = ["reform", str(CONSTRUCTION), "--write", str(out)]
    for r in reforms:
        argv += ["--reform", r]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip().endswith(f"reformed scenario written to {out}")
    text = out.read_text(encoding="utf-8")
    before = CONSTRUCTION.read_text(encoding="utf-8")
    kept = set(_comments(text))
    original = _comments(before)
    assert sum(c in kept for c in original) >= 0.9 * len(original)
    # and it loads to the reformed scenario
    assert plain(scenario_io.load(out)) == plain(api.load(str(CONSTRUCTION), reforms))


def test_reform_write_loads_to_the_same_scenario(tmp_path: Path) -> None:
    out = tmp_path / "r.toml"
    assert main(["reform", str(CONSTRUCTION), "--reform", "online:0.8", "-w", str(out)]) == 0
    again = tmp_path / "again.toml"
    assert main(["reform", str(CONSTRUCTION), "--reform", "online:0.8", "-w", "-"]) == 0
    # the comment-keeping file and the plain dump describe one scenario
    assert main(["reform", str(out), "--reform", "online:0.8", "-w", str(again)]) == 0
    a, b = scenario_io.load(out), scenario_io.load(again)
    assert a.classes == b.classes and a.items == b.items


@pytest.mark.parametrize("argv", [
    ["run", str(DATA / "mini.toml"), "-n", "2"],
    ["compare", str(DATA / "mini.toml"), str(DATA / "mini.toml") + "@online:0.8", "-n", "2"],
    ["levers", str(DATA / "mini.toml"), "-n", "2"],
    ["staff", str(DATA / "mini.toml"), "--target", "lead_time_workdays<=3", "-n", "2"],
])
def test_json_dash_is_standard_output(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--json", "-"]) == 0
    cap = capsys.readouterr()
    json.loads(cap.out)  # only the JSON on standard output; the tables went to stderr
    assert "written to" not in cap.out


def test_every_file_written_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    j, o = tmp_path / "r.json", tmp_path / "rep"
    assert main(["run", str(DATA / "mini.toml"), "-n", "2", "--json", str(j), "--out",
                 str(o)]) == 0
    tail = capsys.readouterr().out.strip().splitlines()[-2:]
    assert tail == [f"JSON written to {j}", f"report written to {o / 'report.html'}"]
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert capsys.readouterr().out.strip() == f"JSON Schema written to {tmp_path / 's.json'}"
