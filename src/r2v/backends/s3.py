"""BlobStore in an S3-compatible bucket (the multi-machine mode, `--storage s3://BUCKET/PREFIX`).

Every blob is the object PREFIX/<name>. The client comes from boto3's own configuration (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE, ~/.aws): r2v takes no S3 secrets of its own.

Atomic writes come from S3 itself: a PUT or a completed multipart upload appears whole or not at all. A writer that
dies in the middle of a multipart upload leaves an incomplete upload (invisible to readers, but billed), which
remove_partial_writes aborts.

Whatever goes wrong with the connection surfaces within seconds as StorageUnavailable (a BackendUnavailable, so the
API answers 503 and a worker hands the task back), naming the endpoint; never as a hang.

Servers that keep folders (SeaweedFS's filer) leave a prefix behind once its last object is gone, where S3 has none:
delete() also deletes the folder markers it emptied ("<prefix>/" keys) below the store's top folders, which such
servers take as "remove this folder if empty" and S3 as deleting a key that is not there."""

from __future__ import annotations

import io
import os
import posixpath
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError
from s3transfer.exceptions import RetriesExceededError
from s3transfer.manager import TransferConfig, TransferManager

from r2v.errors import BackendUnavailable
from r2v.storage.blobs import BlobStore

CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 10  # a silent server; a large PUT's answer comes within this on every S3 we know
MAX_ATTEMPTS = 2  # one retry: a refused or dropped connection fails a call within ~10 s, not minutes
# After a connection failure, calls fail at once for this long instead of each waiting for its own timeout: during
# an outage the API answers 503 quickly and no queue of requests builds up behind waits that cannot succeed.
FAIL_FAST_S = 1.0
MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4's limit on a presigned URL's life
PART_SIZE = 8 * 1024 * 1024  # multipart above this (uploads and parallel downloads)
STREAM_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part: a source that is not a file is uploaded part by part
OPEN_BUFFER = 1024 * 1024
DELETE_BATCH = 1000  # DeleteObjects' limit

CLIENT_CONFIG = Config(
    s3={"addressing_style": "path"},  # every S3-compatible server answers path-style; not all do virtual hosts
    signature_version="s3v4",
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    tcp_keepalive=True,
)
TRANSFER_CONFIG = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE,
                                 max_request_concurrency=4, num_download_attempts=MAX_ATTEMPTS)  # fmt: skip

_CREDENTIAL_ERRORS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                      "InvalidSecurity", "AuthorizationHeaderMalformed", "TokenRefreshRequired"}  # fmt: skip
_UNAVAILABLE_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}


class StorageError(OSError):
    """The object store refused an operation (permissions, a vanished bucket): names the bucket and the endpoint."""


class StorageUnavailable(BackendUnavailable, OSError):
    """The object store cannot be reached right now (down, unreachable, overloaded): names its endpoint."""


def default_client() -> Any:
    """An S3 client from boto3's standard configuration (environment, profile, ~/.aws), with r2v's timeouts."""
    return boto3.session.Session().client("s3", config=CLIENT_CONFIG)


