"""govsim score: a simulated log compared with a real one (sim.calibrate.score,
sim.experiments.score, govsim score)."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from log_distance_measures.n_gram_distribution import _compute_n_grams

import sim
from sim.calibrate import score as measure
from sim.cli import main
from sim.experiments.score import activity_map, score
from sim.logs import EventLog
from sim.model.scenario import load

DATA = Path(__file__).parent / "data"
MINI = DATA / "score_mini.toml"
BPIC = Path(__file__).parent.parent / "data" / "BPIC15_1.xes.gz"


def own_log(path: Path | sim.model.schema.Scenario, seed: int) -> pd.DataFrame:
    """Replication 0 of the scenario as a 'real' log: service events named by the
    items' activities (what a city's system would call them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = sim.run(path, replications=1, seed=seed)
    fr = r.event_log(replication=0)
    # the run ends 120 x 24 hours after its start, at 01:00 local time once summer time has
    # begun: a real log ends with a whole day, so the last hour is left out
    end = (pd.Timestamp(r.scenario.run.start_date) + pd.Timedelta(days=r.scenario.run.horizon_days)
           ).tz_localize(fr["time:timestamp"].dt.tz)
    fr = fr[fr["time:timestamp"] < end]
    am = activity_map(r.scenario)
    svc = fr["concept:name"] == fr["item"]
    fr.loc[svc, "concept:name"] = fr.loc[svc, "item"].map(am)
    return fr


