"""Case attributes (docs/model.md, "Case attributes"): the condition grammar, values drawn
on their own keyed streams (adding attributes changes no other number), scales and item
selection checked by hand, bad input named, and the case table and KPIs split by them."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

import sim
from sim.cli import main
from sim.errors import ScenarioError
from sim.inputs import draw
from sim.model import build
from sim.model.attributes import ConditionError, parse_condition
from sim.model.scenario import parse

BASE: dict[str, Any] = {
    "run": {"horizon_days": 60.0, "arrival_days": 30.0, "seed": 5, "calendar": "always",
            "max_attempts": 3},
    "calendars": {"always": {"always": True}},
    "rework": {"deficiency_per_material": 0.1,
               "fix": {"dist": "deterministic", "mean": 2.0, "unit": "days"}},
    "stations": {"desk": {"servers": 10, "calendar": "always"}},
    "items": {
        "a": {"station": "desk", "service": {"dist": "exponential", "mean": 2.0},
              "materials": 4, "delay": {"dist": "deterministic", "mean": 10.0}},
        "b": {"station": "desk", "service": {"dist": "gamma", "mean": 3.0, "cv": 0.5},
              "materials": 2, "delay": {"dist": "exponential", "mean": 5.0}},
        "c": {"station": "desk", "service": {"dist": "deterministic", "mean": 1.0}},
    },
    "routes": {"main": {"stages": [{"name": "g", "items": ["a", "b", "c"]}]}},
    "classes": {"key": {"rate": 20.0, "per": "day"}},
}

ATTRS: dict[str, Any] = {
    "size": {"categories": {"small": 0.5, "mid": 0.2, "large": 0.3}},
    "in_park": {"probability": 0.4},
    "ready": {"dist": {"dist": "gamma", "mean": 1.0, "cv": 0.5}},
}


def scenario(attrs: dict[str, Any] | None = None, **items: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    if attrs is not None:
        data["classes"]["key"]["attributes"] = copy.deepcopy(attrs)
    for name, extra in items.items():
        data["items"][name].update(extra)
    return data


def model(data: dict[str, Any]) -> sim.model.assembly.Model:
    return build(parse(data, "t.toml"), "t.toml", warn=False)


# --------------------------------------------------------------------------- grammar

@pytest.mark.parametrize("text, tree", [
    ("in_park", ("is", "in_park")),
    ("not in_park", ("not", ("is", "in_park"))),
    ("size == 'large'", ("cmp", "size", "==", "large")),
    ('size != "small" and ready >= 1.5', ("and", ("cmp", "size", "!=", "small"),
                                          ("cmp", "ready", ">=", 1.5))),
    ("size in ('a', 'b') or (in_park and ready < -2e-1)",
     ("or", ("in", "size", ("a", "b")), ("and", ("is", "in_park"),
                                          ("cmp", "ready", "<", -0.2)))),
    ("in_park == true", ("cmp", "in_park", "==", True)),
])
def test_conditions_parse(text: str, tree: tuple[Any, ...]) -> None:
    assert parse_condition(text) == tree


@pytest.mark.parametrize("text, message", [
    ("size ==", "expected a value at the end"),
    ("size = 'x'", "cannot read \"= 'x'\" at character 6"),
    ("(in_park", "expected ')' at the end"),
    ("in_park and", "expected an attribute name at the end"),
    ("__import__('os').system('x')", "cannot read \".system('x')\" at character 17"),
    ("__import__('os')", "has '(' where the condition should end"),
    ("", "is empty"),
])
def test_malformed_conditions_say_where(text: str, message: str) -> None:
    with pytest.raises(ConditionError) as e:
        parse_condition(text)
    assert str(e.value) == message


# --------------------------------------------------------------------------- drawing

def test_attributes_change_no_other_number() -> None:
    """Declaring attributes (with no scale or condition) adds their values and changes no
    other drawn number: they have their own keyed stream."""
    plain, attributed = draw(model(scenario()), 0), draw(model(scenario(ATTRS)), 0)
    assert plain.attrs.shape == (plain.n, 0) and attributed.attrs.shape == (plain.n, 3)
    for f in dataclasses.fields(plain):
        if f.name not in ("replication", "attrs"):
            np.testing.assert_array_equal(getattr(plain, f.name), getattr(attributed, f.name),
                                          f.name)


def test_values_follow_their_laws() -> None:
    data = scenario(ATTRS)
    data["run"]["arrival_days"] = 59.0
    inp = draw(model(data), 1)
    n = inp.n
    assert n > 1000
    for code, p in enumerate((0.5, 0.2, 0.3)):  # categories in declared order
        share = float(np.mean(inp.attrs[:, 0] == code))
        assert abs(share - p) <= 5 * math.sqrt(p * (1 - p) / n)
    assert abs(float(inp.attrs[:, 1].mean()) - 0.4) <= 5 * math.sqrt(0.24 / n)
    assert set(np.unique(inp.attrs[:, 1])) == {0.0, 1.0}
    ready = inp.attrs[:, 2]
    assert abs(float(ready.mean()) - 1.0) <= 5 * 0.5 / math.sqrt(n)
    # reproducible, and another replication draws other values
    np.testing.assert_array_equal(draw(model(data), 1).attrs, inp.attrs)
    assert not np.array_equal(draw(model(data), 2).attrs[:100], inp.attrs[:100])


def test_scales_and_conditions_by_hand() -> None:
    attrs = copy.deepcopy(ATTRS)
    attrs["size"]["scale"] = [{"what": "delay", "by": {"large": 3.0, "small": 0.5},
                               "items": ["a"]},
                              {"what": "service", "by": {"large": 2.0}}]
    attrs["ready"]["scale"] = [{"what": "fix", "items": ["b"]}]
    attrs["in_park"]["scale"] = [{"what": "materials", "by": {"true": 0.0}}]
    base = draw(model(scenario()), 0)
    inp = draw(model(scenario(attrs, c={"when": "in_park or size == 'mid'"})), 0)
    size, park, ready = inp.attrs[:, 0], inp.attrs[:, 1] == 1.0, inp.attrs[:, 2]
    # delay of a: 10 hours x 0.5 (small), 1 (mid), 3 (large); b's delay unscaled
    np.testing.assert_array_equal(inp.delay[:, 0], 10.0 * np.array([0.5, 1.0, 3.0])[
        size.astype(int)])
    np.testing.assert_array_equal(inp.delay[:, 1], base.delay[:, 1])
    # every service x 2 for large projects, where it is drawn
    mult = np.where(size == 2, 2.0, 1.0)
    ran = base.run_item[:, :2]
    np.testing.assert_allclose(inp.service[:, :2, 0][ran], (base.service[:, :2, 0]
                                                            * mult[:, None])[ran])
    # c runs only for park projects and mid-sized ones
    np.testing.assert_array_equal(inp.run_item[:, 2], park | (size == 1))
    np.testing.assert_array_equal(inp.run_item[:, :2], base.run_item[:, :2])
    # park projects' materials x 0: never deficient; the others as before
    assert not inp.deficient[park].any()
    np.testing.assert_array_equal(inp.deficient[~park], base.deficient[~park])
    assert inp.deficient[~park].any()
    # b's fix times x ready where a fix is drawn
    fixed = base.fix[:, 1, :] > 0
    np.testing.assert_allclose(inp.fix[:, 1, :][fixed & ~park[:, None]],
                               (base.fix[:, 1, :] * ready[:, None])[fixed & ~park[:, None]])


def test_a_slice_draws_the_whole_draws_attributes() -> None:
    m = model(scenario(ATTRS, b={"when": "size == 'large'"}))
    whole = draw(m, 0)
    part = draw(m, 0, cases=slice(17, 90))
    np.testing.assert_array_equal(part.attrs, whole.attrs[17:90])
    np.testing.assert_array_equal(part.run_item, whole.run_item[17:90])


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("change, message", [
    (lambda d: d["items"]["c"].update(when="in_prk"),
     "t.toml: items.c.when names an unknown attribute 'in_prk' (attributes: size, in_park, "
     "ready) in class 'key' (got 'in_prk')"),
    (lambda d: d["items"]["c"].update(when="size == 'huge'"),
     "t.toml: items.c.when compares attribute 'size' with 'huge', not one of its categories "
     "(small, mid, large) in class 'key' (got \"size == 'huge'\")"),
    (lambda d: d["items"]["c"].update(when="size = 'large'"),
     "t.toml: items.c.when must be a condition on case attributes: cannot read \"= 'large'\" "
     "at character 6 (got \"size = 'large'\")"),
    (lambda d: d["classes"]["key"]["attributes"]["size"].update(
        categories={"small": 0.5, "large": 0.4}),
     "t.toml: classes.key.attributes.size needs category probabilities summing to 1 "
     "(got 0.9)"),
    (lambda d: d["classes"]["key"]["attributes"]["size"].update(
        scale=[{"what": "delay", "by": {"big": 2.0}}]),
     "t.toml: classes.key.attributes.size scale[0].by names 'big', not a value of the "
     "attribute (values: small, mid, large)"),
    (lambda d: d["classes"]["key"]["attributes"]["size"].update(
        scale=[{"what": "delay", "by": {"large": 2.0}, "items": ["zz"]}]),
     "t.toml: classes.key.attributes.size.scale[0].items[0] names an unknown item (known: "
     "a, b, c) (got 'zz')"),
])
def test_bad_attributes_are_named(change: Any, message: str) -> None:
    data = scenario(ATTRS)
    change(data)
    with pytest.raises(ScenarioError) as e:
        parse(data, "t.toml")
    assert str(e.value) == message


def test_bad_condition_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = scenario(ATTRS, c={"when": "in_prk"})
    path = tmp_path / "t.toml"
    path.write_text(tomli_w.dumps(data))
    assert main(["validate", str(path)]) == 2
    assert "items.c.when names an unknown attribute 'in_prk'" in capsys.readouterr().err


# --------------------------------------------------------------------------- records, KPIs

def test_records_kpis_and_checks_split_by_attribute(tmp_path: Path) -> None:
    attrs = copy.deepcopy(ATTRS)
    attrs["size"]["scale"] = [{"what": "delay", "by": {"large": 20.0}}]
    data = scenario(attrs)
    data["checks"] = [
        {"name": "large", "observable": "arrivals", "figure": 0.0, "when": "size == 'large'"},
        {"name": "all", "observable": "arrivals", "figure": 0.0}]
    path = tmp_path / "t.toml"
    path.write_text(tomli_w.dumps(data))
    res = sim.run(path, replications=2, seed=3)
    cases = res.cases
    assert set(cases["attr.size"]) == {"small", "mid", "large"}
    assert cases["attr.in_park"].isin([True, False]).all()
    assert cases["attr.ready"].dtype == np.float64
    by = res.lead_time_by_attribute()
    assert list(by.index) == [("size", "small"), ("size", "mid"), ("size", "large"),
                              ("in_park", "false"), ("in_park", "true")]
    done = cases[(cases["status"] == "completed") & ~cases["warmup"]]
    for rep in (0, 1):
        d = done[done["replication"] == rep]
        want = d[d["attr.size"] == "large"]["lead_days"].mean()
        assert res.per_replication.loc[rep, "by_attr.size=large.lead_days"] == \
            pytest.approx(want)
    # 20 hours x 20 of delay on a: large projects take far longer
    assert by.loc[("size", "large"), "lead_days"] > by.loc[("size", "small"), "lead_days"] + 10
    js = res.to_dict()
    assert js["kpis"]["lead_time_by_attribute"]["size"]["large"]["lead_time_days"]["mean"] \
        == pytest.approx(by.loc[("size", "large"), "lead_days"])
    large, every = (c["simulated"] for c in js["checks"])
    assert large == pytest.approx((cases["attr.size"] == "large").sum() / 2)
    assert 0 < large < every
    # a streamed run gives the same split KPIs and checks
    st = sim.run(path, replications=2, seed=3, stream=True)
    pd_cols = [c for c in res.per_replication if c.startswith(("by_attr.", "check."))]
    np.testing.assert_allclose(st.per_replication[pd_cols].to_numpy(dtype=float),
                               res.per_replication[pd_cols].to_numpy(dtype=float))


def test_regional_assessment_by_attribute() -> None:
    """With ``attribute``, the park projects (and only they) skip the assessments."""
    from sim.errors import ReformError
    from sim.reforms import apply

    s = parse(scenario(ATTRS, b={"when": "size == 'large'"}), "t.toml")
    out = apply(s, ["regional_assessment:items=a+b,attribute=in_park"])
    assert out.items["a"].when == "not in_park"
    assert out.items["b"].when == "(size == 'large') and not in_park"
    inp = draw(build(out, "t.toml", warn=False), 0)
    park, large = inp.attrs[:, 1] == 1.0, inp.attrs[:, 0] == 2.0
    np.testing.assert_array_equal(inp.run_item[:, 0], ~park)
    np.testing.assert_array_equal(inp.run_item[:, 1], large & ~park)
    with pytest.raises(ReformError, match="attribute 'size' is not a true-or-false attribute "
                       "of class"):
        apply(s, ["regional_assessment:items=a,attribute=size"])


def test_run_prints_the_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.toml"
    path.write_text(tomli_w.dumps(scenario(ATTRS)))
    assert main(["run", str(path), "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "Lead time by case attribute" in out and "in_park" in out and "large" in out


def test_an_attribute_another_class_has_not(tmp_path: Path) -> None:
    """A class without the attribute: NaN in the table, 1 as a multiplier, out of the split."""
    data = scenario({"prepared": {"probability": 0.5, "scale": [
        {"what": "delay", "by": {"true": 0.0}}]}})
    data["classes"]["other"] = {"rate": 10.0, "per": "day"}
    data["classes"]["key"]["rate"] = 10.0
    inp = draw(model(data), 0)
    other = inp.cls == 1
    assert np.isnan(inp.attrs[other, 0]).all() and not np.isnan(inp.attrs[~other, 0]).any()
    np.testing.assert_array_equal(inp.delay[other, 0], 10.0)  # unscaled
    prepared = ~other & (inp.attrs[:, 0] == 1.0)
    np.testing.assert_array_equal(inp.delay[prepared, 0], 0.0)
    path = tmp_path / "t.toml"
    path.write_text(tomli_w.dumps(data))
    res = sim.run(path, replications=1, seed=2)
    cases = res.cases
    assert cases.loc[cases["class"] == "other", "attr.prepared"].isna().all()
    done = cases[(cases["status"] == "completed") & ~cases["warmup"]
                 & (cases["class"] == "key")]
    by = res.lead_time_by_attribute()
    assert by["completed"].sum() == len(done)
