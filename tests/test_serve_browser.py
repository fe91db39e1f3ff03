"""The planner's page in a real browser: headless Chromium driven by Selenium.

The test starts the page on a free loopback port, opens the construction scenario,
switches a reform on, waits for the answer, checks the KPI table against
:func:`sim.compare` for the same seed and replications, switches to Chinese and checks
the labels, and saves a screenshot whose figure it inspects. Selenium is pointed at the
system's driver (Debian's ``chromium-driver``: /usr/bin/chromedriver); nothing downloads a
browser. Skipped, saying why, when the browser, its driver or Selenium is missing.
"""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import chromium

ROOT = Path(__file__).resolve().parent.parent
CONSTRUCTION = ROOT / "scenarios" / "hohhot-construction-2023.toml"
HOTLINE = ROOT / "scenarios" / "hohhot-12345-hotline.toml"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPS, SEED = 2, 11
#: where the screenshots go (kept after the test for a person to look at)
SHOTS = Path(os.environ.get("GOVSIM_SCREENSHOTS", ROOT / ".screenshots"))


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (pip install '.[test]')")
    pytest.importorskip("starlette", reason="govsim serve needs the serve extra (starlette)")
    browser = chromium()
    if browser is None:
        pytest.skip("no browser installed: apt-get install chromium chromium-driver")
    if not Path(CHROMEDRIVER).exists():
        pytest.skip(f"no {CHROMEDRIVER}: apt-get install chromium-driver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                "--window-size=1400,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    d = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    d.set_page_load_timeout(120)
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    """``govsim serve`` as a user starts it, on a free loopback port."""
    from sim.serve.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sim", "serve", str(CONSTRUCTION), str(HOTLINE),
                             "--port", str(port), "--workers", "1"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(url + "/jobs/none", timeout=5):
                    pass
            except urllib.error.HTTPError:
                break  # it answers (404: no such job)
            except OSError:
                if proc.poll() is not None or time.monotonic() - t0 > 240:
                    out, err = proc.communicate(timeout=10) if proc.poll() is not None \
                        else ("", "")
                    pytest.fail(f"govsim serve did not start: {err or out}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            err = proc.stderr.read()
            assert "Traceback" not in err, err


def _wait_for(d: Any, css: str, timeout: float = 240.0) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def _figure_pixels(png: bytes) -> np.ndarray:
    from PIL import Image  # matplotlib's dependency: here whenever matplotlib is

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _near(px: np.ndarray, hex_color: str, tol: int = 40) -> int:
    rgb = np.array([int(hex_color[k:k + 2], 16) for k in (1, 3, 5)], dtype=np.int16)
    return int((np.abs(px - rgb).sum(axis=2) < tol).sum())


def test_the_page_answers_a_reform_in_both_languages(driver: Any, base: str) -> None:
    from selenium.webdriver.common.by import By

    from sim import api

    SHOTS.mkdir(parents=True, exist_ok=True)
    d = driver
    d.get(f"{base}/?scenario={CONSTRUCTION.stem}&n={REPS}&seed={SEED}")
    assert d.find_element(By.ID, "page-title").text == "govsim: what if?"
    assert d.find_element(By.ID, "idle").is_displayed()
    d.find_element(By.ID, "reform-parallel").click()
    d.find_element(By.ID, "run").click()
    sentence = _wait_for(d, "#sentence")
    assert "reform=parallel" in d.current_url  # the address holds the variant
    assert sentence.text.startswith("With parallel approval, the mean lead time falls from")
    seconds = re.search(r"computed in ([0-9.]+) s", d.find_element(
        By.CSS_SELECTOR, "#result .note").text).group(1)  # type: ignore[union-attr]

    # the numbers are govsim compare's (sim.compare) for the same seed and replications
    ref = api.compare([str(CONSTRUCTION), f"{CONSTRUCTION}@parallel"], replications=REPS,
                      seed=SEED).table()
    b, o = ref.columns.get_level_values(0).unique()
    rows = d.find_elements(By.CSS_SELECTOR, "#kpis tr[data-kpi]")
    assert len(rows) >= 8
    for row in rows:
        kpi = row.get_attribute("data-kpi")
        for attr, (lab, stat) in (("data-base", (b, "mean")), ("data-variant", (o, "mean")),
                                  ("data-diff", (o, "diff")), ("data-lo", (o, "diff_ci95_lo")),
                                  ("data-hi", (o, "diff_ci95_hi"))):
            got, want = float(row.get_attribute(attr)), float(ref.loc[kpi, (lab, stat)])
            assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(
                want, rel=1e-12, abs=1e-12), (kpi, attr, got, want)
    lead = d.find_element(By.CSS_SELECTOR, '#kpis tr[data-kpi="lead_time_workdays"]')
    shown = lead.find_elements(By.TAG_NAME, "td")
    assert shown[1].text == f"{float(ref.loc['lead_time_workdays', (b, 'mean')]):,.1f}"

    # the figure: two curves drawn, in the two colours, on a page that is not blank
    d.set_window_size(1400, int(d.execute_script("return document.body.scrollHeight")) + 40)
    d.save_screenshot(str(SHOTS / "serve-en.png"))
    fig = d.find_element(By.CSS_SELECTOR, "#figure svg")
    png = fig.screenshot_as_png
    (SHOTS / "serve-figure.png").write_bytes(png)
    px = _figure_pixels(png)
    assert px.shape[0] > 200 and px.shape[1] > 500
    assert _near(px, "#4e79a7") > 300 and _near(px, "#e15759") > 300  # baseline, variant
    assert (px.sum(axis=2) < 600).mean() > 0.02  # axes, labels and curves: not blank

    # Chinese: the same result (cached), its labels translated
    d.find_element(By.ID, "lang-switch").click()
    _wait_for(d, "body[data-lang=zh] #sentence")
    assert "lang=zh" in d.current_url
    assert d.find_element(By.ID, "page-title").text == "govsim:改革推演"
    assert d.find_element(By.ID, "kpis-heading").text == "主要指标"
    zh = d.find_element(By.ID, "sentence").text
    assert zh.startswith("实施并联审批后,平均办理时长由") and "降至" in zh and "工作日" in zh
    # the same job, not run again: the same seconds on its settings line
    assert re.findall(r"[0-9]+\.[0-9]+ (?:s|秒)", d.find_element(By.CSS_SELECTOR, "#result .note")
                      .text)[0].split()[0] == seconds
    first = d.find_element(By.CSS_SELECTOR, "#kpis tr[data-kpi] td").text
    assert first == "平均办理时长（工作日）"  # the shared catalogue's name and unit
    # the departments by the scenario's Chinese names (label_zh), not their keys
    from sim.model import scenario as scenario_io

    stations = scenario_io.load(CONSTRUCTION).stations
    shown = {r.get_attribute("data-station"): r.find_element(By.TAG_NAME, "td").text
             for r in d.find_elements(By.CSS_SELECTOR, "#stations tr[data-station]")}
    assert shown and all(shown[k] == stations[k].label_zh for k in shown
                         if k in stations and stations[k].label_zh)
    assert any(k in stations and shown[k] == stations[k].label_zh != k for k in shown)
    d.set_window_size(1400, int(d.execute_script("return document.body.scrollHeight")) + 40)
    d.save_screenshot(str(SHOTS / "serve-zh.png"))
    assert _near(_figure_pixels((SHOTS / "serve-zh.png").read_bytes()), "#e15759") > 300


def test_the_hotline_answers_in_seconds_and_service_level(driver: Any, base: str) -> None:
    """The hotline leads with its [headline]: speed of answer in seconds and the share
    answered within 15 and 20 s; no lead time in working days anywhere on the page."""
    import tomllib

    from selenium.webdriver.common.by import By

    from sim import api
    from sim.model import scenario as scenario_io

    d = driver
    d.set_window_size(1400, 1000)
    d.get(f"{base}/?scenario={HOTLINE.stem}&servers.agents=10&n={REPS}&seed={SEED}&run=1")
    sentence = _wait_for(d, "#sentence").text
    assert sentence.startswith("With hotline agents at 10 servers, the average speed of "
                               "answer falls from"), sentence
    assert " seconds (" in sentence and "answered within 15 s" in sentence
    assert "working days" not in d.find_element(By.TAG_NAME, "body").text
    heads = [r.get_attribute("data-kpi") for r in d.find_elements(
        By.CSS_SELECTOR, "#kpis tr.headline[data-kpi]")]
    assert heads == ["answer_seconds", "answered_within_15s_share", "answered_within_20s_share",
                     "abandoned_share", "stations.agents.occupancy"]
    # the numbers are sim.compare's for the same staffing, seed and replications
    raw = tomllib.loads(HOTLINE.read_text(encoding="utf-8"))
    raw["stations"]["agents"]["servers"] = 10
    more = scenario_io.parse(raw, HOTLINE.name)
    ref = api.compare([str(HOTLINE), more], replications=REPS, seed=SEED)
    tab = ref.table()
    b, o = tab.columns.get_level_values(0).unique()
    row = d.find_element(By.CSS_SELECTOR, '#kpis tr[data-kpi="answer_seconds"]')
    for attr, (lab, stat) in (("data-base", (b, "mean")), ("data-variant", (o, "mean")),
                              ("data-diff", (o, "diff"))):
        assert float(row.get_attribute(attr)) == pytest.approx(
            float(tab.loc["answer_seconds", (lab, stat)]), rel=1e-12)
    assert float(tab.loc["answer_seconds", (o, "diff")]) < 0  # one agent more: faster
    occ = d.find_element(By.CSS_SELECTOR, '#kpis tr[data-kpi="stations.agents.occupancy"]')
    for attr, k in (("data-base", 0), ("data-variant", 1)):
        st = ref.results[k].stations
        assert float(occ.get_attribute(attr)) == pytest.approx(
            float(st[st["station"] == "agents"]["utilization"].mean()), rel=1e-9)
    d.set_window_size(1400, int(d.execute_script("return document.body.scrollHeight")) + 40)
    d.save_screenshot(str(SHOTS / "serve-hotline-en.png"))
    # in Chinese: seconds (秒) and the agents' Chinese name
    d.find_element(By.ID, "lang-switch").click()
    zh = _wait_for(d, "body[data-lang=zh] #sentence").text
    assert zh.startswith("实施12345 话务员调整为 10 人后,平均应答时间由") and "秒降至" in zh, zh
    assert "工作日" not in d.find_element(By.TAG_NAME, "body").text
    d.set_window_size(1400, int(d.execute_script("return document.body.scrollHeight")) + 40)
    d.save_screenshot(str(SHOTS / "serve-hotline-zh.png"))


def test_a_run_shows_its_progress_and_can_be_cancelled(driver: Any, base: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d = driver
    d.set_window_size(1400, 1000)
    d.get(f"{base}/?scenario={CONSTRUCTION.stem}&reform=online&n=50&seed={SEED}")
    bar = _wait_for(d, "#progress")
    WebDriverWait(d, 240).until(lambda _: int(bar.get_attribute("value") or 0) >= 1)
    assert "Running:" in d.find_element(By.ID, "progress-text").text
    d.save_screenshot(str(SHOTS / "serve-progress.png"))
    d.find_element(By.ID, "cancel").click()
    _wait_for(d, "#cancelled", timeout=120)
    assert d.find_element(By.ID, "cancelled").text == "Cancelled."
    # the server goes on: a bad argument is one line on the page, then a good page
    d.get(f"{base}/?scenario={CONSTRUCTION.stem}&reform=online&online.share=1.5")
    err = d.find_element(By.ID, "error").text
    assert err == ("Error: online.share: reform online: share must be a probability in "
                   "[0, 1] (got '1.5')")
    d.save_screenshot(str(SHOTS / "serve-error.png"))
    # what the planner typed is kept, to be corrected
    assert d.find_element(By.ID, "reform-online").is_selected()
    assert d.find_element(By.NAME, "online.share").get_attribute("value") == "1.5"
    d.get(f"{base}/?scenario={CONSTRUCTION.stem}")
    assert d.find_element(By.ID, "idle").is_displayed()