def open_s3(url: str) -> S3BlobStore:
    """The store of a `--storage s3://BUCKET[/PREFIX]` URL; its credentials and endpoint come from boto3."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "s3":
        raise ValueError(f"--storage: {url!r} is not an s3://BUCKET/PREFIX URL")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ValueError(f"--storage: {url!r} names no bucket (expected s3://BUCKET/PREFIX)")
    if any(part in ("..", ".") for part in prefix.split("/")):
        raise ValueError(f"--storage: {url!r}: the prefix may not hold '.' or '..' segments")
    if "?" in rest or "#" in rest:
        raise ValueError(f"--storage: {url!r}: an s3:// URL takes no query or fragment (the endpoint and the "
                         "credentials come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                         "AWS_REGION)")  # fmt: skip
    return S3BlobStore(bucket, prefix)


def _clean(name: str) -> str:
    """The normalized relative name, or ValueError if it leaves the store (or is the store itself)."""
    if not isinstance(name, str) or not name or name.startswith("/") or "\0" in name:
        raise ValueError(f"blob name escapes the store: {name!r}")
    clean = posixpath.normpath(name)
    if clean in (".", "..") or clean.startswith("../"):
        raise ValueError(f"blob name escapes the store: {name!r}")
    return clean


class S3BlobStore(BlobStore):
    def __init__(self, bucket: str, prefix: str = "", client: Any = None):
        self.bucket = bucket
        prefix = prefix.strip("/")
        self._root = _clean(prefix) + "/" if prefix else ""  # every key starts with it
        self._given_client = client
        self._client = client if client is not None else default_client()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._down_until = 0.0

    def __repr__(self) -> str:
        return f"S3BlobStore(s3://{self.bucket}/{self._root} at {self.endpoint})"

    # --- the client, its errors --------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The S3 client; a fresh one in a forked child, whose inherited pooled connections the parent still uses
        (two processes on one socket would read each other's answers)."""
        if os.getpid() != self._pid:
            with self._lock:
                if os.getpid() != self._pid:
                    if self._given_client is None:
                        self._client = default_client()
                    else:
                        endpoint = getattr(self._client, "_endpoint", None)  # botocore keeps its pool there
                        if endpoint is not None:
                            endpoint.http_session.close()  # the child's copies of the sockets only
                    self._pid = os.getpid()
        return self._client

    @property
    def endpoint(self) -> str:
        return self._client.meta.endpoint_url

    def _unavailable(self, exc: BaseException | None) -> StorageUnavailable:
        reason = f": {exc}" if exc is not None else " (it failed a moment ago)"
        return StorageUnavailable(f"the object store at {self.endpoint} (bucket {self.bucket!r}) cannot be reached"
                                  f"{reason}")  # fmt: skip

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """botocore's failures as StorageUnavailable (cannot reach it) or StorageError (it refused)."""
        if time.monotonic() < self._down_until:
            raise self._unavailable(None)
        try:
            yield
        except RetriesExceededError as exc:  # s3transfer's wrapper around a download's last failure
            raise self._translate(what, exc.last_exception) from exc
        except (BotoCoreError, ClientError) as exc:
            raise self._translate(what, exc) from exc

    def _translate(self, what: str, exc: BaseException) -> OSError:
        if isinstance(exc, BotoConnectionError | HTTPClientError | IncompleteReadError):  # (a GET cut off)
            self._down_until = time.monotonic() + FAIL_FAST_S
            return self._unavailable(exc)
        if isinstance(exc, ClientError):
            status, code = _status(exc), _code(exc)
            if status >= 500 or code in _UNAVAILABLE_CODES:
                return self._unavailable(exc)
            return StorageError(f"the object store at {self.endpoint} refused to {what} in bucket {self.bucket!r}: "
                                f"{code} {exc.response.get('Error', {}).get('Message', '')}".rstrip())  # fmt: skip
        if isinstance(exc, NoCredentialsError):
            return StorageError(f"no S3 credentials for {self.endpoint}: set AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")  # fmt: skip
        return StorageError(f"the object store at {self.endpoint} failed to {what}: {exc}")

    def _key(self, name: str) -> str:
        return self._root + _clean(name)

    # --- startup -------------------------------------------------------------------------------------------------

    def check(self) -> None:
        """At startup: the bucket exists and the credentials may list it; ValueError naming what is wrong."""
        where = f"at {self.endpoint}"
        try:
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._root, MaxKeys=1)
        except NoCredentialsError:
            raise ValueError(f"--storage: no S3 credentials found for {self.endpoint}: set AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)") from None  # fmt: skip
        except (BotoConnectionError, HTTPClientError) as exc:
            raise ValueError(f"--storage: the S3 endpoint {self.endpoint} cannot be reached (AWS_ENDPOINT_URL): "
                             f"{exc}") from None  # fmt: skip
        except ClientError as exc:
            code = _code(exc)
            if code == "NoSuchBucket" or (_status(exc) == 404 and code in ("404", "NotFound")):
                raise ValueError(f"--storage: bucket {self.bucket!r} does not exist {where}") from None
            if code in _CREDENTIAL_ERRORS:
                raise ValueError(f"--storage: the S3 credentials were refused {where} ({code}): check "
                                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)") from None  # fmt: skip
            if code in ("AccessDenied", "AllAccessDisabled", "403"):
                raise ValueError(f"--storage: the S3 credentials (AWS_ACCESS_KEY_ID) may not list bucket "
                                 f"{self.bucket!r} {where} ({code})") from None  # fmt: skip
            raise ValueError(f"--storage: bucket {self.bucket!r} {where} cannot be used: {exc}") from None
        except BotoCoreError as exc:
            raise ValueError(f"--storage: S3 {where} cannot be used: {exc}") from None

    # --- in ------------------------------------------------------------------------------------------------------

    def put_file(self, name: str, source: Path) -> None:
        key = self._key(name)
        with self._errors("store a file"):
            if stat.S_ISREG(os.stat(source).st_mode):
                with TransferManager(self.client, TRANSFER_CONFIG) as transfers:  # multipart and parallel if big
                    transfers.upload(os.fspath(source), self.bucket, key).result()
            else:  # a pipe, a device: no size known up front
                with open(source, "rb") as stream:
                    self._put_stream(key, stream)

    def _put_stream(self, key: str, stream: BinaryIO) -> None:
        """Part by part, each sent before the next is read: an upload exists from the first full part on."""
        first = _read_full(stream, STREAM_PART_SIZE)
        if len(first) < STREAM_PART_SIZE:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=first)
            return
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts, number, chunk = [], 1, first
            while chunk:
                answer = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number,
                                                 Body=chunk)  # fmt: skip
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                number, chunk = number + 1, _read_full(stream, STREAM_PART_SIZE)
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload,
                                                  MultipartUpload={"Parts": parts})  # fmt: skip
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            except (BotoCoreError, ClientError):
                pass  # remove_partial_writes takes it later
            raise

    def put_bytes(self, name: str, data: bytes) -> None:
        key = self._key(name)
        with self._errors("store a blob"):
            if len(data) <= PART_SIZE:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data))
            else:
                with TransferManager(self.client, TRANSFER_CONFIG) as transfers:
                    transfers.upload(io.BytesIO(data), self.bucket, key).result()

    # --- out -----------------------------------------------------------------------------------------------------

    def fetch(self, name: str, dest: Path) -> bool:
        key = self._key(name)
        dest = Path(dest)
        part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")  # renamed over dest once whole
        try:
            with self._errors("read a blob"):
                try:
                    with TransferManager(self.client, TRANSFER_CONFIG) as transfers:
                        transfers.download(self.bucket, key, os.fspath(part)).result()
                except ClientError as exc:
                    if _missing(exc):
                        return False
                    raise
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)
        return True

    def open(self, name: str) -> BinaryIO | None:
        key = self._key(name)
        with self._errors("read a blob"):
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _missing(exc):
                    return None
                raise
        raw = _ObjectReader(self, key, answer["ContentLength"], answer["ETag"], answer["Body"])
        return io.BufferedReader(raw, buffer_size=OPEN_BUFFER)

    def exists(self, name: str) -> bool:
        key = self._key(name)
        with self._errors("look up a blob"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _missing(exc):
                    return False
                raise
        return True

    def children(self, prefix: str) -> list[str]:
        under = self._key(prefix) + "/"
        names: set[str] = set()
        with self._errors("list blobs"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=under,
                                                                              Delimiter="/"):  # fmt: skip
                names.update(p["Prefix"][len(under) :].rstrip("/") for p in page.get("CommonPrefixes", ()))
                names.update(o["Key"][len(under) :] for o in page.get("Contents", ()))
        names.discard("")  # a folder marker ("<prefix>/" itself)
        return sorted(names)

    # --- away ----------------------------------------------------------------------------------------------------

    def delete(self, name: str) -> None:
        key = self._key(name)
        with self._errors("delete blobs"):
            keys = [key, *self._keys_under(key + "/")]
            for start in range(0, len(keys), DELETE_BATCH):
                self._delete_keys(keys[start : start + DELETE_BATCH], strict=True)
            # The folders this left empty, deepest first (see the module's note): only on servers that keep them.
            # Never the store's top folders ("inputs/", "results/") nor its root: those hold every task's blobs,
            # and removing one while another process writes into it would race with that write.
            depth = self._root.count("/") + 1
            folders = {k[: i + 1] for k in keys for i, c in enumerate(k) if c == "/" and k[: i + 1].count("/") > depth}
            ordered = sorted(folders, key=lambda f: f.count("/"), reverse=True)
            for start in range(0, len(ordered), DELETE_BATCH):
                self._delete_keys(ordered[start : start + DELETE_BATCH], strict=False)

    def _keys_under(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", ())]

    def _delete_keys(self, keys: list[str], strict: bool) -> None:
        answer = self.client.delete_objects(Bucket=self.bucket,
                                            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})  # fmt: skip
        errors = [e for e in answer.get("Errors", ()) if e.get("Code") != "NoSuchKey"]
        if errors and strict:
            first = errors[0]
            raise StorageError(f"the object store at {self.endpoint} refused to delete {len(errors)} object(s) in "
                               f"bucket {self.bucket!r}, e.g. {first.get('Key')!r}: {first.get('Code')} "
                               f"{first.get('Message', '')}".rstrip())  # fmt: skip

    def remove_partial_writes(self, older_than_s: float = 0.0) -> None:
        """Abort the incomplete multipart uploads under the prefix. With no age, every one: only when no process
        sharing this bucket and prefix can be writing (it aborts theirs too). Where other machines may be
        writing, pass an age longer than any upload takes (or let a bucket lifecycle rule,
        AbortIncompleteMultipartUpload, do it)."""
        cutoff = time.time() - older_than_s
        with self._errors("abort incomplete uploads"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket,
                                                                                 Prefix=self._root)  # fmt: skip
            for upload in (u for page in pages for u in page.get("Uploads", ())):
                if older_than_s > 0 and upload["Initiated"].timestamp() > cutoff:
                    continue  # perhaps still under way
                try:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                       UploadId=upload["UploadId"])  # fmt: skip
                except ClientError as exc:
                    if not _missing(exc):  # finished or aborted by its writer meanwhile
                        raise

    def download_url(self, name: str, expires_at_s: int) -> str | None:
        key = self._key(name)
        lifetime = min(max(int(expires_at_s - time.time()), 1), MAX_PRESIGN_S)
        with self._errors("sign a URL"):
            return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                      ExpiresIn=lifetime)  # fmt: skip


