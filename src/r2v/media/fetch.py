"""Resolution of input URLs into local files, safely.

Remote (http/https) inputs come from strangers, so a download:
- resolves the host once, refuses it if any address is not globally routable (loopback, private, link-local,
  CGNAT, multicast, reserved, IPv4-mapped forms of those), and then connects to that very address, so a DNS
  answer that changes between the check and the connection (DNS rebinding) cannot redirect it inward; the same
  on every redirect (at most 3). R2V_ALLOW_PRIVATE_URLS=1 lifts the address check for local use (or, given
  networks such as "10.1.0.0/16", for those only), and R2V_URL_ALLOW_HOSTS narrows the hosts that may be
  fetched at all;
- streams to disk with the size cap applied while it arrives, under a connect timeout and a total deadline
  that also ends a server trickling bytes forever (R2V_FETCH_CONNECT_TIMEOUT_S, R2V_FETCH_TIMEOUT_S; a failure
  names the limit that ended it);
- verifies HTTPS certificates against the name in the URL (sent as TLS SNI while the connection goes to the
  checked address), with certifi's CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR when set (a private CA);
  nothing else is taken from the environment (no proxy, which would bypass the address check, no .netrc);
- asks for the body without content coding, so a small compressed answer cannot inflate in memory.
What the file is gets decided later, by its bytes (media/sniff.py), never by the URL or Content-Type.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from r2v.errors import INPUT_DOWNLOAD_FAILED, INVALID_PARAMETER, TaskFailure
from r2v.storage.blobs import BlobStore
from r2v.storage.uploads import UploadRegistry

INPUT_SCHEME = "r2v-input:"  # a data-URI payload that the server already saved at create time
MAX_REDIRECTS = 3
USER_AGENT = "r2v-fetch/0.1"
IDLE_READ_S = 30.0  # the longest wait for the next bytes (within the whole-download deadline)

Resolve = Callable[[str, int], list[str]]


def _fail(field: str, reason: str) -> TaskFailure:
    return TaskFailure(INPUT_DOWNLOAD_FAILED, f"{field}: {reason}")


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (one lookup)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass(frozen=True)
class FetchPolicy:
    """Where downloads may go and how long they may take (see config.Settings for the environment names)."""

    allow_private: bool = False
    # Non-public networks downloads may still reach (an internal CDN, say), when allow_private is off.
    private_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    allow_hosts: tuple[str, ...] = ()  # empty: any public host; else only these names (and their subdomains)
    connect_timeout_s: float = 10.0
    total_timeout_s: float = 120.0
    resolve: Resolve = field(default=system_resolve, compare=False)

    def address_allowed(self, address: str) -> bool:
        if self.allow_private or address_is_public(address):
            return True
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return any(ip in net for net in self.private_networks if ip.version == net.version)

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return not self.allow_hosts or any(host == h or host.endswith("." + h) for h in self.allow_hosts)


def pinned_address(host: str, port: int, policy: FetchPolicy, field: str) -> str:
    """The one address a download of `host` connects to, after checking all of the host's addresses."""
    if not policy.host_allowed(host):
        raise _fail(field, f"the host {host!r} is not in this server's allow-list of URL hosts")
    try:
        addresses = policy.resolve(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        raise _fail(field, f"cannot resolve host {host!r} ({getattr(exc, 'strerror', None) or exc})") from None
    if not addresses:
        raise _fail(field, f"cannot resolve host {host!r}")
    for address in addresses:
        if not policy.address_allowed(address):
            raise _fail(field, f"the URL's host {host!r} resolves to a non-public address ({address}); refused")
    return addresses[0]


def tls_context() -> ssl.SSLContext:
    """Certificate verification for downloads: certifi's CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR when set (the
    variables OpenSSL and httpx read), so that a server can trust a private CA. The client itself keeps
    trust_env off: a proxy from the environment would connect to the name, not to the checked address."""
    import certifi

    if cafile := os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=cafile)
    if capath := os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=capath)
    return ssl.create_default_context(cafile=certifi.where())


