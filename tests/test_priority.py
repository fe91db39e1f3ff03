"""Priority by case attribute (docs/model.md, "Case attributes" and "Queues and dispatch"):
a class's ``priority_when`` rules give each case its priority (the first rule that holds),
both engines key their queues on it, and the station-by-station pass runs only when every
case has one priority.

* the rules by hand: first match wins, the class's priority otherwise, no other number
  drawn differently, a slice of the draw equals the whole draw's rows;
* a hand-checked run at a one-server priority station, on both engines and both passes;
* a two-class non-preemptive priority M/M/1 whose classes come from a true-or-false
  attribute: each class's mean wait is Cobham's (theory in the assertion, tolerance from
  the replications' spread);
* bad rules: one line naming file, field, rule and value; exit code 2 on the command line.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

from sim.cli import main
from sim.engines import des, vector
from sim.engines.vector import feedforward
from sim.errors import ScenarioError, UsageError
from sim.experiments.grid import apply_point
from sim.inputs import draw
from sim.model.scenario import parse, to_toml
from tests.test_attributes import ATTRS, model, scenario
from tests.test_vector import assert_same, hand_inputs

RULES = [{"when": "in_park", "priority": 0}, {"when": "size == 'large'", "priority": 2}]


def prioritized(rules: list[dict[str, Any]] | None = RULES, servers: int = 1) -> dict[str, Any]:
    data = scenario(ATTRS)
    data["stations"]["desk"].update(priority=True, servers=servers)
    data["classes"]["key"]["priority"] = 1
    if rules is not None:
        data["classes"]["key"]["priority_when"] = copy.deepcopy(rules)
    return data


def test_first_rule_that_holds_else_the_class() -> None:
    m = model(prioritized())
    inp = draw(m, 0)
    park, large = inp.attrs[:, 1] == 1.0, inp.attrs[:, 0] == 2.0  # size: small, mid, large
    want = np.where(park, 0, np.where(large, 2, 1))
    np.testing.assert_array_equal(inp.priority, want)
    assert (park & large).any() and (~park & ~large).any()  # both orders of the rules met
    # the rules change no other number; a class without rules: every case its class's
    plain = draw(model(prioritized(None)), 0)
    np.testing.assert_array_equal(plain.priority, np.ones(plain.n, dtype=np.int64))
    for f in dataclasses.fields(inp):
        if f.name not in ("replication", "priority"):
            np.testing.assert_array_equal(getattr(plain, f.name), getattr(inp, f.name), f.name)
    part = draw(m, 0, cases=slice(11, 70))
    np.testing.assert_array_equal(part.priority, inp.priority[11:70])


def test_hand_checked_run_at_a_priority_station() -> None:
    """One server, one item of 2 hours; all four cases of one class. Case 0 (priority 1)
    is served 0-2; at t=2 case 1 (priority 1, since 1.0), case 2 (priority 2, since 1.2)
    and case 3 (priority 0, since 1.5) wait: 3 (2-4), then 1 (4-6), then 2 (6-8)."""
    data = prioritized()
    data["items"] = {"a": {"station": "desk", "service": {"dist": "deterministic",
                                                          "mean": 2.0}}}
    data["routes"]["main"]["stages"][0]["items"] = ["a"]
    m = model(data)
    bare = hand_inputs(m, [0.0, 1.0, 1.2, 1.5], np.full((4, 1), 2.0))
    inp = dataclasses.replace(bare, priority=np.asarray([1, 1, 2, 0]))
    want = [2.0, 6.0, 8.0, 4.0]
    for r in (des.simulate(m, inp), vector.simulate(m, inp, feedforward=False),
              vector.simulate(m, inp)):
        np.testing.assert_array_equal(r.end, want)
    assert feedforward.feedforward_plan(m, inp) is None  # per-case priorities differ
    same = dataclasses.replace(bare, priority=np.asarray([2, 2, 2, 2]))
    assert feedforward.feedforward_plan(m, same) is not None
    np.testing.assert_array_equal(vector.simulate(m, same).end, [2.0, 4.0, 6.0, 8.0])
    # without a priority array the inputs mean the class's (inputs written by hand)
    assert bare.priority.size == 0
    assert_same(des.simulate(m, bare), vector.simulate(m, bare, feedforward=False))


def test_streamed_runs_read_each_cases_priority() -> None:
    data = prioritized(servers=2)
    data["run"]["arrival_days"] = 10.0
    m = model(data)
    inp = draw(m, 1)
    whole = vector.simulate(m, inp, feedforward=False)
    assert_same(des.simulate(m, inp), whole)
    for chunk in (7, 64):
        assert_same(whole, vector.simulate_streaming(m, 1, chunk=chunk, record_visits=True),
                    exact=True)
    # the rules matter here: the same inputs with the class's priority for every case differ
    flat = dataclasses.replace(inp, priority=np.ones(inp.n, dtype=np.int64))
    assert not np.array_equal(vector.simulate(m, flat).end, whole.end, equal_nan=True)


# --------------------------------------------------------------------------- theory


def _cobham(lam: list[float], es: list[float], es2: list[float]) -> list[float]:
    """Mean waits of a non-preemptive priority M/G/1, class 0 first (Cobham, 1954):
    W_k = W0 / ((1 - s_{k-1})(1 - s_k)), W0 = sum lam_i E[S_i^2] / 2, s_k the load of
    classes 0..k."""
    w0 = sum(x * y for x, y in zip(lam, es2, strict=True)) / 2.0
    out, s_prev = [], 0.0
    for x, m in zip(lam, es, strict=True):
        s = s_prev + x * m
        out.append(w0 / ((1.0 - s_prev) * (1.0 - s)))
        s_prev = s
    return out


def test_two_class_priority_mm1_meets_cobham() -> None:
    """One class, exponential service of mean 1 hour, Poisson arrivals at 0.75 an hour;
    an attribute in_park (p = 0.3) gives its cases priority 0, the others keep 1. The
    mean wait of each priority class, per replication after a warm-up, against Cobham's
    formula: 4 standard errors of the replications' means."""
    lam, p, mu = 0.75, 0.3, 1.0
    days, warm, reps = 400.0, 20.0, 30
    data = {
        "run": {"horizon_days": days + 40.0, "arrival_days": days, "warmup_days": warm,
                "seed": 11, "calendar": "always"},
        "calendars": {"always": {"always": True}},
        "stations": {"desk": {"servers": 1, "calendar": "always", "priority": True}},
        "items": {"a": {"station": "desk",
                        "service": {"dist": "exponential", "mean": 1.0 / mu}}},
        "routes": {"main": {"stages": [{"name": "g", "items": ["a"]}]}},
        "classes": {"key": {"rate": lam, "per": "hour", "priority": 1,
                            "attributes": {"in_park": {"probability": p}},
                            "priority_when": [{"when": "in_park", "priority": 0}]}},
    }
    m = model(data)
    want = _cobham([p * lam, (1 - p) * lam], [1 / mu] * 2, [2 / mu**2] * 2)
    waits = np.empty((reps, 2))
    for rep in range(reps):
        inp = draw(m, rep)
        r = vector.simulate(m, inp, record_visits=False)
        keep = (inp.arrival >= warm * 24.0) & (r.status == 1)
        for k in (0, 1):
            waits[rep, k] = r.t_queue[keep & (inp.priority == k)].mean()
    assert (draw(m, 0).priority == 0).mean() == pytest.approx(p, abs=0.02)
    mean, se = waits.mean(axis=0), waits.std(axis=0, ddof=1) / math.sqrt(reps)
    print(f"Cobham: W = {want}, simulated {mean.tolist()} +- {se.tolist()} (1 s.e.)")
    for k in (0, 1):
        assert abs(mean[k] - want[k]) <= 4 * se[k], (k, mean[k], want[k], se[k])
    # and priority matters: the in-park wait is well below the FIFO M/M/1 wait
    assert want[0] < lam / (mu * (mu - lam)) / 2 < want[1]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("rule, message", [
    ({"when": "in_prk", "priority": 0},
     "t.toml: classes.key.priority_when[1].when names an unknown attribute 'in_prk' "
     "(attributes: size, in_park, ready) in class 'key' (got 'in_prk')"),
    ({"when": "in_park", "priority": -1},
     "t.toml: classes.key.priority_when[1].priority must be an integer >= 0 (got -1)"),
    ({"when": "in_park", "priority": "high"},
     "t.toml: classes.key.priority_when[1].priority must be an integer >= 0 (got 'high')"),
    ({"when": "size = 'x'", "priority": 0},
     "t.toml: classes.key.priority_when[1].when must be a condition on case attributes: "
     "cannot read \"= 'x'\" at character 6 (got \"size = 'x'\")"),
    ({"when": "size == 'huge'", "priority": 0},
     "t.toml: classes.key.priority_when[1].when compares attribute 'size' with 'huge', not "
     "one of its categories (small, mid, large) in class 'key' (got \"size == 'huge'\")"),
    ({"priority": 0}, "t.toml: classes.key.priority_when[1].when is required"),
])
def test_bad_rules_are_named(rule: dict[str, Any], message: str) -> None:
    data = prioritized([{"when": "ready > 1", "priority": 3}, rule])
    with pytest.raises(ScenarioError) as e:
        parse(data, "t.toml")
    assert str(e.value) == message


