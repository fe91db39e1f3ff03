"""Costs (docs/model.md, "Costs"): hand-checked exact sums, the two engines agree, the KPIs
in the JSON contract, the savings of compare, reforms that carry costs, and bad input."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

from sim import engines
from sim.cli import main
from sim.inputs import draw
from sim.model import build
from sim.model import scenario as S
from sim.reforms import apply
from sim.results.records import AUDIT, SUBMISSION, case_costs, case_table

# one station open around the clock with far more staff than work (no queue), one item:
# service 2 working hours, the applicant takes 2 days before submitting
HAND: dict[str, Any] = {
    "scenario": {"name": "hand"},
    "run": {"horizon_days": 60, "arrival_days": 30, "replications": 3, "seed": 5},
    "calendars": {"office": {"always": True}},
    "classes": {"c": {"rate": 0.2, "per": "hour"}},
    "stations": {"desk": {"servers": 50}},
    "items": {"permit": {"station": "desk",
                         "service": {"dist": "deterministic", "mean": 2},
                         "delay": {"dist": "deterministic", "mean": 2, "unit": "days"}}},
    "routes": {"main": {"stages": [{"name": "s", "items": ["permit"]}]}},
    "costs": {"applicant_per_visit": 40, "applicant_per_day": 24,
              "stations": {"desk": {"cost_per_hour": 150}},
              "items": {"permit": {"fee": 100, "intermediary": 250}}},
}


def _hand(**edit: Any) -> dict[str, Any]:
    d = copy.deepcopy(HAND)
    for path, value in edit.items():
        *head, last = path.split("__")
        node = d
        for key in head:
            node = node[key]
        node[last] = value
    return d


def _write(tmp_path: Path, data: dict[str, Any], name: str) -> str:
    p = tmp_path / name
    p.write_text(tomli_w.dumps(data))
    return str(p)


def _run_json(tmp_path: Path, path: str, *args: str) -> dict[str, Any]:
    out = tmp_path / "out.json"
    assert main(["run", path, "-q", "--json", str(out), *args]) == 0
    return json.loads(out.read_text())


def test_hand_checked_costs_are_exact(tmp_path: Path) -> None:
    d = _run_json(tmp_path, _write(tmp_path, HAND, "hand.toml"))
    k = d["kpis"]
    # 2 h x 150 = 300; 1 visit x 40 + 2 days x 24 + fee 100 + intermediary 250 = 438
    assert k["currency"] == "CNY"
    assert k["gov_cost_per_case"] == {"mean": 300.0, "ci95": [300.0, 300.0]}
    assert k["applicant_cost_per_case"] == {"mean": 438.0, "ci95": [438.0, 438.0]}
    assert d["cases"]["completed"] > 300


def test_rework_pays_each_service_and_visit_but_one_fee(tmp_path: Path) -> None:
    # every first submission is deficient (1 material, q = 1), the second is the last one
    # allowed and is accepted: 2 services, 2 visits, 2 + 1 days of applicant time
    data = _hand(run__max_attempts=2, items__permit__materials=1,
                 items__permit__deficiency_per_material=1.0,
                 items__permit__fix={"dist": "deterministic", "mean": 1, "unit": "days"})
    k = _run_json(tmp_path, _write(tmp_path, data, "rework.toml"))["kpis"]
    assert k["rework_rounds"]["mean"] == 1.0
    assert k["gov_cost_per_case"]["mean"] == 2 * 2 * 150.0
    assert k["applicant_cost_per_case"]["mean"] == 2 * 40 + 3 * 24 + 100 + 250.0


def test_no_costs_section_no_cost_keys(tmp_path: Path) -> None:
    data = copy.deepcopy(HAND)
    del data["costs"]
    d = _run_json(tmp_path, _write(tmp_path, data, "plain.toml"))
    assert not any("cost" in key or key == "currency" for key in d["kpis"])
    model = build(S.parse(data))
    inp = draw(model, 0, 1)
    cases = case_table(model, inp, engines.simulate("vector", model, inp))
    assert "gov_cost" not in cases and "applicant_cost" not in cases


def _mini_with_costs(mini: dict[str, Any]) -> dict[str, Any]:
    mini["items"]["review_a"].update(audit_probability=0.5, audit_station="review",
                                     audit_service={"dist": "deterministic", "mean": 1})
    mini["costs"] = {"currency": "yuan", "applicant_per_visit": 35.5,
                     "applicant_per_day": 120,
                     "stations": {"front": {"cost_per_hour": 80}, "review": {"cost_per_hour": 130}},
                     "items": {"review_a": {"fee": 500, "intermediary": 1200},
                               "intake": {"fee": 20}}}
    return mini


def test_government_cost_is_the_service_hours_of_the_visits(mini: dict[str, Any]) -> None:
    """An independent sum: working hours W(end) - W(start) of every visit that began, on
    the station's calendar, x its rate; and the applicant cost from the case columns."""
    model = build(S.parse(_mini_with_costs(mini)))
    inp = draw(model, 1, 42)
    res = engines.simulate("des", model, inp)
    cases = case_table(model, inp, res)
    v = res.visits
    assert v is not None
    expected = np.zeros(inp.n)
    rate = {"front": 80.0, "review": 130.0}
    audits = 0
    for i in range(len(v.case)):
        if v.kind[i] not in (SUBMISSION, AUDIT) or not np.isfinite(v.start[i]):
            continue
        audits += v.kind[i] == AUDIT
        name = model.station_names[v.station[i]]
        cal = model.calendar_of(int(v.station[i]))
        expected[v.case[i]] += (cal.to_work(v.end[i]) - cal.to_work(v.start[i])) * rate[name]
    assert audits > 0
    np.testing.assert_allclose(cases["gov_cost"], expected, rtol=1e-9, atol=1e-9)
    # applicant: visits, days with the applicant, and the fees of the items submitted
    submitted = {(int(c), model.item_names[j]) for c, j, kind in zip(v.case, v.item, v.kind,
                                                                    strict=True)
                 if kind == SUBMISSION}
    fees = np.zeros(inp.n)
    for c, name in submitted:
        fees[c] += {"review_a": 1700.0, "intake": 20.0}.get(name, 0.0)
    app = 35.5 * cases["visits"] + 120 * cases["applicant_hours"] / 24 + fees
    np.testing.assert_allclose(cases["applicant_cost"], app, rtol=1e-12)
    done = cases["status"] == "completed"
    assert (cases.loc[done, "applicant_cost"] >= 20).all()


