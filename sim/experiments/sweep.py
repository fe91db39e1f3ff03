"""Sweeps: a grid over scenario parameters or reform arguments, run point by point.

``govsim sweep FILE --set PATH=VALUES [--set ...] --out DIR`` and, from Python,
``sim.sweep("file.toml", {"stations.planning.servers": [2, 3, 4]})``.

Parameters
----------
``PATH`` is a dotted path into the scenario as its file spells it
(``stations.planning.servers``, ``classes.key.rate``, ``items.review.service.mean``,
``pools.helpers.agents``, ``run.horizon_days``; a list index is a number:
``routes.main.stages.1.probability``), or a reform's argument: ``reform.NAME.ARG``
(each point applies ``NAME:ARG=VALUE``; several swept arguments of one reform make one
spec) or ``reform.NAME`` for its first argument (``NAME:VALUE``). ``VALUES`` is a comma-separated
list (``2,3,4``; ``true,false``; ``gamma,lognormal``) or an inclusive range
``START:STOP[:STEP]`` (``3:6:1`` is 3, 4, 5, 6). When a value itself holds commas (a
reform argument), separate the values with ``;`` instead.

Each point is the scenario (its own reforms and ``--reform`` applied) with the point's
swept reforms applied, then its parameters set; it is revalidated with the scenario
file's rules, so a bad value gets the same message as in a file. Every point runs
from the same seed, so points share their random numbers (common random numbers):
differences between points are due to the parameters, not to noise.

Where it runs
-------------
On a local process pool (``workers``; default: every CPU), in this process
(``workers=1``), or on a Dask cluster (``scheduler="tcp://host:8786"``). A point's
numbers depend only on the scenario, the seed, the replications and the engine, so they
are identical whichever ran it.

Resuming
--------
With an output folder, each finished point is appended to ``points.jsonl`` (one JSON
object per line, flushed and synced to disk) keyed by a hash of the point and of the
run settings. Run the same sweep again into the same folder and the points already
there are read back, not recomputed; a point's result is never lost once its line is
written, whatever stops the sweep later (an error, Ctrl-C, a killed process).
The folder also gets ``results.csv``, ``results.json`` and ``heatmap.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import ScenarioError, UsageError
from sim.files import json_safe, write_atomic, write_json
from sim.model.scenario import revalidate
from sim.model.schema import Scenario

__all__ = ["SweepResult", "apply_point", "parse_set", "parse_values", "point_metrics", "sweep"]

POINTS_FILE = "points.jsonl"
DEFAULT_METRIC = "lead_time_workdays.p90"
REFORM_PREFIX = "reform."
#: version of the metrics a point records; bump when point_metrics changes meaning
METRICS_VERSION = 3


# --------------------------------------------------------------------------- parsing


def _scalar(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        x = float(t)
    except ValueError:
        return t
    if not math.isfinite(x):
        raise UsageError(f"value {t!r} is not a finite number")
    return x


def parse_values(text: str, where: str = "--set") -> list[Any]:
    """``"2,3,4"`` -> [2, 3, 4]; ``"3:6:1"`` -> [3, 4, 5, 6]; ``"0.5:1:0.25"`` -> floats;
    ``"a;b"`` splits on ``;`` (for values with commas). Numbers stay ints when written so."""
    t = text.strip()
    if not t:
        raise UsageError(f"{where}: no values given (e.g. 2,3,4 or 3:6:1)")
    sep = ";" if ";" in t else ","
    parts = [p.strip() for p in t.split(sep)]
    if sep == "," and len(parts) == 1 and t.count(":") in (1, 2) and _is_range(t):
        return _range(t, where)
    if any(not p for p in parts):
        raise UsageError(f"{where}: empty value in {text!r}")
    if sep == ";":
        return [p for p in parts]
    values = [_scalar(p) for p in parts]
    if len(set(map(repr, values))) != len(values):
        raise UsageError(f"{where}: a value appears twice in {text!r}")
    return values


def _is_range(t: str) -> bool:
    try:
        [float(x) for x in t.split(":")]
    except ValueError:
        return False
    return True


def _range(t: str, where: str) -> list[Any]:
    bits = t.split(":")
    nums = [_scalar(b) for b in bits]
    start, stop = nums[0], nums[1]
    step = nums[2] if len(nums) == 3 else 1
    if step <= 0:
        raise UsageError(f"{where}: the step of {t!r} must be > 0")
    if stop < start:
        raise UsageError(f"{where}: the range {t!r} is empty (stop < start)")
    if all(isinstance(x, int) for x in (start, stop, step)):
        return list(range(start, stop + 1, step))
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > 100_000:
        raise UsageError(f"{where}: the range {t!r} has too many values ({n})")
    return [round(start + k * step, 12) for k in range(n)]


@dataclass
class Param:
    """One swept parameter: a dotted path and its values."""

    path: str
    values: list[Any]

    @property
    def is_reform(self) -> bool:
        return self.path.startswith(REFORM_PREFIX)


def parse_set(text: str) -> Param:
    """``"stations.front.servers=2,3,4"`` -> Param."""
    if "=" not in text:
        raise UsageError(f"--set {text}: expected PATH=VALUES, e.g. stations.front.servers=2,3,4")
    path, values = text.split("=", 1)
    path = path.strip()
    if not path:
        raise UsageError(f"--set {text}: the path is empty")
    return Param(path, parse_values(values, where=f"--set {path}"))


def _grid_params(grid: Mapping[str, Any] | Sequence[str]) -> list[Param]:
    params: list[Param] = []
    if isinstance(grid, Mapping):
        for path, vals in grid.items():
            if isinstance(vals, str):
                params.append(Param(str(path), parse_values(vals, where=f"--set {path}")))
            elif isinstance(vals, Sequence | np.ndarray | range):
                vs = [v.item() if isinstance(v, np.generic) else v for v in vals]
                if not vs:
                    raise UsageError(f"--set {path}: no values given")
                params.append(Param(str(path), vs))
            else:
                params.append(Param(str(path), [vals]))
    else:
        params = [parse_set(t) for t in grid]
    if not params:
        raise UsageError("a sweep needs at least one --set PATH=VALUES")
    seen: set[str] = set()
    for p in params:
        if p.path in seen:
            raise UsageError(f"--set {p.path}: the parameter is given twice")
        seen.add(p.path)
    return params


# --------------------------------------------------------------------------- setting a parameter


def _known(d: Mapping[str, Any]) -> str:
    keys = [str(k) for k in d]
    shown = ", ".join(keys[:15]) + (", ..." if len(keys) > 15 else "")
    return f"(known: {shown})" if keys else "(it is empty)"


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at the dotted ``path`` of a scenario dump; a missing step is an error.

    Names may contain dots (``Name`` allows them): at each level the longest key that
    matches the next segments is taken.
    """
    segs = path.split(".")
    if any(not s for s in segs):
        raise UsageError(f"--set {path}: not a dotted path (empty segment)")
    node: Any = data
    done: list[str] = []
    i = 0
    while i < len(segs):
        last_key: str | int
        if isinstance(node, dict):
            for k in range(len(segs) - i, 0, -1):
                cand = ".".join(segs[i:i + k])
                if cand in node:
                    break
            else:
                where = ".".join(done) or "the scenario"
                raise UsageError(f"--set {path}: {segs[i]!r} is not in {where} {_known(node)}")
            last_key = cand
            i += k
        elif isinstance(node, list):
            try:
                idx = int(segs[i])
            except ValueError:
                raise UsageError(f"--set {path}: {'.'.join(done)} is a list; index it with a "
                                 f"number 0..{len(node) - 1} (got {segs[i]!r})") from None
            if not 0 <= idx < len(node):
                raise UsageError(f"--set {path}: {'.'.join(done)} has {len(node)} entries "
                                 f"(index {idx} is out of range)")
            last_key = idx
            i += 1
        else:
            where = ".".join(done)
            what = "not set in the scenario" if node is None else f"a value ({node!r})"
            raise UsageError(f"--set {path}: {where} is {what}, it has no {segs[i]!r}")
        done.append(str(last_key))
        if i == len(segs):
            target = node[last_key]
            if isinstance(target, dict | list) and not isinstance(value, dict | list):
                known = _known(target) if isinstance(target, dict) else ""
                raise UsageError(f"--set {path}: names a whole table; set one of its fields "
                                 f"{known}".rstrip())
            node[last_key] = value
            return
        node = node[last_key]


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def apply_point(base: Scenario, point: Mapping[str, Any]) -> Scenario:
    """The scenario of one point: swept reforms applied, then parameters set, revalidated."""
    from sim import api

    s = base
    specs: dict[str, list[str]] = {}
    for path, value in point.items():
        if path.startswith(REFORM_PREFIX):
            name, _, arg = path[len(REFORM_PREFIX):].partition(".")
            specs.setdefault(name, []).append(
                f"{arg}={_fmt_value(value)}" if arg else _fmt_value(value))
    if specs:
        # positional values first, then key=value pairs (the reform spec syntax)
        reforms = [f"{name}:" + ",".join(sorted(args, key=lambda a: "=" in a))
                   for name, args in specs.items()]
        source = "--set " + " ".join(f"{p}={_fmt_value(v)}" for p, v in point.items()
                                     if p.startswith(REFORM_PREFIX))
        s = api.apply_reforms(s, reforms, source=source)
    sets = {p: v for p, v in point.items() if not p.startswith(REFORM_PREFIX)}
    if not sets:
        return s
    copy = s.model_copy(deep=True)
    data = copy.model_dump()
    for path, value in sets.items():
        set_path(data, path, value)
    source = "--set " + " ".join(f"{p}={_fmt_value(v)}" for p, v in sets.items())
    try:
        return revalidate(data, source)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None


