"""Figures, the HTML report folder, and the report opened in a headless browser."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from matplotlib.figure import Figure

import sim
from sim.cli import main
from sim.model.scenario import parse
from sim.present import compare_report, plots, report
from sim.results.records import CASE_COLUMNS, STATION_COLUMNS
from sim.results.result import RunResult
from tests.conftest import DATA, chromium

MINI = str(DATA / "mini.toml")


def _scenario(mini: dict[str, Any], **run: Any) -> Any:
    d = dict(mini)
    d["run"] = {**d["run"], "horizon_days": 30, **run}
    d["scenario"] = {"name": "mini-report", "description": "a small test scenario",
                     "sources": ["SEED: 32 help-and-proxy windows", "EXTERNAL: a law, art. 42"]}
    d["assumptions"] = {"stations.front.servers": "two clerks <script>x</script>",
                        "items.*.materials": "a guess"}
    return parse(d, "mini-report.toml")


@pytest.fixture(scope="module")
def result() -> RunResult:
    import copy
    import tomllib

    with open(DATA / "mini.toml", "rb") as fh:
        mini = copy.deepcopy(tomllib.load(fh))
    return sim.run(_scenario(mini), replications=2)


@pytest.fixture(scope="module")
def compared() -> Any:
    from sim.experiments.compare import compare

    return compare([MINI, MINI + "@online:0.8"], replications=2)


# --------------------------------------------------------------------------- figures


def test_figures_are_matplotlib_figures(result: RunResult) -> None:
    other = sim.run(sim.api.apply_reforms(result.scenario, ["online:0.8"]), replications=2)
    both = {"base": result, "online": other}
    for fig in (plots.lead_time_cdf(both), plots.lead_time_cdf(result, unit="days"),
                plots.lead_time_hist(both), plots.lead_time_split(both),
                plots.station_chart(result), plots.wip_over_time(both),
                plots.lead_time_cdf([result, other])):
        assert isinstance(fig, Figure)
        assert fig.axes
    # overlaid: one line per scenario
    ax = plots.lead_time_cdf(both).axes[0]
    assert [t.get_text().split(" (")[0] for t in ax.get_legend().get_texts()] == ["base",
                                                                                "online"]


def test_station_chart_ranks_bottleneck_first(result: RunResult) -> None:
    fig = plots.station_chart(result)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    # the top bar (highest y) is the busiest station
    assert labels[0].startswith(result.bottleneck())


def test_split_table_sums_to_lead_time(result: RunResult) -> None:
    t = plots.split_table(result)
    c = result.cases
    done = c[(~c["warmup"]) & (c["status"] == "completed")]
    total = float(t.loc[t["class"] == "all cases", ["service", "queue", "applicant"]].sum(
        axis=1).iloc[0])
    assert total == pytest.approx(done["lead_days"].mean(), rel=1e-6)
    assert set(t["class"]) == {"all cases", *result.model.class_names}


def test_wip_series_counts_open_cases(result: RunResult) -> None:
    w = plots.wip_series(result, points=50)
    assert w.index[0] == 0 and w["mean"].iloc[0] == 0
    assert (w["min"] <= w["mean"]).all() and (w["mean"] <= w["max"]).all()
    open_end = result.per_replication["open_at_horizon"]  # after warm-up only
    assert w["mean"].iloc[-1] >= open_end.mean() - 1e-9


def test_sweep_heatmap_and_bad_column() -> None:
    t = pd.DataFrame({"a": [1, 1, 2, 2], "b": [3, 4, 3, 4], "m": [1.0, 2.0, 3.0, 4.0]})
    fig = plots.sweep_heatmap(t, "m", "a", "b")
    assert fig.axes[0].images[0].get_array().shape == (2, 2)
    assert isinstance(plots.sweep_heatmap(t, "m", "a"), Figure)
    with pytest.raises(ValueError, match="not in the sweep table"):
        plots.sweep_heatmap(t, "nope", "a", "b")


def test_bad_inputs() -> None:
    with pytest.raises(TypeError):
        plots.lead_time_cdf(42)
    with pytest.raises(ValueError, match="unit"):
        plots.lead_time_cdf({}, unit="weeks")


# --------------------------------------------------------------------------- report folder


def _imgs(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_run_report_folder(result: RunResult, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    path = report.write_run_report(result, out)
    assert path == out / "report.html"
    for f in ("cases.csv", "stations.csv", "per_replication.csv", "result.json",
              "scenario.toml"):
        assert (out / f).stat().st_size > 0, f
    # six figures, and where lead time goes by stage (mini has several stages)
    assert len(list((out / "figures").glob("*.png"))) == 7
    assert (out / "figures" / "lead_time_by_stage.png").exists()
    cases = pd.read_csv(out / "cases.csv")
    assert list(cases.columns) == list(CASE_COLUMNS)
    assert len(cases) == len(result.cases)
    assert list(pd.read_csv(out / "stations.csv").columns) == ["replication", *STATION_COLUMNS]
    assert json.loads((out / "result.json").read_text()) == json.loads(
        json.dumps(result.to_dict()))
    html = path.read_text(encoding="utf-8")
    imgs = _imgs(html)
    assert len(imgs) == 7 and all(i.startswith(b"\x89PNG") for i in imgs)
    # the first screen: the answer in words, before the cards, then the stages' bars
    answer = html.index('<p class="answer">Lead time ')
    assert answer < html.index('<div class="cards">') < html.index("by stage</h3>") \
        < html.index('id="kpis"')
    # self-contained: nothing fetched from anywhere
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html
    # the scenario, the seed, the engine, assumptions and sources
    assert "mini-report" in html and "seed 7" in html and "engine vector" in html
    assert "two clerks &lt;script&gt;x&lt;/script&gt;" in html  # escaped
    assert "EXTERNAL: a law, art. 42" in html
    assert "items.*.materials" in html
    assert html.count("<table>") >= 6
    assert 'class="bottleneck"' in html


def test_cli_run_out(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert main(["run", MINI, "-q", "-n", "2", "--out", str(out)]) == 0
    assert (out / "report.html").exists() and (out / "cases.csv").exists()


def test_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["run", MINI, "-q", "-n", "1", "--out", str(f)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_compare_report_folder(compared: Any, tmp_path: Path) -> None:
    path = compare_report.write_compare_report(compared, tmp_path / "cmp")
    html = path.read_text(encoding="utf-8")
    assert len(_imgs(html)) == 7  # 5 overlaid + one station chart per scenario
    assert "minus" in html and "95% CI of the difference" in html
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["baseline"]
    subs = sorted(p.name for p in (tmp_path / "cmp").iterdir() if p.is_dir())
    assert subs[:2] == ["0_mini", "1_mini-online-0.8"]
    assert (tmp_path / "cmp" / "1_mini-online-0.8" / "cases.csv").exists()


def test_repr_html(result: RunResult) -> None:
    h = result._repr_html_()
    assert "<table>" in h and result.bottleneck() in h and "95% CI" in h


# --------------------------------------------------------------------------- in a browser


def _dump_dom(html: Path, tmp_path: Path) -> str:
    exe = chromium()
    if exe is None:
        pytest.skip("chromium not installed")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=10000",
           "--dump-dom", html.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _screenshot(html: Path, tmp_path: Path) -> bytes:
    exe = chromium()
    assert exe is not None
    png = tmp_path / "shot.png"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           f"--user-data-dir={tmp_path / 'chromium-profile2'}", "--hide-scrollbars",
           "--window-size=1200,3000", f"--screenshot={png}", html.resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return png.read_bytes()


def _check_rendered(dom: str, figures: int, tables: int) -> None:
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    # the page's own script counted the figures that decoded (naturalWidth > 0)
    assert attrs.get("data-figures") == str(figures), attrs
    assert attrs.get("data-figures-rendered") == str(figures), attrs
    assert int(attrs.get("data-tables", "0")) >= tables, attrs


def test_run_report_renders_in_chromium(result: RunResult, tmp_path: Path) -> None:
    path = report.write_run_report(result, tmp_path / "rep")
    dom = _dump_dom(path, tmp_path)
    _check_rendered(dom, figures=7, tables=6)
    assert "Key figures" in dom and "Assumptions" in dom
    shot = _screenshot(path, tmp_path)
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000  # a page, not a blank


def test_compare_report_renders_in_chromium(compared: Any, tmp_path: Path) -> None:
    path = compare_report.write_compare_report(compared, tmp_path / "cmp")
    dom = _dump_dom(path, tmp_path)
    _check_rendered(dom, figures=7, tables=6)
