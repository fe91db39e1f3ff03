"""What the planner asked for, read from the page's address and checked: the scenario, the
reforms switched on with their arguments, the staffing changed per station, the
replications and the seed.

The address is the state (a link reproduces the variant)::

    /?scenario=hohhot-construction-2023&reform=online&online.share=0.8
      &servers.drawing_review=40&n=5&seed=1&lang=zh

``reform=NAME`` (repeatable) switches a reform of the catalogue on; ``NAME.ARG=VALUE``
gives one of its arguments (left out: its default); ``servers.STATION=N`` staffs a
station; ``n`` and ``seed`` default to 5 and the scenario's seed. :func:`read_variant`
turns the address into a :class:`Variant`; :meth:`Variant.query` writes it back, in one
canonical order, so that the same inputs give the same address and the same cache key.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from sim.errors import ReformError, UsageError
from sim.experiments.grid import apply_point
from sim.experiments.settings import check
from sim.experiments.sources import apply_reforms, load
from sim.experiments.staffing import staffing_point
from sim.model.scenario import MAX_SCENARIO_BYTES
from sim.model.schema import Scenario
from sim.reforms import CATALOGUE

#: replications of a what-if unless the address says otherwise (a quick answer)
DEFAULT_REPLICATIONS = 5
#: the most replications the page runs (a what-if is meant to answer in seconds)
MAX_PAGE_REPLICATIONS = 50
#: the largest upload accepted (the scenario files' own limit, or 1 MB if that is more)
MAX_UPLOAD_BYTES = min(MAX_SCENARIO_BYTES, 1_000_000)


@dataclass(frozen=True)
class Variant:
    """A checked what-if: reforms (``NAME[:ARGS]`` specs, catalogue order) and staffing
    applied to a baseline scenario, run ``replications`` times from ``seed``."""

    scenario: str
    reforms: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    servers: tuple[tuple[str, int], ...] = ()
    replications: int = DEFAULT_REPLICATIONS
    seed: int = 0

    @property
    def specs(self) -> list[str]:
        """The reforms as the catalogue's spec strings (``online:share=0.8``)."""
        return [name + (":" + ",".join(f"{k}={v}" for k, v in args) if args else "")
                for name, args in self.reforms]

    @property
    def is_baseline(self) -> bool:
        return not self.reforms and not self.servers

    def query(self, lang: str | None = None, run: bool = False) -> str:
        """The address' query string of this variant (canonical order)."""
        pairs: list[tuple[str, str]] = [("scenario", self.scenario)]
        for name, args in self.reforms:
            pairs.append(("reform", name))
            pairs.extend((f"{name}.{k}", v) for k, v in args)
        pairs.extend((f"servers.{s}", str(n)) for s, n in self.servers)
        pairs += [("n", str(self.replications)), ("seed", str(self.seed))]
        if lang:
            pairs.append(("lang", lang))
        if run:
            pairs.append(("run", "1"))
        return urlencode(pairs, safe="*+:")

    def key(self, engine: str) -> str:
        return hashlib.sha256(f"{self.query()}|{engine}".encode()).hexdigest()[:16]


@dataclass
class Scenarios:
    """The scenarios the page offers: shipped files by name, and uploads kept in memory."""

    files: dict[str, Path] = field(default_factory=dict)
    uploads: dict[str, Scenario] = field(default_factory=dict)
    _loaded: dict[str, Scenario] = field(default_factory=dict)

    @classmethod
    def from_paths(cls, paths: Sequence[str | Path]) -> Scenarios:
        out = cls()
        for p in paths:
            path = Path(p)
            out.files[path.stem] = path
        return out

    @property
    def names(self) -> list[str]:
        return [*self.files, *self.uploads]

    def baseline(self, name: str) -> Scenario:
        """The scenario ``name`` as loaded (its own reforms list applied), checked."""
        if name in self.uploads:
            return self.uploads[name]
        if name not in self.files:
            raise UsageError(f"scenario: unknown scenario {name!r} (choose from: "
                             f"{', '.join(self.names) or 'none'})")
        if name not in self._loaded:
            self._loaded[name] = load(self.files[name])
        return self._loaded[name]

    def add_upload(self, filename: str, data: bytes) -> str:
        """Check an uploaded scenario as a file is checked; keep it; return its name.

        It is written to a private temporary folder and read by the same loader as a
        scenario file (size, encoding, TOML, both validation stages); nothing in it runs.
        """
        if not data:
            raise UsageError("upload: no file was uploaded (choose a .toml scenario file)")
        if len(data) > MAX_UPLOAD_BYTES:
            raise UsageError(f"upload: {_safe_name(filename)} is {len(data):,} bytes: a "
                             f"scenario must be at most {MAX_UPLOAD_BYTES:,} bytes")
        name = _safe_name(filename)
        with tempfile.TemporaryDirectory(prefix="govsim-upload-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            s = load(path)  # a ScenarioError names the file, the field, the rule, the value
        key = f"upload-{Path(name).stem[:40]}-{hashlib.sha256(data).hexdigest()[:8]}"
        self.uploads[key] = s
        return key


def _safe_name(filename: str) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in Path(filename).name)
    stem = stem.strip(".-") or "upload"
    return stem if stem.endswith(".toml") else stem + ".toml"


