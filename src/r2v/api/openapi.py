"""The served OpenAPI document (/openapi.json) and its page (/docs, Swagger UI).

The routes parse bodies and query strings themselves (protocol/validate.py), so that every error is the
DashScope envelope; the schemas here describe the wire for clients and for API fuzzers (schemathesis). Each
operation lists the statuses it really answers (every error in the envelope, never FastAPI's 422, which r2v never
sends) and whether it needs the API key: tests/test_openapi_conformance.py holds the live server to it."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from r2v.protocol import catalog

_STRING = {"type": "string"}
_MEDIA_ITEM = {
    "type": "object",
    "required": ["type", "url"],
    "properties": {
        "type": {"type": "string", "enum": ["reference_image", "reference_video", "first_frame"]},
        "url": _STRING,
        "reference_voice": _STRING,
    },
}
CREATE_BODY = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string", "enum": sorted(catalog.MODELS)},
        "input": {
            "type": "object",
            "required": ["prompt"],
            "properties": {
                "prompt": _STRING,
                "negative_prompt": _STRING,
                "media": {"type": "array", "items": _MEDIA_ITEM, "maxItems": 6},
                "reference_urls": {"type": "array", "items": _STRING, "maxItems": 5},
                "reference_video_urls": {"type": "array", "items": _STRING, "maxItems": 3},
            },
        },
        "parameters": {
            "type": "object",
            "properties": {
                "resolution": {"type": "string", "enum": list(catalog.SIZES_27)},
                "ratio": {"type": "string", "enum": list(catalog.RATIOS)},
                "size": {"type": "string", "enum": list(catalog.SIZES_26)},
                "duration": {"type": "integer"},
                "shot_type": {"type": "string", "enum": ["single", "multi"]},
                "prompt_extend": {"type": "boolean"},
                "watermark": {"type": "boolean"},
                "audio": {"type": "boolean"},
                "seed": {"type": "integer"},
            },
        },
    },
}

CREATE = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": CREATE_BODY}}},
    "parameters": [
        {
            "name": "X-DashScope-Async",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "enum": ["enable"]},
        },
        {"name": "X-DashScope-OssResourceResolve", "in": "header", "schema": {"type": "string"}},
    ],
}

LIST = {
    "parameters": [
        {"name": name, "in": "query", "schema": schema}
        for name, schema in (
            ("task_id", _STRING),
            ("start_time", {"type": "string", "pattern": "^[0-9]{14}$"}),
            ("end_time", {"type": "string", "pattern": "^[0-9]{14}$"}),
            ("model_name", _STRING),
            ("status", {"type": "string", "enum": ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"]}),
            ("page_no", {"type": "integer"}),
            ("page_size", {"type": "integer"}),
        )
    ]
}

POLICY = {
    "parameters": [
        {"name": "action", "in": "query", "required": True, "schema": {"type": "string", "enum": ["getPolicy"]}},
        {"name": "model", "in": "query", "required": True, "schema": _STRING},
    ]
}

UPLOAD_FORM = {
    "type": "object",
    "required": ["policy", "Signature", "key", "file"],
    "properties": {  # the fields of the policy GET /api/v1/uploads handed out, as an OSS PostObject form
        "OSSAccessKeyId": _STRING,
        "Signature": _STRING,
        "policy": _STRING,
        "key": {"type": "string", "description": "upload_dir + '/' + the file's name"},
        "x-oss-object-acl": _STRING,
        "x-oss-forbid-overwrite": _STRING,
        "success_action_status": _STRING,
        "file": {"type": "string", "format": "binary"},
    },
}
UPLOAD = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": UPLOAD_FORM}}}}

FILE = {
    "parameters": [  # the signature r2v put in the task's video_url: the URL is the credential, not the API key
        {"name": "Expires", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]+$"}},
        {"name": "Signature", "in": "query", "schema": _STRING},
        {"name": "Range", "in": "header", "schema": {"type": "string", "example": "bytes=0-1023"}},
    ]
}

SECURITY = {"ApiKey": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer sk-..."}}

# --- answers ---------------------------------------------------------------------------------------------------

ERROR = {
    "type": "object",
    "description": "The DashScope error envelope: every error r2v answers has exactly these keys.",
    "required": ["code", "message", "request_id"],
    "properties": {
        "code": {"type": "string", "example": "InvalidParameter"},
        "message": {"type": "string", "example": "input.prompt: is required"},
        "request_id": _STRING,
    },
    "additionalProperties": False,
}
_STATUS = {"type": "string", "enum": ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"]}
_TASK_OUTPUT = {
    "type": "object",
    "required": ["task_id", "task_status"],
    "properties": {
        "task_id": _STRING,
        "task_status": _STATUS,
        "submit_time": _STRING,
        "scheduled_time": _STRING,
        "end_time": _STRING,
        "orig_prompt": _STRING,
        "actual_prompt": _STRING,
        "video_url": _STRING,
        "code": {"type": ["string", "null"]},
        "message": {"type": ["string", "null"]},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
    },
}
_POLICY_FIELDS = ("policy", "signature", "upload_dir", "upload_host", "oss_access_key_id", "x_oss_object_acl",
                  "x_oss_forbid_overwrite")  # fmt: skip
_ANSWERS = {
    "created": {"type": "object", "required": ["request_id", "output"],
                "properties": {"request_id": _STRING, "output": _TASK_OUTPUT}},
    "task": {"type": "object", "required": ["request_id", "output"],
             "properties": {"request_id": _STRING, "output": _TASK_OUTPUT, "usage": {"type": "object"}}},
    "plan": {"type": "object", "required": ["request_id", "output"],
             "properties": {"request_id": _STRING, "output": {
                 "type": "object", "required": ["task_id", "task_status"],
                 "properties": {"task_id": _STRING, "task_status": _STATUS,
                                "plan": {"type": ["object", "null"], "description": "null until the render starts"}}}}},
    "canceled": {"type": "object", "required": ["request_id"], "properties": {"request_id": _STRING}},
    "list": {"type": "object", "required": ["request_id", "total", "total_page", "page_no", "page_size", "data"],
             "properties": {"request_id": _STRING, "total": {"type": "integer"}, "total_page": {"type": "integer"},
                            "page_no": {"type": "integer"}, "page_size": {"type": "integer"},
                            "data": {"type": "array", "items": {"type": "object", "required": ["task_id", "status"],
                                     "properties": {"task_id": _STRING, "status": _STATUS}}}}},
    "policy": {"type": "object", "required": ["request_id", "data"], "properties": {"request_id": _STRING, "data": {
        "type": "object", "required": ["policy", "signature", "upload_dir", "upload_host", "oss_access_key_id"],
        "properties": {name: _STRING for name in _POLICY_FIELDS}}}},
    "health": {"type": "object", "required": ["status"],
               "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]},
                              "workers": {"type": ["integer", "null"]}, "region": _STRING, "reason": _STRING}},
}  # fmt: skip

_WHY = {
    400: "InvalidParameter and the other 400 codes: a field is wrong (the message names it)",
    401: "InvalidApiKey: no API key, or an unknown or revoked one",
    403: "AccessDenied",
    404: "NotFound",
    409: "FileAlreadyExists: the object key was uploaded before",
    411: "InvalidParameter: Content-Length is required",
    413: "BadRequest.TooLarge",
    415: "BadRequest.UnsupportedFileFormat: not an image, video or audio file",
    416: "InvalidRange: the Range is not within the file",
    429: "Throttling.RateQuota: the key's rate limit",
    500: "InternalError",
    503: "ServiceUnavailable: the database or the object store cannot be reached; retry later",
}
_KEYED = (401, 429, 500, 503)
_BY_ID = (*_KEYED, 404)  # 404: a task id holding a slash matches no route


@dataclass(frozen=True)
class Operation:
    ok: dict[int, tuple[str, dict | None]]  # status -> (content type, schema); no content type: an empty body
    errors: tuple[int, ...]  # statuses answered in the envelope
    public: bool = False  # needs no API key
    notes: dict[int, str] | None = None  # what an error status means here, where _WHY is not precise enough


_JSON = "application/json"
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("post", "/api/v1/services/aigc/video-generation/video-synthesis"): Operation(
        {200: (_JSON, _ANSWERS["created"])}, (400, 403, 413, *_KEYED),
        notes={403: "AccessDenied: X-DashScope-Async: enable is required (r2v runs every task asynchronously)"}),
    ("get", "/api/v1/tasks/{task_id}"): Operation({200: (_JSON, _ANSWERS["task"])}, _BY_ID),
    ("get", "/api/v1/tasks/{task_id}/plan"): Operation({200: (_JSON, _ANSWERS["plan"])}, _BY_ID),
    ("post", "/api/v1/tasks/{task_id}/cancel"): Operation(
        {200: (_JSON, _ANSWERS["canceled"])}, (400, *_BY_ID),
        notes={400: "UnsupportedOperation: the task is not PENDING (or unknown)"}),
    ("get", "/api/v1/tasks"): Operation({200: (_JSON, _ANSWERS["list"])}, (400, *_KEYED)),
    ("get", "/api/v1/uploads"): Operation({200: (_JSON, _ANSWERS["policy"])}, (400, *_KEYED)),
    ("post", "/api/v1/uploads/oss"): Operation(
        {200: ("", None)}, (400, 403, 409, 411, 413, 415, 500, 503), public=True,
        notes={403: "AccessDenied: the policy or its signature is wrong or expired"}),
    ("get", "/files/{name}"): Operation(
        {200: ("video/mp4", None), 206: ("video/mp4", None)}, (403, 404, 416, 500, 503), public=True,
        notes={403: "AccessDenied: the signature is wrong or expired", 404: "NoSuchKey: no such file"}),
    ("get", "/metrics"): Operation(
        {200: ("text/plain", None)}, (404, 500), public=True, notes={404: "NotFound: metrics are not enabled"}),
    ("get", "/healthz"): Operation({200: (_JSON, _ANSWERS["health"]), 503: (_JSON, _ANSWERS["health"])}, (500,),
                                   public=True),
}  # fmt: skip


DOCS_ASSETS = "/docs/assets"


def new_app() -> FastAPI:
    """The FastAPI application, with /docs (Swagger UI) whose script, styles and icon r2v serves itself, from the
    fastapi-offline package: the page works on a machine that reaches no CDN. No /redoc: ReDoc's bundle still
    loads its logo from its makers' CDN."""
    return FastAPIOffline(
        redoc_url=None,
        title="r2v",
        version=version("r2v"),
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
    )


def complete(document: dict) -> dict:
    """FastAPI's document, told the truth: per operation, what it answers (OPERATIONS) and whether it needs the
    key; the envelope's schema; none of FastAPI's validation errors (HTTPValidationError, 422)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = ERROR
    components["securitySchemes"] = SECURITY
    document["security"] = [{"ApiKey": []}]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            known = OPERATIONS.get((method, path))
            operation.get("responses", {}).pop("422", None)
            if known is not None:
                _describe(operation, known)
    return document


def _describe(operation: dict, known: Operation) -> None:
    responses: dict[int, dict] = {}
    for status, (content_type, schema) in known.ok.items():
        answer: dict = {"description": "OK" if status < 300 else _WHY.get(status, "")}
        if status == 206:
            answer["description"] = "Partial Content: the byte range asked for"
        if content_type:
            answer["content"] = {content_type: {"schema": schema} if schema else {}}
        responses[status] = answer
    for status in known.errors:
        why = (known.notes or {}).get(status) or _WHY[status]
        responses[status] = {
            "description": why,
            "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation["responses"] = {str(status): responses[status] for status in sorted(responses)}
    if known.public:
        operation["security"] = []
