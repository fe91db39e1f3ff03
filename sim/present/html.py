"""The page machinery the reports share: the Jinja2 templates, figures, the --out folder.

:mod:`sim.present.report` (one run), :mod:`sim.present.compare_report` (a comparison) and
:mod:`sim.present.score_report` (a score) gather their values and hand them to
:func:`render`, which fills a template of ``sim/present/templates``: ``base.html`` (the
page shell, its inline style ``style.css`` and the small script ``check.js`` that marks
the page once every figure has decoded, the header with title, subtitle, answer and cards,
the nav, the files section), one page per report extending it (``run.html``,
``compare.html``, ``score.html``) and the sections they share as macros (``macros.html``:
figures, the KPI tables, stations, a scenario). Autoescaping is on: values are escaped
by the template, never by hand. Each page is one self-contained HTML file, figures embedded
as base64 PNG (:class:`Figure`). The table helpers (``table``, ``Raw``, ``num``, ``ci``)
live in :mod:`sim.results.display`, shared with the notebook view; the templates call them.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from sim import i18n
from sim.i18n import t
from sim.present.fonts import fonts
from sim.results import display

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure


REPORT_NAME = "report.html"


# --------------------------------------------------------------------------- figures


def fig_png(fig: MplFigure, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    with fonts():
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


@dataclass(frozen=True)
class Figure:
    """A figure as the templates show it (``macros.html``: ``figure``): a PNG embedded as
    base64, its alt text and caption, and a heading above it when ``title`` is given."""

    png: bytes
    alt: str
    caption: str
    title: str = ""

    @property
    def b64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")


# --------------------------------------------------------------------------- templates


def _markup(f: Callable[..., str]) -> Callable[..., Markup]:
    """A helper of :mod:`sim.results.display` whose HTML (escaped there) a template
    takes as is."""
    def call(*args: Any, **kwargs: Any) -> Markup:
        return Markup(f(*args, **kwargs))  # display escapes every cell
    return call


@cache
def environment() -> Environment:
    """The templates' environment: autoescaping on, the translation ``t`` (also a filter)
    and the table helpers of :mod:`sim.results.display` as globals."""
    env = Environment(loader=PackageLoader("sim.present", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                      undefined=StrictUndefined)
    env.globals.update(
        t=t, num=display.num, ci=display.ci, raw=display.Raw,
        table=_markup(display.table), headline_html=_markup(display.headline_html),
        stations_html=_markup(display.stations_html), lead_headers=display.lead_headers,
        kpi_rows=display.kpi_rows, per_case_rows=display.per_case_rows)
    env.filters["t"] = t
    return env


def render(template: str, *, title: str, subtitle: str, cards: Sequence[tuple[str, str]],
           files: Sequence[tuple[str, str]], answer: str | None = None,
           nav: Sequence[tuple[str, str]] = (), **context: Any) -> str:
    """A report page: ``template`` (extending ``base.html``) filled with the header
    (title, subtitle, the answer in words when given, the headline cards), the nav
    (anchor, English text) and the files section, and ``context`` for the page's body."""
    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    cmd = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
    return environment().get_template(template).render(
        lang="zh-CN" if i18n.is_zh() else "en", version=_version(), now=now,
        cmd=cmd if cmd.startswith("govsim") else "", title=title, subtitle=subtitle,
        answer=answer, cards=list(cards), nav=list(nav), files=list(files), **context)


def _version() -> str:
    try:
        return metadata.version("govsim")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _prepare(out: Path) -> Path:
    """A report's (temporary) folder, with its figures subfolder."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    return out


def _slug(name: str) -> str:
    s = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name).strip("-")
    return s[:60] or "scenario"