class _ObjectReader(io.RawIOBase):
    """One object's bytes, seekable: read from one GET as long as reads follow each other, and from a ranged GET
    (If-Match the first answer's ETag) after a seek, so that a reader never mixes two versions of a blob."""

    def __init__(self, store: S3BlobStore, key: str, size: int, etag: str, body: Any):
        super().__init__()
        self._store, self._key, self.size, self._etag = store, key, size, etag
        self._body, self._body_pos = body, 0  # the open GET's answer and where it stands
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence ({whence})")
        if base + offset < 0:
            raise OSError(22, f"negative seek position {base + offset}")
        self._pos = base + offset  # the open GET is kept: a seek back to where it stands costs nothing
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        want = min(len(buffer), self.size - self._pos)
        if want <= 0:
            return 0
        data = self._read(want)
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        self._pos += n
        return n

    def _read(self, want: int) -> bytes:
        store = self._store
        with store._errors("read a blob"):
            if self._body is None or self._body_pos != self._pos:
                self._drop_body()
                try:
                    answer = store.client.get_object(Bucket=store.bucket, Key=self._key, IfMatch=self._etag,
                                                     Range=f"bytes={self._pos}-{self.size - 1}")  # fmt: skip
                except ClientError as exc:
                    if _status(exc) in (404, 412) or _code(exc) in ("NoSuchKey", "PreconditionFailed"):
                        raise StorageError(f"blob {self._key!r} in bucket {store.bucket!r} was replaced or deleted "
                                           "while it was being read") from None  # fmt: skip
                    raise
                self._body, self._body_pos = answer["Body"], self._pos
            data = self._body.read(want)
        if not data:
            raise StorageError(f"blob {self._key!r} in bucket {store.bucket!r} ended at byte {self._pos} of "
                               f"{self.size}")  # fmt: skip
        self._body_pos += len(data)
        return data

    def readall(self) -> bytes:
        chunks = []
        while self._pos < self.size:
            chunks.append(self._read(min(self.size - self._pos, 64 * 1024 * 1024)))
            self._pos += len(chunks[-1])
        return b"".join(chunks)

    def _drop_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()

    def close(self) -> None:
        if not self.closed:
            self._drop_body()
        super().close()


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, fewer only at the end of the stream (a pipe hands them out in pieces)."""
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _missing(exc: ClientError) -> bool:
    """No such object (a missing bucket is no missing blob: that is an error)."""
    return _code(exc) != "NoSuchBucket" and (_status(exc) == 404 or _code(exc) in ("404", "NoSuchKey", "NotFound"))
