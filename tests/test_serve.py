"""govsim serve: the variant read from the address, the jobs, the routes, bad input, the
command (port in use, a host other than loopback). The page in a real browser is
tests/test_serve_browser.py."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="govsim serve needs the serve extra (starlette)")
pytest.importorskip("uvicorn", reason="govsim serve needs the serve extra (uvicorn)")

from sim import api
from sim.errors import UsageError
from sim.serve.app import create_app
from sim.serve.jobs import Runner
from sim.serve.server import free_port, running
from sim.serve.texts import LANGS, TEXTS, t
from sim.serve.variant import (
    MAX_UPLOAD_BYTES,
    Scenarios,
    read_variant,
    variant_scenario,
)

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini.toml"


def _get(url: str, data: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def _multipart(name: str, content: bytes) -> tuple[bytes, dict[str, str]]:
    b = "govsimtestboundary"
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/toml\r\n\r\n").encode() + content + f"\r\n--{b}--\r\n"\
        .encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={b}"}


def _wait(base: str, key: str, timeout: float = 120.0) -> dict[str, Any]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        _, text = _get(f"{base}/jobs/{key}")
        s = json.loads(text)
        if s["state"] in ("done", "failed", "cancelled"):
            return s
        time.sleep(0.1)
    raise AssertionError(f"job {key} did not finish in {timeout} s")


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with running(create_app(Scenarios.from_paths([MINI]))) as url:
        yield url


# ------------------------------------------------------------------ the variant


def test_the_address_is_the_state_in_one_order() -> None:
    sc = Scenarios.from_paths([MINI])
    v = read_variant([("scenario", "mini"), ("reform", "online"), ("online.share", "0.7"),
                      ("reform", "cut_items"), ("cut_items.items", "review_b"),
                      ("servers.review", "4"), ("servers.front", "2"), ("n", "2"),
                      ("seed", "3")], sc)
    # catalogue order, the baseline's staffing left out, arguments kept as written
    assert v.specs == ["cut_items:items=review_b", "online:share=0.7"]
    assert v.servers == (("review", 4),)
    again = read_variant([tuple(p.split("=", 1)) for p in v.query().split("&")], sc)
    assert again == v and again.key("vector") == v.key("vector")
    s = variant_scenario(v, sc)
    assert s.stations["review"].servers == 4 and "review_b" not in s.items
    assert read_variant([("scenario", "mini")], sc).is_baseline


@pytest.mark.parametrize(("pairs", "message"), [
    ([("scenario", "nope")], "scenario: unknown scenario 'nope' (choose from: mini)"),
    ([("reform", "onlin")], "reform: unknown reform 'onlin'"),
    ([("reform", "online"), ("online.share", "2")],
     "online.share: reform online: share must be a probability in [0, 1] (got '2')"),
    ([("servers.nowhere", "3")], "servers.nowhere: unknown station 'nowhere' of mini"),
    ([("servers.front", "0")], "servers.front must be an integer in [1, 100,000] (got 0)"),
    ([("n", "x")], "n (replications) must be an integer (got 'x')"),
    ([("n", "500")], "replications must be an integer in [1, 50] on the page (got 500)"),
    ([("seed", "-1")], "seed must be an integer >= 0 (got -1)"),
])
def test_a_bad_address_names_the_field_the_rule_and_the_value(
        pairs: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(UsageError) as exc:
        read_variant([("scenario", "mini"), *pairs] if pairs[0][0] != "scenario" else pairs,
                     Scenarios.from_paths([MINI]))
    assert str(exc.value).startswith(message)


def test_every_text_has_both_languages() -> None:
    from sim.i18n import catalogue

    for key, entry in TEXTS.items():
        if "zh" not in entry:  # the shared catalogue has it: not translated a second time
            assert entry["en"] in catalogue(), key
            assert t("zh", key) == catalogue()[entry["en"]], key
            continue
        assert set(entry) == set(LANGS), key
        assert entry["en"] not in catalogue(), f"{key}: the catalogue translates it already"
        assert entry["zh"] != entry["en"] or not any(c.isalpha() for c in entry["en"]), key
    assert t("zh", "kpis") == "主要指标"


# ------------------------------------------------------------------ the job runner


def test_the_runner_gives_what_compare_gives_and_caches_the_baseline() -> None:
    sc = Scenarios.from_paths([MINI])
    runner = Runner(sc)
    try:
        v = read_variant([("scenario", "mini"), ("reform", "online"), ("online.share", "0.8"),
                          ("n", "2"), ("seed", "5")], sc)
        job = runner.submit(v)
        for _ in range(600):
            if job.state in ("done", "failed", "cancelled"):
                break
            time.sleep(0.1)
        assert job.state == "done", job.error
        assert job.done == job.total == 4 and not job.cached
        ref = api.compare([str(MINI), f"{MINI}@online:share=0.8"], replications=2, seed=5)
        got, want = job.result.to_dict(), ref.to_dict()  # type: ignore[union-attr]
        assert got["differences"] == want["differences"]
        assert got["scenarios"][1]["kpis"] == want["scenarios"][1]["kpis"]
        # another variant of the same baseline runs only the variant
        w = read_variant([("scenario", "mini"), ("servers.review", "5"), ("n", "2"),
                          ("seed", "5")], sc)
        job2 = runner.submit(w)
        for _ in range(600):
            if job2.state in ("done", "failed", "cancelled"):
                break
            time.sleep(0.1)
        assert job2.state == "done" and job2.total == 2
        assert runner.submit(w) is job2  # the same inputs: the same job, cached
        # one reviewer: the page says the station is overloaded (the model's own warning)
        u = read_variant([("scenario", "mini"), ("servers.review", "1"), ("n", "1")], sc)
        job3 = runner.submit(u)
        for _ in range(600):
            if job3.state in ("done", "failed", "cancelled"):
                break
            time.sleep(0.1)
        assert job3.state == "done"
        assert [r for r, w in job3.warnings if w.startswith("station 'review' is loaded at")] \
            == ["variant"], job3.warnings
        # an overloaded baseline, cached by one what-if, still warns on the next
        sc.uploads["over"] = variant_scenario(u, sc)
        jobs = []
        for share in ("0.5", "0.6"):
            j = runner.submit(read_variant([("scenario", "over"), ("reform", "online"),
                                            ("online.share", share), ("n", "1")], sc))
            for _ in range(600):
                if j.state in ("done", "failed", "cancelled"):
                    break
                time.sleep(0.1)
            jobs.append(j)
        assert jobs[1].state == "done" and jobs[1].total == 1  # the baseline came cached
        assert ("baseline", jobs[0].warnings[0][1]) in jobs[1].warnings, jobs[1].warnings
        assert jobs[0].warnings[0][1].startswith("station 'review' is loaded at 131%")
    finally:
        runner.close()


def test_a_job_is_cancelled_between_replications() -> None:
    sc = Scenarios.from_paths([MINI])
    runner = Runner(sc)
    try:
        v = read_variant([("scenario", "mini"), ("reform", "online"), ("n", "50"),
                          ("seed", "9")], sc)
        job = runner.submit(v)
        while job.state == "queued" or (job.state == "running" and job.done < 1):
            time.sleep(0.01)
        assert runner.cancel(job.key)
        for _ in range(600):
            if job.state != "running":
                break
            time.sleep(0.05)
        assert job.state == "cancelled" and job.done < job.total
        assert runner.submit(v) is job  # not restarted by a reload ...
        assert runner.submit(v, retry=True) is not job  # ... but by the form
    finally:
        runner.close()


# ------------------------------------------------------------------ the routes


def test_the_page_answers_a_what_if_and_downloads_it(base: str) -> None:
    q = "scenario=mini&reform=online&online.share=0.8&servers.review=4&n=2&seed=5"
    code, html = _get(f"{base}/?{q}")
    assert code == 200
    key = re.search(r'data-job="([0-9a-f]+)"', html)
    assert key, html[:2000]
    assert _wait(base, key.group(1))["state"] == "done"
    code, html = _get(f"{base}/?{q}&lang=zh")
    assert code == 200 and 'id="sentence"' in html and "主要指标" in html
    code, text = _get(f"{base}/download/toml?{q}")
    s = tomllib.loads(text)
    assert s["stations"]["review"]["servers"] == 4 and s["reforms"] == []
    code, text = _get(f"{base}/download/json?{q}")
    d = json.loads(text)
    ref = api.compare([str(MINI), f"{MINI}@online:share=0.8"], replications=2, seed=5,
                      reforms_per_source=[[], []])
    assert d["seed"] == 5 and d["replications"] == 2
    assert d["scenarios"][0]["kpis"] == ref.to_dict()["scenarios"][0]["kpis"]
    code, html = _get(f"{base}/download/report?{q}")
    assert code == 200 and "Paired differences" in html


@pytest.mark.parametrize(("path", "needle"), [
    ("/?scenario=mini&reform=online&online.share=abc", "share must be a probability"),
    ("/?scenario=nope", "unknown scenario"),
    ("/?scenario=mini&n=0", "replications must be an integer"),
    ("/download/json?scenario=mini&reform=nosuch", "unknown reform"),
])
def test_bad_input_is_one_line_on_the_page_and_the_server_goes_on(
        base: str, path: str, needle: str) -> None:
    code, html = _get(base + path)
    assert code == 400 and needle in html and "Traceback" not in html
    assert _get(f"{base}/?scenario=mini")[0] == 200


def test_uploads_are_checked_like_files(base: str) -> None:
    code, html = _get(f"{base}/upload", *_multipart("broken.toml", b"[stations.a]\nservers = 0\n"))
    assert code == 400 and "broken.toml:" in html and "Traceback" not in html
    code, html = _get(f"{base}/upload", *_multipart("x.toml", b"not = [toml"))
    assert code == 400 and "is not valid TOML" in html
    big = b"# " + b"x" * MAX_UPLOAD_BYTES + b"\n"
    code, html = _get(f"{base}/upload", *_multipart("big.toml", big))
    assert code == 400 and "at most" in html
    body, head = _multipart("big.toml", big * 2)  # sent in chunks, with no length given
    try:
        code, html = _get(f"{base}/upload", iter([body[k:k + 65_536]
                                                  for k in range(0, len(body), 65_536)]), head)
    except urllib.error.URLError as exc:  # the server answered and closed while we wrote
        assert isinstance(exc.reason, BrokenPipeError | ConnectionResetError), exc
    else:
        assert code == 400 and "upload: the request is over 1,000,000 bytes" in html
    code, html = _get(f"{base}/upload", b"garbage", {"Content-Type": "multipart/form-data"})
    assert code == 400 and "Traceback" not in html
    mini = MINI.read_bytes().replace(b'name = "mini"', b'name = "mine"')
    code, html = _get(f"{base}/upload?lang=zh", *_multipart("mine.toml", mini))
    assert code == 200 and re.search(r'<option value="upload-mine-[0-9a-f]{8}" selected', html)
    assert _get(f"{base}/?scenario=mini")[0] == 200


# ------------------------------------------------------------------ the command


def _govsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = _govsim("serve", str(MINI), "--port", str(port), "--host", "0.0.0.0")
    assert out.returncode == 2
    assert "warning: serving on 0.0.0.0, not loopback" in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        f"govsim: error: --port {port}: the port is in use on 0.0.0.0 (choose another with "
        "--port, or stop what serves it)")
    assert "Traceback" not in out.stderr


def test_a_bad_scenario_file_is_refused_before_serving(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\nreplications = 0\n")
    out = _govsim("serve", str(bad), "--port", str(free_port()))
    assert out.returncode == 2 and out.stderr.startswith("govsim: error: bad.toml:")


# ------------------------------------------------------------------ the answer in a sentence


@pytest.mark.filterwarnings("ignore:.*loaded at")
def test_the_sentence_says_what_the_table_says(mini: dict[str, Any]) -> None:
    from sim.model.scenario import parse
    from sim.serve.views import Computed, kpi_rows, sentence

    base = parse(mini, "mini.toml")
    sc = Scenarios()
    sc.uploads["mini"] = base
    v = read_variant([("scenario", "mini"), ("servers.review", "1"), ("n", "3"),
                      ("seed", "2")], sc)
    res = api.compare([base, variant_scenario(v, sc)], replications=3, seed=2)
    c = Computed.of(res)
    lead = next(r for r in kpi_rows(c, "en") if r["name"] == "lead_time_workdays")
    assert lead["raw"]["diff"] > 0  # one reviewer fewer: longer
    text = sentence(c, v, base, "en")
    assert text.startswith(f"With review at 1 servers, the mean lead time rises from "
                           f"{lead['base']} to {lead['variant']} working days ({lead['diff']}, "
                           f"95% CI {lead['ci'][1:-1].replace(', ', ' to ')});")
    assert "的比例由" in sentence(c, v, base, "zh")
    # a scenario without limits: no share within them in the sentence
    for item in mini["items"].values():
        item.pop("limit_workdays", None)
    for route in mini["routes"].values():
        route.pop("limit_workdays", None)
    bare = parse(mini, "mini.toml")
    sc.uploads["mini"] = bare
    res = api.compare([bare, variant_scenario(v, sc)], replications=3, seed=2)
    plain = sentence(Computed.of(res), v, bare, "en")
    assert plain.endswith(").") and "share" not in plain
    assert sentence(Computed.of(res), v, bare, "zh").endswith(")。")


@pytest.mark.filterwarnings("ignore:.*loaded at")
def test_the_hotline_leads_with_seconds_and_its_service_level() -> None:
    """The page's table and sentence lead with the scenario's [headline] in its units and
    the shared catalogue's words; no lead time in working days under seconds."""
    from sim.model.scenario import parse
    from sim.serve.views import Computed, kpi_rows, sentence

    path = ROOT / "scenarios" / "hohhot-12345-hotline.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    base = parse(raw, path.name)
    sc = Scenarios()
    sc.uploads["hotline"] = base
    v = read_variant([("scenario", "hotline"), ("servers.agents", "10"), ("n", "2"),
                      ("seed", "3")], sc)
    c = Computed.of(api.compare([base, variant_scenario(v, sc)], replications=2, seed=3))
    rows = kpi_rows(c, "en")
    assert [r["name"] for r in rows if r["headline"]] == list(base.headline.measures)
    assert rows[0]["label"] == "average speed of answer (seconds)"
    assert not any("working days" in r["label"] for r in rows)
    text = sentence(c, v, base, "en", rows)
    assert text.startswith(f"With hotline agents at 10 servers, the average speed of answer "
                           f"falls from {rows[0]['base']} to {rows[0]['variant']} seconds (")
    assert "; the share answered within 15 s goes from" in text
    zh_rows = kpi_rows(c, "zh")
    assert zh_rows[0]["label"] == "平均应答时间（秒）"  # the catalogue's, not a second copy
    assert "平均应答时间由" in sentence(c, v, base, "zh", zh_rows)
    occ = next(r for r in zh_rows if r["name"] == "stations.agents.occupancy")
    assert occ["label"] == "座席占用率：12345 话务员"
