"""The OpenAI-style video API, `/v1/videos`, a second face over the same tasks, keys, limits and engines as the
DashScope routes (service/videos.py). Its errors are OpenAI's envelope, `{"error": {"message", "type", "param",
"code"}}`, built here only (`error_response`); the DashScope envelope never answers on these routes."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from r2v.api import responses
from r2v.api.bodies import parse_json, read_limited
from r2v.api.extras import task_extras
from r2v.api.files import stream_response
from r2v.errors import ApiError, BackendUnavailable, invalid, new_request_id
from r2v.service.tasks import TaskService
from r2v.service.videos import Upload, VideoService
from r2v.storage.uploads import MAX_UPLOAD_MB

log = logging.getLogger(__name__)

PREFIX = "/v1/videos"
MAX_FILES = 12  # 5 references, a first frame, 5 voices, and one spare
MAX_BODY = 2 * (MAX_UPLOAD_MB + 1) * 1024 * 1024
MAX_JSON_BODY = 32 * 1024 * 1024
POLL_AFTER_MS = "500"  # the openai SDK's poll() waits this long between retrieves (header openai-poll-after-ms)
_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
          404: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_exceeded"}  # fmt: skip
_CODES = {401: "invalid_api_key", 404: "not_found", 413: "request_too_large", 429: "rate_limit_exceeded"}
_FIELD = re.compile(r"^[A-Za-z_][\w.\[\]]*$")
_FORM_KEY = re.compile(r"^input_reference\[(image_url|video_url|file_id)\]$")

Handler = Callable[..., Awaitable[Response]]


def error_response(status: int, message: str, param: str | None = None, code: str | None = None) -> Response:
    """OpenAI's error envelope; `param` names the request field at fault."""
    kind = _TYPES.get(status, "server_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code or _CODES.get(status)}}
    return responses.json_response(body, status)


def from_api_error(exc: ApiError) -> Response:
    """r2v's error (its message starts with the field: "seconds: must be ...") in OpenAI's envelope."""
    head, sep, _ = exc.message.partition(": ")
    param = head if sep and _FIELD.match(head) else None
    code = None if exc.status in _CODES or exc.status >= 500 else exc.code
    if exc.status == 400:
        code = "invalid_value" if exc.code.startswith("Invalid") else exc.code
    return error_response(exc.status, exc.message, param, code)


def _openai_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def answer(*args: Any, **kwargs: Any) -> Response:
        try:
            return await handler(*args, **kwargs)
        except ApiError as exc:
            return from_api_error(exc)
        except BackendUnavailable as exc:
            log.warning("%s: %s", PREFIX, exc)
            return error_response(503, f"The service is temporarily unavailable ({exc}); retry later.")
        except StarletteHTTPException as exc:  # the form parser's own refusals (too many files or fields)
            return error_response(exc.status_code, f"body: {exc.detail}", "body")
        except Exception:  # never the DashScope envelope on these routes, even for a bug
            log.exception("%s: internal error", PREFIX)
            return error_response(500, "An internal error has occurred; please try again later.")

    return answer


def add_video_routes(app: FastAPI, tasks: TaskService, caller: Callable[[Request, str], str],
                     off_loop: Callable[[Callable[[], Any]], Awaitable[Any]]) -> None:  # fmt: skip
    """The routes, with the app's `caller` (key + rate limit) and `off_loop` (store calls off the event loop)."""
    videos = VideoService(tasks)

    @app.get("/v1/openapi.json", include_in_schema=False)
    async def video_api_document() -> Response:
        return responses.json_response(openapi_document())

    @app.post(PREFIX, include_in_schema=False)
    @_openai_errors
    async def create_video(request: Request) -> Response:
        owner = await off_loop(lambda: caller(request, "submit"))
        values, references, uploads = await _read_create(request)
        extras = task_extras(request)
        answer = await off_loop(lambda: videos.create(owner, values, references, uploads, new_request_id(), extras))
        return responses.json_response(answer)

    @app.get(PREFIX, include_in_schema=False)
    @_openai_errors
    async def list_videos(request: Request) -> Response:
        params = dict(request.query_params)
        return responses.json_response(await off_loop(lambda: videos.list(caller(request, "list"), params)))

    @app.get(PREFIX + "/{video_id}", include_in_schema=False)
    @_openai_errors
    async def retrieve_video(video_id: str, request: Request) -> Response:
        video = await off_loop(lambda: videos.retrieve(caller(request, "query"), video_id))
        answer = responses.json_response(video)
        if video["status"] in ("queued", "in_progress"):
            answer.headers["openai-poll-after-ms"] = POLL_AFTER_MS
        return answer

    @app.delete(PREFIX + "/{video_id}", include_in_schema=False)
    @_openai_errors
    async def delete_video(video_id: str, request: Request) -> Response:
        return responses.json_response(await off_loop(lambda: videos.delete(caller(request, "cancel"), video_id)))

    @app.get(PREFIX + "/{video_id}/content", include_in_schema=False)
    @_openai_errors
    async def video_content(video_id: str, request: Request) -> Response:
        variant, range_header = request.query_params.get("variant"), request.headers.get("range")

        def answer() -> Response:
            stream, media_type = videos.content(caller(request, "query"), video_id, variant)
            return stream_response(stream, media_type, range_header, head=False)

        return await off_loop(answer)

    @app.post(PREFIX + "/{video_id}/remix", include_in_schema=False)
    @_openai_errors
    async def remix_video(video_id: str, request: Request) -> Response:
        owner = await off_loop(lambda: caller(request, "submit"))
        values, _, _ = await _read_create(request)
        prompt, extras = values.get("prompt"), task_extras(request)
        return responses.json_response(
            await off_loop(lambda: videos.remix(owner, video_id, prompt, new_request_id(), extras))
        )


async def _read_create(request: Request) -> tuple[dict, list[object], dict[str, Upload]]:
    """(plain fields, input references in order, other uploaded files by field) of a JSON or multipart body."""
    content_type = request.headers.get("content-type", "").lower()
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, "request_too_large", f"body: larger than {MAX_BODY // (1024 * 1024)} MB")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return await _read_form(request)
    body = parse_json(await read_limited(request, MAX_JSON_BODY))  # as the DashScope create reads its body
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object (or a multipart form)")
    given = body.get("input_reference")
    references = [] if given is None else list(given) if isinstance(given, list) else [given]
    return body, references, {}


