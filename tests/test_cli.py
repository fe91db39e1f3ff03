"""The command line: the JSON contract, reproducibility, and clean errors with exit code 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w

import sim
from sim.cli import main
from tests.conftest import DATA, ROOT

MINI = str(DATA / "mini.toml")


def _run_json(tmp_path: Path, *args: str, name: str = "out.json") -> dict[str, Any]:
    out = tmp_path / name
    assert main(["run", MINI, "-q", "--json", str(out), *args]) == 0
    return json.loads(out.read_text())


def test_json_contract(tmp_path: Path) -> None:
    d = _run_json(tmp_path, "-n", "2", "--seed", "3")
    assert {"scenario", "engine", "replications", "seed", "cases", "kpis", "stations"} <= set(d)
    assert d["replications"] == 2 and d["seed"] == 3 and d["engine"] == "vector"
    assert {"arrived", "completed", "open_at_horizon"} <= set(d["cases"])
    k = d["kpis"]
    for key in ("lead_time_workdays", "lead_time_days"):
        assert {"mean", "p50", "p90", "p95", "ci95"} <= set(k[key])
        lo, hi = k[key]["ci95"]
        assert lo <= k[key]["mean"] <= hi
        assert k[key]["p50"] <= k[key]["p90"] <= k[key]["p95"]
    assert "mean" in k["visits"] and "mean" in k["rework_rounds"]
    assert 0.0 <= k["within_limit_share"] <= 1.0
    assert set(d["stations"]) == {"front", "review", "helpers"}
    for s in d["stations"].values():
        assert {"servers", "utilization", "mean_wait_hours", "mean_queue_length"} <= set(s)
        assert 0.0 <= s["utilization"] <= 1.0
    assert d["cases"]["arrived"] == (d["cases"]["completed"] + d["cases"]["open_at_horizon"]
                                     + d["cases"]["abandoned"])


def test_same_seed_identical_json_any_workers(tmp_path: Path) -> None:
    a = (tmp_path / "a.json")
    assert main(["run", MINI, "-q", "-n", "3", "--seed", "11", "--json", str(a)]) == 0
    b = (tmp_path / "b.json")
    assert main(["run", MINI, "-q", "-n", "3", "--seed", "11", "--json", str(b),
                 "--workers", "2"]) == 0
    assert a.read_text() == b.read_text()
    c = _run_json(tmp_path, "-n", "3", "--seed", "12", name="c.json")
    assert c["kpis"] != json.loads(a.read_text())["kpis"]


def test_engines_print_identical_kpis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", MINI, "-n", "2", "--engine", "des"]) == 0
    des_out = capsys.readouterr().out
    assert main(["run", MINI, "-n", "2", "--engine", "vector"]) == 0
    vec_out = capsys.readouterr().out
    assert "engine des" in des_out and "engine vector" in vec_out
    assert des_out.replace("engine des", "") == vec_out.replace("engine vector", "")


def test_prints_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", MINI, "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "Lead time" in out and "working days" in out and "review" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "nope.toml"], "govsim: error: nope.toml: file not found"),
    (["run", MINI, "--engine", "warp"], "govsim: error: --engine: unknown engine 'warp'"),
    (["run", MINI, "--replications", "0"],
     "govsim: error: --replications must be an integer >= 1 (got 0)"),
    (["run", MINI, "--seed", "-1"], "govsim: error: --seed must be an integer >= 0 (got -1)"),
])
def test_usage_errors_exit_2(argv: list[str], message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_file_no_traceback_nothing_written(tmp_path: Path, mini: dict[str, Any]) -> None:
    mini["stations"]["front"]["servers"] = 0
    bad = tmp_path / "construction.toml"
    bad.write_text(tomli_w.dumps(mini))
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(bad), "--json", str(out)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("govsim: error: construction.toml: stations.front.servers "
                                   "must be an integer >= 1 (got 0)")
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("field", "weights", "shown"), [
    ("hour_profile", [0.0] * 24,
     "[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0..."),
    ("weekday_profile", [0.0] * 7, "[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]"),
])
def test_all_zero_profile_is_a_scenario_error(tmp_path: Path, mini: dict[str, Any], command: str,
                                              field: str, weights: list[float], shown: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    mini["classes"]["ordinary"][field] = weights
    p = tmp_path / "mini.toml"
    p.write_text(tomli_w.dumps(mini))
    assert main([command, str(p), "-q"] if command == "run" else [command, str(p)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"govsim: error: mini.toml: classes.ordinary.{field} must have at "
                           f"least one positive weight (got {shown})")


def test_json_into_missing_folder_is_an_error(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", MINI, "-q", "-n", "1", "--json", str(tmp_path / "no" / "x.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_validate_and_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", MINI]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert "properties" in json.loads((tmp_path / "s.json").read_text())


def test_overload_warning_is_printed(tmp_path: Path, mini: dict[str, Any],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    mini["stations"]["review"]["servers"] = 1
    p = tmp_path / "hot.toml"
    p.write_text(tomli_w.dumps(mini))
    assert main(["validate", str(p)]) == 0
    assert "station 'review' is loaded at" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert re.fullmatch(r"govsim \d+\.\d+\.\d+.*\n", capsys.readouterr().out)


def test_json_dash_is_standard_output_and_tables_go_to_stderr(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", MINI, "-n", "2", "--seed", "3", "--json", "-"]) == 0
    cap = capsys.readouterr()
    d = json.loads(cap.out)  # nothing but the JSON on stdout
    assert d["replications"] == 2 and d["seed"] == 3
    assert "Lead time" in cap.err and not (tmp_path / "-").exists()
    assert main(["run", MINI, "-n", "1", "--json", str(tmp_path / "r.json"), "--out",
                 str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out  # the next command prints its tables to stdout again
    assert "Lead time" in out
    assert f"JSON written to {tmp_path / 'r.json'}" in out.replace("\n", "")
    assert f"report written to {tmp_path / 'rep' / 'report.html'}" in out.replace("\n", "")


def test_first_use_compile_notice(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """One line on stderr when the compiled engine is not in numba's cache yet, none once
    it is (this process has run it, so its cache index exists)."""
    from sim.cli.common import compile_notice
    from sim.engines import vector

    sim.run(MINI, replications=1, seed=1)
    assert vector.kernels_cached()
    compile_notice("vector")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(vector, "kernels_cached", lambda: False)
    compile_notice("vector")
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("compiling the simulation engine on first use")
    compile_notice("des")
    assert capsys.readouterr().err == ""


def test_completion_bash_names_every_command(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import build_parser

    assert main(["completion", "bash"]) == 0
    text = capsys.readouterr().out
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    listed = re.search(r"_shtab_govsim_subparsers=\(([^)]*)\)", text)
    assert listed is not None
    assert set(commands) == set(listed.group(1).split()) and "completion" in commands
    # scenario files complete as files, report folders as folders
    assert "_shtab_govsim_run_pos_0_COMPGEN=_shtab_compgen_files" in text
    assert "_shtab_govsim_compare___out_COMPGEN=_shtab_compgen_dirs" in text
    script = tmp_path / "govsim.bash"
    script.write_text(text)
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_completion_unknown_shell_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "fish"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "govsim: error: completion: unknown shell 'fish' (choose bash, zsh, tcsh)"


def test_each_command_registers_from_its_own_module() -> None:
    """COMMAND_MODULES names every command of the whole parser and its module: a command
    line that names one builds a parser with that module's commands only."""
    from sim.cli import COMMAND_MODULES, build_parser

    def choices(argv: list[str] | None) -> set[str]:
        p = build_parser(argv)
        return set(next(a for a in p._actions if a.dest == "command").choices)

    every = choices(None)
    assert every == set(COMMAND_MODULES)
    for name, module in COMMAND_MODULES.items():
        mine = {c for c, m in COMMAND_MODULES.items() if m == module}
        assert choices([name, "x"]) == (every if name == "completion" else mine), name
    assert choices(["--lang", "zh"]) == every and choices(["nonsense"]) == every


def test_run_imports_no_other_command() -> None:
    """``govsim validate`` (the run module) loads no calibration, serving, sweep or
    plotting code (what a fresh ``govsim run`` would otherwise spend half a second on)."""
    code = ("import sys; from sim.cli import main; "
            f"main(['validate', {str(ROOT / 'scenarios' / 'hohhot-construction-2023.toml')!r}]); "
            "print(sorted(m for m in sys.modules if m.startswith(('sim.calibrate', 'sim.serve', "
            "'sim.cli.', 'matplotlib', 'jinja2', 'sim.experiments.sweep'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1]
    assert out == "['sim.cli.common', 'sim.cli.process', 'sim.cli.run']"
