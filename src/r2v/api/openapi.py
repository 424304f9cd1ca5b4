"""What the served OpenAPI document (/openapi.json) says about requests the routes read by hand.

The routes parse bodies and query strings themselves (protocol/validate.py), so that every error is the
DashScope envelope; these schemas only describe the wire for clients and for API fuzzers (schemathesis)."""

from __future__ import annotations

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

SECURITY = {"ApiKey": {"type": "http", "scheme": "bearer"}}
