"""Shared fixtures: small scenarios as dicts, so each test can break one field."""

from __future__ import annotations

import copy
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


@pytest.fixture
def mini() -> dict[str, Any]:
    """tests/data/mini.toml as a fresh dict."""
    with open(DATA / "mini.toml", "rb") as fh:
        return copy.deepcopy(tomllib.load(fh))


def chromium() -> str | None:
    """The headless browser the browser tests drive (Debian's chromium), if installed."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None
