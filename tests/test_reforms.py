"""The reform catalogue: each reform changes what it should and nothing else; bad input is
an error that names it; reformed scenarios round-trip through files."""

from __future__ import annotations

import fnmatch
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim import reforms as R
from sim.cli import main
from sim.errors import ReformError
from sim.inputs import draw
from sim.model import build
from sim.model import scenario as S
from sim.model.schema import Scenario
from tests.conftest import DATA

MINI = str(DATA / "mini.toml")
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# --------------------------------------------------------------------------- generated scenarios


@st.composite
def scenarios(draw_: Any, one_probability: bool = False) -> Scenario:
    """Small valid scenarios: 1-3 stations, 2-7 items on one route, 1-2 classes."""
    d = draw_
    n_st = d(st.integers(1, 3))
    stations = {f"s{k}": {"servers": d(st.integers(1, 5)), "priority": d(st.booleans())}
                for k in range(n_st)}
    items: dict[str, Any] = {}
    for j in range(d(st.integers(2, 7))):
        fam = d(st.sampled_from(["exponential", "gamma", "deterministic", "lognormal"]))
        service: dict[str, Any] = {"dist": fam, "mean": d(st.floats(0.1, 6.0))}
        if fam in ("gamma", "lognormal"):
            service["cv"] = d(st.floats(0.1, 1.5))
        it: dict[str, Any] = {"station": f"s{d(st.integers(0, n_st - 1))}", "service": service,
                              "materials": d(st.integers(0, 25)),
                              "skip_probability": d(st.sampled_from([0.0, 0.0, 0.2, 0.6])),
                              "online": d(st.booleans()), "conditional": d(st.booleans())}
        if d(st.booleans()):
            it["delay"] = {"dist": "lognormal", "mean": d(st.floats(0.1, 10.0)),
                           "cv": 0.5, "unit": "days"}
        if d(st.booleans()):
            it["limit_workdays"] = float(d(st.integers(1, 20)))
        if d(st.integers(0, 3)) == 0:
            it["lag"] = {"dist": "deterministic", "mean": d(st.floats(0.5, 3.0)), "unit": "days"}
        if d(st.booleans()):
            it["deficiency_per_material"] = d(st.sampled_from([0.0, 0.01, 0.05]))
        items[f"i{j}"] = it
    names = d(st.permutations(list(items)))
    cuts = sorted(d(st.sets(st.integers(1, len(names) - 1), max_size=len(names) - 1)))
    bounds = [0, *cuts, len(names)]
    stages = []
    for k in range(len(bounds) - 1):
        stages.append({"name": f"st{k}", "items": list(names[bounds[k]:bounds[k + 1]]),
                       "mode": d(st.sampled_from(["sequential", "parallel"])),
                       "probability": 1.0 if one_probability else d(st.sampled_from(
                           [1.0, 1.0, 0.5]))})
    classes: dict[str, Any] = {}
    pools: dict[str, Any] = {}
    for c in range(d(st.integers(1, 2))):
        proxy = d(st.sampled_from([0.0, 0.0, 0.4]))
        online = d(st.floats(0.0, 1.0 - proxy))
        cls: dict[str, Any] = {"rate": d(st.floats(0.5, 5.0)), "online_share": online,
                               "proxy_share": proxy, "priority": c}
        if proxy > 0:
            cls["agent_pool"] = "agents"
            pools["agents"] = {"agents": 2, "caseload": 2, "deficiency_factor": 0.5}
        classes[f"c{c}"] = cls
    data = {"scenario": {"name": "generated"},
            "run": {"horizon_days": 30, "replications": 1, "seed": 1},
            "calendars": {"office": {}},
            "classes": classes, "stations": stations, "pools": pools, "items": items,
            "routes": {"main": {"stages": stages}},
            "rework": {"deficiency_per_material": d(st.sampled_from([0.0, 0.02, 0.05])),
                       "fix": {"dist": "gamma", "mean": 2, "cv": 0.5, "unit": "days"}}}
    return S.parse(data, "generated")


def subset(s: Scenario, d: Any, min_size: int = 1, max_size: int | None = None) -> list[str]:
    return d(st.lists(st.sampled_from(list(s.items)), min_size=min_size, max_size=max_size,
                      unique=True))