def _pinned_request(client: httpx.Client, url: str, policy: FetchPolicy, field: str,
                    timeout: httpx.Timeout) -> httpx.Request:  # fmt: skip
    """A GET of `url` sent to the checked address: the URL carries the IP, Host and TLS SNI keep the name."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(field, f"unsupported URL: {url[:200]}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _fail(field, f"the URL has an invalid port: {url[:200]}") from None
    address = pinned_address(parts.hostname, port, policy, field)
    target = httpx.URL(url).copy_with(host=address)  # httpx brackets an IPv6 literal itself
    host_header = parts.netloc.rsplit("@", 1)[-1]  # the name (and port) the user wrote, without credentials
    return client.build_request(
        "GET",
        target,
        headers={"Host": host_header, "Accept-Encoding": "identity", "User-Agent": USER_AGENT},
        extensions={"sni_hostname": parts.hostname},
        timeout=timeout,
    )


@dataclass
class MediaResolver:
    blobs: BlobStore
    uploads: UploadRegistry | None  # None without a server (`r2v generate`): no oss:// uploads then
    owner: str
    now_ms: int
    policy: FetchPolicy = field(default_factory=FetchPolicy)
    allow_local_files: bool = False

    def resolve(self, url: str, field: str, dest: Path, max_bytes: int) -> Path:
        """A local file holding the media behind `url`: `dest`, where it was downloaded or fetched from the blob
        store, or a local file the CLI was given."""
        if url.startswith(INPUT_SCHEME):  # kept in the blob store since the task was created
            if not self.blobs.fetch(url[len(INPUT_SCHEME) :], dest):
                raise _fail(field, "the inline data of this task is missing")
            return dest
        if url.startswith("oss://"):
            if self.uploads is None:
                raise _fail(field, "oss:// URLs are temporary uploads to a server; use a path or URL here")
            blob = self.uploads.find(url[len("oss://") :], self.owner, self.now_ms)
            if blob is None or not self.blobs.fetch(blob, dest):
                raise _fail(field, "the oss:// file does not exist, has expired (48 h) or belongs to another API key")
            return dest
        if url.startswith("file://") and self.allow_local_files:
            path = Path(url[len("file://") :])
            if not path.is_file():
                raise _fail(field, f"no such file: {path}")
            return path
        if url.lower().startswith(("http://", "https://")):
            download(url, field, dest, max_bytes, self.policy)
            return dest
        raise _fail(field, "unsupported URL scheme")


def download(url: str, field: str, dest: Path, max_bytes: int, policy: FetchPolicy) -> None:
    deadline = time.monotonic() + policy.total_timeout_s
    too_slow = f"the download took longer than {policy.total_timeout_s:g} s (R2V_FETCH_TIMEOUT_S)"
    with httpx.Client(verify=tls_context(), follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            # A read waits at most IDLE_READ_S, and never past the deadline: then the deadline is what ended it.
            left = deadline - time.monotonic()
            if left <= 0:
                raise _fail(field, too_slow)
            read = min(IDLE_READ_S, left)
            idle = f"the server sent nothing for {read:g} s" if read < left else too_slow
            request = _pinned_request(client, url, policy, field, httpx.Timeout(policy.connect_timeout_s, read=read))
            try:
                response = client.send(request, stream=True)
                try:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        url = urljoin(url, location)
                        continue
                    if response.status_code != 200:
                        raise _fail(field, f"download failed with HTTP {response.status_code}")
                    _save(response, field, dest, max_bytes, deadline, too_slow)
                    return
                finally:
                    response.close()
            except httpx.ConnectTimeout:  # named with the limit the connection was really given
                applied = request.extensions["timeout"]["connect"]
                raise _fail(field, f"connect timed out after {applied:g} s (R2V_FETCH_CONNECT_TIMEOUT_S)") from None
            except httpx.TimeoutException:
                raise _fail(field, idle) from None
            except httpx.HTTPError as exc:
                raise _fail(field, f"download failed ({type(exc).__name__}: {exc})") from None
    raise _fail(field, f"more than {MAX_REDIRECTS} redirects")


def _save(response: httpx.Response, field: str, dest: Path, max_bytes: int, deadline: float, too_slow: str) -> None:
    # Over the size limit is an out-of-range input (InvalidParameter, as when probing), not a failed download.
    too_big = TaskFailure(INVALID_PARAMETER, f"{field}: the file is larger than {max_bytes // (1024 * 1024)} MB")
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    coding = response.headers.get("content-encoding", "identity").strip().lower()
    if coding not in ("", "identity"):
        raise _fail(field, f"the server sent the file with content coding {coding!r}; r2v asked for none")
    size = 0
    with open(dest, "wb") as out:
        for chunk in response.iter_raw():  # as it arrives: a trickle still reaches the deadline check
            if time.monotonic() > deadline:
                raise _fail(field, too_slow)
            size += len(chunk)
            if size > max_bytes:
                raise too_big
            out.write(chunk)
    if time.monotonic() > deadline:
        raise _fail(field, too_slow)
    if size == 0:
        raise _fail(field, "the file is empty")
