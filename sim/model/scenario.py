"""Loading, checking and writing scenario files.

Two validation stages (as in Ciw's routing checks): :func:`parse` checks each field
as the file loads (the pydantic schema in :mod:`sim.model.schema`); :func:`check_references`
checks what parts say of each other once the whole scenario is there. Both raise
:class:`~sim.errors.ScenarioError` with the file, the field, the rule and the value.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.files import write_atomic
from sim.model import headline, recorded
from sim.model.attributes import ConditionError, check_condition, parse_condition
from sim.model.schedule import check_overlaps
from sim.model.schema import Scenario, Stage
from sim.model.sessions import check_sessions

#: the largest scenario file read (the shipped ones are under 40 kB)
MAX_SCENARIO_BYTES = 4_000_000

_RULES: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "must be a date (YYYY-MM-DD)",
}


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _rule(err: Mapping[str, Any]) -> str:
    kind = str(err["type"])
    ctx = err.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        return "must be a name of letters, digits, '_', '-' or '.'" if "A-Za-z" in str(
            ctx.get("pattern", "")) else "must be a time of day HH:MM"
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        msg = str(err["msg"])
        return "must" + msg[msg.index(" should") + 7:] if " should" in msg else msg.lower()
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        sign = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">",
                "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "")
        return f"must be {sign} {bound}"
    if kind.startswith(("date", "datetime")):
        return "must be a date (YYYY-MM-DD)"
    return _RULES.get(kind, str(err["msg"]).lower())


def error_from_validation(source: str, exc: ValidationError) -> ScenarioError:
    """The first schema error, as file: field rule (got value)."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    # pydantic appends the validator's name to the location of "after" model validators
    field = _field_path(loc)
    value: object = ... if err["type"] in ("missing",) or (err["type"] == "value_error" and \
        isinstance(err.get("input"), dict)) else err.get("input", ...)
    more = len(exc.errors()) - 1
    rule = _rule(err) + (f" [and {more} more problem{'s' if more > 1 else ''}]" if more else "")
    return ScenarioError(source, field, rule, value)


def parse(data: Mapping[str, Any], source: str = "<scenario>",
          base: Path | None = None) -> Scenario:
    """Validate a mapping (parsed TOML) as a scenario: both stages. ``base``: the folder
    the scenario file is in, where recorded arrival files are read from (docs/model.md,
    "Recorded arrivals"); without it, recorded arrivals must already carry their times."""
    try:
        scenario = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise error_from_validation(source, exc) from None
    except RecursionError:
        raise ScenarioError(source, "", "nests values too deep to be a scenario") from None
    check_references(scenario, source, base)
    return scenario


def revalidate(edited: Scenario | Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """The one check after an edit (a reform, a swept parameter, a staffing change): the
    edited scenario or its dumped mapping validated anew through both stages."""
    data = edited.model_dump() if isinstance(edited, Scenario) else edited
    return parse(data, source)


def load(path: str | Path) -> Scenario:
    """Read, parse and check a scenario file."""
    p = Path(path)
    source = p.name
    if not p.exists():
        raise ScenarioError(str(p), "", "file not found")
    if p.is_dir():
        raise ScenarioError(str(p), "", "is a directory, not a scenario file")
    if not p.is_file():
        # a FIFO would block and a device such as /dev/zero never ends
        raise ScenarioError(str(p), "", "is not a regular file (a pipe or a device?)")
    try:
        size = p.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ScenarioError(source, "", f"is {size:,} bytes: a scenario file must be at most "
                                f"{MAX_SCENARIO_BYTES:,} bytes")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, "", f"cannot be read: {exc}") from None
    if not text.strip():
        raise ScenarioError(source, "", "is empty: a scenario needs [classes], [stations], "
                            "[items] and [routes]")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"is not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(source, "", "nests arrays or tables too deep to be a "
                            "scenario") from None
    scenario = parse(data, source, p.parent)
    if not scenario.scenario.name:
        scenario.scenario.name = p.stem
    return scenario


