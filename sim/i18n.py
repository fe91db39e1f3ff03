"""The languages of what govsim shows a person: English and Chinese.

Every label, heading, KPI name, unit and sentence of the reports, the figures and the
terminal tables goes through :func:`t`. The text in the code is the English one, and it
is the catalogue's key; the Chinese is in ``sim/data/i18n.zh.toml`` (``"English" =
"中文"``), read once on first use. A template's ``{fields}`` are filled after
translation, so both languages name the same fields.

The language is, in this order: the one given explicitly (``--lang``, ``lang=``), the
environment variable ``GOVSIM_LANG``, English. :func:`use` sets it for a block;
:func:`set_lang` for the rest of the process (the command line, once per command).

Names that come from a scenario (stations, classes, items, reforms) are the scenario's:
:func:`name` takes its ``label`` / ``label_zh`` where set and falls back to the key.

This module is in the lowest layer: any layer may import it; it imports nothing of govsim
but the errors.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from importlib import resources
from typing import Any

from sim.errors import UsageError

#: the languages, the first the default
LANGS: tuple[str, ...] = ("en", "zh")
DEFAULT = "en"
#: the environment variable that chooses the language when no flag does
ENV = "GOVSIM_LANG"
#: the catalogue file (package data): English text = Chinese text
CATALOGUE = "i18n.zh.toml"

_lang: ContextVar[str | None] = ContextVar("govsim_lang", default=None)


def check(lang: str, where: str = "--lang") -> str:
    """``lang`` if it is one of :data:`LANGS` (case and ``zh-CN``-style regions
    ignored); else a :class:`~sim.errors.UsageError` naming where it came from."""
    code = lang.strip().lower().replace("_", "-").split("-")[0]
    if code not in LANGS:
        raise UsageError(f"{where} must be one of {', '.join(LANGS)} (got {lang!r})")
    return code


def resolve(explicit: str | None = None) -> str:
    """The language: ``explicit`` > ``$GOVSIM_LANG`` > English (each checked)."""
    if explicit:
        return check(explicit, "--lang")
    env = os.environ.get(ENV, "").strip()
    if env:
        return check(env, ENV)
    return DEFAULT


def current() -> str:
    """The language in force: set by :func:`use` or :func:`set_lang`, else
    :func:`resolve` of the environment."""
    lang = _lang.get()
    return lang if lang is not None else resolve()


def set_lang(lang: str | None) -> None:
    """Set the language for the rest of this context (None: back to the environment's)."""
    _lang.set(None if lang is None else check(lang, "lang"))


@contextlib.contextmanager
def use(lang: str | None) -> Iterator[str]:
    """The language ``lang`` for a block (None: the one in force)."""
    token = _lang.set(check(lang, "lang") if lang is not None else _lang.get())
    try:
        yield current()
    finally:
        _lang.reset(token)


@cache
def catalogue() -> dict[str, str]:
    """English text -> Chinese text, every entry of the catalogue file."""
    raw = resources.files("sim").joinpath(f"data/{CATALOGUE}").read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    return {str(k): str(v) for k, v in data.items()}


def t(text: str, /, **fields: Any) -> str:
    """``text`` (English; a ``str.format`` template when ``fields`` are given) in the
    language in force. Text the catalogue lacks is shown as given (English): the test
    of the catalogue names every literal the code passes here that it lacks."""
    if current() != "en":
        text = catalogue().get(text, text)
    return text.format(**fields) if fields else text


def name(key: str, obj: Any = None) -> str:
    """A scenario part's name to show: its ``label_zh`` in Chinese, its ``label``
    otherwise, falling back to ``key``. ``obj`` is the part (a station, class, item, or
    anything with those attributes); None shows the key."""
    if obj is None:
        return key
    if current() == "zh":
        zh = getattr(obj, "label_zh", None)
        if zh:
            return str(zh)
    en = getattr(obj, "label", None)
    return str(en) if en else key


def is_zh() -> bool:
    return current() == "zh"