def test_engines_give_the_same_costs(mini: dict[str, Any], tmp_path: Path) -> None:
    model = build(S.parse(_mini_with_costs(mini)))
    for rep in range(2):
        inp = draw(model, rep, 9)
        a = case_costs(model, inp, engines.simulate("des", model, inp))
        b = case_costs(model, inp, engines.simulate("vector", model, inp))
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-12)
            assert x.sum() > 0
    path = _write(tmp_path, _mini_with_costs(mini), "mini.toml")
    des = _run_json(tmp_path, path, "-n", "2", "--engine", "des")["kpis"]
    vec = _run_json(tmp_path, path, "-n", "2", "--engine", "vector")["kpis"]
    for key in ("gov_cost_per_case", "applicant_cost_per_case"):
        assert des[key]["mean"] == pytest.approx(vec[key]["mean"], rel=1e-12)
        assert des[key]["mean"] > 0
    assert des["currency"] == "yuan"


def test_compare_shows_the_saving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _write(tmp_path, HAND, "base.toml")
    faster = _write(tmp_path, _hand(items__permit__service={"dist": "deterministic",
                                                             "mean": 1.5}), "faster.toml")
    out = tmp_path / "c.json"
    assert main(["compare", base, faster, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    d = json.loads(out.read_text())
    # 0.5 h less of a 150/h desk: 75 saved on every case, paired: a point interval
    assert d["differences"]["gov_cost_per_case"] == {"mean": -75.0, "ci95": [-75.0, -75.0]}
    saved = d["scenarios"][1]["savings"]
    assert saved["gov_cost"]["per_case"] == {"mean": 75.0, "ci95": [75.0, 75.0]}
    assert saved["applicant_cost"]["per_case"]["mean"] == 0.0
    completed = d["scenarios"][1]["cases"]["completed"]  # summed over the 3 replications
    assert saved["gov_cost"]["over_cases"]["mean"] == pytest.approx(75.0 * completed / 3)
    lo, hi = saved["gov_cost"]["over_cases"]["ci95"]
    assert lo < saved["gov_cost"]["over_cases"]["mean"] < hi
    assert "savings" not in d["scenarios"][0]
    assert "[1] saves 75 [75, 75] CNY of government cost per case" in " ".join(text.split())
    assert "government cost per case" in text


def test_reforms_carry_costs(mini: dict[str, Any]) -> None:
    s = S.parse(_mini_with_costs(mini))
    cut = apply(s, ["cut_items:items=review_a"])
    assert cut.costs is not None and "review_a" not in cut.costs.items
    merged = apply(s, ["merge_items:items=review_a+review_b"])
    assert merged.costs is not None
    # both items always run: the merged item costs what both did
    assert merged.costs.items["review_a"].fee == 500.0
    assert merged.costs.items["review_a"].intermediary == 1200.0
    s.items["review_a"].skip_probability = 0.5
    half = apply(s, ["merge_items:items=review_a+review_b"])
    assert half.costs is not None
    # review_a runs half the time, review_b always: the merged one always, at 500 x 0.5
    assert half.costs.items["review_a"].fee == pytest.approx(250.0)


@pytest.mark.parametrize(("edit", "message"), [
    ({"stations": {"desk": {"cost_per_hour": -5}}},
     "costs.stations.desk.cost_per_hour must be a number in [0, 1e+09] (got -5)"),
    ({"applicant_per_visit": math.inf},
     "costs.applicant_per_visit must be a number in [0, 1e+09] (got inf)"),
    ({"items": {"permit": {"fee": 2e9}}},
     "costs.items.permit.fee must be a number in [0, 1e+09] (got 2000000000.0)"),
    ({"stations": {"nowhere": {"cost_per_hour": 5}}},
     "costs.stations.nowhere names an unknown station (known: desk) (got 'nowhere')"),
    ({"items": {"nothing": {"fee": 5}}},
     "costs.items.nothing names an unknown item (known: permit) (got 'nothing')"),
    ({"stations": {"desk": {"rate": 5}}}, "costs.stations.desk.rate"),
    ({"per_visit": 5}, "costs.per_visit"),
])
def test_bad_costs_exit_2_in_one_line(tmp_path: Path, edit: dict[str, Any],
                                      message: str) -> None:
    data = copy.deepcopy(HAND)
    data["costs"] = edit
    path = _write(tmp_path, data, "bad.toml")
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "run", path, "-q"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"govsim: error: bad.toml: {message}")


def test_sweep_records_the_cost_kpis() -> None:
    from sim.experiments.sweep import metric_names, sweep

    s = S.parse(HAND)
    res = sweep(s, {"costs.stations.desk.cost_per_hour": [100, 200]}, replications=2,
                workers=1, metric="gov_cost_per_case")
    assert res.table["gov_cost_per_case"].tolist() == [200.0, 400.0]  # 2 h x the rate
    assert res.table["applicant_cost_per_case"].tolist() == [438.0, 438.0]
    assert "gov_cost_per_case" in metric_names(s)
    plain = copy.deepcopy(HAND)
    del plain["costs"]
    assert "gov_cost_per_case" not in metric_names(S.parse(plain))


def test_compact_compare_shows_the_savings_too(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    base = _write(tmp_path, HAND, "base.toml")
    files = [base] + [_write(tmp_path, _hand(costs__stations={"desk": {"cost_per_hour": r}}),
                             f"r{r}.toml") for r in (100, 120, 140)]
    assert main(["compare", *files, "-n", "2"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    # 2 h at 150 against 2 h at 100, 120, 140
    for k, saved in ((1, 100), (2, 60), (3, 20)):
        assert f"[{k}] saves {saved} [{saved}, {saved}] CNY of government cost per case" in text


@pytest.mark.parametrize("cases", [4_000, 70_000], ids=["radix", "one-key"])
def test_visit_order_is_the_canonical_one(cases: int) -> None:
    """Visits.sorted() orders rows by (case, kind, item, attempt), ties kept in row order,
    whichever sort it uses (two 16-bit radix passes for small keys, one 64-bit key else)."""
    from sim.results.records import Visits

    rng = np.random.default_rng(5)
    n = 50_000
    case, kind = rng.integers(0, cases, n), rng.integers(0, 3, n)
    item, attempt = rng.integers(-1, 40, n), rng.integers(0, 4, n)
    joined = np.arange(n, dtype=np.float64)  # the row, to see ties kept in order
    v = Visits(case, item, attempt, case % 7, kind, joined, joined, joined,
               np.zeros(n, dtype=np.bool_))
    want = np.lexsort((attempt, item, kind, case))
    s = v.sorted()
    assert np.array_equal(s.joined, joined[want]) and np.array_equal(s.case, case[want])


def test_visit_costs_read_broadcast_hours_without_copying_them() -> None:
    """visit_costs gives the same costs from a broadcast view (what the streaming engine
    passes: one number a visit) as from the whole array, and reads the view in place: a
    flat gather would first copy visits x items x submissions numbers (the streamed
    construction run's peak went from 0.95 to 2.3 GB that way)."""
    import tracemalloc

    from sim.results.records import Visits, visit_costs

    m = build(S.load(Path(__file__).resolve().parents[1] / "scenarios"
                     / "hohhot-construction-2023.toml"))
    J, K, n = m.n_items, 4, 20_000
    rng = np.random.default_rng(3)
    kind = np.where(rng.random(n) < 0.1, AUDIT, SUBMISSION)
    v = Visits(np.arange(n), rng.integers(0, J, n), rng.integers(0, K, n),
               np.asarray(m.item_station)[rng.integers(0, J, n)], kind, np.zeros(n),
               np.where(rng.random(n) < 0.9, 1.0, np.inf), np.full(n, 2.0),
               np.zeros(n, dtype=np.bool_))
    hours, audit = rng.random(n) * 10, rng.random(n) * 5
    view = np.broadcast_to(hours[:, None, None], (n, J, K))
    aview = np.broadcast_to(audit[:, None], (n, J))
    want = visit_costs(m, v, np.ascontiguousarray(view), np.ascontiguousarray(aview))
    tracemalloc.start()
    got = visit_costs(m, v, view, aview)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert peak < view.size * 8 / 10, f"visit_costs allocated {peak:,} bytes for {n:,} visits"