def _known(names: Mapping[str, object]) -> str:
    keys = list(names)
    shown = ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "")
    return f"(known: {shown})"


def check_references(s: Scenario, source: str = "<scenario>", base: Path | None = None) -> None:
    """Second stage: references between parts resolve, and the model can run. Recorded
    arrival files are read here (from ``base``, the scenario file's folder), once."""
    calendars = set(s.calendars) | {"always"}

    def need(kind: str, name: str, table: Mapping[str, object] | set[str], field: str) -> None:
        if name not in table:
            known = _known(dict.fromkeys(sorted(table)) if isinstance(table, set) else table)
            raise ScenarioError(source, field, f"names an unknown {kind} {known}", name)

    if s.run.calendar != "always" and s.run.calendar not in s.calendars:
        need("calendar", s.run.calendar, calendars, "run.calendar")
    for name, st in s.stations.items():
        need("calendar", st.calendar, calendars, f"stations.{name}.calendar")
        check_overlaps(name, st.schedule, source)
        check_sessions(name, st.sessions, source)
    if s.headline is not None:
        for k, text in enumerate(s.headline.measures):
            measure = headline.parse(text)
            if measure.cls is not None:
                need("class", measure.cls, s.classes, f"headline.measures[{k}]")
            if measure.station is not None:
                need("station", measure.station, {**s.stations, **s.pools},
                     f"headline.measures[{k}]")
    for name, cls in s.classes.items():
        need("route", cls.route, s.routes, f"classes.{name}.route")
        if cls.agent_pool is not None:
            need("pool", cls.agent_pool, s.pools, f"classes.{name}.agent_pool")
        elif cls.proxy_share > 0:
            raise ScenarioError(source, f"classes.{name}.agent_pool",
                                "is required when proxy_share > 0", None)
    for name in s.pools:
        if name in s.stations:
            raise ScenarioError(source, f"pools.{name}", "must not share a name with a station",
                                name)
    for name, item in s.items.items():
        need("station", item.station, s.stations, f"items.{name}.station")
        if item.audit_station is not None:
            need("station", item.audit_station, s.stations, f"items.{name}.audit_station")
    if s.costs is not None:
        for name in s.costs.stations:
            need("station", name, s.stations, f"costs.stations.{name}")
        for name in s.costs.items:
            need("item", name, s.items, f"costs.items.{name}")
    for rname, route in s.routes.items():
        seen: set[str] = set()
        for k, stage in enumerate(route.stages):
            for field, item_name in stage_item_fields(stage, f"routes.{rname}.stages[{k}]"):
                need("item", item_name, s.items, field)
                if item_name in seen:
                    raise ScenarioError(source, field, "appears twice in the route; give the "
                                        "second visit its own item", item_name)
                seen.add(item_name)
    check_attributes(s, source)
    recorded.attach(s, source, base)
    for name, cal in s.calendars.items():
        if not cal.always and not cal.hours:
            raise ScenarioError(source, f"calendars.{name}.hours",
                                "must list at least one opening period", [])
        if not cal.always and not cal.weekdays and not cal.extra_workdays:
            raise ScenarioError(source, f"calendars.{name}.weekdays",
                                "leaves the calendar with no working time", [])
        if not cal.always:
            prev = "00:00"
            for k, (a, b) in enumerate(cal.hours):
                if not prev <= a < b:
                    raise ScenarioError(source, f"calendars.{name}.hours[{k}]",
                                        "must be an increasing, non-overlapping period",
                                        [a, b])
                prev = b


def stage_item_fields(stage: Stage, at: str) -> list[tuple[str, str]]:
    """(field, item) of every item a stage lists: in its branches when it has them."""
    if stage.branches is None:
        return [(f"{at}.items[{m}]", n) for m, n in enumerate(stage.items)]
    return [(f"{at}.branches[{b}].items[{m}]", n) for b, br in enumerate(stage.branches)
            for m, n in enumerate(br.items)]


