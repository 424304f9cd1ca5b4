"""API-key authentication: `Authorization: Bearer <key>` (a bare key is accepted too)."""

from __future__ import annotations

from fastapi import Request

from r2v.errors import INVALID_API_KEY, MSG_INVALID_API_KEY, MSG_NO_API_KEY, ApiError
from r2v.keys import KeyStore


def authenticate(request: Request, keys: KeyStore) -> str:
    """The caller's key id, or a 401 in the envelope."""
    header = request.headers.get("authorization", "").strip()
    if header[:7].lower() == "bearer ":
        header = header[7:].strip()
    if not header:
        raise ApiError(401, INVALID_API_KEY, MSG_NO_API_KEY)
    owner = keys.resolve(header)
    if owner is None:
        raise ApiError(401, INVALID_API_KEY, MSG_INVALID_API_KEY)
    return owner
