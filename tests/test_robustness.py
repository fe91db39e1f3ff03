"""Malformed and extreme scenario files: each is refused before anything runs, with one
line (file, field, rule, value) and exit code 2, never a traceback, a hang or a runaway.

The corpus is made from a shipped scenario with one thing broken, as a user or a fuzzer
would break it: files that are not regular files, nesting past any real file, names and
notes of runaway length, integers past 64 bits, counts that would ask for memory no machine
has, dates past any plausible plan.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import sim
from sim.cli import main
from sim.experiments import budget
from sim.experiments.sources import load_model
from sim.files import write_atomic
from sim.present import report

ROOT = Path(__file__).resolve().parents[1]
HOTLINE = ROOT / "scenarios" / "hohhot-12345-hotline.toml"


def _edit(pattern: str, repl: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        out, n = re.subn(pattern, repl, text, count=1, flags=re.M)
        assert n == 1, f"the corpus edit {pattern!r} found nothing to change"
        return out

    return edit


#: name -> (edit of the hotline file, what the one line must say)
CORPUS: dict[str, tuple[Callable[[str], str], str]] = {
    "deep nesting": (lambda t: "x = " + "[" * 3000 + "]" * 3000 + "\n" + t, "too deep"),
    "long station name": (_edit(r"^\[stations\.agents\]", "[stations." + "a" * 100_000 + "]"),
                          "at most 100 characters"),
    "long note": (_edit(r'^note = "', 'note = "' + "x" * 50_000), "at most 20000 characters"),
    "integer past 64 bits": (_edit(r"^servers = 9", "servers = " + "9" * 25),
                             "servers must be an integer in [1, 1,000,000,000]"),
    "a billion replications": (_edit(r"^replications = 10", "replications = 1000000000"),
                               "run.replications must be an integer in [1, 100,000]"),
    "a billion attempts": (_edit(r"^max_attempts = \d+", "max_attempts = 1000000000"),
                           "run.max_attempts must be an integer in [1, 1,000]"),
    "date past 9999": (_edit(r"^start_date = 2023-01-01", "start_date = 9999-12-30"),
                       "run.start_date must be a date between 1900 and 2200"),
    "horizon of ages": (_edit(r"^horizon_days = 8", "horizon_days = 1e12"),
                        "run.horizon_days must be <= 36525"),
    "seed past 64 bits": (_edit(r"^seed = 12345", "seed = " + "9" * 25),
                          "run.seed must be an integer in [0, "),
    "not UTF-8": (lambda t: t.replace("[run]", "[run]\n# \udcff", 1), "cannot be read"),
}


@pytest.mark.parametrize("case", sorted(CORPUS))
@pytest.mark.parametrize("command", ["validate", "run"])
def test_corpus_is_refused_in_one_line(case: str, command: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    edit, expected = CORPUS[case]
    path = tmp_path / "bad.toml"
    path.write_bytes(edit(HOTLINE.read_text(encoding="utf-8")).encode("utf-8", "surrogateescape"))
    began = time.perf_counter()
    assert main([command, str(path), "-q"] if command == "run" else [command, str(path)]) == 2
    assert time.perf_counter() - began < 10  # refused up front, not after a long parse or run
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err[:500]
    assert err.startswith("govsim: error: bad.toml: ") and expected in err, err[:500]
    assert len(err) < 400  # a runaway name or value is cut in the message
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_not_waited_on(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    assert main(["validate", str(fifo)]) == 2  # reading it would block for ever
    assert "is not a regular file" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_is_refused_not_read_for_ever(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/dev/zero"]) == 2
    assert "is not a regular file" in capsys.readouterr().err


def test_a_huge_file_is_refused_by_its_size(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.toml"
    path.write_text(HOTLINE.read_text(encoding="utf-8") + "#" * 5_000_000 + "\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "a scenario file must be at most 4,000,000 bytes" in err


def test_a_runaway_rate_is_refused_with_its_estimate(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rate.toml"
    path.write_text(_edit(r"^rate = 100\.0", "rate = 1e9")(HOTLINE.read_text(encoding="utf-8")))
    began = time.perf_counter()
    assert main(["run", str(path), "-q", "-n", "1"]) == 2
    assert time.perf_counter() - began < 10
    err = capsys.readouterr().err
    # 1e9 calls an hour for 8 days: the estimate names the cases the model expects
    assert "192,000,000,000 cases" in err and "--max-memory GB" in err
    assert "Traceback" not in err and sorted(p.name for p in tmp_path.iterdir()) == ["rate.toml"]


def test_the_estimate_covers_what_a_run_keeps() -> None:
    path = ROOT / "scenarios" / "hohhot-business-startup-2023.toml"
    model = load_model(path, ())
    r = sim.run(path, replications=2, seed=4)
    kept = sum(rep.cases.memory_usage(deep=True).sum() + rep.visits.nbytes for rep in r.reps)
    est = budget.estimate([model], 2, 1)
    n_cases = sum(len(rep.cases) for rep in r.reps) / 2
    assert abs(est.cases - n_cases) < 4 * n_cases ** 0.5  # Poisson: 4 sd
    est_kept = 2 * (est.cases * budget.KEPT_PER_CASE + est.visits * budget.KEPT_PER_VISIT)
    # pandas 2 keeps about 330 bytes a case, pandas 3 about 175: the estimate covers both
    assert kept <= est_kept <= 2.5 * kept


def test_max_memory_flag_refuses_and_lasts_one_command(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(budget.ENV, raising=False)
    assert main(["run", str(HOTLINE), "-q", "-n", "2", "--max-memory", "0.1"]) == 2
    assert "more than its limit of 0.10 GB" in capsys.readouterr().err
    assert budget.ENV not in os.environ
    assert main(["run", str(HOTLINE), "-q", "-n", "1", "--max-memory", "-1"]) == 2
    assert "--max-memory must be a number of GB > 0 (got -1)" in capsys.readouterr().err
    monkeypatch.setenv(budget.ENV, "lots")
    assert main(["run", str(HOTLINE), "-q", "-n", "1"]) == 2
    assert "GOVSIM_MAX_MEMORY must be a number of GB (got 'lots')" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize("flag,name", [("--json", "out.json"), ("--log", "out.csv")])
def test_a_pipe_as_output_is_refused_and_left_as_it_is(flag: str, name: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / name
    os.mkfifo(target)
    assert main(["run", str(HOTLINE), "-q", "-n", "1", flag, str(target)]) == 2
    assert "is not a regular file (a device or a pipe?): not replaced" in capsys.readouterr().err
    assert target.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_planted_link_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "out.json"
    link.symlink_to(victim)
    write_atomic(link, "{}")
    assert victim.read_text() == "keep me"
    assert not link.is_symlink() and link.read_text() == "{}"


def test_a_report_that_fails_half_way_leaves_no_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    result = sim.run(HOTLINE, replications=1, seed=1)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("figure failed")

    monkeypatch.setattr(report, "_figures", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        report.write_run_report(result, tmp_path / "rep")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary sibling
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "mine.txt").write_text("a user's file")
    with pytest.raises(RuntimeError, match="figure failed"):
        report.write_run_report(result, tmp_path / "rep")
    assert [p.name for p in (tmp_path / "rep").iterdir()] == ["mine.txt"]
    monkeypatch.undo()
    report.write_run_report(result, tmp_path / "rep")
    assert {"mine.txt", "report.html", "result.json"} <= {p.name for p in
                                                         (tmp_path / "rep").iterdir()}
