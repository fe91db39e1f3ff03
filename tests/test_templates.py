"""The HTML reports' Jinja2 templates (sim/present/templates): every text they translate
is in the catalogue (the code's own literals are checked by tests/test_i18n.py), values
are escaped by the template, and the page shell carries what every report shows."""

from __future__ import annotations

import re
from pathlib import Path

from sim import i18n
from sim.present.html import Figure, environment, render

TEMPLATES = Path(__file__).resolve().parent.parent / "sim" / "present" / "templates"


def _template_literals() -> dict[str, str]:
    """Every string literal a template passes to t(), with where."""
    out: dict[str, str] = {}
    for path in sorted(TEMPLATES.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"""\bt\(\s*(["'])(.*?)\1""", text):
            line = text.count("\n", 0, m.start()) + 1
            out.setdefault(m.group(2), f"{path.name}:{line}")
    return out


def test_every_text_a_template_shows_is_in_the_catalogue() -> None:
    texts = _template_literals()
    assert len(texts) > 20
    cat = i18n.catalogue()
    missing = {x: where for x, where in texts.items() if x not in cat}
    assert not missing, f"template texts with no Chinese in sim/data/{i18n.CATALOGUE}: {missing}"


def test_the_templates_escape_values_and_keep_the_tables_markup() -> None:
    page = render("score.html", title="a <b>title</b>", subtitle="x & y",
                  cards=[("<1>", "'quoted'")], files=[("a\"b.csv", "<i>what</i>")],
                  dist_rows=[["<td>", "1", "2", "u", "m"]], decision="<script>",
                  term="none", kpi_rows=[], notes=["<n>"],
                  figures=[Figure(b"png", "<alt>", "<cap>", title="<h>")])
    assert "<b>" not in page and "<script>" not in page.split("</head>", 1)[1]
    assert "<title>a &lt;b&gt;title&lt;/b&gt;</title>" in page
    assert "x &amp; y" in page and "&lt;1&gt;" in page and "&lt;i&gt;what&lt;/i&gt;" in page
    assert 'href="a&#34;b.csv"' in page
    assert "<td>&lt;td&gt;</td>" in page  # a table from sim.results.display, not re-escaped
    assert '<img alt="&lt;alt&gt;" src="data:image/png;base64,cG5n">' in page
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")


def test_the_page_is_in_the_language_in_force() -> None:
    with i18n.use("zh"):
        page = render("score.html", title="t", subtitle="s", cards=[], files=[],
                      dist_rows=[], decision="d", term="none", kpi_rows=[], notes=[],
                      figures=[])
    assert '<html lang="zh-CN">' in page
    assert i18n.catalogue()["Files in this folder"] in page


def test_t_is_a_global_and_a_filter() -> None:
    env = environment()
    with i18n.use("zh"):
        out = env.from_string("{{ t('mean') }} {{ 'mean' | t }}").render()
    assert out == f"{i18n.catalogue()['mean']} {i18n.catalogue()['mean']}"
