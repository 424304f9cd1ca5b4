"""Signed, expiring URLs for result files (the role OSS presigned URLs play in the cloud).

The signature covers the path and the expiry, so neither can be changed; the secret never leaves the server."""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import Enum


class Verdict(Enum):
    OK = "ok"
    EXPIRED = "expired"
    BAD = "bad"


class UrlSigner:
    def __init__(self, secret: bytes):
        self._secret = secret

    def signature(self, path: str, expires_s: int) -> str:
        mac = hmac.new(self._secret, f"GET\n{path}\n{expires_s}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def query(self, path: str, expires_s: int) -> str:
        return f"Expires={expires_s}&Signature={self.signature(path, expires_s)}"

    def verify(self, path: str, expires: str | None, signature: str | None, now_s: float) -> Verdict:
        if not expires or not signature or not (expires.isascii() and expires.isdigit()):  # ² is a digit too
            return Verdict.BAD
        # compared as bytes: compare_digest refuses a str holding anything but ASCII (a client's bad signature)
        if not hmac.compare_digest(self.signature(path, int(expires)).encode(), signature.encode()):
            return Verdict.BAD
        return Verdict.EXPIRED if int(expires) < now_s else Verdict.OK
