"""One base exception for the package, and the user-facing input errors.

Every error a user can cause by what they wrote (a scenario file, a command-line
flag, a reform argument) is a :class:`GovsimError`. The command line prints its
message and exits with code 2; it never shows a traceback for one.
"""

from __future__ import annotations


class GovsimError(Exception):
    """Base class of every error govsim raises on purpose."""


class ScenarioError(GovsimError):
    """A scenario file (or a scenario built in Python) breaks a rule.

    The message names the file, the field, the rule and the value received, e.g.
    ``construction.toml: stations.planning.servers must be an integer >= 1 (got 0)``.
    """

    def __init__(self, source: str, field: str, rule: str, value: object = ...) -> None:
        self.source = source
        self.field = field
        self.rule = rule
        self.value = value
        where = f"{_clip(source)}: " if source else ""
        got = "" if value is ... else f" (got {format_value(value)})"
        subject = f"{_clip(field)} " if field else ""
        super().__init__(f"{where}{subject}{rule}{got}")


def _clip(text: str, most: int = 120) -> str:
    """A name or path as a message shows it: a runaway one cut, saying how long it was."""
    return text if len(text) <= most else f"{text[:most - 30]}... ({len(text):,} characters)"


class ReformError(GovsimError):
    """A reform is unknown, has a bad argument, or does not fit the scenario."""


class UsageError(GovsimError):
    """A command-line or API argument is invalid (unknown engine, bad flag value...)."""


def format_value(value: object) -> str:
    """Show a received value compactly: strings quoted, long containers cut."""
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    return text if len(text) <= 60 else text[:57] + "..."
