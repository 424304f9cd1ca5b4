"""The emulator's HTTP face (`r2v serve --emulate` only): the `X-R2V-Scenario` header and the rules applied to
every API call, the recorder, and the control endpoints under /r2v/emulator/, which need no API key.

A middleware sees each call to the APIs (/api/v1/, /v1/, /files/) before its route: it reads a JSON body (the
route then reads the same bytes), works out the call's scenario (service/emulator.py), answers an `http=` error
itself in the envelope of the API called, expires the task a call names on `expire`, and hands a create's
scenario to its route through the request's state (task_extras), which keeps it with the task for the emulated
worker. Then it records the call, with the status it got."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from r2v.api import responses
from r2v.api.bodies import parse_json, read_limited
from r2v.api.extras import STATE_KEY
from r2v.api.videos import from_api_error
from r2v.errors import ApiError
from r2v.protocol import scenario as scenarios
from r2v.ratelimits import RequestLimiter
from r2v.service.emulator import EmulatorService

PREFIX = "/r2v/emulator"
API_PATHS = ("/api/v1/", "/v1/", "/files/")
NOT_API = ("/v1/openapi.json",)
MAX_READ_BODY = 32 * 1024 * 1024  # JSON bodies up to the create's own limit are read for rules and the recorder
MAX_RULE_BODY = 64 * 1024

OffLoop = Callable[[Callable[[], Any]], Awaitable[Any]]


def _is_create(method: str, path: str) -> bool:
    return method == "POST" and (path.endswith("/video-synthesis") or path == "/v1/videos" or path.endswith("/remix"))


def _error(path: str, exc: ApiError) -> Response:
    """An error in the envelope of the API called: OpenAI's on /v1/, DashScope's elsewhere."""
    if path.startswith("/v1/"):
        return from_api_error(exc)
    return responses.error_response(exc.status, exc.code, exc.message)


class ScenarioMiddleware:
    def __init__(self, app: ASGIApp, emulator: EmulatorService, off_loop: OffLoop):
        self.app, self.emulator, self.off_loop = app, emulator, off_loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(API_PATHS) or path in NOT_API:
            await self.app(scope, receive, send)
            return
        method, headers = scope["method"], Headers(scope=scope)
        body, receive = await _read_json(headers, receive)
        status = {"code": 500}

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        chosen = None
        try:
            chosen = self.emulator.scenario_for(path, headers.get(scenarios.HEADER), body)
            if chosen is not None and chosen.http_status is not None:
                raise scenarios.injected_error(chosen)
            if chosen is not None and chosen.expire and not _is_create(method, path):
                await self.off_loop(lambda: self.emulator.expire_addressed(path))
        except ApiError as exc:
            await _error(path, exc)(scope, receive, send_noting_status)
        else:
            scope.setdefault("state", {})[STATE_KEY] = chosen
            await self.app(scope, receive, send_noting_status)
        finally:
            headers_sent = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
            self.emulator.record(method, path, _query_pairs(scope), body, headers_sent, status["code"], chosen)


def _query_pairs(scope: Scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


async def _read_json(headers: Headers, receive: Receive) -> tuple[object, Receive]:
    """(the parsed JSON body or None, a receive that hands the route the same bytes). Only a JSON body within the
    create's limit is read here; anything else (an upload) streams to its route untouched."""
    length = headers.get("content-length", "")
    is_json = headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"
    if not is_json or not (length.isascii() and length.isdigit()) or int(length) > MAX_READ_BODY:
        return None, receive
    messages: list[Message] = []
    raw = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        raw += message.get("body", b"")
        if not message.get("more_body"):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    try:
        body = json.loads(raw)
    except ValueError:
        body = None  # the route answers the malformed body in its own words
    return body, replay


def add_emulator(app: FastAPI, emulator: EmulatorService, off_loop: OffLoop, limiter: RequestLimiter) -> None:
    """The control endpoints and the scenario middleware; only `r2v serve --emulate` calls this."""
    app.add_middleware(ScenarioMiddleware, emulator=emulator, off_loop=off_loop)

    @app.post(PREFIX + "/rules", include_in_schema=False)
    async def add_rule(request: Request) -> Response:
        rule = emulator.add_rule(parse_json(await read_limited(request, MAX_RULE_BODY)))
        return responses.json_response(rule)

    @app.get(PREFIX + "/rules", include_in_schema=False)
    async def list_rules() -> Response:
        return responses.json_response({"rules": emulator.rules()})

    @app.delete(PREFIX + "/rules", include_in_schema=False)
    async def delete_rules() -> Response:
        return responses.json_response({"deleted": emulator.delete_rules()})

    @app.delete(PREFIX + "/rules/{rule_id}", include_in_schema=False)
    async def delete_rule(rule_id: str) -> Response:
        if not emulator.delete_rules(rule_id):
            raise ApiError(404, "NotFound", f"rule_id: no rule {rule_id!r}")
        return responses.json_response({"deleted": 1})

    @app.get(PREFIX + "/requests", include_in_schema=False)
    async def recorded_requests() -> Response:
        return responses.json_response({"requests": emulator.requests()})

    @app.post(PREFIX + "/reset", include_in_schema=False)
    async def reset() -> Response:
        cleared = await off_loop(emulator.reset)
        limiter.refill()  # the rate limits start afresh too: one test's burst must not throttle the next test
        return responses.json_response({"reset": cleared})