# --------------------------------------------------------------------------- one point


def point_metrics(result: Any) -> dict[str, Any]:
    """The flat numbers a sweep records for a point (from ``RunResult.to_dict()``)."""
    d = result.to_dict()
    k = d["kpis"]
    out: dict[str, Any] = {}
    for lead in ("lead_time_workdays", "lead_time_days"):
        v = k[lead]
        out[f"{lead}.mean"] = v["mean"]
        out[f"{lead}.mean_ci95_lo"], out[f"{lead}.mean_ci95_hi"] = v["ci95"]
        for q in ("p50", "p90", "p95"):
            out[f"{lead}.{q}"] = v[q]
        out[f"{lead}.p90_ci95_lo"], out[f"{lead}.p90_ci95_hi"] = v["p90_ci95"]
    out["within_limit_share"] = k["within_limit_share"]
    out["within_limit_share_ci95_lo"], out["within_limit_share_ci95_hi"] = \
        k["within_limit_share_ci95"]
    for key in ("visits", "rework_rounds", "supplements", "throughput_per_day",
                "open_at_horizon", "abandoned_share"):
        out[key] = k[key]["mean"]
    for part, v in k["lead_time_split_days"].items():
        out[f"split.{part}_days"] = v["mean"]
    out["arrived"] = d["cases"]["arrived"]
    out["completed"] = d["cases"]["completed"]
    work_wait = result.station_summary()["mean_wait_workhours"]
    for name, s in d["stations"].items():
        out[f"station.{name}.servers"] = s["servers"]
        out[f"station.{name}.utilization"] = s["utilization"]
        out[f"station.{name}.mean_wait_hours"] = s["mean_wait_hours"]
        out[f"station.{name}.mean_wait_hours_ci95_hi"] = s["mean_wait_hours_ci95"][1]
        ww = work_wait.get(name)
        out[f"station.{name}.mean_wait_workhours"] = (float(ww) if ww is not None
                                                      and math.isfinite(ww) else None)
        out[f"station.{name}.mean_queue_length"] = s["mean_queue_length"]
    out.update(_class_metrics(result))
    out["bottleneck"] = result.bottleneck()
    return out


