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

import contextlib
import hashlib
import io
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import UsageError
from sim.experiments.grid import Param, apply_point, grid_params
from sim.experiments.pool import default_workers, execute
from sim.experiments.run import run
from sim.experiments.settings import check, resolve
from sim.experiments.sources import load_scenario
from sim.files import FolderLock, json_safe, make_folder, write_atomic, write_json
from sim.model.schema import Scenario
from sim.results.display import esc
from sim.results.kpis import STATION_BY_NAME, canonical, station_kpi

__all__ = ["POINTS_FILE", "SweepResult", "metric_names", "point_metrics", "sweep"]

POINTS_FILE = "points.jsonl"
#: held by the sweep writing the folder (it says which process, since when)
LOCK_FILE = ".sweep.lock"
DEFAULT_METRIC = "lead_time_workdays.p90"
#: version of the metrics a point records; bump when point_metrics changes meaning
METRICS_VERSION = 3


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
    for key in ("gov_cost_per_case", "applicant_cost_per_case"):
        if key in k:  # the scenario has costs
            out[key] = k[key]["mean"]
    out["arrived"] = d["cases"]["arrived"]
    out["completed"] = d["cases"]["completed"]
    work_wait = result.station_summary()["mean_wait_workhours"]
    for name, s in d["stations"].items():
        out[station_kpi(name, "servers")] = s["servers"]
        out[station_kpi(name, "utilization")] = s["utilization"]
        out[station_kpi(name, "mean_wait_hours")] = s["mean_wait_hours"]
        out[station_kpi(name, "mean_wait_hours_ci95_hi")] = s["mean_wait_hours_ci95"][1]
        ww = work_wait.get(name)
        out[station_kpi(name, "mean_wait_workhours")] = (float(ww) if ww is not None
                                                         and math.isfinite(ww) else None)
        out[station_kpi(name, "mean_queue_length")] = s["mean_queue_length"]
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
    if s is not None and s.costs is not None:
        names += ["gov_cost_per_case", "applicant_cost_per_case"]
    if stations and s is not None:
        for cls in s.classes:
            names += [f"class.{cls}.lead_time_workdays.mean", f"class.{cls}.lead_time_workdays.p90",
                      f"class.{cls}.completed_share"]
        for st in (*s.stations, *s.pools):
            names += [station_kpi(st, k) for k in (*STATION_BY_NAME, "mean_wait_hours_ci95_hi")]
    return names


def _run_point(payload: tuple[str, int | None, int | None, str, float | None]
               ) -> tuple[dict[str, Any], float]:
    """Run one point (in a worker): scenario JSON, replications, seed, engine, memory limit."""
    text, replications, seed, engine, max_memory = payload
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Scenario.model_validate_json(text)
        result = run(s, replications=replications, seed=seed, engine=engine, workers=1,
                     max_memory=max_memory)
    return point_metrics(result), time.perf_counter() - t0


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
        from sim.present import plots  # matplotlib: imported when a figure is drawn

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
    """Finished points in a points file. A line that is not a whole record (a torn last
    line from a kill, bytes that are not UTF-8, ``"metrics": null`` or ``{}``) is not
    taken as done: its point is computed again, and a warning says how many there were."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    bad = 0
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                line = raw.decode("utf-8").strip()
                rec = json.loads(line) if line else None
            except (UnicodeDecodeError, json.JSONDecodeError):
                bad += 1
                continue
            if rec is None:
                continue
            if isinstance(rec, dict) and "key" in rec and isinstance(rec.get("metrics"), dict) \
                    and rec["metrics"]:
                # points recorded under the older station.NAME.KPI spelling read as new
                rec["metrics"] = {canonical(str(k)): v for k, v in rec["metrics"].items()}
                done.setdefault(str(rec["key"]), rec)
            else:
                bad += 1
    if bad:
        warnings.warn(f"{path}: {bad} line(s) are not a finished point (torn, not UTF-8 or "
                      "without metrics): skipped, and any point without a finished record is "
                      "computed again", stacklevel=2)
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
          metric: str = DEFAULT_METRIC, max_memory: float | None = None) -> SweepResult:
    """Run a scenario over a grid of parameter values; one row per point.

    Args:
        source: a scenario file or a :class:`~sim.model.schema.Scenario`.
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
    check(engine=engine, workers=workers)
    params = grid_params(grid)
    base = load_scenario(source, reforms)
    name = base.scenario.name or (Path(source).stem if not isinstance(source, Scenario)
                                  else "<scenario>")
    cfg = resolve(base.run, replications=replications, seed=seed, engine=engine,
                  workers=workers or default_workers())
    n_rep, s_seed, engine = cfg.replications, cfg.seed, cfg.engine

    # every point, checked before anything runs
    points: list[dict[str, Any]] = [{}]
    for p in params:
        points = [{**pt, p.path: v} for pt in points for v in p.values]
    scenarios = [apply_point(base, pt) for pt in points]
    fp = _fingerprint(base, n_rep, s_seed, engine)
    keys = [_point_key(fp, pt) for pt in points]
    metric = canonical(metric)
    known = set(metric_names(scenarios[0]))
    if metric not in known:
        raise UsageError(f"--metric {metric}: not a sweep metric (known: "
                         + ", ".join(metric_names(scenarios[0], stations=False)) +
                         ", stations.NAME.utilization, stations.NAME.mean_wait_hours, "
                         "class.NAME.lead_time_workdays.p90, ...)")
    settings = {"scenario": name, "replications": n_rep, "seed": s_seed, "engine": engine,
                "reforms": list(reforms), "fingerprint": fp, "metric": metric,
                "grid": {p.path: p.values for p in params}}

    out_dir = Path(out) if out is not None else None
    done: dict[str, dict[str, Any]] = {}
    log: _Log | None = None
    lock: FolderLock | None = None
    if out_dir is not None:
        make_folder(out_dir)
        lock = FolderLock(out_dir, LOCK_FILE)  # one sweep writes a folder at a time
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

    payloads = {i: (scenarios[i].model_dump_json(), n_rep, s_seed, engine, max_memory)
                for i, _, _ in todo}
    error: BaseException | None = None
    try:
        if out_dir is not None:
            log = _Log(out_dir / POINTS_FILE)
        execute(_run_point, [payloads[i] for i, _, _ in todo],
                lambda k, out: record(todo[k][0], *out), workers=cfg.workers,
                scheduler=scheduler, keys=[f"point-{key}" for _, _, key in todo])
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
        if lock is not None:
            lock.release()
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
