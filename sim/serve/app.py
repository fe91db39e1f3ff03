"""The planner's page as a Starlette app: routes, templates, downloads.

Routes:

``GET /``
    the page: the form (scenario, reforms and their arguments, staffing, replications,
    seed) filled from the address, and, when the address asks for a change, its
    comparison with the baseline (started on the worker pool if it is not cached; the
    page polls its progress and reloads when it is done);
``GET /jobs/{key}``, ``POST /jobs/{key}/cancel``
    a job's progress as JSON, and cancelling it;
``POST /upload``
    a scenario file (multipart field ``file``), checked like a file; back to the page;
``GET /download/{toml,json,report}?...``
    the variant's scenario TOML, the comparison's JSON (``govsim compare --json``'s
    contract) and its HTML report (``govsim compare --out``'s page).

A bad input (a scenario, reform, argument, station or number the rules refuse; a
malformed or oversized upload) is one line on the page with status 400; nothing a
request sends reaches a traceback, and the server goes on serving.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sim.engines import DEFAULT_ENGINE
from sim.errors import GovsimError
from sim.files import json_text
from sim.model.scenario import to_toml
from sim.reforms import CATALOGUE
from sim.serve import views
from sim.serve.jobs import Job, Runner
from sim.serve.texts import label, pick_lang, t
from sim.serve.variant import (
    MAX_UPLOAD_BYTES,
    Scenarios,
    Variant,
    read_variant,
    variant_scenario,
)

_ENV = Environment(loader=PackageLoader("sim.serve", "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True,
                   lstrip_blocks=True)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class Page:
    """The app's state: the scenarios on offer, the job runner, the address it serves."""

    def __init__(self, scenarios: Scenarios, runner: Runner, host: str = "127.0.0.1") -> None:
        self.scenarios = scenarios
        self.runner = runner
        self.host = host

    # ------------------------------------------------------------------ rendering

    def render(self, lang: str, variant: Variant | None, scenario_name: str | None,
               error: str = "", job: Job | None = None, status: int = 200,
               raw: list[tuple[str, str]] | None = None) -> HTMLResponse:
        """The page; without a variant (its address was refused) the form keeps what the
        planner typed (``raw``), to be corrected."""
        ctx: dict[str, Any] = {"lang": lang, "T": lambda key, **kw: t(lang, key, **kw),
                               "error": error, "job": job, "host": self.host,
                               "upload_limit": MAX_UPLOAD_BYTES // 1000,
                               "scenario_names": self.scenarios.names,
                               "other_lang": "en" if lang == "zh" else "zh"}
        name = variant.scenario if variant else scenario_name
        base = None
        if name is not None:
            with contextlib.suppress(GovsimError):
                base = self.scenarios.baseline(name)
        ctx["scenario"] = name
        ctx["variant"] = variant
        ctx["query"] = variant.query() if variant else (f"scenario={name}" if name else "")
        given = dict(raw or [])
        if variant is not None:
            on = {n: dict(args) for n, args in variant.reforms}
            servers = {k: str(n) for k, n in variant.servers}
            n_text, seed_text = str(variant.replications), str(variant.seed)
        else:
            on = {v: {a.name: given.get(f"{v}.{a.name}", "") for a in CATALOGUE[v].args}
                  for k, v in (raw or []) if k == "reform" and v in CATALOGUE}
            servers = {k[len("servers."):]: v for k, v in given.items()
                       if k.startswith("servers.")}
            n_text = given.get("n", "5")
            seed_text = given.get("seed", str(base.run.seed) if base else "0")
        ctx["reforms"] = [{
            "name": r.name, "title": views.reform_title(r.name, lang), "summary": r.summary,
            "on": r.name in on,
            "args": [{"name": a.name, "type": a.type_text(lang),
                      "default": a.default_text(), "required": a.required,
                      "value": on.get(r.name, {}).get(a.name, "")}
                     for a in r.args]} for r in CATALOGUE.values()]
        ctx["stations"] = ([{"name": s, "label": label(st, s, lang), "base": st.servers,
                             "value": servers.get(s, str(st.servers))}
                            for s, st in base.stations.items()] if base else [])
        ctx["n"], ctx["seed"] = n_text, seed_text
        if job is not None and job.state == "done" and job.view is not None and base:
            c = job.view
            rows = views.kpi_rows(c, lang)  # the scenario's headline measures first
            ctx["result"] = {
                "sentence": views.sentence(c, job.variant, base, lang, rows),
                "kpis": rows, "svg": views.cdf_svg(c, lang),
                # lead times in days are the answer only where the service counts days
                "in_days": not rows or rows[0]["kind"] not in ("seconds", "share"),
                "split": views.split_rows(c, lang),
                "stations": views.station_rows(c, base, job.scenario, lang,
                                               seconds=bool(rows) and rows[0]["kind"] == "seconds"),
                "wait_seconds": bool(rows) and rows[0]["kind"] == "seconds",
                "settings": t(lang, "settings", n=c.res.replications, seed=c.res.seed,
                              engine=c.res.engine, seconds=f"{job.seconds:.2f}",
                              cached=t(lang, "from_cache") if job.cached else "")}
        html = _ENV.get_template("page.html").render(**ctx)
        return HTMLResponse(html, status_code=status)

    # ------------------------------------------------------------------ routes

    async def index(self, request: Request) -> Response:
        lang = pick_lang(request.query_params.get("lang"))
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        wanted = dict(params).get("scenario")
        try:
            v = read_variant(params, self.scenarios)
        except GovsimError as exc:
            name = wanted if wanted in self.scenarios.names else None
            return self.render(lang, None, name or next(iter(self.scenarios.names), None),
                               error=_one_line(exc), status=400,
                               raw=params if name else None)
        retry = request.query_params.get("go") == "1"  # the form sent: run again if need be
        job = None if v.is_baseline else self.runner.submit(v, retry=retry)
        if job is not None and job.state == "failed":
            return self.render(lang, v, None, error=job.error, job=job, status=400)
        return self.render(lang, v, None, job=job)

    async def job_status(self, request: Request) -> Response:
        job = self.runner.job(request.path_params["key"])
        if job is None:
            return JSONResponse({"state": "unknown", "error": "no such job"}, status_code=404)
        return JSONResponse(job.status())

    async def job_cancel(self, request: Request) -> Response:
        ok = self.runner.cancel(request.path_params["key"])
        return JSONResponse({"cancelled": ok})

    async def upload(self, request: Request) -> Response:
        lang = pick_lang(request.query_params.get("lang"))
        name = None
        try:
            length = request.headers.get("content-length") or "0"
            size = int(length) if length.isdigit() else 0
            if size > MAX_UPLOAD_BYTES + 10_000:
                raise GovsimError(f"upload: the request is {size:,} bytes: a scenario must be "
                                  f"at most {MAX_UPLOAD_BYTES:,} bytes")
            seen = 0

            async def receive() -> Any:  # a body without a length is cut off at the limit too
                nonlocal seen
                message = await request.receive()
                seen += len(message.get("body", b""))
                if seen > MAX_UPLOAD_BYTES + 10_000:
                    raise GovsimError(f"upload: the request is over {MAX_UPLOAD_BYTES:,} "
                                      "bytes: a scenario must be at most "
                                      f"{MAX_UPLOAD_BYTES:,} bytes")
                return message

            form = await Request(request.scope, receive).form(max_files=1, max_fields=10)
            f = form.get("file")
            if f is None or isinstance(f, str):
                raise GovsimError("upload: no file was uploaded (choose a .toml scenario file)")
            data = await f.read(MAX_UPLOAD_BYTES + 1)
            name = self.scenarios.add_upload(f.filename or "upload.toml", data)
        except GovsimError as exc:
            return self.render(lang, None, next(iter(self.scenarios.names), None),
                               error=_one_line(exc), status=400)
        except Exception as exc:  # a malformed multipart body: one line, no traceback
            return self.render(lang, None, next(iter(self.scenarios.names), None),
                               error=f"upload: cannot be read ({_one_line(exc)})", status=400)
        return RedirectResponse(f"/?scenario={name}&lang={lang}", status_code=303)

    async def download(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        lang = pick_lang(request.query_params.get("lang"))
        params = [(k, x) for k, x in request.query_params.multi_items() if k != "lang"]
        try:
            v = read_variant(params, self.scenarios)
        except GovsimError as exc:
            return self.render(lang, None, None, error=_one_line(exc), status=400)
        stem = v.scenario + ("-variant" if not v.is_baseline else "")
        if kind not in ("toml", "json", "report"):
            return self.render(lang, v, None, error=t(lang, "not_found"), status=404)
        if kind == "toml":
            try:
                text = to_toml(variant_scenario(v, self.scenarios))
            except GovsimError as exc:
                return self.render(lang, v, None, error=_one_line(exc), status=400)
            return Response(text, media_type="application/toml", headers=_attach(f"{stem}.toml"))
        job = self.runner.job(v.key(self.runner.engine))
        if job is None or job.state != "done" or job.result is None:
            return self.render(lang, v, None, job=job, status=409,
                               error=t(lang, "queued"))
        if kind == "json":
            return Response(json_text(job.result.to_dict()), media_type="application/json",
                            headers=_attach(f"{stem}.json"))
        html = await run_in_threadpool(_report_html, job.result)  # figures: off the loop
        return HTMLResponse(html, headers=_attach(f"{stem}-report.html"))


def _report_html(res: Any) -> str:
    """The comparison's HTML report (``govsim compare --out``'s page), self-contained."""
    from sim.present.compare_report import write_compare_report  # matplotlib: on demand

    with tempfile.TemporaryDirectory(prefix="govsim-report-") as tmp:
        return write_compare_report(res, Path(tmp) / "report").read_text(encoding="utf-8")


def _attach(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}"'}


async def _server_error(request: Request, exc: Exception) -> Response:
    # nothing a request sends shows a traceback: one line, and the server goes on
    return HTMLResponse(f"<!DOCTYPE html><p>govsim: error: {_one_line(exc)}</p>",
                        status_code=500)


def create_app(scenarios: Scenarios, workers: int = 1, engine: str = DEFAULT_ENGINE,
               host: str = "127.0.0.1") -> Starlette:
    """The page's app over ``scenarios``; its runs on a job thread spreading replications
    over ``workers`` processes."""
    runner = Runner(scenarios, workers=workers, engine=engine)
    page = Page(scenarios, runner, host)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        runner.close()

    app = Starlette(routes=[
        Route("/", page.index),
        Route("/jobs/{key}", page.job_status),
        Route("/jobs/{key}/cancel", page.job_cancel, methods=["POST"]),
        Route("/upload", page.upload, methods=["POST"]),
        Route("/download/{kind:str}", page.download),
    ], exception_handlers={500: _server_error, Exception: _server_error}, lifespan=lifespan)
    app.state.page = page
    return app
