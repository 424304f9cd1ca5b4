"""The FastAPI application: routes of the DashScope task API, uploads, result files and health.

It is handed its services and ports (ApiParts) by the composition root, and imports no backend, engine or worker.
Calls that wait on a store run on a few threads of their own, never on the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from r2v.api import openapi, responses
from r2v.api.auth import authenticate
from r2v.api.bodies import parse_json, read_limited
from r2v.api.emulator import add_emulator
from r2v.api.extras import task_extras
from r2v.api.files import stream_response
from r2v.api.playground import add_playground
from r2v.api.videos import add_video_routes
from r2v.clock import Clock
from r2v.errors import (
    ACCESS_DENIED,
    INVALID_PARAMETER,
    MSG_SYNC_NOT_SUPPORTED,
    TOO_LARGE,
    ApiError,
    BackendUnavailable,
    new_request_id,
)
from r2v.keys import KeyStore
from r2v.metrics import ApiMetrics
from r2v.ratelimits import RateLimiter, RateLimits, RequestLimiter
from r2v.service.emulator import EmulatorService
from r2v.service.tasks import FILES_PATH, TaskService
from r2v.service.uploads import UPLOAD_PATH, UploadService
from r2v.storage.blobs import BlobStore
from r2v.storage.signing import UrlSigner, Verdict
from r2v.storage.uploads import MAX_UPLOAD_MB

MAX_CREATE_BODY = 32 * 1024 * 1024  # one 20 MB image as a base64 data URI fits, with room for the rest
CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"
# Threads that wait on the stores for the HTTP layer. One: the SQLite store serialises its calls on one connection
# anyway, and every extra thread only adds turns for the GIL (api_load.py: 1 thread 3445 queries/s, 2: 2674, the
# 40 of FastAPI's default pool: 1609). A pooled database (PostgreSQL) asks for more through ApiParts.store_threads.
STORE_THREADS = 1
T = TypeVar("T")


@dataclass
class ApiParts:
    """What the HTTP layer works with, built by the composition root (wiring.py)."""

    tasks: TaskService
    uploads: UploadService
    keys: KeyStore
    blobs: BlobStore  # result files that r2v serves itself, under URLs it signs
    signer: UrlSigner
    clock: Clock
    region: str
    rate_limits: RateLimits
    public_url: str | None = None  # base of video_url and upload_host; default: the Host the client used
    listen_address: str = "127.0.0.1:8000"  # for a client that sent no Host
    workers_alive: Callable[[], int] | None = None  # render workers of this process (None: they run elsewhere)
    limiter: RequestLimiter | None = None  # shared buckets (a cluster); None: this process's own
    store_threads: int = STORE_THREADS
    metrics: ApiMetrics | None = None  # /metrics: the task numbers of the whole store (any process answers them)
    emulator: EmulatorService | None = None  # `r2v serve --emulate`: scenarios, rules, the recorder, /r2v/emulator/


def create_app(parts: ApiParts) -> FastAPI:
    app = openapi.new_app()  # with /docs and /redoc, their assets served from a package (no CDN)
    app.openapi = lambda: _openapi_document(app)
    app.add_exception_handler(ApiError, responses.on_api_error)
    app.add_exception_handler(BackendUnavailable, responses.on_backend_unavailable)
    app.add_exception_handler(StarletteHTTPException, responses.on_http_error)
    app.add_exception_handler(RequestValidationError, responses.on_validation_error)
    app.add_exception_handler(Exception, responses.on_unexpected)
    tasks, uploads = parts.tasks, parts.uploads
    limiter = parts.limiter or RateLimiter(parts.rate_limits, parts.clock)
    store_threads = ThreadPoolExecutor(parts.store_threads, thread_name_prefix="r2v-store")

    async def off_loop(work: Callable[[], T]) -> T:
        """Run `work` (it waits on a store) on the store thread, never on the event loop."""
        return await asyncio.get_running_loop().run_in_executor(store_threads, work)

    def caller(request: Request, action: str) -> str:
        """The caller's key id, after authentication and the key's rate limit for `action` (off the loop: an
        unknown key is looked up in the key store)."""
        owner = authenticate(request, parts.keys)
        limiter.check(owner, action)
        return owner

    def base_url(request: Request) -> str:
        """Where this client reaches us: --public-url, else the Host it used."""
        if parts.public_url:
            return parts.public_url.rstrip("/")
        host = request.headers.get("host") or parts.listen_address
        return f"{request.url.scheme}://{host}"

    @app.post(CREATE_PATH, openapi_extra=openapi.CREATE)
    async def create_task(request: Request) -> Response:
        owner = await off_loop(lambda: caller(request, "submit"))
        if request.headers.get("x-dashscope-async", "").lower() != "enable":
            raise ApiError(403, ACCESS_DENIED, MSG_SYNC_NOT_SUPPORTED)
        body = parse_json(await read_limited(request, MAX_CREATE_BODY))
        oss = request.headers.get("x-dashscope-ossresourceresolve", "").lower() == "enable"
        extras = task_extras(request)
        answer = await off_loop(lambda: tasks.create(owner, body, oss, new_request_id(), extras))
        return responses.json_response(answer)

    @app.get("/api/v1/tasks/{task_id}")
    @app.get("/api/v1/tasks/{task_id}/", include_in_schema=False)
    async def query_task(task_id: str, request: Request) -> Response:
        def answer() -> dict:
            return tasks.query(caller(request, "query"), task_id, new_request_id(), base_url(request))

        return responses.json_response(await off_loop(answer))

    @app.get("/api/v1/tasks/{task_id}/plan")
    async def task_plan(task_id: str, request: Request) -> Response:
        return responses.json_response(
            await off_loop(lambda: tasks.plan(caller(request, "query"), task_id, new_request_id()))
        )

    @app.post("/api/v1/tasks/{task_id}/cancel")
    async def cancel_task(task_id: str, request: Request) -> Response:
        return responses.json_response(
            await off_loop(lambda: tasks.cancel(caller(request, "cancel"), task_id, new_request_id()))
        )

    @app.get("/api/v1/tasks", openapi_extra=openapi.LIST)
    @app.get("/api/v1/tasks/", include_in_schema=False)
    async def list_tasks(request: Request) -> Response:
        params = dict(request.query_params)
        return responses.json_response(
            await off_loop(lambda: tasks.list(caller(request, "list"), params, new_request_id()))
        )

    @app.get("/api/v1/uploads", openapi_extra=openapi.POLICY)
    async def upload_policy(request: Request) -> Response:
        q = request.query_params

        def answer() -> dict:
            owner = caller(request, "policy")
            return uploads.policy(owner, q.get("action"), q.get("model"), base_url(request), new_request_id())

        return responses.json_response(await off_loop(answer))

    @app.post(UPLOAD_PATH, openapi_extra=openapi.UPLOAD)
    async def upload_file(request: Request) -> Response:
        # Authorised by the signed policy in the form, like an OSS PostObject, not by the API key.
        length = request.headers.get("content-length")
        if length is None or not (length.isascii() and length.isdigit()):
            raise ApiError(411, INVALID_PARAMETER, "Content-Length: required for uploads")
        if int(length) > (MAX_UPLOAD_MB + 1) * 1024 * 1024:  # + 1 MB for the form's other fields
            raise ApiError(413, TOO_LARGE, f"file: the upload is larger than {MAX_UPLOAD_MB} MB")
        async with request.form(max_files=1, max_fields=32) as form:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            upload = form.get("file")
            stream = getattr(upload, "file", None)
            await run_in_threadpool(uploads.accept, fields, stream)  # mostly file copying: the general pool
        return Response(status_code=200)

    @app.get(FILES_PATH + "{name:path}", openapi_extra=openapi.FILE)
    @app.head(FILES_PATH + "{name:path}", include_in_schema=False)
    async def result_file(name: str, request: Request) -> Response:
        path = FILES_PATH + name
        verdict = parts.signer.verify(
            path,
            request.query_params.get("Expires"),
            request.query_params.get("Signature"),
            parts.clock.now_ms() / 1000,
        )
        if verdict == Verdict.EXPIRED:
            raise ApiError(403, ACCESS_DENIED, "Request has expired.")
        if verdict == Verdict.BAD:
            raise ApiError(403, ACCESS_DENIED, "The request signature we calculated does not match.")
        range_header, head = request.headers.get("range"), request.method == "HEAD"

        def answer() -> Response:  # opening (and sizing) a blob may wait on the store
            if parts.emulator is not None and parts.emulator.file_expired(name):
                raise ApiError(403, ACCESS_DENIED, "Request has expired.")
            stream = parts.blobs.open(name)
            if stream is None:
                raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
            return stream_response(stream, "video/mp4", range_header, head=head)

        return await off_loop(answer)

    @app.get("/metrics")
    async def metrics() -> Response:
        if parts.metrics is None:
            raise ApiError(404, "NotFound", "metrics are not enabled")
        body, content_type = await off_loop(parts.metrics.render)  # it asks the store: never on the event loop
        return Response(body, media_type=content_type)

    @app.get("/healthz")
    async def healthz() -> Response:
        try:
            await off_loop(tasks.check)
        except Exception as exc:  # noqa: BLE001 - health answers, it does not raise
            return responses.json_response({"status": "unavailable", "reason": f"database: {exc}"}, 503)
        alive = parts.workers_alive() if parts.workers_alive else None
        if alive == 0:
            return responses.json_response({"status": "unavailable", "reason": "no worker is running"}, 503)
        return responses.json_response({"status": "ok", "workers": alive, "region": parts.region})

    add_video_routes(app, tasks, caller, off_loop)  # /v1/videos: the OpenAI-style face of the same tasks
    if parts.emulator is not None:
        add_emulator(app, parts.emulator, off_loop, limiter)
    add_playground(app, parts.public_url)  # the web page at /, over the same public API
    return app


def _openapi_document(app: FastAPI) -> dict:
    """FastAPI's document, completed by openapi.py with what each route answers and needs (built once, cached)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        document = get_openapi(title=app.title, version=app.version, routes=app.routes)
        app.openapi_schema = openapi.complete(document)
    return app.openapi_schema