def test_bad_rule_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = prioritized([{"when": "in_prk", "priority": 0}])
    path = tmp_path / "t.toml"
    path.write_text(tomli_w.dumps(data))
    assert main(["run", str(path), "-n", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["govsim: error: t.toml: classes.key.priority_when[0].when names an unknown "
                   "attribute 'in_prk' (attributes: size, in_park, ready) in class 'key' (got "
                   "'in_prk')"]


def test_rules_round_trip_through_a_written_file() -> None:
    s = parse(prioritized(), "t.toml")
    text = to_toml(s)
    assert "priority_when" in text
    again = parse(tomllib.loads(text), "t.toml")
    assert again.classes["key"].priority_when == s.classes["key"].priority_when
    assert "priority_when" not in to_toml(parse(prioritized(None), "t.toml"))


def test_a_sweep_sets_a_rules_priority() -> None:
    base = parse(prioritized(), "t.toml")
    s = apply_point(base, {"classes.key.priority_when[0].priority": 3})
    assert [r.priority for r in s.classes["key"].priority_when] == [3, 2]
    assert draw(model(s.model_dump()), 0).priority.max() == 3
    with pytest.raises(UsageError, match=r"priority_when\[0\]\.priority must be an integer "
                       r">= 0 \(got -1\)"):
        apply_point(base, {"classes.key.priority_when[0].priority": -1})
