"""Every notebook in notebooks/ executes top to bottom (quick settings, GOVSIM_QUICK=1).

The notebooks answer planners' questions on the seed scenarios; CI runs them here the
way nbmake does (a fresh kernel per notebook, cells in order, any error fails). Quick
mode shortens the simulated horizon and the replications in the notebook's own code.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbclient
import nbformat
import pytest

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIMEOUT = 300  # seconds per cell
#: notebooks that take more than ~15 s in quick mode run with the slow tests (CI runs both)
SLOW = {"01-construction-reform", "02-help-and-proxy-agents"}
RUNS = [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW else [])
        for p in NOTEBOOKS]


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, path.name


@pytest.mark.parametrize("path", RUNS)
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVSIM_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the notebook shows figures and tables, not only text
    kinds = {k for o in outputs for k in o.get("data", {})}
    assert "image/png" in kinds and "text/html" in kinds, kinds
