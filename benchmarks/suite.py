"""The benchmark sections, the table and the comparison with a baseline.

Every speed figure is a ratio of two timings taken in the same run, on the same inputs
(or on a subset scaled by visits), with the runs of the two sides interleaved so that
a machine busy with something else slows both alike. Absolute seconds are never kept.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.planner import bench_command, bench_draw, bench_workers
from benchmarks.reference_loop import tandem_exit_times, tandem_exit_times_adaptive
from benchmarks.scenarios import tandem, tandem_dict
from benchmarks.score import bench_score
from benchmarks.serve import bench_serve
from benchmarks.stream import streamed_run_peak_rss
from sim.calibrate import calibrate
from sim.engines import des, vector
from sim.engines.vector import feedforward
from sim.experiments.run import run
from sim.inputs import draw
from sim.logs import EventLog, read
from sim.model import Model, build
from sim.model.scenario import load

ROOT = Path(__file__).resolve().parent.parent
CONSTRUCTION = ROOT / "scenarios" / "hohhot-construction-2023.toml"
FALLBACK = ROOT / "tests" / "data" / "mini.toml"

STATIONS, SERVERS, LOAD = 37, 3, 0.8
SIZES: dict[str, dict[str, int]] = {
    # cases x replications of the tandem; the DES runs des_cases of it
    "full": {"cases": 100_000, "reps": 20, "des_cases": 10_000, "construction_reps": 2,
             "scaling_cases": 100_000, "scaling_reps": 4, "scaling_rounds": 8,
             "memory_cases": 1_000_000, "score_reps": 10, "calibrate_rounds": 3,
             "draw_rounds": 15, "command_rounds": 3, "workers_rounds": 3,
             "streamed_cases": 1_000_000, "serve_rounds": 3},
    "quick": {"cases": 10_000, "reps": 3, "des_cases": 1_000, "construction_reps": 1,
              "scaling_cases": 20_000, "scaling_reps": 4, "scaling_rounds": 3,
              "memory_cases": 100_000, "score_reps": 2, "calibrate_rounds": 1,
              "draw_rounds": 8, "command_rounds": 2, "workers_rounds": 1,
              "streamed_cases": 100_000, "serve_rounds": 2},
}
SECTIONS = ("tandem_mmc", "construction", "scaling", "memory", "score", "calibrate", "draw",
            "command", "workers", "streamed", "serve")
# (section, key, direction): +1 higher is better, -1 lower is better
COMPARED = (
    ("tandem_mmc", "ratio_vs_des", 1),
    ("tandem_mmc", "ratio_vs_reference_loop", 1),
    ("tandem_mmc", "event_loop_ratio_vs_reference_loop", 1),
    ("construction", "ratio_vs_des", 1),
    ("scaling", "ratio", 1),
    ("memory", "peak_rss_mb", -1),
    ("score", "ratio_vs_read", 1),
    ("calibrate", "ratio_read_vs_calibrate", 1),
    ("draw", "ratio_vs_floor", -1),
    ("command", "ratio_vs_engine", -1),
    ("workers", "run_ratio", 1),
    ("workers", "sweep_ratio", 1),
    ("streamed", "peak_rss_mb", -1),
    ("serve", "ratio_vs_compare", -1),
)
#: the issue's target for calibrating a 60,000-event log
CALIBRATE_TARGET_S = 30.0
BPIC1 = ROOT / "data" / "BPIC15_1.xes.gz"
ROUND_TRIP = ROOT / "tests" / "data" / "calib_roundtrip.toml"


def _timed(f: Callable[..., Any], *args: Any, **kw: Any) -> tuple[float, Any]:
    """CPU seconds of ``f(*args, **kw)`` (less disturbed than wall time by other load)."""
    t = time.process_time()
    out = f(*args, **kw)
    return time.process_time() - t, out


def _warm_up() -> None:
    """Load (or compile) the numba kernels before anything is timed."""
    m = tandem(200, stations=3)
    inp = draw(m, 0)
    vector.simulate(m, inp)
    vector.simulate(m, inp, feedforward=False)
    vector.simulate_streaming(m, 0, chunk=50)
    svc = np.ascontiguousarray(inp.service[:, :, 0])
    tandem_exit_times(inp.arrival, svc, SERVERS)
    tandem_exit_times_adaptive(inp.arrival, svc, SERVERS)


def _n_visits(model: Model, inp: Any) -> int:
    """Queue visits (submissions, audits, pool slots) of a replication: rows of a record."""
    res = vector.simulate(model, inp, record_visits=True)
    assert res.visits is not None
    return int(res.visits.case.shape[0])


# --------------------------------------------------------------------------- sections


def bench_tandem(size: dict[str, int]) -> dict[str, Any]:
    """37 M/M/3 stations in series at load 0.8, always open."""
    from sim.analytic import tandem_mmc

    cases, reps = size["cases"], size["reps"]
    m = tandem(cases, stations=STATIONS, servers=SERVERS, load=LOAD)
    t_vec = t_ref = t_ada = t_ev = 0.0
    visits = 0
    sojourn_sum, sojourn_n = 0.0, 0
    agree = True
    ev_reps = max(1, reps // 4)  # the event loop alone, on a quarter of the replications
    t_ref_ev = 0.0
    # the DES on a subset of the workload (the same line, fewer cases), scaled by visits,
    # interleaved with the vector runs so that the machine's pace changes hit both
    m_des = tandem(size["des_cases"], stations=STATIONS, servers=SERVERS, load=LOAD)
    t_des = 0.0
    des_visits = 0
    for rep in range(reps):
        inp = draw(m, rep)
        svc = np.ascontiguousarray(inp.service[:, :, 0])
        dt_v, res = _timed(vector.simulate, m, inp, record_visits=False)
        dt_r, exits = _timed(tandem_exit_times, inp.arrival, svc, SERVERS)
        dt_a, _ = _timed(tandem_exit_times_adaptive, inp.arrival, svc, SERVERS)
        t_vec += dt_v
        t_ref += dt_r
        t_ada += dt_a
        if rep < ev_reps:
            dt_e, _ = _timed(vector.simulate, m, inp, record_visits=False, feedforward=False)
            t_ev += dt_e
            t_ref_ev += dt_r
        done = res.status == 1
        agree = agree and bool(np.array_equal(res.end[done], exits[done]))
        visits += int(res.visits_count.sum())  # every submission is a visit here
        keep = done & (inp.arrival >= m.warmup)
        sojourn_sum += float((res.end[keep] - inp.arrival[keep]).sum())
        sojourn_n += int(keep.sum())
        if rep < ev_reps:
            dt_d, res_d = _timed(des.simulate, m_des, draw(m_des, rep), record_visits=False)
            t_des += dt_d
            des_visits += int(res_d.visits_count.sum())
    mean_service = LOAD * SERVERS / 1.0
    analytic = tandem_mmc(1.0, [1.0 / mean_service] * STATIONS, [SERVERS] * STATIONS).w
    simulated = sojourn_sum / sojourn_n
    vec_vps = visits / t_vec
    des_vps = des_visits / t_des
    return {
        "stations": STATIONS, "servers": SERVERS, "load": LOAD, "cases": cases,
        "replications": reps, "visits": visits,
        "visits_per_s": round(vec_vps),
        "ratio_vs_des": vec_vps / des_vps,
        "des_cases": size["des_cases"], "des_replications": ev_reps,
        "ratio_vs_reference_loop": t_ref / t_vec,
        "ratio_vs_reference_loop_adaptive_sort": t_ada / t_vec,
        "event_loop_ratio_vs_reference_loop": t_ref_ev / t_ev,
        "event_loop_replications": ev_reps,
        "reference_loop_agrees": agree,
        "mean_sojourn_hours": simulated,
        "erlang_c_sojourn_hours": analytic,
        "accuracy_rel_err": abs(simulated - analytic) / analytic,
        "note": "vector = station-by-station pass (it applies to this line); the reference "
                "loop sorts each station's arrivals with np.argsort, the adaptive one with "
                "an insertion sort as the engine does; event_loop_* is the general event "
                "loop on the same inputs",
    }


def bench_construction(size: dict[str, int]) -> dict[str, Any]:
    path = CONSTRUCTION if CONSTRUCTION.exists() else FALLBACK
    m = build(load(path), str(path), warn=False)
    t_des = t_vec = 0.0
    visits = 0
    agree = True
    for rep in range(size["construction_reps"]):
        inp = draw(m, rep)
        # a vector run is short: the median of a few, so that one disturbed run does
        # not decide the ratio (the DES run, 70 times longer, averages over its length)
        runs = [_timed(vector.simulate, m, inp, record_visits=False) for _ in range(5)]
        dt_v = float(np.median([t for t, _ in runs]))
        rv = runs[0][1]
        dt_d, rd = _timed(des.simulate, m, inp, record_visits=False)
        t_vec += dt_v
        t_des += dt_d
        visits += _n_visits(m, inp)
        agree = agree and bool(np.array_equal(rv.status, rd.status)) and bool(
            np.allclose(rv.end, rd.end, rtol=1e-9, equal_nan=True))
    return {"scenario": path.name, "replications": size["construction_reps"], "cases": inp.n,
            "visits": visits, "visits_per_s": round(visits / t_vec),
            "ratio_vs_des": t_des / t_vec, "engines_agree": agree,
            "path": "event loop" if feedforward.feedforward_plan(m, inp) is None
            else "station-by-station"}


def _scaling_init() -> None:
    _warm_up()


def _scaling_task(args: tuple[int, int]) -> int:
    cases, rep = args
    m = tandem(cases, stations=STATIONS, servers=SERVERS, load=LOAD)
    (res,) = vector.simulate_many(m, [rep])
    return int(res.visits_count.sum())


def _scaling_sleep(seconds: float) -> None:
    time.sleep(seconds)


def bench_scaling(size: dict[str, int]) -> dict[str, Any]:
    """Replications over 2 worker processes vs 1 (wall time: what a user waits for).

    Both pools are started and warmed first; then timed runs of the same replications
    alternate between them and the best of each counts, so that other load on the
    machine during one run does not decide the ratio.
    """
    tasks = [(size["scaling_cases"], rep) for rep in range(size["scaling_reps"])]
    best = {1: math.inf, 2: math.inf}
    with ProcessPoolExecutor(max_workers=1, initializer=_scaling_init) as one, \
            ProcessPoolExecutor(max_workers=2, initializer=_scaling_init) as two:
        pools = {1: one, 2: two}
        for workers, ex in pools.items():  # start every worker and let it warm up
            list(ex.map(_scaling_sleep, [0.5] * (2 * workers)))
        for _ in range(size["scaling_rounds"]):
            for workers, ex in pools.items():
                t = time.perf_counter()
                list(ex.map(_scaling_task, tasks))
                best[workers] = min(best[workers], time.perf_counter() - t)
    return {"replications": len(tasks), "cases": size["scaling_cases"],
            "ratio": best[1] / best[2], "efficiency": best[1] / best[2] / 2,
            "cpus": os.cpu_count(), "rounds": size["scaling_rounds"],
            "note": "replications (draw + run) over a ProcessPoolExecutor of 2 vs 1 workers, "
                    "best of alternating rounds; other load on the machine lowers it"}


def _memory_child(cases: int, chunk: int) -> None:
    """In a fresh process: stream a replication, print peak RSS (MB) as JSON."""
    import resource

    m = tandem(cases, stations=STATIONS, servers=SERVERS, load=LOAD)
    t = time.perf_counter()
    res = vector.simulate_streaming(m, 0, chunk=chunk, record_visits=False)
    seconds = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KB on Linux
    print(json.dumps({"peak_rss_mb": rss, "cases_run": int(res.status.shape[0]),
                      "completed": int((res.status == 1).sum()),
                      "visits": int(res.visits_count.sum()), "seconds_unreported": seconds}))


def bench_memory(size: dict[str, int], quick: bool) -> dict[str, Any]:
    cases, chunk = size["memory_cases"], 65_536
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            f"from benchmarks.suite import _memory_child; _memory_child({cases}, {chunk})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    child = json.loads(out.stdout.strip().splitlines()[-1])
    return {"cases": cases, "items": STATIONS, "chunk": chunk, "record_visits": False,
            "peak_rss_mb": round(child["peak_rss_mb"], 1), "visits": child["visits"],
            "within_2gb": child["peak_rss_mb"] <= 2048.0,
            "quick": quick,
            "note": ("quick: 100,000 cases instead of 1,000,000" if quick else
                     "1,000,000 cases") + "; simulate_streaming in a fresh process, "
                     "peak RSS from getrusage (numba and numpy included)"}


def _calibration_log() -> tuple[str, Callable[[], Any]]:
    """BPIC15_1 (52,217 events) when it is here, else 10 replications of the round-trip
    scenario as one log (about 60,000 events); and the function that reads it."""
    if BPIC1.exists():
        return BPIC1.name, lambda: read(BPIC1, duplicates="keep")
    frame = run(str(ROUND_TRIP), replications=10, seed=1).event_log()
    act = frame["concept:name"].astype(str)
    frame = frame[~(act.isin(["arrival", "case end"]) | act.str.startswith("submission: "))
                  .to_numpy()].reset_index(drop=True)
    return "roundtrip x10", lambda: EventLog.from_frame(frame, "roundtrip.csv")


def bench_calibrate(size: dict[str, int]) -> dict[str, Any]:
    """Calibrating a ~60,000-event log, against reading it (same run, interleaved)."""
    name, reader = _calibration_log()
    bpic = name.startswith("BPIC")
    kw: dict[str, Any] = ({"decision": ["01_HOOFD_510_1", "01_HOOFD_510_2", "01_HOOFD_515"],
                           "rework": ("08_AWB45_020_1", "08_AWB45_030")} if bpic else
                          {"decision": ["decide"],
                           "rework": ("rework request: check", "resubmission: check")})
    t_read, t_cal = [], []
    for _ in range(size["calibrate_rounds"]):
        dt_r, log = _timed(reader)
        dt_c, cal = _timed(calibrate, log, log_name=name, **kw)
        t_read.append(dt_r)
        t_cal.append(dt_c)
    best_c = min(t_cal)
    return {"log": name, "events": len(log), "cases": log.n_cases,
            "items": len(cal.scenario.items), "stations": len(cal.scenario.stations),
            "calibrate_seconds": round(best_c, 2), "read_seconds": round(min(t_read), 2),
            "ratio_read_vs_calibrate": min(t_read) / best_c,
            "within_target": best_c < CALIBRATE_TARGET_S, "rounds": size["calibrate_rounds"],
            "note": f"CPU seconds, best of {size['calibrate_rounds']}; the target is "
                    f"< {CALIBRATE_TARGET_S:g} s; the ratio is reading the log over "
                    "calibrating it (higher: calibrating is cheaper)"}


# --------------------------------------------------------------------------- driver


def run_all(quick: bool = False, only: list[str] | None = None) -> dict[str, Any]:
    size = SIZES["quick" if quick else "full"]
    wanted = set(only or SECTIONS)
    unknown = wanted - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))} "
                         f"(choose from {', '.join(SECTIONS)})")
    _warm_up()
    import numba

    figures: dict[str, Any] = {"meta": {
        "quick": quick, "python": platform.python_version(), "numpy": np.__version__,
        "numba": numba.__version__, "cpus": os.cpu_count(), "machine": platform.machine(),
        "tandem": tandem_dict(size["cases"])["scenario"]["name"]}}
    sections: dict[str, Callable[[], dict[str, Any]]] = {
        "tandem_mmc": lambda: bench_tandem(size),
        "construction": lambda: bench_construction(size),
        "scaling": lambda: bench_scaling(size),
        "memory": lambda: bench_memory(size, quick),
        "score": lambda: bench_score(size["score_reps"], quick),
        "calibrate": lambda: bench_calibrate(size),
        "draw": lambda: bench_draw(size),
        "command": lambda: bench_command(size),
        "workers": lambda: bench_workers(size),
        "streamed": lambda: {**streamed_run_peak_rss(size["streamed_cases"]), "quick": quick},
        "serve": lambda: bench_serve(size),
    }
    for name in SECTIONS:  # in the table's order
        if name in wanted:
            figures[name] = sections[name]()
    return figures


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        if v != 0 and (abs(v) >= 1e4 or abs(v) < 1e-2):
            return f"{v:.3g}"
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(figures: dict[str, Any]) -> str:
    lines = []
    meta = figures.get("meta", {})
    lines.append(f"govsim benchmarks ({'quick' if meta.get('quick') else 'full'}; "
                 f"python {meta.get('python')}, numba {meta.get('numba')}, "
                 f"{meta.get('cpus')} cpus)")
    for section in SECTIONS:
        if section not in figures:
            continue
        lines.append("")
        lines.append(section)
        lines.append("-" * len(section))
        for k, v in figures[section].items():
            if k == "note":
                continue
            lines.append(f"  {k:<40} {_fmt(v):>16}")
        if "note" in figures[section]:
            lines.append(f"  note: {figures[section]['note']}")
    return "\n".join(lines)


def compare(figures: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """Regressions of ``figures`` against ``baseline``.

    ``baseline["tolerance"]`` (relative, e.g. 0.3) applies to every compared figure;
    ``baseline["tolerances"]`` may override it per ``"section.key"``;
    ``baseline["accuracy_max"]`` bounds the tandem's relative error.
    """
    default = float(baseline.get("tolerance", 0.3))
    per_key = baseline.get("tolerances", {})
    problems = []
    for section, key, sign in COMPARED:
        cur = figures.get(section, {}).get(key)
        base = baseline.get(section, {}).get(key)
        if cur is None or base is None:
            continue
        tol = float(per_key.get(f"{section}.{key}", default))
        if section in ("memory", "streamed") and figures[section].get("cases") != \
                baseline[section].get("cases"):
            continue  # a different size: not comparable
        if section == "calibrate" and figures[section].get("log") != baseline[section].get(
                "log"):
            continue  # another log (BPIC15_1 is not here): not comparable
        if sign > 0 and cur < base * (1.0 - tol):
            problems.append(f"{section}.{key}: {cur:.3g} < {base:.3g} - {tol:.0%}")
        if sign < 0 and cur > base * (1.0 + tol):
            problems.append(f"{section}.{key}: {cur:.3g} > {base:.3g} + {tol:.0%}")
    acc = figures.get("tandem_mmc", {}).get("accuracy_rel_err")
    acc_max = baseline.get("accuracy_max")
    if acc is not None and acc_max is not None and acc > acc_max:
        problems.append(f"tandem_mmc.accuracy_rel_err: {acc:.3g} > {acc_max:.3g}")
    for section in ("memory", "streamed"):
        mem = figures.get(section, {})
        if mem and not mem.get("quick") and not mem.get("within_2gb"):
            problems.append(f"{section}.peak_rss_mb: {mem.get('peak_rss_mb'):.0f} MB > 2048 MB")
    if figures.get("calibrate", {}).get("within_target") is False:
        problems.append(f"calibrate.calibrate_seconds: {figures['calibrate']['calibrate_seconds']}"
                        f" s >= the {CALIBRATE_TARGET_S:g} s target")
    for section, key in (("tandem_mmc", "reference_loop_agrees"),
                         ("construction", "engines_agree"), ("score", "within_60s")):
        if figures.get(section, {}).get(key) is False:
            problems.append(f"{section}.{key} is false")
    if not math.isfinite(default) or default < 0:
        problems.append(f"baseline tolerance {default} is not a non-negative number")
    return problems
