"""Temporary uploads: hand out a policy, accept the form post, and remember whose file it is."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from r2v.clock import Clock
from r2v.errors import (
    INVALID_PARAMETER,
    MSG_MODEL_NOT_EXIST,
    TOO_LARGE,
    UNSUPPORTED_FILE_FORMAT,
    ApiError,
    invalid,
)
from r2v.media import sniff
from r2v.protocol.catalog import model_in_region
from r2v.storage import uploads
from r2v.storage.blobs import BlobStore
from r2v.storage.uploads import UploadRegistry

UPLOAD_PATH = "/api/v1/uploads/oss"
_ACCEPTED = sniff.IMAGE_FORMATS + sniff.VIDEO_FORMATS + sniff.AUDIO_FORMATS


class UploadService:
    def __init__(self, registry: UploadRegistry, blobs: BlobStore, secret: bytes, clock: Clock, region: str,
                 scratch: Path):  # fmt: skip
        self.registry, self.blobs, self.secret, self.clock = registry, blobs, secret, clock
        self.region, self.scratch = region, scratch  # scratch: a local folder for the file while it is checked

    def policy(self, owner: str, action: str | None, model: str | None, base_url: str, request_id: str) -> dict:
        if action != "getPolicy":
            raise invalid("action", f"must be getPolicy, got {action!r}")
        if not model:
            raise invalid("model", "is required")
        if model_in_region(model, self.region) is None:
            raise ApiError(400, INVALID_PARAMETER, MSG_MODEL_NOT_EXIST)
        data = uploads.make_policy(self.secret, owner, self.clock.now_ms(), base_url + UPLOAD_PATH)
        return {"request_id": request_id, "data": data}

    def accept(self, fields: dict[str, str], file: BinaryIO | None) -> None:
        now = self.clock.now_ms()
        accepted = uploads.verify_form(
            self.secret, fields.get("policy"), fields.get("Signature"), fields.get("key"), now
        )
        if file is None:
            raise invalid("file", "the form has no file field")
        if self.registry.exists(accepted.object_key):
            raise uploads.already_exists()
        self.scratch.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.scratch, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(file, out, 1024 * 1024)
            size = os.path.getsize(tmp_name)
            if size > accepted.max_bytes:
                raise ApiError(413, TOO_LARGE, f"file: the upload is larger than {uploads.MAX_UPLOAD_MB} MB")
            kind = sniff.sniff(Path(tmp_name)) if size else None
            if kind not in _ACCEPTED:
                raise ApiError(
                    415,
                    UNSUPPORTED_FILE_FORMAT,
                    "file: not an image (JPEG, PNG, BMP, WEBP), video (MP4, MOV) or audio (WAV, MP3) file",
                )
            blob = f"uploads/{accepted.object_key}"
            # The row is the claim on the key (no overwrite); it is dropped again if the file cannot be stored.
            self.registry.add(accepted.object_key, accepted.owner, blob, size, now)
            try:
                self.blobs.put_file(blob, Path(tmp_name))
            except BaseException:
                self.registry.remove(accepted.object_key)
                raise
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