def quiet_score(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return score(*args, **kw)


@pytest.fixture(scope="module")
def real() -> EventLog:
    return EventLog.from_frame(own_log(MINI, seed=1), "own.csv")


@pytest.fixture(scope="module")
def self_score(real):
    return quiet_score(MINI, real, seed=2, replications=4)


def test_same_seed_replication_is_the_real_log(real):
    """Replication 0 of the same seed *is* the real log: its distances are 0 and its KPIs
    are the real ones exactly (the two reductions, real and simulated, agree)."""
    sr = quiet_score(MINI, real, seed=1, replications=1)
    row = sr.per_replication.iloc[0]
    for key in ("cycle_time", "case_arrival", "ngram"):
        assert row[key] == 0.0, key
    # the circadian distance reads only stamps with a time of day: the same events
    assert row["circadian"] < 0.05
    for k in sr.kpis.to_dict("records"):
        assert k["simulated"] == pytest.approx(k["real"], abs=1e-12), k["kpi"]


def _w1_bound(x: np.ndarray, n: int, m: int) -> float:
    """E W1(F_n, G_m) <= J (1/sqrt(n) + 1/sqrt(m)) for samples of one law, J = int
    sqrt(F(1 - F)) dx (del Barrio, Gine & Matran 1999), J estimated from the sample."""
    xs = np.sort(x)
    f = np.arange(1, xs.size) / xs.size
    j = float(np.sum(np.sqrt(f * (1 - f)) * np.diff(xs)))
    return j * (1 / math.sqrt(n) + 1 / math.sqrt(m))


def test_self_score_is_near_zero(self_score, real):
    sr = self_score
    d = sr.distances.set_index("metric")["value"]
    n = len(sr.real.table)
    m = int(np.mean([len(s.table) for s in sr.simulated]))
    cycle = ((sr.real.table["last"] - sr.real.table["start"]).dt.days).to_numpy(float)
    # the bound on the expected distance of i.i.d. samples (here about 2 days, measured
    # about 0.9 for seeds 2, 5 and 9; cases of one run share its queues, so they are not
    # quite independent, but the mean over 4 replications is well inside)
    assert d["cycle_time"] < _w1_bound(cycle, n, m)
    start = ((sr.real.table["start"] - sr.real.table["start"].min()).dt.days).to_numpy(float)
    assert d["case_arrival"] < _w1_bound(start, n, m)
    # n-grams: for multinomial counts with one total T, E sum|x_k - y_k| / 2T is about
    # sum_k sqrt(p_k) / sqrt(pi T) (0.045 here); twice that, as the totals differ too
    # (the number of cases varies from replication to replication; measured 0.05-0.06)
    grams = _compute_n_grams(sr.real.events, measure.IDS,
                             list(sr.real.events["activity"].unique()), 3)
    t = sum(grams.values())
    p = np.array(list(grams.values()), dtype=float) / t
    assert d["ngram"] < 2 * np.sqrt(p).sum() / math.sqrt(math.pi * t)
    # the real log is one more replication: its KPIs lie in the 99% prediction interval
    per = sr.per_replication
    for key in ("cases_started", "decided_share", "decision_mean", "decision_p90"):
        x = per[f"kpi.{key}"].to_numpy(float)
        half = 5.841 * x.std(ddof=1) * math.sqrt(1 + 1 / x.size)  # t(0.995, 3 df)
        assert abs(sr.result.real[key] - x.mean()) <= half, key


def test_a_slower_scenario_is_further_away(self_score, real):
    """Doubling the review's lag (5 -> 10 working days) moves the simulated cycle times
    away from the real ones: the distance grows and the median decision time rises by
    about 5 working days (7 calendar days)."""
    s = load(MINI)
    lag = s.items["review"].lag
    assert lag is not None
    lag.mean = 10.0
    slow = quiet_score(s, real, seed=2, replications=4)
    d0 = self_score.distances.set_index("metric")["value"]
    d1 = slow.distances.set_index("metric")["value"]
    # measured over seeds 2-4: the distance grows by 2.8-3.7 days (less than the 7 days of
    # the median, as cases still open at the period's end are cut there in both logs)
    assert d1["cycle_time"] > d0["cycle_time"] + 2
    k0 = self_score.kpis.set_index("kpi")
    k1 = slow.kpis.set_index("kpi")
    assert k1.loc["decision_median", "simulated"] - k0.loc["decision_median", "simulated"] > 4
    assert k1.loc["decision_median", "simulated"] > k1.loc["decision_median", "real"] + 3
    assert not k1.loc["decision_mean", "real_in_ci"]
    # the control flow is the same: the n-gram distance does not grow much
    assert d1["ngram"] < d0["ngram"] + 0.05


def tiny_log() -> EventLog:
    """Five cases with known answers (decision D, Europe/Amsterdam, some stamps date-only)."""
    rows = [
        ("c1", "A", "2024-01-01T00:00:00+01:00"), ("c1", "D", "2024-01-05T00:00:00+01:00"),
        ("c2", "A", "2024-01-02T09:30:00+01:00"), ("c2", "D", "2024-01-12T16:00:00+01:00"),
        ("c3", "A", "2024-01-03T00:00:00+01:00"), ("c3", "B", "2024-01-04T11:00:00+01:00"),
        ("c3", "D", "2024-01-23T00:00:00+01:00"), ("c3", "D", "2024-01-30T10:00:00+01:00"),
        ("c4", "A", "2024-01-10T00:00:00+01:00"), ("c4", "B", "2024-02-01T00:00:00+01:00"),
        ("c5", "A", "2024-03-25T23:30:00+01:00"), ("c5", "B", "2024-03-31T08:00:00+02:00"),
    ]
    df = pd.DataFrame(rows, columns=["case:concept:name", "concept:name", "time:timestamp"])
    return EventLog.from_frame(df, "tiny.csv")


def test_kpis_on_a_hand_built_log():
    log = tiny_log()
    period = measure.Period(dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    k = measure.kpis(measure.real_cases(log, ["D"], {"A", "B", "D"}, period), period, 10)
    # days to decision: c1 4, c2 10 (local dates), c3 20 (its first D); c4, c5 undecided
    assert k["cases_started"] == 5
    assert k["decided_share"] == pytest.approx(3 / 5)
    assert k["open_share"] == pytest.approx(2 / 5)
    assert k["decision_median"] == pytest.approx(10.0)
    assert k["decision_p90"] == pytest.approx(10 + 0.8 * 10)  # linear between 10 and 20
    assert k["decision_mean"] == pytest.approx(34 / 3)
    # c5 started 6 days before the end: not yet due; of c1..c4, c1 and c2 within 10 days
    assert k["within_term_share"] == pytest.approx(2 / 4)
    # from Jan 2 on: c1 is left out
    later = measure.Period(dt.date(2024, 1, 2), dt.date(2024, 3, 31))
    k2 = measure.kpis(measure.real_cases(log, ["D"], {"A"}, later), later, None)
    assert k2["cases_started"] == 4
    assert k2["decision_mean"] == pytest.approx(15.0)
    assert math.isnan(k2["within_term_share"])
    # cut at Jan 20: c3's decision (Jan 23) has not happened, c5 has not started
    cut = measure.Period(dt.date(2024, 1, 1), dt.date(2024, 1, 20))
    k3 = measure.kpis(measure.real_cases(log, ["D"], {"A"}, cut), cut, 10)
    assert k3["cases_started"] == 4
    assert k3["decided_share"] == pytest.approx(2 / 4)
    # without decision activities the decision is the last event: 4, 10, 27, 22, 6 days
    k4 = measure.kpis(measure.real_cases(log, [], {"A"}, period), period, None)
    assert k4["decided_share"] == 1.0
    assert k4["decision_median"] == pytest.approx(10.0)
    assert k4["decision_mean"] == pytest.approx(69 / 5)


def test_a_start_stamp_starts_the_case():
    """Where the log records start stamps, a case starts at its first event's start."""
    df = pd.DataFrame({"case": ["a", "a"], "act": ["A", "D"],
                       "begin": ["2024-01-01T09:00:00+01:00", "2024-01-05T09:00:00+01:00"],
                       "end": ["2024-01-03T10:00:00+01:00", "2024-01-08T10:00:00+01:00"]})
    log = EventLog.from_frame(df, "starts.csv", case="case", activity="act",
                              timestamp="end", start_timestamp="begin")
    period = measure.Period(dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    k = measure.kpis(measure.real_cases(log, ["D"], {"A", "D"}, period), period, None)
    assert k["decision_median"] == 7.0  # Jan 1 (A's start) to Jan 8 (D's completion)


def test_json_keys_and_table(self_score):
    d = self_score.to_json()
    for key in ("distances", "kpis", "period", "cases", "scenario", "log"):
        assert key in d
    assert set(d["distances"]) == {k for k, *_ in measure.DISTANCES}
    assert set(d["kpis"]) == {k for k, *_ in measure.KPIS}
    assert d["distances"]["cycle_time"]["unit"] == "days"
    json.dumps(d, allow_nan=False)
    text = self_score.table()
    assert "cycle-time distribution" in text and "| KPI |" in text


def test_from_date_warms_up(real):
    sr = quiet_score(MINI, real, from_date="2024-02-01", seed=2, replications=2)
    assert sr.run.scenario.run.warmup_days == 31
    assert sr.run.scenario.run.start_date == dt.date(2024, 1, 1)
    assert (sr.real.table["start"] >= pd.Timestamp("2024-02-01")).all()
    for s in sr.simulated:
        assert (s.table["start"] >= pd.Timestamp("2024-02-01")).all()
    assert sr.to_json()["period"]["from"] == "2024-02-01"


@pytest.fixture(scope="module")
def own_csv(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("score") / "own.csv"
    sim.logs.write(own_log(MINI, seed=1), p)
    return p


def test_cli_end_to_end(own_csv, tmp_path, capsys):
    out, js = tmp_path / "report", tmp_path / "score.json"
    code = main(["score", str(MINI), str(own_csv), "-n", "2", "--seed", "3",
                 "--out", str(out), "--json", str(js)])
    assert code == 0
    cap = capsys.readouterr()
    assert "cycle-time distribution" in cap.out
    assert "match no scenario item's activity" in cap.err  # arrival, submission, ... events
    d = json.loads(js.read_text())
    assert d["replications"] == 2 and d["cases"]["real"] > 100
    for f in ("report.html", "score.json", "figures/cycle_time.png", "figures/activities.png"):
        assert (out / f).is_file(), f
    html = (out / "report.html").read_text()
    assert html.count("<table>") == 2 and html.count("<img") == 2


def test_cli_bad_input(own_csv, tmp_path, capsys):
    def err(*argv: str) -> str:
        assert main(["score", *argv]) == 2
        e = capsys.readouterr().err
        assert e.count("govsim: error:") == 1
        return e

    assert "after the end of own.csv" in err(str(MINI), str(own_csv), "--from", "2030-01-01")
    assert "--from must be a date" in err(str(MINI), str(own_csv), "--from", "May 1")
    assert "no such log file" in err(str(MINI), str(tmp_path / "none.csv"))
    assert "--case" in err(str(MINI), str(own_csv), "--case", "caseid")
    bad = tmp_path / "nodecision.toml"
    bad.write_text(MINI.read_text().replace('"01_HOOFD_510_1"', '"NOPE"'))
    assert "none of the decision activities (NOPE)" in err(str(bad), str(own_csv))
    unmodelled = tmp_path / "unmodelled.toml"
    unmodelled.write_text(MINI.read_text().replace('activity = "01_HOOFD_510_1"',
                                                   'activity = "decide"'))
    assert "calibration.decision: no item stands for" in err(str(unmodelled), str(own_csv))
    afile = tmp_path / "a-file"
    afile.write_text("x")
    assert "exists and is not a folder" in err(str(MINI), str(own_csv), "--out", str(afile))
    out = tmp_path / "never"
    err(str(MINI), str(own_csv), "--from", "2030-01-01", "--out", str(out))
    assert not out.exists()


def test_no_calibration_falls_back_to_case_end(own_csv, tmp_path, capsys):
    text = MINI.read_text()
    plain = tmp_path / "plain.toml"
    plain.write_text(text[:text.index("\n[calibration]")])
    js = tmp_path / "s.json"
    assert main(["score", str(plain), str(own_csv), "-n", "2", "--json", str(js), "-q"]) == 0
    d = json.loads(js.read_text())
    assert d["decision"] == [] and d["term_days"] is None
    assert any("no [calibration]" in n for n in d["notes"])
    assert d["kpis"]["within_term_share"]["real"] is None


@pytest.mark.slow
def test_bpic15_smoke():
    """The real BPIC 2015 municipality 1 log against a small hand-made scenario."""
    log = sim.logs.read(BPIC, duplicates="keep")
    t0 = time.perf_counter()
    sr = quiet_score(DATA / "bpic15_small.toml", log, replications=3)
    assert time.perf_counter() - t0 < 60
    real = sr.result.real
    assert real["cases_started"] == 1199
    # decided: the first of 01_HOOFD_510_1/510_2/515 (data/README.md)
    decided = log.events[log.events["activity"].isin(
        ["01_HOOFD_510_1", "01_HOOFD_510_2", "01_HOOFD_515"])]["case"].nunique()
    assert real["decided_share"] == pytest.approx(decided / 1199)
    assert 0 < real["within_term_share"] < 1
    d = sr.to_json()["distances"]
    assert all(v["value"] is not None and v["value"] >= 0 for v in d.values())
    assert 0 <= d["ngram"]["value"] <= 1
    assert sr.unmatched_events > 40_000  # 4 of its 398 activities are modelled


def test_no_simulated_case_starts_after_the_logs_last_case():
    """A log extracted by case: no case starts in its last third, though the earlier cases'
    events go on. The simulated arrivals stop at the last real start, so as many cases
    start in both (Poisson: within 4 standard deviations), not 1.5 times as many."""
    fr = own_log(MINI, seed=1)
    t = pd.to_datetime(fr["time:timestamp"], utc=True)
    starts = t.groupby(fr["case:concept:name"]).min()
    cut = starts.min() + (starts.max() - starts.min()) * 2 / 3
    kept = starts.index[starts <= cut]
    real = EventLog.from_frame(fr[fr["case:concept:name"].isin(kept)], "cut.csv")
    sr = quiet_score(MINI, real, seed=2, replications=4)
    last = pd.Timestamp(real.events.groupby("case")["timestamp"].min().max())
    assert sr.to_json()["period"]["last_case_start"] == last.tz_convert(
        real.time_zone).date().isoformat()
    k = sr.kpis.set_index("kpi").loc["cases_started"]
    assert abs(k["simulated"] - k["real"]) < 4 * np.sqrt(k["real"] / 4) + 4 * np.sqrt(k["real"])