def _class_metrics(result: Any) -> dict[str, Any]:
    """Per case class: mean and P90 of lead time (working days), each the mean over
    replications of the replication's value (as the overall KPIs are)."""
    c = result.cases
    done = c[(~c["warmup"]) & (c["status"] == "completed")]
    out: dict[str, Any] = {}
    for cls in result.model.class_names:
        g = done[done["class"] == cls].groupby("replication")["lead_workdays"]
        for key, vals in (("mean", g.mean()), ("p90", g.quantile(0.9))):
            v = float(vals.mean()) if len(vals) else math.nan
            out[f"class.{cls}.lead_time_workdays.{key}"] = v if math.isfinite(v) else None
        arrived = c[(~c["warmup"]) & (c["class"] == cls)]
        out[f"class.{cls}.completed_share"] = (
            float((arrived["status"] == "completed").mean()) if len(arrived) else None)
    return out


def metric_names(s: Scenario | None = None, stations: bool = True) -> list[str]:
    """The names :func:`point_metrics` records (station ones for the scenario ``s``)."""
    names: list[str] = []
    for lead in ("lead_time_workdays", "lead_time_days"):
        names += [f"{lead}.{k}" for k in ("mean", "mean_ci95_lo", "mean_ci95_hi", "p50", "p90",
                                          "p95", "p90_ci95_lo", "p90_ci95_hi")]
    names += ["within_limit_share", "within_limit_share_ci95_lo", "within_limit_share_ci95_hi",
              "visits", "rework_rounds", "supplements", "throughput_per_day", "open_at_horizon",
              "abandoned_share", "split.service_days", "split.queue_days",
              "split.applicant_days", "arrived", "completed"]
    if stations and s is not None:
        for cls in s.classes:
            names += [f"class.{cls}.lead_time_workdays.mean", f"class.{cls}.lead_time_workdays.p90",
                      f"class.{cls}.completed_share"]
        for st in (*s.stations, *s.pools):
            names += [f"station.{st}.{k}" for k in ("servers", "utilization", "mean_wait_hours",
                                                     "mean_wait_hours_ci95_hi",
                                                     "mean_wait_workhours",
                                                     "mean_queue_length")]
    return names


