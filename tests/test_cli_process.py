"""The ``govsim`` process itself: it ends with the command's code and all its output once
the command is done (no interpreter teardown), and keeps freed memory for reuse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import process

ROOT = Path(__file__).resolve().parents[1]


def _govsim(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, **kw)  # type: ignore[call-overload]


def test_version_and_help_exit_zero_with_their_text() -> None:
    out = _govsim("--version")
    assert (out.returncode, out.stdout.startswith("govsim "), out.stdout.endswith("\n")) == (
        0, True, True)
    out = _govsim("--help")
    assert out.returncode == 0 and "usage: govsim" in out.stdout


def test_errors_keep_exit_code_2_and_one_line() -> None:
    out = _govsim("run", "no-such-file.toml")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "govsim: error: no-such-file.toml: file not found"]
    out = _govsim("no-such-command")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_output_is_complete_when_the_process_ends_early() -> None:
    # a command's whole output reaches a pipe (nothing lost in a buffer by os._exit)
    out = _govsim("schema")
    assert out.returncode == 0
    assert out.stdout.rstrip().endswith("}") and len(out.stdout) > 10_000


def test_finish_runs_exit_handlers_and_returns_the_code() -> None:
    code = ("import atexit, sys\n"
            "from sim.cli import process\n"
            "atexit.register(lambda: print('handler ran'))\n"
            "print('output', end=' ')\n"
            "process.finish(3)\n"
            "print('never')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert (out.returncode, out.stdout) == (3, "output handler ran\n")


def test_closed_pipe_is_no_traceback() -> None:
    # `govsim schema | head -1`: the reader goes away; the process ends quietly
    p = subprocess.Popen([sys.executable, "-m", "sim", "schema"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=ROOT)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.read(10)
    p.stdout.close()
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keep_freed_memory_is_accepted_by_glibc() -> None:
    assert process.keep_freed_memory() is True