async def _read_form(request: Request) -> tuple[dict, list[object], dict[str, Upload]]:
    values: dict[str, object] = {}
    references: list[object] = []
    uploads: dict[str, Upload] = {}
    async with request.form(max_files=MAX_FILES, max_fields=64) as form:
        for key, value in form.multi_items():
            if isinstance(value, str):
                match = _FORM_KEY.match(key)
                if match:  # the openai SDK's {"image_url": ...} as a form field
                    references.append({match.group(1): value})
                elif key in ("input_reference", "input_reference[]"):
                    references.append(value)
                else:
                    values[key] = value
                continue
            name = "input_reference" if key == "input_reference[]" else key
            if (value.size or 0) > MAX_UPLOAD_MB * 1024 * 1024:  # known once parsed: refused before it is read
                raise ApiError(413, "request_too_large", f"{name}: the file is larger than {MAX_UPLOAD_MB} MB")
            data = await value.read()
            if name == "input_reference":
                references.append(Upload(data, f"input_reference[{len(references)}]"))
            else:
                uploads[name] = Upload(data, name)
    if len(references) == 1 and isinstance(references[0], Upload):
        references[0].field = "input_reference"
    return values, references, uploads


# -- OpenAPI ------------------------------------------------------------------------------------------------

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"], "description": "the request field at fault"},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_VIDEO = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "the task id (the same task on /api/v1/tasks/{id})"},
        "object": {"type": "string", "enum": ["video"]},
        "model": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "in_progress", "completed", "failed"]},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "created_at": {"type": "integer"},
        "completed_at": {"type": ["integer", "null"]},
        "expires_at": {"type": ["integer", "null"]},
        "seconds": {"type": "string", "example": "4"},
        "size": {"type": "string", "example": "1280x720"},
        "prompt": {"type": "string"},
        "remixed_from_video_id": {"type": ["string", "null"]},
        "error": {
            "type": ["object", "null"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}
_CREATE_FIELDS = {
    "prompt": {"type": "string", "description": "Name the references as Image 1, Image 2 ... / Video 1 ..."},
    "model": {"type": "string", "default": "wan2.7-r2v", "description": "any r2v model"},
    "seconds": {"type": "string", "default": "4", "description": "a whole number of seconds, 2 to 10"},
    "size": {
        "type": "string",
        "default": "1280x720",
        "description": "an exact output size of the model: wan2.7 1280x720, 720x1280, 960x960, 1104x832, 832x1104, "
        "1920x1080, 1080x1920, 1440x1440, 1648x1248, 1248x1648; wan2.6 as its size list, with x",
    },
    "input_reference": {
        "description": "each a reference image or video (by content): files in a multipart body (repeat the field "
        "for several), or URLs: a string, {image_url} or {video_url}; at least one",
    },
    "first_frame": {"description": "r2v extension (wan2.7): the first frame, an image file or URL"},
    "reference_voice_1": {
        "description": "r2v extension (wan2.7): a voice (WAV/MP3 file or URL) for reference 1; "
        "reference_voice_2 ... likewise"
    },  # fmt: skip
    "negative_prompt": {"type": "string", "description": "r2v extension"},
    "prompt_extend": {"type": "boolean", "description": "r2v extension (wan2.7), default true"},
    "watermark": {"type": "boolean", "description": "r2v extension, default false"},
    "seed": {"type": "integer", "description": "r2v extension: 0 to 2147483647"},
}


def _answers(ok: dict, *errors: int) -> dict:
    why = {400: "a field is wrong (param names it)", 401: "no key or an unknown key", 404: "no such video for this key",
           413: "the body is too large", 429: "rate limit"}  # fmt: skip
    answers = {"200": ok}
    for status in errors:
        answers[str(status)] = {"description": why[status], "content": {"application/json": {"schema": _ERROR}}}
    return {"tags": ["OpenAI-style videos"], "responses": answers}


_ID = [{"name": "video_id", "in": "path", "required": True, "schema": {"type": "string"}}]
_VIDEO_OK = {"description": "the video", "content": {"application/json": {"schema": _VIDEO}}}
CREATE_DOC = {
    **_answers(_VIDEO_OK, 400, 401, 413, 429),
    "summary": "Create a video (OpenAI's shape)",
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["prompt"], "properties": _CREATE_FIELDS}},
            "application/json": {"schema": {"type": "object", "required": ["prompt"], "properties": _CREATE_FIELDS}},
        },
    },
}
LIST_DOC = {
    **_answers(
        {
            "description": "one page, by created_at",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "object": {"type": "string", "enum": ["list"]},
                            "data": {"type": "array", "items": _VIDEO},
                            "first_id": {"type": ["string", "null"]},
                            "last_id": {"type": ["string", "null"]},
                            "has_more": {"type": "boolean"},
                        },
                    }
                }
            },  # fmt: skip
        },
        400,
        401,
        429,
    ),
    "summary": "List videos of this key, whichever API made them",
    "parameters": [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
        {"name": "after", "in": "query", "schema": {"type": "string"}, "description": "the last id of the page before"},
        {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"], "default": "desc"}},
    ],
}
VIDEO_DOC = {**_answers(_VIDEO_OK, 401, 404, 429), "summary": "Retrieve a video"}
DELETE_DOC = {
    **_answers(
        {
            "description": "deleted",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "object": {"type": "string", "enum": ["video.deleted"]},
                            "deleted": {"type": "boolean"},
                        },
                    }
                }
            },
        },  # fmt: skip
        401,
        404,
        429,
    ),
    "summary": "Delete a video: its files go, it is hidden here; its DashScope task record stays until retention",
}
CONTENT_DOC = {
    **_answers(
        {
            "description": "video: MP4; thumbnail: a frame (WebP); spritesheet: a grid of frames (JPEG)",
            "content": {"video/mp4": {}, "image/webp": {}, "image/jpeg": {}},
        },
        400,
        401,
        404,
        429,
    ),
    "summary": "Download a completed video, its thumbnail or its spritesheet",
    "parameters": [
        {
            "name": "variant",
            "in": "query",
            "schema": {"type": "string", "enum": ["video", "thumbnail", "spritesheet"], "default": "video"},
        },
    ],  # fmt: skip
}
REMIX_DOC = {
    **_answers(_VIDEO_OK, 400, 401, 404, 429),
    "summary": "A new video of the same references, settings and seed, from a new prompt",
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["prompt"], "properties": {"prompt": {"type": "string"}}}
            }
        },
    },  # fmt: skip
}


def openapi_document() -> dict:
    """The OpenAI-style API's own OpenAPI document, at /v1/openapi.json (the main document, /openapi.json, describes
    the DashScope API and its envelope)."""
    by_id = {"parameters": _ID}
    return {
        "openapi": "3.1.0",
        "info": {"title": "r2v: the OpenAI-style video API", "version": "1",
                 "description": "The same tasks, keys and limits as the DashScope API; errors in OpenAI's envelope."},
        "paths": {
            PREFIX: {"post": CREATE_DOC, "get": LIST_DOC},
            PREFIX + "/{video_id}": {**by_id, "get": VIDEO_DOC, "delete": DELETE_DOC},
            PREFIX + "/{video_id}/content": {**by_id, "get": CONTENT_DOC},
            PREFIX + "/{video_id}/remix": {**by_id, "post": REMIX_DOC},
        },
        "components": {"securitySchemes": {"ApiKey": {"type": "http", "scheme": "bearer"}}},
        "security": [{"ApiKey": []}],
    }  # fmt: skip
