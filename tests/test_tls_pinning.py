"""Address pinning over HTTPS: the download connects to the address that was checked (the URL carries the IP)
while TLS still sends the host name as SNI and verifies the certificate against it, and Host names it too.
A local HTTPS server with a throwaway CA (trustme) stands in for a CDN; r2v trusts that CA through
SSL_CERT_FILE, the variable OpenSSL and httpx read (downloads otherwise use certifi's bundle)."""

from __future__ import annotations

import dataclasses
import http.server
import ssl
import threading
from pathlib import Path

import pytest
import trustme

from r2v.config import Settings
from r2v.errors import TaskFailure
from r2v.media.fetch import FetchPolicy, download, system_resolve

pytestmark = pytest.mark.http

FIELD = "input.media[0].url"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.server.requests.append({"host": self.headers.get("Host"), "path": self.path,
                                     "local": self.connection.getsockname()[0]})  # fmt: skip
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class HttpsServer:
    """HTTPS on 127.0.0.1 with a certificate for `name` from `ca`; it records the SNI of every handshake and the
    Host and local address of every request."""

    def __init__(self, ca: trustme.CA, name: str, body: bytes):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(context)
        self.sni: list[str | None] = []
        context.sni_callback = lambda _sock, server_name, _ctx: self.sni.append(server_name)
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._httpd.daemon_threads = True
        self._httpd.requests, self._httpd.body = [], body
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def requests(self) -> list[dict]:
        return self._httpd.requests

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


@pytest.fixture
def picture(assets) -> bytes:
    return assets["girl"].read_bytes()


def test_https_goes_to_the_checked_address_with_the_name_in_sni_and_host(ca, picture, tmp_path, monkeypatch):
    """A name no system resolver knows: the download can only have reached the server through the address the
    policy's one lookup returned, and TLS verified the certificate for that name, sent as SNI."""
    authority, pem = ca
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    server = HttpsServer(authority, "cdn.r2v-test", picture)
    lookups = []
    policy = FetchPolicy(allow_private=True, resolve=lambda host, port: lookups.append((host, port)) or ["127.0.0.1"])
    try:
        download(f"https://cdn.r2v-test:{server.port}/girl.png?x=1", FIELD, tmp_path / "a", 10**7, policy)
    finally:
        server.close()
    assert (tmp_path / "a").read_bytes() == picture
    assert lookups == [("cdn.r2v-test", server.port)]
    assert server.sni == ["cdn.r2v-test"]
    assert server.requests == [{"host": f"cdn.r2v-test:{server.port}", "path": "/girl.png?x=1", "local": "127.0.0.1"}]


def test_the_environments_policy_reaches_localhost_over_https_where_it_checked(ca, picture, tmp_path, monkeypatch):
    """The policy as `r2v serve` builds it from the environment (R2V_ALLOW_PRIVATE_URLS=1), the system resolver
    (localhost is 127.0.0.1 here): one lookup, the connection to its answer, SNI and Host the name."""
    authority, pem = ca
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    monkeypatch.setenv("R2V_ALLOW_PRIVATE_URLS", "1")
    answers = []

    def resolve(host, port):
        answers.append(system_resolve(host, port))
        return answers[-1]

    policy = dataclasses.replace(Settings(data_dir=tmp_path / "d").fetch_policy(), resolve=resolve)
    server = HttpsServer(authority, "localhost", picture)
    try:
        download(f"https://localhost:{server.port}/girl.png", FIELD, tmp_path / "a", 10**7, policy)
    finally:
        server.close()
    assert (tmp_path / "a").read_bytes() == picture
    assert len(answers) == 1 and server.requests[0]["local"] == answers[0][0]
    assert server.sni == ["localhost"] and server.requests[0]["host"] == f"localhost:{server.port}"


def test_a_certificate_for_another_name_is_refused(ca, picture, tmp_path, monkeypatch):
    authority, pem = ca
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    server = HttpsServer(authority, "other.example", picture)
    policy = FetchPolicy(allow_private=True, resolve=lambda host, port: ["127.0.0.1"])
    try:
        with pytest.raises(TaskFailure) as info:
            download(f"https://cdn.r2v-test:{server.port}/girl.png", FIELD, tmp_path / "a", 10**7, policy)
    finally:
        server.close()
    assert info.value.code == "BadRequest.InputDownloadFailed"
    assert info.value.message.startswith(FIELD + ": download failed (ConnectError")
    assert "certificate verify failed" in info.value.message and "cdn.r2v-test" in info.value.message
    assert server.sni == ["cdn.r2v-test"] and server.requests == []  # the handshake ended it: nothing was asked


def test_an_untrusted_ca_is_refused_without_ssl_cert_file(ca, picture, tmp_path, monkeypatch):
    """Verification stays on: the throwaway CA is trusted only because SSL_CERT_FILE names it."""
    authority, _ = ca
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    server = HttpsServer(authority, "cdn.r2v-test", picture)
    policy = FetchPolicy(allow_private=True, resolve=lambda host, port: ["127.0.0.1"])
    try:
        with pytest.raises(TaskFailure, match="certificate verify failed"):
            download(f"https://cdn.r2v-test:{server.port}/girl.png", FIELD, tmp_path / "a", 10**7, policy)
    finally:
        server.close()
    assert server.requests == [] and not Path(tmp_path / "a").exists()
