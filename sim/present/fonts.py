"""The fonts of the figures: Chinese glyphs from the font govsim ships, so a figure in
Chinese renders on a machine with no CJK font installed (no tofu boxes).

``sim/data/fonts/GovsimCJKSansSC-Regular.otf`` is a subset of Noto Sans CJK SC (SIL Open
Font License 1.1, ``sim/data/fonts/OFL.txt``): ASCII, Latin-1, the 6,763 characters of
GB 2312 and common punctuation. :func:`fonts` registers it with matplotlib's font manager
once and sets the family list for a block: the CJK font first in Chinese, DejaVu Sans
first in English (either way the other is the fallback, glyph by glyph, so a Chinese
station name in an English figure renders too). Every figure function of
:mod:`sim.present.plots` is built and saved inside it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

import matplotlib
from matplotlib import font_manager

from sim import i18n

#: the shipped font file and the family name it registers
FONT_FILE = Path(__file__).resolve().parents[1] / "data" / "fonts" / "GovsimCJKSansSC-Regular.otf"
FAMILY = "Govsim CJK Sans SC"
LATIN = "DejaVu Sans"  # matplotlib's own font: always there

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def register() -> str:
    """Add the shipped CJK font to matplotlib's font manager (once); its family name."""
    font_manager.fontManager.addfont(str(FONT_FILE))
    return FAMILY


def families() -> list[str]:
    """The sans-serif family list for the language in force."""
    register()
    return [FAMILY, LATIN] if i18n.is_zh() else [LATIN, FAMILY]


@contextlib.contextmanager
def fonts() -> Iterator[None]:
    """matplotlib's font settings for a figure built or saved in this block."""
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": families()}):
        yield


def with_fonts(func: Callable[P, R]) -> Callable[P, R]:
    """``func`` run inside :func:`fonts`."""
    @functools.wraps(func)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with fonts():
            return func(*args, **kwargs)
    return wrapped
