"""Temporary file upload: the getPolicy + OSS PostObject form flow that gives `oss://` URLs.

The policy is an OSS-style base64 JSON document signed with the server secret. It names the uploading key's
id (so an upload belongs to the key that asked for the policy), the directory the object key must start with,
the size range and the expiry. Verification refuses a forged, expired or out-of-directory upload."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime

from r2v.errors import ACCESS_DENIED, FILE_ALREADY_EXISTS, ApiError

BUCKET = "dashscope-instant"
POLICY_TTL_S = 300
MAX_UPLOAD_MB = 100
UPLOAD_TTL_MS = 48 * 3600 * 1000


def _hmac(secret: bytes, text: str, algo=hashlib.sha1) -> str:
    return base64.b64encode(hmac.new(secret, text.encode(), algo).digest()).decode()


def make_policy(secret: bytes, owner: str, now_ms: int, upload_host: str) -> dict:
    owner_tag = hmac.new(secret, owner.encode(), hashlib.sha256).hexdigest()[:32]
    day = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%d")
    upload_dir = f"{BUCKET}/{owner_tag}/{day}/{uuid.uuid4()}"
    expiration = datetime.fromtimestamp(now_ms / 1000 + POLICY_TTL_S, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    document = {
        "expiration": expiration,
        "conditions": [
            ["content-length-range", 0, MAX_UPLOAD_MB * 1024 * 1024],
            ["starts-with", "$key", upload_dir],
            {"bucket": BUCKET},
            {"x-oss-object-acl": "private"},
            {"x-oss-forbid-overwrite": "true"},
        ],
        "r2v_owner": owner,
    }
    policy = base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()
    return {
        "policy": policy,
        "signature": _hmac(secret, policy),
        "upload_dir": upload_dir,
        "upload_host": upload_host,
        "expire_in_seconds": POLICY_TTL_S,
        "max_file_size_mb": MAX_UPLOAD_MB,
        "capacity_limit_mb": 999999999,
        "oss_access_key_id": "r2v-" + owner_tag[:16],
        "x_oss_object_acl": "private",
        "x_oss_forbid_overwrite": "true",
    }


@dataclass
class AcceptedUpload:
    owner: str
    object_key: str
    max_bytes: int


def _denied(message: str) -> ApiError:
    return ApiError(403, ACCESS_DENIED, message)


def verify_form(
    secret: bytes, policy: str | None, signature: str | None, key: str | None, now_ms: int
) -> AcceptedUpload:
    if not policy or not signature or not key:
        raise _denied("The upload form needs the fields policy, Signature and key.")
    if not hmac.compare_digest(_hmac(secret, policy).encode(), signature.encode()):  # bytes: any client text
        raise _denied("The request signature we calculated does not match the signature you provided.")
    try:
        document = json.loads(base64.b64decode(policy))
        expires = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        conditions = document["conditions"]
        owner = document["r2v_owner"]
    except (ValueError, KeyError, TypeError):
        raise _denied("Invalid Policy: the policy document cannot be read.") from None
    if expires.timestamp() * 1000 < now_ms:
        raise _denied("Invalid according to Policy: Policy expired.")
    prefix = next(c[2] for c in conditions if isinstance(c, list) and c[:2] == ["starts-with", "$key"])
    max_bytes = next(c[2] for c in conditions if isinstance(c, list) and c[0] == "content-length-range")
    name = key[len(prefix) + 1 :] if key.startswith(prefix + "/") else None
    if name is None or not _safe_file_name(name):
        raise _denied(f'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "{prefix}"]')
    return AcceptedUpload(owner=owner, object_key=key, max_bytes=max_bytes)


def _safe_file_name(name: str) -> bool:
    """One plain path segment: no separators, no dot segments, no control characters, NFC-stable."""
    return (
        0 < len(name) <= 255
        and name not in (".", "..")
        and unicodedata.normalize("NFC", name) == name
        and not any(c in name for c in "/\\\0")
        and not any(unicodedata.category(c).startswith("C") for c in name)
    )


def already_exists() -> ApiError:
    return ApiError(409, FILE_ALREADY_EXISTS, "The object you specified already exists.")


class UploadRegistry(ABC):
    """Which uploaded object belongs to which key, where it lies (a blob name), and when it expires (48 h)."""

    @abstractmethod
    def add(self, object_key: str, owner: str, blob_name: str, size: int, now_ms: int) -> None:
        """Claim `object_key` for `owner`; raises already_exists() when it is taken (x-oss-forbid-overwrite)."""

    @abstractmethod
    def delete_expired(self, now_ms: int) -> list[str]:
        """Retention: forget uploads older than 48 h; return their blob names for deletion."""

    @abstractmethod
    def remove(self, object_key: str) -> None: ...

    @abstractmethod
    def exists(self, object_key: str) -> bool: ...

    @abstractmethod
    def find(self, object_key: str, owner: str, now_ms: int) -> str | None:
        """The blob name of a live upload of this owner, else None (unknown, another key's, or expired)."""
