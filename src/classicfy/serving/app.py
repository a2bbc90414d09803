"""`classicfy serve`: one trained run behind an HTTP API and a web page (FastAPI on uvicorn).

The run is loaded once, as the `Classifier` that `classicfy predict` and the Python API use, so
an answer over HTTP is the answer on the command line. Uploads stream to a temporary file (never
the whole body in memory); at most `max_concurrent` recordings are classified at once, and a
request beyond that is answered 503 at once, before its body is read.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from classicfy.errors import AudioError
from classicfy.predict import Classifier
from classicfy.rundir import RunFolder

PAGE_FILES = ("index.html", "app.js", "style.css")
MEDIA_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
HEADLINE = ("accuracy", "macro_f1", "n")
RETRY_AFTER_S = 2
UPLOAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class ServeSettings:
    """What `classicfy serve` was asked for."""

    run: Path
    max_upload_mb: float = 200.0
    max_concurrent: int = 2
    top_k: int = 5
    device: str = "auto"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)


def error(status: int, reason: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers or None)


class UploadLimit:
    """Answer 413 for a body larger than the limit: at once when its Content-Length says so, else as
    soon as the bytes received pass it (a chunked upload), before any of it is kept."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(scope, receive, send)
        received, exceeded, started = 0, False, False

        async def counted() -> Message:
            # Past the limit the app hears a disconnected client: it stops reading and drops the upload.
            nonlocal received, exceeded
            message = {"type": "http.disconnect"} if exceeded else await receive()
            received += len(message.get("body", b""))
            exceeded = exceeded or received > self.max_bytes
            return {"type": "http.disconnect"} if exceeded else message

        async def answered(message: Message) -> None:
            nonlocal started
            if not exceeded:
                started = True
                await send(message)

        await self.app(scope, counted, answered)
        if exceeded and not started:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = f"{self.max_bytes / 2**20:g} MB"
        await error(413, f"the upload is larger than the server's limit of {limit}")(scope, receive, send)


def model_summary(run: RunFolder, classifier: Classifier) -> dict[str, Any]:
    """Labels, models, ensemble weights, feature configs and the run's headline test metrics."""
    headline = {
        name: {
            level: {key: levels[level][key] for key in HEADLINE if key in levels[level]}
            for level in ("segment", "recording")
            if levels.get(level)
        }
        for name, levels in run.read_test_metrics().items()
    }
    return {
        "run": run.path.name,
        "labels": classifier.labels,
        "models": list(classifier.models),
        "ensemble": dict(zip(classifier.ensemble.members, map(float, classifier.ensemble.weights), strict=True)),
        "features": [config.to_dict() for config in classifier.feature_configs],
        "metrics": headline,
    }


def create_app(settings: ServeSettings) -> FastAPI:
    """The app for one run; the run is loaded here, once (a damaged run fails before serving)."""
    run = RunFolder(settings.run)
    classifier = Classifier.load(settings.run, device=settings.device)
    summary = model_summary(run, classifier)
    slots = asyncio.Semaphore(settings.max_concurrent)
    state = {"ready": False}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with tempfile.TemporaryDirectory(prefix="classicfy-serve-") as folder:
            app.state.uploads = Path(folder)
            state["ready"] = True
            yield
            state["ready"] = False  # shutting down: in-flight requests finish, new ones are refused

    app = FastAPI(title="classicfy", summary=f"Who wrote this? Answers of the run {run.path.name}", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ready = state["ready"]
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    @app.get("/v1/model")
    async def model() -> dict[str, Any]:
        return summary

    @app.post("/v1/predict", responses={413: {}, 422: {}, 503: {}})
    async def predict(request: Request) -> JSONResponse:
        """Classify one uploaded recording (multipart field `file`): the JSON `classicfy predict
        --format json` prints for it."""
        if not state["ready"]:
            return error(503, "the server is shutting down", **{"Retry-After": str(RETRY_AFTER_S)})
        if slots.locked():
            busy = f"{settings.max_concurrent} recordings are being classified; try again shortly"
            return error(503, busy, **{"Retry-After": str(RETRY_AFTER_S)})
        async with slots:
            return await _classify_upload(request, classifier, app.state.uploads, settings.top_k)

    for name in PAGE_FILES:
        _serve_page_file(app, name)
    return app


async def _classify_upload(request: Request, classifier: Classifier, folder: Path, top_k: int) -> JSONResponse:
    try:
        form = await request.form(max_files=1, max_fields=4)
    except ClientDisconnect:
        return error(400, "the client went away during the upload")
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return error(422, "send the recording as a multipart form field named 'file'")
    name = Path(upload.filename or "upload").name
    with tempfile.NamedTemporaryFile(dir=folder, suffix=Path(name).suffix[:16]) as kept:
        await run_in_threadpool(shutil.copyfileobj, upload.file, kept, UPLOAD_CHUNK)
        kept.flush()
        await upload.close()
        try:
            prediction = await run_in_threadpool(classifier.predict_one, Path(kept.name))
        except AudioError as problem:
            return error(422, f"{name}: {problem.reason}")
    return JSONResponse(prediction.to_json(top_k) | {"path": name})


def _serve_page_file(app: FastAPI, name: str) -> None:
    path = Path(str(resources.files("classicfy.serving") / "page" / name))
    route = "/" if name == "index.html" else f"/{name}"

    async def page_file() -> FileResponse:
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix])

    app.get(route, include_in_schema=False)(page_file)


def serve_app(settings: ServeSettings) -> ASGIApp:
    """The app with its upload limit: what uvicorn serves."""
    return UploadLimit(create_app(settings), settings.max_upload_bytes)
