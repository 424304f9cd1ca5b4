"""Request bodies, read within limits for both faces of the API (DashScope's and the OpenAI-style one): a body
larger than allowed is refused while it streams in (a chunked body has no Content-Length to refuse it by), and
JSON that parses but cannot be stored or walked (NaN, an unpaired surrogate, thousands of nested arrays) is refused
as bad input, never a 500."""

from __future__ import annotations

import json

from fastapi import Request

from r2v.errors import INVALID_PARAMETER, TOO_LARGE, ApiError

MAX_JSON_DEPTH = 64


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, TOO_LARGE, f"body: the request body is larger than {limit // (1024 * 1024)} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, TOO_LARGE, f"body: the request body is larger than {limit // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> object:
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
