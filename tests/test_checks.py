"""Checks against the source (sim.results.checks): each observable computed by hand from
the run's tables, the JSON and terminal report, and bad checks refused with one line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.cli import main
from tests.conftest import DATA

MINI = DATA / "mini.toml"
CHECKS = '''
[[checks]]
name = "ordinary cases in the first month"
observable = "arrivals"
class_name = "ordinary"
arrived_from = 2024-01-01
arrived_until = 2024-02-01
figure = 80
tolerance = 20
source = "test"

[[checks]]
name = "key cases of January done by 20 February"
observable = "completed_share"
class_name = "key"
arrived_from = 2024-01-01
arrived_until = 2024-02-01
by = 2024-02-20
figure = 0.9
tolerance = 0.1

[[checks]]
name = "fastest case"
observable = "fastest_days"
figure = 0.5
tolerance = 1

[[checks]]
name = "key cases of January through review by 20 February"
observable = "completed_share"
class_name = "key"
arrived_from = 2024-01-01
arrived_until = 2024-02-01
stage = "review"
by = 2024-02-20
figure = 0.9
tolerance = 0.1

[[checks]]
name = "fastest case through intake"
observable = "fastest_days"
stage = "intake"
figure = 0.1
tolerance = 1
'''


@pytest.fixture()
def scen(tmp_path: Path) -> Path:
    text = MINI.read_text(encoding="utf-8").replace("[run]\n", "[run]\nstart_date = 2024-01-01\n")
    p = tmp_path / "checked.toml"
    p.write_text(text + CHECKS, encoding="utf-8")
    return p


def test_observables_are_what_the_tables_say(scen: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = sim.run(scen, replications=3, seed=2)
    per = r.per_replication
    jan, feb20 = (0.0, 31 * 24.0), 50 * 24.0
    for rep in r.reps:
        c = rep.cases
        k = rep.replication
        ordinary = (c["class"] == "ordinary") & (c["arrival"] >= jan[0]) & (c["arrival"] < jan[1])
        assert per.loc[k, "check.0"] == ordinary.sum()
        key = (c["class"] == "key") & (c["arrival"] >= jan[0]) & (c["arrival"] < jan[1])
        done = (c["status"] == "completed") & (c["completion"] < feb20)
        assert per.loc[k, "check.1"] == pytest.approx((done & key).sum() / key.sum(), abs=0)
        fast = c.loc[c["status"] == "completed", "lead_days"].min()
        assert per.loc[k, "check.2"] == pytest.approx(fast, rel=1e-12)
        # a stage ends no later than its case: through review at least as many as done,
        # and through the first stage sooner than done
        assert per.loc[k, "check.1"] <= per.loc[k, "check.3"] <= 1.0
        assert 0 < per.loc[k, "check.4"] < per.loc[k, "check.2"]
    d = r.to_dict()
    rows = d["checks"]
    assert rows[0]["name"] == "ordinary cases in the first month"
    m = float(np.mean(per["check.0"]))
    assert rows[0]["simulated"] == pytest.approx(m)
    assert rows[0]["holds"] == (abs(m - 80) <= 20)


def test_cli_prints_the_checks(scen: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.json"
    assert main(["run", str(scen), "-n", "2", "--json", str(out), "--workers", "1"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Checks against the source" in text
    assert len(json.loads(out.read_text())["checks"]) == 5


@pytest.mark.parametrize(("old", "new", "message"), [
    ('class_name = "ordinary"', 'class_name = "nobody"', "class_name 'nobody' is not a class"),
    ('stage = "intake"', 'stage = "nowhere"', "stage 'nowhere' is not a stage"),
    ("by = 2024-02-20\nfigure = 0.9\ntolerance = 0.1\n\n[[checks]]\nname = \"fastest case\"",
     "by = 2030-02-20\nfigure = 0.9\ntolerance = 0.1\n\n[[checks]]\nname = \"fastest case\"",
     "by 2030-02-20 is outside the run"),
    ("by = 2024-02-20\nfigure = 0.9\ntolerance = 0.1\n\n[[checks]]\nname = \"fastest case\"",
     "figure = 0.9\ntolerance = 0.1\n\n[[checks]]\nname = \"fastest case\"",
     "a completed_share needs `by`"),
])
def test_bad_checks_exit_2_with_one_line(scen: Path, capsys: pytest.CaptureFixture[str],
                                         old: str, new: str, message: str) -> None:
    text = scen.read_text(encoding="utf-8")
    assert old in text
    scen.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert main(["run", str(scen), "-n", "2", "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_streamed_run_observes_the_same(scen: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        normal = sim.run(scen, replications=2, seed=4).to_dict()["checks"]
        streamed = sim.run(scen, replications=2, seed=4, stream=True).to_dict()["checks"]
    for a, b in zip(normal, streamed, strict=True):
        assert a["name"] == b["name"] and a["holds"] == b["holds"]
        assert b["simulated"] == pytest.approx(a["simulated"], rel=1e-12)
