"""Resolution of input URLs into local files.

http(s) URLs are refused when their host resolves to a loopback, private, link-local, CGNAT, multicast or
reserved address (anything not globally routable), on the first request and on every redirect, unless
R2V_ALLOW_PRIVATE_URLS=1. Downloads stream to disk with a size cap and time limits.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from r2v.errors import INPUT_DOWNLOAD_FAILED, TaskFailure
from r2v.storage.blobs import BlobStore
from r2v.storage.uploads import UploadRegistry

INPUT_SCHEME = "r2v-input:"  # a data-URI payload that the server already saved at create time
MAX_REDIRECTS = 3
CONNECT_TIMEOUT_S = 10.0
TOTAL_TIMEOUT_S = 120.0
CHUNK = 64 * 1024


def _fail(field: str, reason: str) -> TaskFailure:
    return TaskFailure(INPUT_DOWNLOAD_FAILED, f"{field}: {reason}")


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_host(host: str, port: int, field: str) -> None:
    """Refuse a host any of whose addresses is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _fail(field, f"cannot resolve host {host!r} ({exc.strerror})") from None
    for info in infos:
        address = info[4][0]
        if not address_is_public(address):
            raise _fail(field, f"the URL's host {host!r} resolves to a non-public address ({address}); refused")


@dataclass
class MediaResolver:
    blobs: BlobStore
    uploads: UploadRegistry | None  # None without a server (`r2v generate`): no oss:// uploads then
    owner: str
    now_ms: int
    allow_private: bool = False
    allow_local_files: bool = False

    def resolve(self, url: str, field: str, dest: Path, max_bytes: int) -> Path:
        """A local file holding the media behind `url` (downloaded to `dest` when remote)."""
        if url.startswith(INPUT_SCHEME):
            path = self.blobs.local_path(url[len(INPUT_SCHEME) :])
            if path is None:
                raise _fail(field, "the inline data of this task is missing")
            return path
        if url.startswith("oss://"):
            if self.uploads is None:
                raise _fail(field, "oss:// URLs are temporary uploads to a server; use a path or URL here")
            blob = self.uploads.find(url[len("oss://") :], self.owner, self.now_ms)
            path = self.blobs.local_path(blob) if blob else None
            if path is None:
                raise _fail(field, "the oss:// file does not exist, has expired (48 h) or belongs to another API key")
            return path
        if url.startswith("file://") and self.allow_local_files:
            path = Path(url[len("file://") :])
            if not path.is_file():
                raise _fail(field, f"no such file: {path}")
            return path
        if url.lower().startswith(("http://", "https://")):
            self._download(url, field, dest, max_bytes)
            return dest
        raise _fail(field, "unsupported URL scheme")

    def _download(self, url: str, field: str, dest: Path, max_bytes: int) -> None:
        deadline = time.monotonic() + TOTAL_TIMEOUT_S
        timeout = httpx.Timeout(CONNECT_TIMEOUT_S, read=30.0)
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                parts = urlsplit(url)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise _fail(field, f"redirected to an unsupported URL: {url[:200]}")
                if not self.allow_private:
                    check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), field)
                try:
                    with client.stream("GET", url) as response:
                        if response.is_redirect:
                            url = urljoin(url, response.headers.get("location", ""))
                            continue
                        if response.status_code != 200:
                            raise _fail(field, f"download failed with HTTP {response.status_code}")
                        self._save(response, field, dest, max_bytes, deadline)
                        return
                except httpx.HTTPError as exc:
                    raise _fail(field, f"download failed ({type(exc).__name__}: {exc})") from None
        raise _fail(field, f"more than {MAX_REDIRECTS} redirects")

    @staticmethod
    def _save(response: httpx.Response, field: str, dest: Path, max_bytes: int, deadline: float) -> None:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise _fail(field, f"the file is larger than {max_bytes // (1024 * 1024)} MB")
        size = 0
        with open(dest, "wb") as out:
            for chunk in response.iter_bytes(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise _fail(field, f"the file is larger than {max_bytes // (1024 * 1024)} MB")
                if time.monotonic() > deadline:
                    raise _fail(field, f"the download took longer than {TOTAL_TIMEOUT_S:.0f} s")
                out.write(chunk)
        if size == 0:
            raise _fail(field, "the file is empty")
