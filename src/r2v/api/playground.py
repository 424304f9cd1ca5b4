"""The web playground: a page at `/` and its files under /playground/, static HTML, CSS and JavaScript shipped in
the package (nothing to build). It works through the public API like any client, with the user's own key.

Every answer carries a Content-Security-Policy: scripts, styles and requests from this origin only (no inline
script, no eval), so that text a user or the server puts on the page can never run as code."""

from __future__ import annotations

import hashlib
from importlib import resources
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import Response

from r2v.errors import NOT_FOUND, ApiError

PAGE = "index.html"
ASSETS_PATH = "/playground/"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def security_headers(public_url: str | None) -> dict[str, str]:
    """The page's CSP and friends. With --public-url on another origin, results and uploads live there too."""
    other = ""
    if public_url:
        parts = urlsplit(public_url)
        other = f" {parts.scheme}://{parts.netloc}"
    policy = "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",  # thumbnails of the files being picked are blob: URLs
        f"media-src 'self' blob:{other}",
        f"connect-src 'self'{other}",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])  # fmt: skip
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def _load() -> dict[str, tuple[bytes, str]]:
    """Every file of the static folder, read once (a few tens of kB): name -> (bytes, content type)."""
    folder = resources.files("r2v.api") / "static"
    found = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in _TYPES:
            found[entry.name] = (entry.read_bytes(), _TYPES[suffix])
    if PAGE not in found:
        raise RuntimeError(f"the playground's {PAGE} is missing from the r2v package (static/)")
    return found


def add_playground(app: FastAPI, public_url: str | None) -> None:
    files = _load()
    headers = security_headers(public_url)
    tags = {name: '"' + hashlib.sha256(body).hexdigest()[:32] + '"' for name, (body, _) in files.items()}

    def serve(name: str, request: Request) -> Response:
        body, content_type = files[name]
        tag = tags[name]
        own = {**headers, "ETag": tag}
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers=own)
        return Response(body, media_type=content_type, headers=own)

    @app.get("/", include_in_schema=False)
    async def page(request: Request) -> Response:
        return serve(PAGE, request)

    @app.get(ASSETS_PATH + "{name}", include_in_schema=False)
    async def asset(name: str, request: Request) -> Response:
        if name not in files:  # only the files shipped: no path is ever built from the request
            raise ApiError(404, NOT_FOUND, f"{ASSETS_PATH}{name}: no such playground file")
        return serve(name, request)