def _int(text: str | None, field_name: str, default: int) -> int:
    if text is None or text.strip() == "":
        return default
    try:
        return int(text.strip())
    except ValueError:
        raise UsageError(f"{field_name} must be an integer (got {text!r})") from None


def read_variant(params: Mapping[str, str] | Sequence[tuple[str, str]],
                 scenarios: Scenarios) -> Variant:
    """The variant an address asks for (``params``: its query pairs), checked: an unknown
    scenario, reform, argument or station, or a number out of its range raises a
    :class:`~sim.errors.UsageError` naming the field, the rule and the value."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    first: dict[str, str] = {}
    for k, v in pairs:
        first.setdefault(k, v)
    names = scenarios.names
    name = first.get("scenario") or (names[0] if names else "")
    base = scenarios.baseline(name)
    on = {v.strip() for k, v in pairs if k == "reform" and v.strip()}
    for r in on:
        if r not in CATALOGUE:
            raise UsageError(f"reform: unknown reform {r!r} (see `govsim reforms`)")
    reforms = []
    for rname, reform in CATALOGUE.items():  # catalogue order: one canonical order
        if rname not in on:
            continue
        args = []
        for a in reform.args:
            v = first.get(f"{rname}.{a.name}", "").strip()
            if v:
                try:
                    a.convert(v)
                except ReformError as exc:  # "share must be a probability in [0, 1] (got ..)"
                    raise UsageError(f"{rname}.{a.name}: reform {rname}: {exc}") from None
                args.append((a.name, v))
        reforms.append((rname, tuple(args)))
    servers = []
    for k, v in sorted(first.items()):
        if not k.startswith("servers."):
            continue
        st = k[len("servers."):]
        if st not in base.stations:
            raise UsageError(f"servers.{st}: unknown station {st!r} of {name} (choose from: "
                             f"{', '.join(base.stations)})")
        n = _int(v, f"servers.{st}", base.stations[st].servers)
        if n < 1 or n > 100_000:
            raise UsageError(f"servers.{st} must be an integer in [1, 100,000] (got {n})")
        if n != base.stations[st].servers:
            servers.append((st, n))
    reps = _int(first.get("n"), "n (replications)", DEFAULT_REPLICATIONS)
    seed = _int(first.get("seed"), "seed", base.run.seed)
    check(replications=reps, seed=seed)
    if reps > MAX_PAGE_REPLICATIONS:
        raise UsageError(f"replications must be an integer in [1, {MAX_PAGE_REPLICATIONS}] on "
                         f"the page (got {reps}); use `govsim compare` for more")
    return Variant(name, tuple(reforms), tuple(servers), reps, seed)


def variant_scenario(v: Variant, scenarios: Scenarios) -> Scenario:
    """The variant's scenario: the baseline with its staffing changed, then its reforms."""
    s = scenarios.baseline(v.scenario)
    if v.servers:
        # a station's schedule moves with its base count (docs/model.md, "Staffing over time")
        s = apply_point(s, staffing_point(s, dict(v.servers)))
    if v.specs:
        s = apply_reforms(s, v.specs, source=f"{v.scenario} (page)")
    return s
