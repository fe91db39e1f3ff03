"""The page machinery both reports share: style, page, header, figures, the --out folder.

:mod:`sim.present.report` (one run) and :mod:`sim.present.compare_report` (a comparison)
build their bodies from sections and hand them to :func:`_page`, which wraps them in one
self-contained HTML file: the style inline (:data:`CSS`), figures embedded as base64 PNG
(:func:`figure_html`), and a small script (:data:`CHECK_SCRIPT`) that marks the page once
every figure has decoded. The table helpers (``esc``, ``table``, ``Raw``, ``num``, ``ci``)
live in :mod:`sim.results.display`, shared with the notebook view.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from sim import i18n
from sim.i18n import t
from sim.present.fonts import fonts
from sim.results.display import esc

if TYPE_CHECKING:
    from matplotlib.figure import Figure


REPORT_NAME = "report.html"


CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans CJK SC",
"Noto Sans SC","Source Han Sans SC","Source Han Sans CN","PingFang SC","Hiragino Sans GB",
"Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;margin:0;color:#222;background:#fafafa;
line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:1.5rem 2rem 4rem;background:#fff}
h1{font-size:1.6rem;margin:.2rem 0 .3rem}h2{font-size:1.2rem;margin-top:2.2rem;
border-bottom:2px solid #e5e5e5;padding-bottom:.2rem}h3{font-size:1rem;margin-top:1.4rem}
.sub{color:#666;margin-top:0}
.answer{font-size:1.05rem;font-weight:600;max-width:60rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.86rem}
th,td{border:1px solid #ddd;padding:.25rem .55rem;vertical-align:top}
th{background:#f2f4f7;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bottleneck td{background:#fff4e5}.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #e2e2e2;border-radius:6px;padding:.6rem .9rem;min-width:10rem;
background:#fcfcfd}
.card .v{font-size:1.35rem;font-weight:600}.card .l{font-size:.78rem;color:#666}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.82rem;color:#555}pre{background:#f6f8fa;padding:.8rem;overflow:auto;
font-size:.78rem;max-height:40rem}.note{font-size:.85rem;color:#555}details{margin:.6rem 0}
nav a{margin-right:.8rem;font-size:.88rem}code{background:#f3f3f3;padding:0 .2rem}
"""

# Counts the figures that decoded and marks the page, so a headless browser (and a
# person reading the DOM) can tell that every figure rendered. No network, no server.
CHECK_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('figure img');
  var ok = 0;
  imgs.forEach(function (im) { if (im.complete && im.naturalWidth > 0) { ok += 1; } });
  document.body.setAttribute('data-figures', String(imgs.length));
  document.body.setAttribute('data-figures-rendered', String(ok));
  document.body.setAttribute('data-tables', String(document.querySelectorAll('table').length));
});
"""


# --------------------------------------------------------------------------- small HTML helpers


def fig_png(fig: Figure, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    with fonts():
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def figure_html(png: bytes, alt: str, caption: str) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def _page(title: str, body: str) -> str:
    lang = "zh-CN" if i18n.is_zh() else "en"
    return (f"<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<meta name=\"generator\" content=\"govsim {_version()}\">"
            f"<title>{esc(title)}</title><style>{CSS}</style>"
            f"<script>{CHECK_SCRIPT}</script></head>\n<body><main>\n{body}\n</main></body></html>\n")


def _version() -> str:
    try:
        return metadata.version("govsim")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _prepare(out: Path) -> Path:
    """A report's (temporary) folder, with its figures subfolder."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    return out


# --------------------------------------------------------------------------- page parts


def _header(title: str, subtitle: str, cards: Sequence[tuple[str, str]],
            answer: str | None = None) -> str:
    """Title, subtitle, the answer in words (when given) and the headline cards."""
    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    cmd = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
    parts = [f"<h1>{esc(title)}</h1>", f"<p class=\"sub\">{esc(subtitle)}</p>",
             "<p class=\"note\">" + esc(t("Generated {when} by govsim {version}", when=now,
                                             version=_version()))
             + (f" (<code>{esc(cmd)}</code>)" if cmd.startswith("govsim") else "")
             + esc(t(".")) + "</p>",
             *([f"<p class=\"answer\">{esc(answer)}</p>"] if answer else []),
             "<div class=\"cards\">"]
    for value, label in cards:
        parts.append(f"<div class=\"card\"><div class=\"v\">{esc(value)}</div>"
                     f"<div class=\"l\">{esc(label)}</div></div>")
    parts.append("</div>")
    return "\n".join(parts)


def _files_section(names: Sequence[tuple[str, str]]) -> str:
    return (f"<h2 id=\"files\">{esc(t('Files in this folder'))}</h2><ul>"
            + "".join(f"<li><a href=\"{esc(f)}\">{esc(f)}</a>: {esc(what)}</li>"
                      for f, what in names)
            + "</ul>")


def _slug(name: str) -> str:
    s = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name).strip("-")
    return s[:60] or "scenario"