def only(diff: dict[str, tuple[Any, Any]], *patterns: str) -> list[str]:
    """Changed paths that match none of the allowed glob patterns."""
    return [k for k in diff if not any(fnmatch.fnmatchcase(k, p) for p in patterns)]


def dump(s: Scenario) -> dict[str, Any]:
    return s.model_dump(mode="json")


# --------------------------------------------------------------------------- catalogue


def test_catalogue_is_documented_and_typed() -> None:
    want = {"cut_items", "merge_items", "cut_materials", "online", "proxy", "conditional",
            "commitment", "parallel", "handle_at_once", "one_go", "regional_assessment"}
    assert want <= set(R.CATALOGUE)
    for name, r in R.CATALOGUE.items():
        assert r.name == name and r.title and len(r.doc) > 80, name
        for a in r.args:
            assert a.help and a.kind in ("int", "float", "probability", "bool", "name",
                                         "names", "choice"), (name, a.name)
            if not a.required and a.default is not None:
                assert a.convert(a.default) == a.default or a.kind == "names"


def test_catalogue_order_and_layer() -> None:
    # `govsim reforms` lists the catalogue in registration order: the family modules'
    # import order in sim/reforms/__init__.py
    assert list(R.CATALOGUE) == [
        "cut_items", "merge_items", "one_go", "cut_materials", "online", "proxy",
        "conditional", "commitment", "handle_at_once", "parallel", "regional_assessment"]
    banned = re.compile(r"^\s*(import|from)\s+(argparse|rich|sim\.cli|sim\.api)\b"
                        r"|^\s*from\s+sim\s+import\s+(api|cli)\b", re.M)
    for path in Path(R.__file__).parent.glob("*.py"):
        assert not banned.search(path.read_text(encoding="utf-8")), path.name


def test_cli_lists_and_describes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reforms"]) == 0
    out = capsys.readouterr().out
    for name in R.CATALOGUE:
        assert name in out
    assert main(["reforms", "online"]) == 0
    out = capsys.readouterr().out
    assert "share" in out and "0.9" in out and "一网通办" in out


def test_aliases_and_hyphens() -> None:
    assert R.lookup("一网通办") is R.CATALOGUE["online"]
    assert R.lookup("handle-at-once") is R.CATALOGUE["handle_at_once"]
    assert R.lookup("merge") is R.CATALOGUE["merge_items"]


# --------------------------------------------------------------------------- spec syntax and errors


def test_spec_positional_keyword_lists_and_globs() -> None:
    s = sim.load(MINI)
    r, raw = R.parse_spec("online:0.6,items=review_*+intake")
    assert r.name == "online" and raw == {"share": "0.6", "items": "review_*+intake"}
    out = R.apply(s, ["online:0.6,items=review_*"], "mini.toml")
    assert [n for n, it in out.items.items() if it.online] == ["review_a", "review_b"]
    assert out.classes["ordinary"].online_share == pytest.approx(0.6)
    assert out.classes["key"].online_share == pytest.approx(0.6 * 0.5)


@pytest.mark.parametrize("spec, message", [
    ("onlne", "unknown reform 'onlne' (known: cut_items, merge_items"),
    ("onlne", "did you mean 'online'?"),
    ("online:shar=0.5", "unknown argument 'shar' (online takes: share, items, classes)"),
    ("online:share=1.5", "share must be a probability in [0, 1] (got '1.5')"),
    ("online:share=lots", "share must be a probability in [0, 1] (got 'lots')"),
    ("online:0.5,0.6,x,y", "too many arguments"),
    ("online:share=0.5,0.6", "positional argument '0.6' after key=value"),
    ("online:share=0.5,share=0.6", "argument 'share' is given twice"),
    ("online:share=0.5,,items=*", "empty argument"),
    ("merge_items", "argument 'items' is required"),
    ("merge_items:items=intake+nope", "item 'nope' does not exist (known: intake, review_a"),
    ("merge_items:items=intake", "at least two items"),
    ("merge_items:items=intake+review_a,name=review_b", "name 'review_b' is taken"),
    ("cut_items:items=zz*", "no item matches 'zz*'"),
    ("cut_items:items=*", "would leave route 'main' with no items"),
    ("cut_materials:total=500", "total=500 is more than the 18 materials"),
    ("cut_materials:total=5,factor=0.5", "give total or factor, not both"),
    ("cut_materials:factor=2", "factor must be a number in [0, 1] (got '2')"),
    ("proxy:windows=0", "windows must be an integer >= 1 (got '0')"),
    ("proxy:windows=2.5", "windows must be an integer >= 1 (got '2.5')"),
    ("proxy:pool=front", "pool 'front' would share a name with a station"),
    ("proxy:classes=vip", "class 'vip' does not exist (known: ordinary, key)"),
    ("commitment:items=intake,audit_station=nowhere", "station 'nowhere' does not exist"),
    ("parallel:stages=nostage", "no stage matches 'nostage'"),
    ("merge_items:items=intake+review_a,staff=maybe", "staff must be true or false (got 'maybe')"),
    ("merge_items:items=intake+review_a,delay=max", "delay must be one of longest, sum"),
])
def test_bad_reforms_name_the_problem(spec: str, message: str) -> None:
    s = sim.load(MINI)
    with pytest.raises(ReformError) as exc:
        R.apply(s, [spec], "mini.toml")
    text = str(exc.value)
    assert text.startswith(f"mini.toml: reform '{spec}': "), text
    assert message in text, text


