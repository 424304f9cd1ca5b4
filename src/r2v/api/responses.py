"""JSON answers and the error envelope on the wire. Every error response r2v sends is built by `error_response`."""

from __future__ import annotations

import json
import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from r2v.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMETER,
    METHOD_NOT_ALLOWED,
    MSG_INTERNAL,
    MSG_NOT_FOUND,
    NOT_FOUND,
    SERVICE_UNAVAILABLE,
    ApiError,
    BackendUnavailable,
    envelope,
    new_request_id,
)

log = logging.getLogger(__name__)
JSON = "application/json"


def json_response(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False).encode(), status_code=status, media_type=JSON)


def error_response(status: int, code: str, message: str, request_id: str | None = None) -> Response:
    return json_response(envelope(code, message, request_id or new_request_id()), status)


async def on_api_error(request: Request, exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message)


async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's own 404/405/... in the DashScope envelope."""
    if exc.status_code == 404:
        return error_response(404, NOT_FOUND, MSG_NOT_FOUND)
    if exc.status_code == 405:
        return error_response(405, METHOD_NOT_ALLOWED, f"Method {request.method} is not allowed on {request.url.path}")
    return error_response(exc.status_code, INVALID_PARAMETER, str(exc.detail))


async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return error_response(400, INVALID_PARAMETER, f"{where or 'request'}: {first.get('msg', 'invalid')}")


async def on_backend_unavailable(request: Request, exc: BackendUnavailable) -> Response:
    """The database or the object store is down: 503, which the SDKs retry, never a hang or a 500."""
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return error_response(503, SERVICE_UNAVAILABLE, f"The service is temporarily unavailable ({exc}); retry later.")


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, INTERNAL_ERROR, MSG_INTERNAL)