def _run_point(payload: tuple[str, int | None, int | None, str]) -> tuple[dict[str, Any], float]:
    """Run one point (in a worker): scenario JSON, replications, seed, engine."""
    from sim import api

    text, replications, seed, engine = payload
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Scenario.model_validate_json(text)
        result = api.run(s, replications=replications, seed=seed, engine=engine, workers=1)
    return point_metrics(result), time.perf_counter() - t0


def _pool_init() -> None:
    # Ctrl-C is the parent's to handle: it cancels the sweep and stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a parent killed outright (SIGKILL) cannot stop its workers: they stop themselves
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="govsim-parent-watch", daemon=True).start()


# --------------------------------------------------------------------------- results


@dataclass
class SweepResult:
    """A finished (or partly finished) sweep: one row per point."""

    params: list[str]
    table: pd.DataFrame
    settings: dict[str, Any]
    out: Path | None = None
    computed: int = 0
    resumed: int = 0
    seconds: float = 0.0
    missing: int = 0
    errors: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"SweepResult({self.settings.get('scenario', '')!r}, params={self.params}, "
                f"points={len(self.table)}, computed={self.computed}, resumed={self.resumed}"
                + (f", missing={self.missing}" if self.missing else "") + ")")

    @property
    def metrics(self) -> list[str]:
        return [c for c in self.table.columns if c not in self.params and c not in ("key",
                                                                                     "seconds")]

    def heatmap(self, metric: str = DEFAULT_METRIC, x: str | None = None,
                y: str | None = None) -> Any:
        """A heatmap of ``metric`` over two parameters (a line plot over one)."""
        from sim.present import plots

        swept = [p for p in self.params if self.table[p].nunique() > 1] or self.params
        x = x or swept[0]
        if y is None and len(swept) > 1:
            y = swept[1] if swept[1] != x else swept[0]
        note = (" (mean over " + ", ".join(p for p in swept if p not in (x, y)) + ")"
                if len(swept) > 2 else "")
        return plots.sweep_heatmap(self.table, metric, x, y, title=f"{metric}{note}")

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for _, r in self.table.iterrows():
            rows.append({"point": {p: r[p] for p in self.params},
                         "metrics": {m: r[m] for m in self.metrics},
                         "key": r.get("key"), "seconds": r.get("seconds")})
        return json_safe({"params": self.params, "settings": self.settings, "points": rows,
                       "computed": self.computed, "resumed": self.resumed,
                       "missing": self.missing})

    def _repr_html_(self) -> str:
        from sim.results.display import esc

        cols = [*self.params, *[m for m in ("lead_time_workdays.mean", "lead_time_workdays.p90",
                                            "within_limit_share", "bottleneck")
                                if m in self.table.columns]]
        head = (f"<p><b>Sweep</b> of {esc(self.settings.get('scenario', ''))}: "
                f"{len(self.table)} points ({self.computed} computed, {self.resumed} resumed"
                + (f", {self.missing} missing" if self.missing else "") + f"); seed "
                f"{self.settings.get('seed')}, {self.settings.get('replications')} replications"
                f" per point. Full table: <code>.table</code>; figure: <code>.heatmap()</code>."
                "</p>")
        return head + self.table[cols].to_html(index=False, float_format=lambda v: f"{v:.3g}")


