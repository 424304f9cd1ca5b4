"""API-key authentication: `Authorization: Bearer <key>` (a bare key is accepted too)."""

from __future__ import annotations

from fastapi import Request

from r2v.errors import INVALID_API_KEY, MSG_INVALID_API_KEY, MSG_NO_API_KEY, ApiError
from r2v.keys import KeyStore


def authenticate(request: Request, keys: KeyStore) -> str:
    """The caller's key id, or a 401 in the envelope."""
    words = request.headers.get("authorization", "").split()
    if words and words[0].lower() == "bearer":
        words = words[1:]
    if not words:  # no header, or "Bearer" with nothing after it
        raise ApiError(401, INVALID_API_KEY, MSG_NO_API_KEY)
    owner = keys.resolve(" ".join(words))
    if owner is None:
        raise ApiError(401, INVALID_API_KEY, MSG_INVALID_API_KEY)
    return owner
