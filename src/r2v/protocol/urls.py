"""Static checks of input URLs (no network): scheme, shape, data-URI syntax, the oss:// resolve header."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from r2v.errors import INVALID_PARAMETER_OSS, ApiError, invalid, invalid_url

DATA_URI_MIMES = {
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/png": "png",
    "image/bmp": "bmp",
    "image/webp": "webp",
}
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)((?:;[\w.+-]+=[\w.+-]+)*);base64,", re.IGNORECASE)
OSS_SCHEME = "oss://"


@dataclass
class UrlCheck:
    inline: bytes | None = None  # decoded data-URI payload
    inline_ext: str | None = None
    local_path: str | None = None  # only when local paths are allowed (the `r2v generate` CLI)


def check_url(
    url: object, field: str, *, allow_data: bool, oss_resolve: bool, allow_local_paths: bool = False
) -> UrlCheck:
    if not isinstance(url, str) or not url.strip():
        raise invalid(field, "a URL string is required")
    if url != url.strip() or any(ord(c) < 32 for c in url):
        raise invalid_url(field, "the URL contains whitespace or control characters")
    lowered = url[:16].lower()
    if lowered.startswith("data:"):
        return _check_data_uri(url, field, allow_data)
    if lowered.startswith(OSS_SCHEME):
        if not oss_resolve:
            raise ApiError(
                400,
                INVALID_PARAMETER_OSS,
                f"{field}: oss:// URLs need the header X-DashScope-OssResourceResolve: enable",
            )
        if len(url) <= len(OSS_SCHEME) or ".." in url.split("/"):
            raise invalid_url(field, "malformed oss:// URL")
        return UrlCheck()
    if lowered.startswith(("http://", "https://")):
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise invalid_url(field, f"malformed URL ({exc})") from None
        if not parts.hostname:
            raise invalid_url(field, "the URL has no host")
        return UrlCheck()
    if allow_local_paths:
        path = Path(url[len("file://") :] if lowered.startswith("file://") else url).expanduser()
        if path.is_file():
            return UrlCheck(local_path=str(path.resolve()))
        raise invalid(field, f"no such file: {path}")
    scheme = url.split(":", 1)[0] if ":" in url else ""
    reason = f"scheme {scheme!r} is not allowed" if scheme else "not a URL"
    raise invalid_url(field, f"{reason}; use http(s)://, oss:// or (images only) a data: URI")


def _check_data_uri(url: str, field: str, allow_data: bool) -> UrlCheck:
    if not allow_data:
        raise invalid_url(field, "data: URIs are accepted only for images")
    match = _DATA_URI.match(url)
    if not match:
        raise invalid_url(field, "a data URI must look like data:{mime};base64,{data}")
    mime = match.group(1).lower()
    if mime not in DATA_URI_MIMES:
        raise invalid(field, f"data URI type {mime} is not accepted; use image/jpeg, png, bmp or webp")
    payload = url[match.end() :]
    if len(payload) > (MAX_IMAGE_BYTES * 4) // 3 + 8:
        raise invalid(field, "the image is larger than 20 MB")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_url(field, "the data URI is not valid base64") from None
    if not data:
        raise invalid(field, "the data URI is empty")
    return UrlCheck(inline=data, inline_ext=DATA_URI_MIMES[mime])
