"""Languages (sim.i18n): the catalogue, the choice of language, Chinese reports and
figures with no untranslated label and no missing glyph."""

from __future__ import annotations

import ast
import io
import re
import string
import warnings
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import sim
from sim import i18n
from sim.cli import main
from sim.errors import UsageError
from sim.model.scenario import parse
from tests.conftest import DATA, ROOT

SIM = ROOT / "sim"


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def _literals() -> dict[str, str]:
    """Every string literal the code passes to t() (imported as t or tr), with where."""
    out: dict[str, str] = {}
    for path in sorted(SIM.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("t", "tr") and node.args):
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    out.setdefault(arg.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return out


def _indirect() -> list[str]:
    """Texts the code translates through a variable: the KPI table's labels and units,
    the headline measures', the table headers and figure legends kept as constants."""
    from sim.present import plots
    from sim.present.compare_report import DIFF_KPIS
    from sim.results import display, headline, kpis

    out = [k.label for k in (*kpis.CASE_KPIS, *kpis.STATION_KPIS)]
    out += [k.unit for k in (*kpis.CASE_KPIS, *kpis.STATION_KPIS)]
    out += [x for label, unit, _ in headline._TEXT.values() for x in (label, unit)]
    out += list(display.STATION_HEADERS) + list(plots.SPLIT_LABELS.values())
    out += [w for _, w in plots.UNITS.values()] + [label for _, label, _, _ in DIFF_KPIS]
    from sim.reforms import CATALOGUE

    out += [r.summary for r in CATALOGUE.values()]  # govsim reforms
    return out


def test_every_catalogue_entry_has_both_languages() -> None:
    cat = i18n.catalogue()
    assert len(cat) > 150
    for en, zh in cat.items():
        assert en.strip() or en == " vs ", f"an empty English key: {en!r}"
        assert zh.strip(), f"{en!r} has no Chinese"
        assert _fields(en) == _fields(zh), f"{en!r} and {zh!r} name different fields"
        if re.search(r"[A-Za-z]{3,}", re.sub(r"\{[^}]*\}", "", en)):
            assert re.search(r"[\u3000-\u9fff\uff00-\uffef]", zh), f"{en!r} -> {zh!r}"


def test_every_text_the_code_shows_is_in_the_catalogue() -> None:
    cat = i18n.catalogue()
    texts = {**_literals(), **{x: "(a constant)" for x in _indirect()}}
    assert len(texts) > 150
    missing = {x: where for x, where in texts.items() if x not in cat}
    assert not missing, f"texts with no Chinese in sim/data/{i18n.CATALOGUE}: {missing}"


def test_language_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(i18n.ENV, raising=False)
    assert i18n.resolve() == "en"
    monkeypatch.setenv(i18n.ENV, "zh_CN")
    assert i18n.resolve() == "zh"
    assert i18n.resolve("en") == "en"  # the flag wins over the environment
    with pytest.raises(UsageError, match=r"--lang must be one of en, zh \(got 'fr'\)"):
        i18n.resolve("fr")
    monkeypatch.setenv(i18n.ENV, "klingon")
    with pytest.raises(UsageError, match="GOVSIM_LANG must be one of en, zh"):
        i18n.resolve()
    with i18n.use("zh"):
        assert i18n.t("mean") == "均值"
        assert i18n.t("{n} replications, seed {seed}, engine {engine}", n=2, seed=1,
                      engine="des") == "2 次重复模拟，随机种子 1，引擎 des"
    with i18n.use("en"):
        assert i18n.t("mean") == "mean"


def test_unknown_language_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["validate", str(DATA / "mini.toml"), "--lang", "fr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["govsim: error: --lang must be one of en, zh (got 'fr')"]
    monkeypatch.setenv(i18n.ENV, "xx")
    assert main(["validate", str(DATA / "mini.toml")]) == 2
    assert "GOVSIM_LANG must be one of en, zh (got 'xx')" in capsys.readouterr().err


def test_names_come_from_the_scenario_labels(mini: dict[str, Any]) -> None:
    mini["stations"]["front"].update(label="front desk", label_zh="综合窗口")
    s = parse(mini, "mini.toml")
    with i18n.use("zh"):
        assert i18n.name("front", s.stations["front"]) == "综合窗口"
        assert i18n.name("review", s.stations["review"]) == "review"  # no label: the key
    with i18n.use("en"):
        assert i18n.name("front", s.stations["front"]) == "front desk"


# --------------------------------------------------------------------------- a Chinese report

LABELS_ZH = {"stations": {"front": "综合窗口", "review": "审查科室"},
             "pools": {"helpers": "帮办代办"},
             "classes": {"ordinary": "一般项目", "key": "重点项目"},
             "items": {"intake": "受理", "review_a": "技术审查", "review_b": "现场核验"}}


class _Texts(HTMLParser):
    """The text of headings, table headers, captions, cards and links of a page."""

    TAGS = ("h1", "h2", "h3", "th", "figcaption", "a", "summary")

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.found: list[tuple[str, str]] = []
        self.card = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(tag if dict(attrs).get("class") != "l" else "card")

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and (self.stack[-1] in self.TAGS or self.stack[-1] == "card") \
                and data.strip():
            self.found.append((self.stack[-1], data.strip()))


#: English that a Chinese page may show: names, file names, units and abbreviations
ALLOWED = re.compile(r"\b\w+(?:[._]\w+)+\b|govsim|mini-zh|mini|TOML|JSON|PNG|CSV|csv|json|"
                     r"toml|html|png|"
                     r"cases|stations|per_replication|result|scenario|report|figures|levers|"
                     r"vector|des|online|P\d\d|CI|UTC|CST|[A-Z]{2,4}")


def _english_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z][A-Za-z_\-]{2,}", ALLOWED.sub("", text))]


def _labelled(mini: dict[str, Any]) -> dict[str, Any]:
    for part, names in LABELS_ZH.items():
        for key, zh in names.items():
            mini[part][key]["label_zh"] = zh
    mini["scenario"] = {"name": "mini-zh"}
    mini["run"] = {**mini["run"], "horizon_days": 30}
    return mini


def test_chinese_report_has_no_untranslated_label(mini: dict[str, Any],
                                                  tmp_path: Path) -> None:
    from sim.present import compare_report, report

    result = sim.run(parse(_labelled(mini), "mini-zh.toml"), replications=2)
    with i18n.use("zh"):
        page = report.write_run_report(result, tmp_path / "run").read_text(encoding="utf-8")
        cmp = compare_report.write_compare_report({"a": result, "b": result}, tmp_path / "cmp")
    for html in (page, cmp.read_text(encoding="utf-8")):
        assert '<html lang="zh-CN">' in html
        parser = _Texts()
        parser.feed(html)
        assert len(parser.found) > 40
        english = [(tag, text) for tag, text in parser.found if _english_words(text)]
        assert not english, f"untranslated labels on a Chinese page: {english}"
        assert "综合窗口" in html and "重点项目" in html  # the scenario's own names
    # and the check can fail: the English page is full of English labels
    en = report.write_run_report(result, tmp_path / "en").read_text(encoding="utf-8")
    parser = _Texts()
    parser.feed(en)
    assert sum(bool(_english_words(text)) for _, text in parser.found) > 30


def test_chinese_terminal_tables(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 mini: dict[str, Any]) -> None:
    import tomli_w

    path = tmp_path / "mini-zh.toml"
    path.write_text(tomli_w.dumps(_labelled(mini)), encoding="utf-8")
    assert main(["run", str(path), "-n", "2", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    for zh in ("核心指标", "办理时长（已办结案件）", "每件案件", "窗口与部门（最繁忙者在前）",
               "综合窗口", "平均办理时长"):
        assert zh in out
    assert "Lead time" not in out and "Stations" not in out


# --------------------------------------------------------------------------- fonts


def _render(text: str) -> list[str]:
    from matplotlib.figure import Figure

    from sim.present import fonts
    from sim.present.html import fig_png

    with i18n.use("zh"), fonts.fonts(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = Figure(figsize=(4, 2))
        ax = fig.add_subplot()
        ax.set_title(text)
        ax.set_xlabel("办理时长（工作日）")
        png = fig_png(fig)
    assert png.startswith(b"\x89PNG")
    return [str(w.message) for w in caught]


def test_cjk_font_is_shipped_and_used() -> None:
    from matplotlib import font_manager

    from sim.present import fonts

    assert fonts.FONT_FILE.is_file() and (fonts.FONT_FILE.parent / "OFL.txt").is_file()
    fonts.register()
    prop = font_manager.FontProperties(family=fonts.FAMILY)
    assert Path(font_manager.findfont(prop, fallback_to_default=False)) == fonts.FONT_FILE
    with i18n.use("zh"):
        assert fonts.families()[0] == fonts.FAMILY


def test_chinese_figure_has_no_missing_glyph() -> None:
    from sim.i18n import catalogue

    every = "".join(sorted({ch for zh in catalogue().values() for ch in zh}))
    messages = _render("呼和浩特 12345 政务服务热线：" + every[:400])
    assert not [m for m in messages if "missing from" in m], messages
    messages = _render(every[400:])
    assert not [m for m in messages if "missing from" in m], messages


def test_missing_glyph_is_detected() -> None:
    # a character outside the shipped subset (CJK extension B) warns: the check above can fail
    messages = _render("\U00020000")
    assert any("missing from" in m for m in messages), messages


def test_report_figures_in_chinese(mini: dict[str, Any]) -> None:
    from sim.present import plots

    result = sim.run(parse(_labelled(mini), "mini-zh.toml"), replications=2)
    with i18n.use("zh"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fig in (plots.station_chart(result), plots.lead_time_split(result),
                    plots.lead_time_cdf(result), plots.wip_over_time(result)):
            plots.save(fig, io.BytesIO())
    assert not [w for w in caught if "missing from" in str(w.message)]


def test_json_is_english_in_any_language(mini: dict[str, Any]) -> None:
    result = sim.run(parse(_labelled(mini), "mini-zh.toml"), replications=2)
    with i18n.use("en"):
        en = result.to_dict()
    with i18n.use("zh"):
        zh = result.to_dict()
        from sim.results import drivers

        said = drivers.answer(zh, result.scenario)
    assert en == zh  # labels, units and the answer sentence of the JSON stay English
    assert en["answer"].startswith("Lead time") and said.startswith("办理时长")


def test_reform_names() -> None:
    from sim.reforms import CATALOGUE

    online = CATALOGUE["online"]
    assert (online.label_zh, online.label) == ("一网通办", "one-network online handling")
    with i18n.use("zh"):
        assert i18n.name("online", online) == "一网通办"
    assert all(r.label_zh for r in CATALOGUE.values())