# --------------------------------------------------------------------------- the sweep


def _fingerprint(base: Scenario, replications: int, seed: int, engine: str) -> str:
    text = json.dumps({"scenario": json.loads(base.model_dump_json()),
                       "replications": replications, "seed": seed, "engine": engine,
                       "metrics": METRICS_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _point_key(fingerprint: str, point: Mapping[str, Any]) -> str:
    text = json.dumps({"settings": fingerprint, "point": dict(point)}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _read_done(path: Path) -> dict[str, dict[str, Any]]:
    """Finished points in a points file (a torn last line from a kill is skipped)."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "key" in rec and "metrics" in rec:
                done.setdefault(str(rec["key"]), rec)
    return done


class _Log:
    """The append-only points file: one line per finished point, synced to disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        needs_newline = path.exists() and path.stat().st_size > 0 and \
            path.read_bytes()[-1:] != b"\n"
        self.fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        if needs_newline:  # a line torn by a kill: end it so the next record stands alone
            self.fh.write("\n")
            self.fh.flush()

    def append(self, rec: Mapping[str, Any]) -> None:
        self.fh.write(json.dumps(rec, ensure_ascii=False, allow_nan=True, default=str) + "\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


def sweep(source: str | Path | Scenario, grid: Mapping[str, Any] | Sequence[str],
          replications: int | None = None, seed: int | None = None, engine: str | None = None,
          reforms: Sequence[str] = (), workers: int | None = None,
          scheduler: str | Any | None = None, out: str | Path | None = None,
          progress: Callable[[int], None] | None = None,
          on_point: Callable[[dict[str, Any], dict[str, Any], bool], None] | None = None,
          metric: str = DEFAULT_METRIC) -> SweepResult:
    """Run a scenario over a grid of parameter values; one row per point.

    Args:
        source: a scenario file or a :class:`~sim.schema.Scenario`.
        grid: ``{path: values}`` (values a list or a string such as ``"2,3,4"`` or
            ``"3:6:1"``), or a list of ``"PATH=VALUES"`` strings; the points are the
            Cartesian product, the first parameter varying slowest.
        replications, seed, engine: as for :func:`sim.run` (default: the scenario's).
        reforms: reforms applied to every point (before its own).
        workers: processes on this machine (default: every CPU; 1 runs in this process).
        scheduler: a Dask scheduler address (or a ``distributed.Client``) to run on.
        out: a folder for ``points.jsonl`` (resume), ``results.csv``, ``results.json``
            and ``heatmap.png``; without it nothing is written and nothing resumes.
        progress: called with 1 as each point finishes (resumed points included).
        on_point: called as ``on_point(point, metrics, resumed)`` for each finished point.
        metric: what ``heatmap.png`` shows (see :func:`metric_names`).

    Returns:
        a :class:`SweepResult`; ``.table`` has a column per parameter and per metric.

    Raises:
        UsageError: a path that does not exist, a value the scenario rejects, an
            unreachable scheduler; nothing runs before every point is checked.
    """
    from sim import api
    from sim.engines import DEFAULT_ENGINE, ENGINES

    engine = engine or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}' (choose from: {', '.join(ENGINES)})")
    params = _grid_params(grid)
    if isinstance(source, Scenario):
        base = api.apply_reforms(source, list(reforms)) if reforms else source
        name = base.scenario.name or "<scenario>"
    else:
        base = api.load(source, reforms)
        name = base.scenario.name or Path(source).stem
    n_rep = base.run.replications if replications is None else int(replications)
    s_seed = base.run.seed if seed is None else int(seed)
    if n_rep < 1:
        raise UsageError(f"replications must be an integer >= 1 (got {n_rep})")
    if s_seed < 0:
        raise UsageError(f"seed must be an integer >= 0 (got {s_seed})")
    if workers is not None and workers < 1:
        raise UsageError(f"workers must be an integer >= 1 (got {workers})")

    # every point, checked before anything runs
    points: list[dict[str, Any]] = [{}]
    for p in params:
        points = [{**pt, p.path: v} for pt in points for v in p.values]
    scenarios = [apply_point(base, pt) for pt in points]
    fp = _fingerprint(base, n_rep, s_seed, engine)
    keys = [_point_key(fp, pt) for pt in points]
    known = set(metric_names(scenarios[0]))
    if metric not in known:
        raise UsageError(f"--metric {metric}: not a sweep metric (known: "
                         + ", ".join(metric_names(scenarios[0], stations=False)) +
                         ", station.NAME.utilization, station.NAME.mean_wait_hours, "
                         "class.NAME.lead_time_workdays.p90, ...)")
    settings = {"scenario": name, "replications": n_rep, "seed": s_seed, "engine": engine,
                "reforms": list(reforms), "fingerprint": fp, "metric": metric,
                "grid": {p.path: p.values for p in params}}

    out_dir = Path(out) if out is not None else None
    done: dict[str, dict[str, Any]] = {}
    log: _Log | None = None
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise UsageError(f"--out {out_dir}: exists and is not a folder")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out {out_dir}: cannot create the folder ({exc.strerror})") \
                from None
        done = _read_done(out_dir / POINTS_FILE)

    results: dict[str, dict[str, Any]] = {}
    resumed = 0
    for pt, key in zip(points, keys, strict=True):
        if key in done and key not in results:
            results[key] = done[key]
            resumed += 1
            if on_point:
                on_point(pt, done[key]["metrics"], True)
            if progress:
                progress(1)
    todo: list[tuple[int, dict[str, Any], str]] = []
    queued: set[str] = set()
    for i, (pt, key) in enumerate(zip(points, keys, strict=True)):
        if key not in results and key not in queued:  # a point given twice runs once
            queued.add(key)
            todo.append((i, pt, key))

    t_start = time.perf_counter()
    computed = 0

    def record(idx: int, metrics: dict[str, Any], seconds: float) -> None:
        nonlocal computed
        pt, key = points[idx], keys[idx]
        clean = json_safe(metrics)
        rec: dict[str, Any] = {"key": key, "point": pt, "metrics": clean,
                               "seconds": round(seconds, 4), "settings": fp, "scenario": name,
                               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        if log is not None:
            log.append(rec)
        results[key] = rec
        computed += 1
        if on_point:
            on_point(pt, clean, False)
        if progress:
            progress(1)

    payloads = {i: (scenarios[i].model_dump_json(), n_rep, s_seed, engine) for i, _, _ in todo}
    error: BaseException | None = None
    try:
        if out_dir is not None:
            log = _Log(out_dir / POINTS_FILE)
        if todo:
            if scheduler is not None:
                _run_dask(scheduler, todo, payloads, record)
            elif (workers or os.cpu_count() or 1) <= 1 or len(todo) == 1:
                for i, _, _ in todo:
                    m, sec = _run_point(payloads[i])
                    record(i, m, sec)
            else:
                _run_pool(min(workers or os.cpu_count() or 1, len(todo)), todo, payloads, record)
    except BaseException as exc:
        error = exc
        raise
    finally:
        if log is not None:
            log.close()
        res = _result(params, points, keys, results, settings, out_dir, computed, resumed,
                      time.perf_counter() - t_start)
        if out_dir is not None:
            with contextlib.suppress(Exception) if error is not None else contextlib.nullcontext():
                _write_outputs(res, out_dir)
    return res


def _result(params: list[Param], points: list[dict[str, Any]], keys: list[str],
            results: Mapping[str, dict[str, Any]], settings: dict[str, Any],
            out_dir: Path | None, computed: int, resumed: int, seconds: float) -> SweepResult:
    rows = []
    missing = 0
    for pt, key in zip(points, keys, strict=True):
        rec = results.get(key)
        if rec is None:
            missing += 1
            continue
        rows.append({**pt, **rec["metrics"], "key": key, "seconds": rec.get("seconds")})
    names = [p.path for p in params]
    table = pd.DataFrame(rows, columns=None if rows else names)
    for c in table.columns:
        if c not in names and c != "bottleneck" and c != "key":
            table[c] = pd.to_numeric(table[c], errors="coerce")
    return SweepResult(params=names, table=table, settings=settings, out=out_dir,
                       computed=computed, resumed=resumed, seconds=seconds, missing=missing)


def _write_outputs(res: SweepResult, out_dir: Path) -> None:
    write_atomic(out_dir / "results.csv", res.table.to_csv(index=False))
    write_json(out_dir / "results.json", res.to_dict())
    metric = res.settings.get("metric", DEFAULT_METRIC)
    if len(res.table) and metric in res.table.columns:
        with contextlib.suppress(ValueError):
            fig = res.heatmap(metric)
            buf = io.BytesIO()
            fig.savefig(buf, dpi=110, format="png")
            write_atomic(out_dir / "heatmap.png", buf.getvalue())


def _run_pool(n: int, todo: list[tuple[int, dict[str, Any], str]],
              payloads: Mapping[int, tuple[str, int | None, int | None, str]],
              record: Callable[[int, dict[str, Any], float], None]) -> None:
    # the platform's default start method (fork on Linux), as sim.runner uses: workers
    # start at once with the modules already imported, and scripts need no main guard
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context(),
                               initializer=_pool_init)
    futures: dict[Future[tuple[dict[str, Any], float]], int] = {}
    ok = False
    try:
        # keep a bounded queue so an interrupted sweep has little in flight
        pending = iter(todo)
        for i, _, _ in _take(pending, 2 * n):
            futures[pool.submit(_run_point, payloads[i])] = i
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for f in finished:
                i = futures.pop(f)
                m, sec = f.result()
                record(i, m, sec)
                for j, _, _ in _take(pending, 1):
                    futures[pool.submit(_run_point, payloads[j])] = j
        ok = True
    finally:
        if ok:
            pool.shutdown(wait=True)
        else:
            for f in futures:
                f.cancel()
            procs = list(getattr(pool, "_processes", {}).values())
            for p in procs:
                with contextlib.suppress(Exception):
                    p.terminate()
            pool.shutdown(wait=False, cancel_futures=True)


def _take(it: Iterator[Any], n: int) -> list[Any]:
    out = []
    for _ in range(n):
        try:
            out.append(next(it))
        except StopIteration:
            break
    return out


def _run_dask(scheduler: Any, todo: list[tuple[int, dict[str, Any], str]],
              payloads: Mapping[int, tuple[str, int | None, int | None, str]],
              record: Callable[[int, dict[str, Any], float], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed (pip install 'govsim[dask]')") \
            from None
    own = False
    if isinstance(scheduler, Client):
        client = scheduler
    else:
        try:
            client = Client(str(scheduler), timeout="5s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                             f"({type(exc).__name__}: {exc})".replace("\n", " ")) from None
        own = True
    futures = []
    ok = False
    try:
        index = {}
        for i, _, key in todo:
            f = client.submit(_run_point, payloads[i], key=f"govsim-point-{key}", pure=False)
            index[f.key] = i
            futures.append(f)
        for f in as_completed(futures, loop=client.loop):
            m, sec = f.result()
            record(index[f.key], m, sec)
        ok = True
    finally:
        if not ok:
            with contextlib.suppress(Exception):
                client.cancel(futures)
        if own:
            with contextlib.suppress(Exception):
                client.close(timeout=5)


# --------------------------------------------------------------------------- command line


def register_cli(sub: Any) -> None:
    from sim.cli.common import add_run_options

    p = sub.add_parser(
        "sweep", help="run a scenario over a grid of parameter values",
        description="Run a scenario over a grid: each --set PATH=VALUES adds a dimension "
        "(PATH a dotted path into the scenario, e.g. stations.planning.servers, or "
        "reform.NAME.ARG for a reform's argument, e.g. reform.proxy.windows; VALUES a "
        "list 2,3,4 or an inclusive range 3:6:1). Every point runs from the same seed. "
        "Results go to --out DIR as CSV, JSON and a heatmap; run the same command again "
        "and it resumes where it stopped.")
    p.add_argument("file", help="scenario file (TOML)")
    p.add_argument("--set", dest="sets", action="append", default=[], required=True,
                   metavar="PATH=VALUES", help="a swept parameter (repeatable)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for points.jsonl (resume), results.csv, results.json, "
                   "heatmap.png")
    add_run_options(p)
    for a in p._actions:
        if a.dest == "workers":
            a.default = None
            a.help = "processes to spread points over (default: every CPU)"
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the points on a Dask cluster (e.g. tcp://10.0.0.5:8786)")
    p.add_argument("--metric", default=DEFAULT_METRIC, metavar="NAME",
                   help="metric of the heatmap and the printed table (default: %(default)s)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    p.add_argument("--quiet", "-q", action="store_true", help="print no table")
    p.set_defaults(func=cmd_sweep)


def _points_total(sets: Sequence[str]) -> int:
    n = 1
    for t in sets:
        n *= len(parse_set(t).values)
    return n


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a sweep like Ctrl-C (finished points are already on disk)."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def cmd_sweep(args: argparse.Namespace) -> int:
    from sim.cli.common import check_run_options, console, err_console, fmt, progress_bar

    workers = args.workers
    args.workers = workers or 1
    check_run_options(args)
    total = _points_total(args.sets)
    plain = not err_console.is_terminal and not args.quiet
    count = {"done": 0}

    def on_point(point: dict[str, Any], metrics: dict[str, Any], resumed: bool) -> None:
        count["done"] += 1
        if plain:
            what = " ".join(f"{k}={_fmt_value(v)}" for k, v in point.items())
            val = metrics.get(args.metric)
            print(f"govsim sweep: point {count['done']}/{total} {'resumed' if resumed else 'done'}"
                  f" ({what}): {args.metric} = {fmt(val, 2)}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    with _sigterm_as_interrupt(), progress_bar(total, "sweep points") as adv:
        res = sweep(args.file, args.sets, replications=args.replications, seed=args.seed,
                    engine=args.engine, reforms=args.reform, workers=workers,
                    scheduler=args.scheduler, out=args.out, progress=adv, on_point=on_point,
                    metric=args.metric)
    if args.json:
        write_json(args.json, res.to_dict())
    if not args.quiet:
        from rich.table import Table

        t = Table(title=f"Sweep of {res.settings['scenario']} ({len(res.table)} points, "
                  f"{res.computed} computed, {res.resumed} resumed, "
                  f"{time.perf_counter() - t0:.1f} s)", title_justify="left")
        cols = [*res.params, args.metric]
        for extra in ("lead_time_workdays.mean", "within_limit_share", "bottleneck"):
            if extra not in cols and extra in res.table.columns:
                cols.append(extra)
        for c in cols:
            t.add_column(c, justify="left" if c in ("bottleneck",) else "right")
        for _, r in res.table.iterrows():
            t.add_row(*[(f"{r[c]:.1%}" if c == "within_limit_share" and pd.notna(r[c])
                         else fmt(r[c], 2) if isinstance(r[c], float) else str(r[c]))
                        for c in cols])
        console.print(t)
        console.print(f"results in {args.out}/ (results.csv, results.json, heatmap.png, "
                      f"{POINTS_FILE})")
    return 0