@pytest.mark.parametrize("argv", [
    ["run", MINI, "-q", "--reform", "bogus"],
    ["run", MINI, "-q", "--reform", "merge_items:items=intake+nope"],
    ["validate", MINI, "--reform", "online:share=2"],
    ["reform", MINI, "--reform", "cut_items:items=ghost"],
    ["reform", MINI],
    ["reform", MINI, "--reform", "online", "--write", "/no/such/folder/x.toml"],
])
def test_cli_bad_reform_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("govsim: error: ") and len(err.strip().splitlines()) == 1, err


def test_scenario_file_reforms_list_errors_name_the_file(tmp_path: Path) -> None:
    text = (DATA / "mini.toml").read_text().replace('[scenario]', 'reforms = ["online:2"]\n\n'
                                                    '[scenario]')
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ReformError, match=r"^bad.toml: reform 'online:2': share must be"):
        sim.load(p)


# --------------------------------------------------------------------------- property tests


@FAST
@given(st.data())
def test_reforms_never_mutate_their_input(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    before = dump(s)
    items = "+".join(subset(s, data.draw, max_size=2))
    for spec in ("online:0.7", "conditional", f"commitment:items={items}", "parallel",
                 f"handle_at_once:items={items}", f"regional_assessment:items={items}",
                 "proxy:windows=3,classes=c0", "cut_materials:factor=0.5"):
        R.apply(s, [spec], "g")
        assert dump(s) == before, spec


@FAST
@given(st.data())
def test_online_changes_only_online_flags_and_shares(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    share = data.draw(st.floats(0.0, 1.0))
    chosen = subset(s, data.draw)
    out = R.CATALOGUE["online"](s, share=share, items=chosen)
    diff = R.changes(s, out)
    assert only(diff, "items.*.online", "classes.*.online_share") == []
    for n, it in out.items.items():
        assert it.online == (True if n in chosen else s.items[n].online)
    for c, cls in out.classes.items():
        assert cls.online_share == pytest.approx(share * (1 - s.classes[c].proxy_share))
        assert cls.proxy_share == s.classes[c].proxy_share


@FAST
@given(st.data())
def test_online_and_proxy_commute(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    a = R.apply(s, ["online:0.8", "proxy:windows=4,share=0.5"], "g")
    b = R.apply(s, ["proxy:windows=4,share=0.5", "online:0.8"], "g")
    for c in s.classes:
        assert a.classes[c].online_share == pytest.approx(b.classes[c].online_share)
        assert a.classes[c].proxy_share == b.classes[c].proxy_share == 0.5
        assert a.classes[c].online_share + a.classes[c].proxy_share <= 1 + 1e-12


@FAST
@given(st.data())
def test_proxy_adds_a_pool_and_touches_only_channel_fields(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    windows = data.draw(st.integers(1, 40))
    out = R.CATALOGUE["proxy"](s, windows=windows, caseload=3, classes=["c0"],
                               deficiency_factor=0.2)
    diff = R.changes(s, out)
    assert only(diff, "pools.help_proxy*", "classes.c0.proxy_share", "classes.c0.agent_pool",
                "classes.c0.online_share") == []
    assert out.pools["help_proxy"].agents == windows
    assert out.pools["help_proxy"].caseload == 3
    assert out.classes["c0"].agent_pool == "help_proxy" and out.classes["c0"].proxy_share == 1.0


@FAST
@given(st.data())
def test_conditional_changes_only_conditional(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    chosen = subset(s, data.draw)
    out = R.CATALOGUE["conditional"](s, items=chosen, deadline_days=5)
    assert only(R.changes(s, out), *[f"items.{n}.conditional" for n in chosen],
                *[f"items.{n}.supplement_deadline_days" for n in chosen]) == []
    assert all(out.items[n].conditional and out.items[n].supplement_deadline_days == 5
               for n in chosen)


@FAST
@given(st.data())
def test_commitment_shortens_review_and_adds_audits(data: st.DataObject) -> None:
    from sim.model.distributions import family

    s = data.draw(scenarios())
    chosen = subset(s, data.draw)
    out = R.CATALOGUE["commitment"](s, items=chosen, check_hours=0.5, audit_probability=0.2)
    allowed = [f"items.{n}.{f}" for n in chosen for f in (
        "service.*", "lag*", "deficiency_per_material", "conditional", "audit_*",
        "revoke_probability")]
    assert only(R.changes(s, out), *allowed) == []
    for n in chosen:
        old, new = family(s.items[n].service), family(out.items[n].service)
        assert new.mean == pytest.approx(min(0.5, old.mean))
        assert new.cv == pytest.approx(old.cv) and new.kind == old.kind
        it = out.items[n]
        assert it.audit_probability == 0.2 and it.audit_station == s.items[n].station
        assert it.audit_service == s.items[n].service  # an audit takes a review's time
        assert it.deficiency_per_material == 0.0 and it.lag is None
        q = (s.items[n].deficiency_per_material if s.items[n].deficiency_per_material
             is not None else s.rework.deficiency_per_material)
        assert it.revoke_probability == pytest.approx(1 - (1 - q) ** s.items[n].materials)


@FAST
@given(st.data())
def test_parallel_changes_only_stage_modes(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    names = [stg.name for stg in s.routes["main"].stages]
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    out = R.CATALOGUE["parallel"](s, stages=chosen)
    assert only(R.changes(s, out), "routes.main.stages*.mode") == []
    for stg in out.routes["main"].stages:
        assert stg.mode == ("parallel" if stg.name in chosen else
                            next(x.mode for x in s.routes["main"].stages if x.name == stg.name))


@FAST
@given(st.data())
def test_handle_at_once_one_visit_no_rework(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    chosen = subset(s, data.draw)
    out = R.CATALOGUE["handle_at_once"](s, items=chosen, station="s0")
    allowed = [f"items.{n}.{f}" for n in chosen
               for f in ("station", "deficiency_per_material", "conditional", "lag*")]
    assert only(R.changes(s, out), *allowed) == []
    m = build(out, warn=False)
    for n in chosen:
        assert out.items[n].station == "s0"
        assert m.expected_attempts(m.item_names.index(n)) == 1.0


@FAST
@given(st.data())
def test_regional_assessment_skips_whole_stages_together(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    chosen = set(subset(s, data.draw))
    share = data.draw(st.floats(0.0, 1.0))
    out = R.CATALOGUE["regional_assessment"](s, items=sorted(chosen), share=share)
    assert only(R.changes(s, out), "routes.main.stages*.probability",
                *[f"items.{n}.skip_probability" for n in chosen]) == []
    for old, new in zip(s.routes["main"].stages, out.routes["main"].stages, strict=True):
        whole = set(old.items) <= chosen
        assert new.probability == pytest.approx(old.probability * ((1 - share) if whole else 1))
        for n in old.items:
            p_old = 1 - s.items[n].skip_probability
            p_new = 1 - out.items[n].skip_probability
            if n in chosen and not whole:
                assert p_new == pytest.approx(p_old * (1 - share))
            else:
                assert p_new == p_old


def _expected_rework(s: Scenario) -> float:
    m = build(s, warn=False)
    total = 0.0
    for j in range(m.n_items):
        total += m.expected_attempts(j) - 1.0
    return total


@FAST
@given(st.data())
def test_cut_materials_only_cuts_and_never_raises_rework(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    have = sum(it.materials for it in s.items.values())
    if data.draw(st.booleans()):
        target = data.draw(st.integers(0, have))
        out = R.CATALOGUE["cut_materials"](s, total=target)
        assert sum(it.materials for it in out.items.values()) == target
    else:
        out = R.CATALOGUE["cut_materials"](s, factor=data.draw(st.floats(0.0, 1.0)))
    assert only(R.changes(s, out), "items.*.materials") == []
    m0, m1 = build(s, warn=False), build(out, warn=False)
    for j, n in enumerate(m0.item_names):
        assert out.items[n].materials <= s.items[n].materials
        assert m1.deficiency_probability(j, 0) <= m0.deficiency_probability(j, 0) + 1e-15
    assert _expected_rework(out) <= _expected_rework(s) + 1e-12


@FAST
@given(st.data())
def test_cut_items_removes_them_and_nothing_else(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    chosen = subset(s, data.draw, max_size=len(s.items) - 1)
    out = R.CATALOGUE["cut_items"](s, items=chosen)
    assert set(out.items) == set(s.items) - set(chosen)
    for n, it in out.items.items():
        assert it == s.items[n]
    assert out.stations == s.stations and out.classes == s.classes and out.pools == s.pools
    route = [n for stg in s.routes["main"].stages for n in stg.items if n not in chosen]
    assert [n for stg in out.routes["main"].stages for n in stg.items] == route
    kept = [stg for stg in s.routes["main"].stages if set(stg.items) - set(chosen)]
    assert [(x.name, x.mode, x.probability) for x in out.routes["main"].stages] == [
        (x.name, x.mode, x.probability) for x in kept]


@FAST
@given(st.data())
def test_merge_pools_work_materials_and_staff(data: st.DataObject) -> None:
    from sim.model.distributions import family

    s = data.draw(scenarios(one_probability=True))
    chosen = subset(s, data.draw, min_size=2)
    staff = data.draw(st.booleans())
    out = R.CATALOGUE["merge_items"](s, items=chosen, staff=staff)
    first = chosen[0]
    assert set(out.items) == (set(s.items) - set(chosen)) | {first}
    for n in out.items:
        if n != first:
            assert out.items[n] == s.items[n]
    new = out.items[first]
    olds = [s.items[n] for n in chosen]
    assert new.materials == sum(it.materials for it in olds)
    assert new.station == olds[0].station
    # the expected work is pooled: (1 - skip) x mean is conserved
    work = sum((1 - it.skip_probability) * family(it.service).mean for it in olds)
    assert (1 - new.skip_probability) * family(new.service).mean == pytest.approx(work)
    if all(it.skip_probability == 0 for it in olds):
        assert family(new.service).mean == pytest.approx(sum(family(it.service).mean
                                                             for it in olds))
    # P(deficient) of the merged submission = P(any of the old ones deficient)
    m0, m1 = build(s, warn=False), build(out, warn=False)
    p_any = 1 - math.prod(1 - m0.deficiency_probability(m0.item_names.index(n), 0)
                          for n in chosen)
    assert m1.deficiency_probability(m1.item_names.index(first), 0) == pytest.approx(p_any)
    # staff move with the work: the total is conserved
    assert sum(x.servers for x in out.stations.values()) == sum(
        x.servers for x in s.stations.values())
    if not staff:
        assert out.stations == s.stations
    # the route: the merged item takes the first one's place
    seq = [n for stg in s.routes["main"].stages for n in stg.items
           if n == first or n not in chosen]
    assert [n for stg in out.routes["main"].stages for n in stg.items] == seq
    assert out.classes == s.classes


@FAST
@given(st.data())
def test_one_go_is_a_bundle_with_one_queue(data: st.DataObject) -> None:
    s = data.draw(scenarios(one_probability=True))
    chosen = subset(s, data.draw, min_size=2)
    out = R.CATALOGUE["one_go"](s, items=chosen, station="s0", staff=False)
    assert chosen[0] in out.items and not set(chosen[1:]) & set(out.items)
    assert out.items[chosen[0]].station == "s0"
    delays = [s.items[n].delay for n in chosen if s.items[n].delay is not None]
    if delays:  # one package prepared at once: the longest preparation
        assert out.items[chosen[0]].delay == max(delays, key=lambda x: x.mean or 0)


@FAST
@given(st.data())
def test_idempotent_reforms(data: st.DataObject) -> None:
    s = data.draw(scenarios())
    for spec in ("online:0.7", "conditional", "parallel", "proxy:windows=3"):
        once = R.apply(s, [spec], "g")
        twice = R.apply(once, [spec], "g")
        assert R.changes(once, twice).keys() <= {k for k in R.changes(once, twice)
                                                  if k.startswith("assumptions")}, spec


@FAST
@given(st.data())
def test_reformed_scenario_round_trips_through_a_file(data: st.DataObject) -> None:
    s = data.draw(scenarios(one_probability=True))
    items = "+".join(subset(s, data.draw, min_size=2))
    specs = [f"merge_items:items={items}", "cut_materials:factor=0.5", "online:0.9",
             "conditional", "proxy:windows=2"]
    out = R.apply(s, specs, "g")
    assert out.reforms == []
    assert [v.split(" -- ")[0] for k, v in out.assumptions.items()
            if k.startswith("reforms.applied")] == specs
    again = S.parse(__import__("tomllib").loads(S.to_toml(out)), "again")
    assert dump(again) == dump(out)


# --------------------------------------------------------------------------- in the model


def test_merge_keeps_everyone_elses_random_numbers() -> None:
    s = sim.load(MINI)
    merged = R.apply(s, ["merge_items:items=review_a+review_b,staff=false"], "mini")
    m0, m1 = build(s, warn=False), build(merged, warn=False)
    a, b = draw(m0, 0, 5), draw(m1, 0, 5)
    np.testing.assert_array_equal(a.arrival, b.arrival)
    np.testing.assert_array_equal(a.channel, b.channel)
    j0, j1 = m0.item_names.index("intake"), m1.item_names.index("intake")
    np.testing.assert_array_equal(a.service[:, j0], b.service[:, j1])
    np.testing.assert_array_equal(a.deficient[:, j0], b.deficient[:, j1])


def test_reforms_act_through_the_model() -> None:
    """One replication on mini per reform, common random numbers: each moves its KPI."""
    s = sim.load(MINI)

    def kpis(specs: list[str]) -> dict[str, float]:
        r = sim.run(R.apply(s, specs, "mini") if specs else s, replications=1, seed=3)
        return dict(r.per_replication.iloc[0])

    base = kpis([])
    assert kpis(["online:1.0"])["visits.mean"] < base["visits.mean"]
    assert kpis(["cut_materials:factor=0.3"])["rework_rounds.mean"] < base["rework_rounds.mean"]
    assert kpis(["conditional"])["supplements.mean"] > base["supplements.mean"]
    assert kpis(["commitment:items=review_a,audit_probability=0.5,revoke=1"])[
        "revoked.mean"] > 0
    assert kpis(["handle_at_once:items=*"])["rework_rounds.mean"] == 0
    assert kpis(["proxy:windows=50,share=1,deficiency_factor=0"])["visits.mean"] < base[
        "visits.mean"]


def test_reform_command_writes_a_loadable_file(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reformed.toml"
    assert main(["reform", MINI, "--reform", "merge_items:items=review_a+review_b",
                 "--reform", "online:0.8", "--write", str(out)]) == 0
    text = capsys.readouterr().out
    assert "items 3 -> 2" in text and "items.review_b: removed" in text
    assert not list(tmp_path.glob("*.tmp"))
    back = sim.load(out)
    direct = sim.load(MINI, ["merge_items:items=review_a+review_b", "online:0.8"])
    assert dump(back) == dump(direct)
    assert back.reforms == [] and len(back.items) == 2
    assert main(["reform", MINI, "--reform", "online", "--write", "-"]) == 0
    assert "online = true" in capsys.readouterr().out
    assert main(["run", str(out), "-q", "-n", "1"]) == 0


def test_reform_command_applies_the_files_own_list(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    text = (DATA / "mini.toml").read_text().replace(
        "[scenario]", 'reforms = ["cut_materials:factor=0.5"]\n\n[scenario]')
    src = tmp_path / "with_list.toml"
    src.write_text(text)
    out = tmp_path / "out.toml"
    assert main(["reform", str(src), "--write", str(out)]) == 0
    assert re.search(r"materials 18 -> \d+", capsys.readouterr().out)
    assert sim.load(out).reforms == []
    assert sum(i.materials for i in sim.load(out).items.values()) < 18
