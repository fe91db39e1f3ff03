"""A scenario written back over its own file, keeping the file's comments and layout
(``govsim reform --write``): only what changed between two scenarios is edited in the
file's TOML document (tomlkit), so every note and comment on an unchanged line stays.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from sim.errors import GovsimError
from sim.model.scenario import parse, to_toml
from sim.model.schema import Scenario


def plain(s: Scenario) -> dict[str, Any]:
    """The scenario's fields as TOML would hold them (what :func:`to_toml` dumps)."""
    data = s.model_dump(mode="python", exclude_none=True)
    for name, cls in s.classes.items():
        if cls.arrivals is not None and cls.arrivals.file is not None:
            arr = data["classes"][name]["arrivals"]
            for key in ("hours", "clock", "channels"):  # read from the file again
                arr.pop(key, None)
    return data


def rewrite(text: str, before: Scenario, after: Scenario, base: Path | None = None) -> str:
    """``text`` (the file ``before`` was loaded from) edited to say ``after``; when the
    edited file would not load to ``after`` (a change tomlkit cannot place), the whole
    scenario as :func:`sim.model.scenario.to_toml` writes it, without the comments."""
    doc = tomlkit.parse(text)
    _apply(doc, plain(before), plain(after))
    out = tomlkit.dumps(doc)
    try:
        same = plain(parse(tomllib.loads(out), "<rewritten>", base)) == plain(after)
    except (GovsimError, tomllib.TOMLDecodeError, ValueError):
        same = False
    return out if same else to_toml(after)


def _apply(node: Any, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    for key in [k for k in old if k not in new]:
        if key in node:
            del node[key]
    for key, value in new.items():
        was = old.get(key, _MISSING)
        if was == value:  # unchanged: the file's text stays, spelled out or left default
            continue
        here = node.get(key) if key in node else None
        if (isinstance(value, Mapping) and isinstance(was, Mapping)
                and isinstance(here, Mapping) and not isinstance(here, AoT)):
            _apply(here, was, value)
        else:  # a changed or new value: a table under a table, else an inline value
            node[key] = _item(value, inline=not isinstance(node, (tomlkit.TOMLDocument, Table)))


def _item(value: Any, inline: bool) -> Any:
    if isinstance(value, Mapping) and inline:
        t = tomlkit.inline_table()
        t.update({k: v for k, v in value.items()})
        return t
    return value


_MISSING = object()
