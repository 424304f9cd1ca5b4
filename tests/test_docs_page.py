"""/docs (Swagger UI) works on a machine that reaches nothing: its script, styles and icon are served by r2v itself
(from the fastapi-offline package), the HTML names no other host, and in headless Chromium the page renders every
operation of /openapi.json, with its answers, while every request the browser makes stays on the server's origin.
There is no /redoc: ReDoc's bundle loads its logo from a CDN."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import KEY
from tests.helpers import ServerProcess

pytestmark = pytest.mark.server

UI_MS = 30_000


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> ServerProcess:
    server = ServerProcess(tmp_path_factory.mktemp("docs") / "data", KEY, workers=1).start()
    yield server
    server.stop()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.links += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.mark.parametrize(("page_path", "links"), [("/docs", 3), ("/docs/oauth2-redirect", 0)])
def test_the_docs_pages_and_their_assets_are_served_here(site, page_path, links):
    html = httpx.get(site.base + page_path)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html.text), "a URL naming another host"
    parser = _Links()
    parser.feed(html.text)
    assert len(parser.links) == links  # Swagger UI's script, stylesheet and icon
    for link in parser.links:
        url = urljoin(site.base + page_path, link)
        assert urlsplit(url).netloc == urlsplit(site.base).netloc, link
        asset = httpx.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, link
    assert httpx.get(site.base + "/openapi.json").status_code == 200


def _offline(page: Page, origin: str) -> list[str]:
    """Let the page reach only `origin`: any other request is aborted, and named in the list returned."""
    elsewhere: list[str] = []

    def route(request_route) -> None:
        url = request_route.request.url
        if url.startswith(origin + "/") or url.startswith("data:") or url.startswith("blob:"):
            request_route.continue_()
        else:
            elsewhere.append(url)
            request_route.abort()

    page.route("**/*", route)
    return elsewhere


def test_swagger_ui_renders_every_operation_without_leaving_the_server(site, page: Page):
    operations = [
        (method, path)
        for path, methods in httpx.get(site.base + "/openapi.json").json()["paths"].items()
        for method in methods
    ]
    elsewhere = _offline(page, site.base)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site.base + "/docs")
    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(len(operations), timeout=UI_MS)
    for method, path in operations:
        expect(page.locator(f'.opblock-{method} [data-path="{path}"]')).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("Authorize"))).to_be_visible()  # the bearer key scheme
    create = page.locator(".opblock-post", has_text="/video-synthesis")
    create.locator(".opblock-summary").first.click()  # open it: its answers, errors in the envelope
    responses = create.locator(".responses-table .response")
    expect(responses.filter(has_text="403")).to_have_count(1)
    expect(responses.filter(has_text="422")).to_have_count(0)
    assert not errors, errors
    assert not elsewhere, f"the page asked for other hosts: {elsewhere}"


def test_there_is_no_redoc_page(site):
    assert httpx.get(site.base + "/redoc").status_code == 404
