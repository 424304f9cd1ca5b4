"""The FastAPI application: routes of the DashScope task API, uploads, result files and health."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from r2v.api import openapi, responses
from r2v.api.auth import authenticate
from r2v.errors import (
    ACCESS_DENIED,
    INVALID_PARAMETER,
    MSG_SYNC_NOT_SUPPORTED,
    TOO_LARGE,
    ApiError,
    new_request_id,
)
from r2v.ratelimits import RateLimiter
from r2v.service.tasks import FILES_PATH, TaskService
from r2v.service.uploads import UPLOAD_PATH, UploadService
from r2v.storage.signing import Verdict
from r2v.storage.uploads import MAX_UPLOAD_MB
from r2v.wiring import Components

MAX_CREATE_BODY = 32 * 1024 * 1024  # one 20 MB image as a base64 data URI fits, with room for the rest
MAX_JSON_DEPTH = 64
CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"


def create_app(parts: Components, workers_alive: Callable[[], int] | None = None) -> FastAPI:
    app = FastAPI(title="r2v", version="0.1.0", docs_url=None, redoc_url=None)
    app.openapi = lambda: _openapi_document(app)
    app.add_exception_handler(ApiError, responses.on_api_error)
    app.add_exception_handler(StarletteHTTPException, responses.on_http_error)
    app.add_exception_handler(RequestValidationError, responses.on_validation_error)
    app.add_exception_handler(Exception, responses.on_unexpected)
    tasks = TaskService(parts)
    uploads = UploadService(parts)
    settings = parts.settings
    limiter = RateLimiter(settings.rate_limits, parts.clock)

    def caller(request: Request, action: str) -> str:
        """The caller's key id, after authentication and the key's rate limit for `action`."""
        owner = authenticate(request, parts.keys)
        limiter.check(owner, action)
        return owner

    def base_url(request: Request) -> str:
        """Where this client reaches us: --public-url, else the Host it used."""
        if settings.public_url:
            return settings.public_url.rstrip("/")
        host = request.headers.get("host") or f"{settings.host}:{settings.port}"
        return f"{request.url.scheme}://{host}"

    @app.post(CREATE_PATH, openapi_extra=openapi.CREATE)
    async def create_task(request: Request) -> Response:
        owner = caller(request, "submit")
        if request.headers.get("x-dashscope-async", "").lower() != "enable":
            raise ApiError(403, ACCESS_DENIED, MSG_SYNC_NOT_SUPPORTED)
        body = _parse_json(await _read_limited(request, MAX_CREATE_BODY))
        oss = request.headers.get("x-dashscope-ossresourceresolve", "").lower() == "enable"
        answer = await run_in_threadpool(tasks.create, owner, body, oss, new_request_id())
        return responses.json_response(answer)

    @app.get("/api/v1/tasks/{task_id}")
    @app.get("/api/v1/tasks/{task_id}/", include_in_schema=False)
    async def query_task(task_id: str, request: Request) -> Response:
        owner = caller(request, "query")
        return responses.json_response(tasks.query(owner, task_id, new_request_id(), base_url(request)))

    @app.get("/api/v1/tasks/{task_id}/plan")
    async def task_plan(task_id: str, request: Request) -> Response:
        owner = caller(request, "query")
        return responses.json_response(tasks.plan(owner, task_id, new_request_id()))

    @app.post("/api/v1/tasks/{task_id}/cancel")
    async def cancel_task(task_id: str, request: Request) -> Response:
        owner = caller(request, "cancel")
        return responses.json_response(tasks.cancel(owner, task_id, new_request_id()))

    @app.get("/api/v1/tasks", openapi_extra=openapi.LIST)
    @app.get("/api/v1/tasks/", include_in_schema=False)
    async def list_tasks(request: Request) -> Response:
        owner = caller(request, "list")
        return responses.json_response(tasks.list(owner, dict(request.query_params), new_request_id()))

    @app.get("/api/v1/uploads", openapi_extra=openapi.POLICY)
    async def upload_policy(request: Request) -> Response:
        owner = caller(request, "policy")
        q = request.query_params
        return responses.json_response(
            uploads.policy(owner, q.get("action"), q.get("model"), base_url(request), new_request_id())
        )

    @app.post(UPLOAD_PATH)
    async def upload_file(request: Request) -> Response:
        # Authorised by the signed policy in the form, like an OSS PostObject, not by the API key.
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise ApiError(411, INVALID_PARAMETER, "Content-Length: required for uploads")
        if int(length) > (MAX_UPLOAD_MB + 1) * 1024 * 1024:  # + 1 MB for the form's other fields
            raise ApiError(413, TOO_LARGE, f"file: the upload is larger than {MAX_UPLOAD_MB} MB")
        async with request.form(max_files=1, max_fields=32) as form:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            upload = form.get("file")
            stream = getattr(upload, "file", None)
            await run_in_threadpool(uploads.accept, fields, stream)
        return Response(status_code=200)

    @app.get(FILES_PATH + "{name:path}")
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
        local = parts.blobs.local_path(name)
        if local is None:
            raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
        return FileResponse(local, media_type="video/mp4")

    @app.get("/healthz")
    async def healthz() -> Response:
        try:
            parts.db.execute("SELECT 1").fetchone()
        except Exception as exc:  # noqa: BLE001 - health answers, it does not raise
            return responses.json_response({"status": "unavailable", "reason": f"database: {exc}"}, 503)
        alive = workers_alive() if workers_alive else None
        if alive == 0:
            return responses.json_response({"status": "unavailable", "reason": "no worker is running"}, 503)
        return responses.json_response({"status": "ok", "workers": alive, "region": settings.region})

    return app


def _openapi_document(app: FastAPI) -> dict:
    """FastAPI's document plus the bearer-key scheme every task route needs (built once, then cached)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        document = get_openapi(title=app.title, version=app.version, routes=app.routes)
        document.setdefault("components", {})["securitySchemes"] = openapi.SECURITY
        document["security"] = [{"ApiKey": []}]
        app.openapi_schema = document
    return app.openapi_schema


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, TOO_LARGE, f"body: the request body is larger than {limit // (1024 * 1024)} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, TOO_LARGE, f"body: the request body is larger than {limit // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(raw: bytes) -> object:
    if not raw.strip():
        raise ApiError(400, INVALID_PARAMETER, "body: the request body is empty; a JSON object is required")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
        # A lone surrogate (\ud800) parses, but no UTF-8 store or log can take it: refuse it here.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise ApiError(400, INVALID_PARAMETER, "body: a string holds an unpaired surrogate escape") from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, INVALID_PARAMETER, f"body: malformed JSON ({str(exc)[:120]})") from None
    if _depth(body) > MAX_JSON_DEPTH:
        raise ApiError(400, INVALID_PARAMETER, f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return body


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: object, level: int = 0) -> int:
    """How many arrays and objects are nested on the deepest path (a scalar adds none; `{"a": 1}` is 1 deep),
    counted no further than one past the limit."""
    if not isinstance(value, dict | list):
        return level
    if level >= MAX_JSON_DEPTH:
        return level + 1
    children = value.values() if isinstance(value, dict) else value
    return max((_depth(child, level + 1) for child in children), default=level + 1)
