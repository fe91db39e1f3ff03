"""Paths and branches (docs/model.md, "Paths and branches"): a choice stage takes one
branch per case (by probability on its own keyed stream, or by condition), a parallel
stage's branch can be a sequence of items; checked by hand on both engines, against the
branch probabilities, for common random numbers, in the records, and bad input named."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

import sim
from sim.cli import main
from sim.engines import des, vector
from sim.errors import ScenarioError
from sim.inputs import draw
from sim.model import build
from sim.model.scenario import parse
from tests.test_des import build as build_dict
from tests.test_des import det, hand_inputs, rows, scenario, triple
from tests.test_vector import assert_same

# --------------------------------------------------------------------------- parallel branches


def sequence_branches() -> dict[str, Any]:
    """Branches [a then b] (station s) and [c] (station t), one server each."""
    return scenario(
        stations={"s": {"servers": 1, "calendar": "always"},
                  "t": {"servers": 1, "calendar": "always"}},
        items={"a": {"station": "s", "service": det(1.0)},
               "b": {"station": "s", "service": det(2.0)},
               "c": {"station": "t", "service": det(2.5)},
               "d": {"station": "t", "service": det(1.0)}},
        routes={"main": {"stages": [
            {"name": "p", "mode": "parallel", "branches": [
                {"name": "x", "items": ["a", "b"]}, {"name": "y", "items": ["c"]}]},
            {"name": "q", "items": ["d"]}]}})


@pytest.mark.parametrize("engine", ["des", "vector"])
def test_a_parallel_branch_runs_its_items_in_sequence_by_hand(engine: str) -> None:
    m = build_dict(sequence_branches())
    # case 0 at 0: a 0-1, then b joins s at 1; case 1's a joined s at 0.5 so goes first
    # (1-2), case 0's b 2-4, case 1's b 4-6. c: case 0 0-2.5, case 1 2.5-5. d (stage q):
    # case 0 joins t at 4 (5-6: t busy with case 1's c until 5), case 1 at 6 (6-7).
    inp = hand_inputs(m, [0.0, 0.5], [[1.0, 2.0, 2.5, 1.0]] * 2)
    res = (des.simulate(m, inp, stages=True) if engine == "des"
           else vector.simulate(m, inp, feedforward=False, stages=True))
    # (item, attempt, joined, start, end, reneged); items a=0, b=1, c=2, d=3
    assert rows(res, 0) == [(0, 0, 0.0, 0.0, 1.0, False), (1, 0, 1.0, 2.0, 4.0, False),
                            (2, 0, 0.0, 0.0, 2.5, False), (3, 0, 4.0, 5.0, 6.0, False)]
    assert rows(res, 1) == [(0, 0, 0.5, 1.0, 2.0, False), (1, 0, 2.0, 4.0, 6.0, False),
                            (2, 0, 0.5, 2.5, 5.0, False), (3, 0, 6.0, 6.0, 7.0, False)]
    assert res.end.tolist() == [6.0, 7.0]
    # the stage keeps branch x's triple (it ended last): a and b's service and queues
    assert triple(res, 0) == (4.0, 2.0, 0.0)  # x: s 3, q 1; then d: s 1, q 1
    assert triple(res, 1) == (4.0, 2.5, 0.0)  # x: s 3, q 0.5 + 2; then d: s 1, q 0
    assert res.t_stages is not None
    np.testing.assert_array_equal(res.t_stages[:, 0], [[3.0, 1.0, 0.0], [3.0, 2.5, 0.0]])


@pytest.mark.parametrize("engine", ["des", "vector"])
def test_branch_ties_skips_and_one_running_branch(engine: str) -> None:
    m = build_dict(sequence_branches())

    def sim_(**kw: Any) -> Any:
        inp = hand_inputs(m, [0.0], [[1.0, 1.5, 2.5, 1.0]], **kw)
        return (des.simulate(m, inp) if engine == "des"
                else vector.simulate(m, inp, feedforward=False))

    # x = a + b ends at 2.5 with c: a tie, x (first in stage order) is kept
    res = sim_(delay=[[0.0, 0.0, 0.0, 0.0]])
    assert res.end[0] == 3.5 and triple(res, 0) == (3.5, 0.0, 0.0)
    # y ends last (an applicant delay of 1 before c): y's triple
    res = sim_(delay=[[0.0, 0.0, 1.0, 0.0]])
    assert res.end[0] == 4.5 and triple(res, 0) == (3.5, 0.0, 1.0)
    # a skipped: x is b alone (from 0); x and y both skipped but a: a then d
    res = sim_(run_item=[[False, True, True, True]])
    assert rows(res, 0)[0][:5] == (1, 0, 0.0, 0.0, 1.5) and res.end[0] == 3.5
    res = sim_(run_item=[[True, False, False, True]])
    assert res.end[0] == 2.0 and triple(res, 0) == (2.0, 0.0, 0.0)


def test_a_renege_ends_its_branch_and_the_case_after_the_other() -> None:
    d = sequence_branches()
    d["stations"]["s"]["patience"] = det(0.5)
    m = build_dict(d)
    # case 0 holds s 0-3 with a; case 1's a reneges at 1.5: b is never submitted, c runs
    # 1-3.5 (t frees at 1 from case 0's c), the case is abandoned at 3.5, d never started
    inp = hand_inputs(m, [0.0, 1.0], [[3.0, 1.0, 1.0, 1.0], [1.0, 1.0, 2.5, 1.0]],
                      run_item=[[True, False, True, False], [True, True, True, True]],
                      patience=np.full((2, 4, 1), 0.5))
    for res in (des.simulate(m, inp), vector.simulate(m, inp, feedforward=False)):
        assert res.status[1] == 2 and res.end[1] == 3.5
        assert [r[:2] for r in rows(res, 1)] == [(0, 0), (2, 0)]


# --------------------------------------------------------------------------- choice stages

BASE: dict[str, Any] = {
    "run": {"horizon_days": 40.0, "arrival_days": 30.0, "seed": 5, "calendar": "always"},
    "calendars": {"always": {"always": True}},
    "stations": {"desk": {"servers": 60, "calendar": "always"}},
    "items": {n: {"station": "desk", "service": {"dist": "exponential", "mean": h}}
              for n, h in (("intake", 1.0), ("settle", 2.0), ("file", 3.0), ("trial", 4.0))},
    "routes": {"main": {"stages": [
        {"name": "in", "items": ["intake"]},
        {"name": "outcome", "mode": "choice", "branches": [
            {"name": "settled", "items": ["settle"], "probability": 0.62},
            {"name": "court", "items": ["file", "trial"], "probability": 0.38}]}]}},
    "classes": {"key": {"rate": 200.0, "per": "day"}},
}


def choice(**over: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(over)
    return data


def model(data: dict[str, Any]) -> Any:
    return build(parse(copy.deepcopy(data), "t.toml"), "t.toml", warn=False)


def test_each_case_takes_one_branch_with_its_probability() -> None:
    m = model(choice())
    inp = draw(m, 0)
    settled = inp.run_item[:, 1]
    court = inp.run_item[:, 2]
    assert (settled ^ court).all()  # exactly one branch; its items all run
    np.testing.assert_array_equal(court, inp.run_item[:, 3])
    # the path column: 0 settled, 1 court
    np.testing.assert_array_equal(inp.attrs[:, 0], court.astype(np.float64))
    # over four replications (about 24,000 cases), within four binomial sd of 0.62
    pooled = np.concatenate([settled, *(draw(m, r).run_item[:, 1] for r in (1, 2, 3))])
    p = 0.62
    tol = 4 * math.sqrt(p * (1 - p) / pooled.size)
    assert pooled.size > 20000 and abs(pooled.mean() - p) < tol, (pooled.mean(), p, tol)


def test_choice_draws_from_its_own_stream_common_numbers_hold() -> None:
    """The same cases, services and arrivals as the scenario without the choice: only
    which items run differs (the choice's uniform is a stream of its own)."""
    plain = choice()
    plain["routes"]["main"]["stages"][1] = {"name": "outcome",
                                            "items": ["settle", "file", "trial"]}
    a, b = draw(model(choice()), 1), draw(model(plain), 1)
    np.testing.assert_array_equal(a.arrival, b.arrival)
    ran = a.run_item
    np.testing.assert_array_equal(a.service[ran], b.service[ran])
    assert b.run_item.all()
    # another branch probability moves cases between branches only at the margin: a case
    # settled at 0.62 stays settled at 0.7 (the same uniform, a wider first interval)
    wider = choice()
    wider["routes"]["main"]["stages"][1]["branches"][0]["probability"] = 0.7
    wider["routes"]["main"]["stages"][1]["branches"][1]["probability"] = 0.3
    c = draw(model(wider), 1)
    assert (c.run_item[:, 1] >= a.run_item[:, 1]).all() and c.run_item[:, 1].sum() > \
        a.run_item[:, 1].sum()


def test_choice_by_condition_takes_the_first_that_holds() -> None:
    data = choice()
    data["classes"]["key"]["attributes"] = {
        "size": {"categories": {"small": 0.5, "large": 0.5}},
        "risky": {"probability": 0.3}}
    data["routes"]["main"]["stages"][1]["branches"] = [
        {"name": "court", "items": ["file", "trial"], "when": "risky"},
        {"name": "big", "items": ["settle"], "when": "size == 'large'"},
        {"name": "rest", "items": ["intake2"]}]
    data["items"]["intake2"] = copy.deepcopy(data["items"]["intake"])
    m = model(data)
    inp = draw(m, 0)
    size, risky = inp.attrs[:, 0], inp.attrs[:, 1] == 1.0
    path = inp.attrs[:, 2]
    np.testing.assert_array_equal(path, np.where(risky, 0, np.where(size == 1.0, 1, 2)))
    j = {n: k for k, n in enumerate(m.item_names)}
    np.testing.assert_array_equal(inp.run_item[:, j["file"]], risky)
    np.testing.assert_array_equal(inp.run_item[:, j["settle"]], ~risky & (size == 1.0))
    np.testing.assert_array_equal(inp.run_item[:, j["intake2"]], ~risky & (size == 0.0))
    assert m.path_labels == (("court", "big", "rest"),)


def test_engines_agree_and_records_say_the_path(tmp_path: Path) -> None:
    data = choice()
    data["run"].update(horizon_days=12.0, arrival_days=8.0)
    data["items"]["file"]["delay"] = {"dist": "deterministic", "mean": 2.0, "unit": "days"}
    m = model(data)
    inp = draw(m, 0)
    assert_same(des.simulate(m, inp, stages=True),
                vector.simulate(m, inp, feedforward=False, stages=True))
    assert_same(des.simulate(m, inp), vector.simulate(m, inp), exact=False)
    path = tmp_path / "t.toml"
    path.write_text(tomli_w.dumps(data))
    res = sim.run(path, replications=2, seed=3)
    cases = res.cases
    assert set(cases["path.outcome"]) == {"settled", "court"}
    by = res.lead_time_by_attribute()
    assert list(by.index) == [("path.outcome", "settled"), ("path.outcome", "court")]
    done = cases[(cases["status"] == "completed") & ~cases["warmup"]]
    for rep in (0, 1):
        dr = done[done["replication"] == rep]
        want = dr[dr["path.outcome"] == "court"]["lead_days"].mean()
        assert res.per_replication.loc[rep, "by_attr.path.outcome=court.lead_days"] == \
            pytest.approx(want)
    # two days of filing delay: the court path is longer by about that
    assert by.loc[("path.outcome", "court"), "lead_days"] > \
        by.loc[("path.outcome", "settled"), "lead_days"] + 1.9
    js = res.to_dict()
    assert js["kpis"]["lead_time_by_attribute"]["path.outcome"]["court"]["completed"] > 0
    streamed = sim.run(path, replications=2, seed=3, stream=True)
    cols = [c for c in res.per_replication if c.startswith("by_attr.")]
    np.testing.assert_allclose(streamed.per_replication[cols].to_numpy(dtype=float),
                               res.per_replication[cols].to_numpy(dtype=float))


# --------------------------------------------------------------------------- bad input

def _branches(stage: int = 1) -> Any:
    return lambda d: d["routes"]["main"]["stages"][stage]


def _set(path: list[Any], value: Any) -> Any:
    def edit(d: dict[str, Any]) -> None:
        at: Any = d
        for k in path[:-1]:
            at = at[k]
        at[path[-1]] = value
    return edit


B = ["routes", "main", "stages", 1, "branches"]
BAD: dict[str, tuple[Any, str]] = {
    "sum": (_set([*B, 1, "probability"], 0.3),
            "routes.main.stages[1] branches' probabilities must sum to 1 (got 0.92)"),
    "no items": (_set([*B, 0, "items"], []),
                 "routes.main.stages[1].branches[0].items must have at least 1 item"),
    "unknown item": (_set([*B, 1, "items"], ["file", "trail"]),
                     "routes.main.stages[1].branches[1].items[1] names an unknown item"),
    "mixed": (_set([*B, 1], {"name": "court", "items": ["file"], "when": "x"}),
              "must all have a probability, or choose by when conditions, not both"),
    "unknown attribute": (
        _set(B, [{"name": "court", "items": ["file", "trial"], "when": "risk"},
                 {"name": "settled", "items": ["settle"]}]),
        "routes.main.stages[1].branches[0].when names an unknown attribute 'risk' "
        "(attributes: none) in class 'key' (got 'risk')"),
    "last has a when": (
        _set(B, [{"name": "court", "items": ["file", "trial"], "when": "a"},
                 {"name": "settled", "items": ["settle"], "when": "a"}]),
        "the last branch ('settled') of a choice by condition must have no when"),
    "sequential": (_set(["routes", "main", "stages", 1, "mode"], "sequential"),
                   "branches need mode = \"parallel\" or \"choice\""),
    "choice without branches": (
        _set(["routes", "main", "stages", 0, "mode"], "choice"),
        "routes.main.stages[0] a choice stage needs branches"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_paths_are_one_line_exit_2(case: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    edit, expected = BAD[case]
    data = choice()
    edit(data)
    with pytest.raises(ScenarioError) as err:
        parse(copy.deepcopy(data), "bad.toml")
    assert expected in str(err.value), str(err.value)
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(data))
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().err.strip()
    assert len(out.splitlines()) == 1 and out.startswith("govsim: error: bad.toml: "), out
    assert expected in out


# --------------------------------------------------------------------------- reforms by attribute

def test_commitment_and_conditional_by_attribute_split_the_items() -> None:
    """Only the park cases get the reformed copy; the others run the item as it was, in
    its place (here in a choice branch); the copy takes the costs and the scales."""
    from sim.reforms import apply

    data = choice()
    data["items"]["file"].update(materials=4, deficiency_per_material=0.2)
    data["classes"]["key"]["attributes"] = {
        "in_park": {"probability": 0.4},
        "size": {"categories": {"small": 0.5, "large": 0.5},
                 "scale": [{"what": "service", "by": {"large": 2.0}, "items": ["file"]}]}}
    data["costs"] = {"items": {"file": {"fee": 100.0}}}
    s = parse(copy.deepcopy(data), "t.toml")
    out = apply(s, ["commitment:items=file,check_hours=0.5,attribute=in_park"])
    court = out.routes["main"].stages[1].branches[1]  # type: ignore[index]
    assert court.items == ["file", "file_in_park", "trial"]
    assert out.items["file"].when == "not in_park" and out.items["file_in_park"].when == \
        "in_park"
    assert out.items["file"].deficiency_per_material == 0.2  # reviewed as before
    reformed = out.items["file_in_park"]
    assert reformed.deficiency_per_material == 0.0 and reformed.audit_probability == 0.1
    assert out.costs is not None and out.costs.items["file_in_park"].fee == 100.0
    assert out.classes["key"].attributes["size"].scale[0].items == ["file", "file_in_park"]
    m = build(out, "t.toml", warn=False)
    inp = draw(m, 0)
    j = {n: k for k, n in enumerate(m.item_names)}
    park = inp.attrs[:, 0] == 1.0
    court_path = inp.run_item[:, j["trial"]]
    np.testing.assert_array_equal(inp.run_item[:, j["file"]], court_path & ~park)
    np.testing.assert_array_equal(inp.run_item[:, j["file_in_park"]], court_path & park)
    # the park cases' check is half an hour (x 2 for large ones), the others' review 3 h
    svc = inp.service[:, j["file_in_park"], 0][court_path & park]
    assert svc.size > 100 and 0.3 < svc.mean() < 1.2
    assert inp.deficient[:, j["file_in_park"]].sum() == 0
    out2 = apply(s, ["conditional:items=file,attribute=in_park"])
    assert out2.items["file_in_park"].conditional and not out2.items["file"].conditional
    from sim.errors import ReformError
    with pytest.raises(ReformError, match="attribute 'size' is not a true-or-false"):
        apply(s, ["commitment:items=file,attribute=size"])


def test_reforms_edit_branches() -> None:
    from sim.errors import ReformError
    from sim.reforms import apply

    s = parse(choice(), "t.toml")
    out = apply(s, ["cut_items:items=trial"])
    assert out.routes["main"].stages[1].branches[1].items == ["file"]  # type: ignore[index]
    assert out.routes["main"].stages[1].items == ["settle", "file"]
    with pytest.raises(ReformError, match="would leave branch 'settled' of choice stage "
                       "'outcome' with no items"):
        apply(s, ["cut_items:items=settle"])
    merged = apply(s, ["merge_items:items=file+trial"])
    assert merged.routes["main"].stages[1].branches[1].items == ["file"]  # type: ignore[index]
    assert apply(s, ["parallel"]).routes["main"].stages[1].mode == "choice"
    d = sequence_branches()
    par = apply(parse(d, "t.toml"), ["cut_items:items=c"])
    assert [b.items for b in par.routes["main"].stages[0].branches or []] == [["a", "b"]]


def test_a_check_may_name_a_branch(tmp_path: Path) -> None:
    data = choice()
    data["run"].update(horizon_days=20.0, arrival_days=10.0)
    data["checks"] = [
        {"name": k, "observable": "completed_share", "stage": stage, "by": "1900-01-01",
         "figure": 0.38}
        for k, stage in (("court", "outcome.court"), ("outcome", "outcome"))]
    data["run"]["start_date"] = "2024-01-01"
    for c in data["checks"]:
        c["by"] = "2024-01-20"
    path = tmp_path / "t.toml"
    text = tomli_w.dumps(data).replace('"2024-01-20"', "2024-01-20").replace(
        '"2024-01-01"', "2024-01-01")
    path.write_text(text)
    res = sim.run(path, replications=1, seed=4)
    court, every = (c["simulated"] for c in res.to_dict()["checks"])
    cases = res.cases
    assert court == pytest.approx((cases["path.outcome"] == "court").mean(), abs=1e-9)
    assert every == pytest.approx(1.0) and 0.3 < court < 0.46


def test_written_back_the_branches_keep_their_items_once(tmp_path: Path) -> None:
    from sim.model.scenario import load, save

    s = parse(choice(), "t.toml")
    save(s, tmp_path / "w.toml")
    text = (tmp_path / "w.toml").read_text()
    assert "settle" in text
    back = load(tmp_path / "w.toml")
    assert back.routes["main"].stages[1].items == ["settle", "file", "trial"]
    assert back.routes["main"].stages[1] == s.routes["main"].stages[1]
    assert "items" not in tomllib_stage(text)


def tomllib_stage(text: str) -> dict[str, Any]:
    import tomllib

    return dict(tomllib.loads(text)["routes"]["main"]["stages"][1])