def check_attributes(s: Scenario, source: str = "<scenario>") -> None:
    """Case attributes: a scale names items that exist; an attribute of one name has one
    kind in every class; an item's condition names attributes every class running it
    declares (and a check's, those of its cohort's classes), with values that fit them."""
    kinds: dict[str, tuple[str, str]] = {}
    for cname, cls in s.classes.items():
        for aname, a in cls.attributes.items():
            field = f"classes.{cname}.attributes.{aname}"
            seen = kinds.setdefault(aname, (a.kind, cname))
            if seen[0] != a.kind:
                raise ScenarioError(source, field, f"must be a {seen[0]} attribute as in class "
                                    f"{seen[1]!r} (one name, one kind)", a.kind)
            for k, sc in enumerate(a.scale):
                for m, item in enumerate(sc.items or ()):
                    if item not in s.items:
                        raise ScenarioError(source, f"{field}.scale[{k}].items[{m}]",
                                            f"names an unknown item {_known(s.items)}", item)
    runs: dict[str, list[str]] = {}
    for cname, cls in s.classes.items():
        for stage in s.routes[cls.route].stages:
            for item in stage.items:
                runs.setdefault(item, []).append(cname)
    wheres = [(f"items.{n}.when", it.when, runs.get(n, [])) for n, it in s.items.items()]
    for rname, route in s.routes.items():
        on = [c for c, cls in s.classes.items() if cls.route == rname]
        for k, stage in enumerate(route.stages):
            wheres += [(f"routes.{rname}.stages[{k}].branches[{b}].when", br.when, on)
                       for b, br in enumerate(stage.branches or ())]
    wheres += [(f"checks[{k}].when", ch.when, [ch.class_name] if ch.class_name in s.classes
                else list(s.classes)) for k, ch in enumerate(s.checks)]
    wheres += [(f"classes.{c}.priority_when[{k}].when", r.when, [c])
               for c, cls in s.classes.items() for k, r in enumerate(cls.priority_when)]
    for field, when, classes in wheres:
        if when is None:
            continue
        tree = parse_condition(when)
        for cname in classes:
            try:
                check_condition(tree, s.classes[cname].attributes)
            except ConditionError as exc:
                raise ScenarioError(source, field, f"{exc} in class {cname!r}", when) from None


def to_toml(s: Scenario) -> str:
    """The scenario as TOML text (what ``govsim reform --write`` saves)."""
    data = s.model_dump(mode="python", exclude_none=True)
    for part in ("classes", "stations", "pools", "items"):  # names the file did not give
        for table in data.get(part, {}).values():
            for key in ("label", "label_zh"):
                if table.get(key) == "":
                    del table[key]
    for name, cls in s.classes.items():
        if not cls.priority_when:  # no rule: no empty list in the file
            data["classes"][name].pop("priority_when", None)
        if cls.arrivals is not None and cls.arrivals.file is not None:
            arr = data["classes"][name]["arrivals"]
            for key in ("hours", "clock", "channels"):  # read from the file again
                arr.pop(key, None)
    for rname, route in s.routes.items():
        for k, stage in enumerate(route.stages):
            if stage.branches is not None:  # the items are the branches': not written twice
                data["routes"][rname]["stages"][k].pop("items", None)
    for name, st in s.stations.items():
        if not st.schedule:  # a constant count: no empty schedule in the file
            data["stations"][name].pop("schedule", None)
        if not st.sessions:  # a desk: no empty session list in the file
            data["stations"][name].pop("sessions", None)
    return tomli_w.dumps(data)


def save(s: Scenario, path: str | Path) -> None:
    """Write the scenario to ``path`` atomically (a temporary file, then a rename)."""
    write_atomic(path, to_toml(s))
