"""The served OpenAPI document tells the truth about the live server: schemathesis drives every operation of a real
`r2v serve` process from its /openapi.json (valid requests and invalid ones) and finds nothing with the checks
below. Every status answered is listed for its operation, with its content type and schema (errors: the DashScope
envelope, exactly code, message, request_id), the routes that need the key refuse a request without it, and no
answer is a server error. Derandomised and bounded: a run is repeatable and takes about a minute."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from r2v.api.openapi import OPERATIONS
from tests.conftest import KEY
from tests.helpers import ServerProcess

pytestmark = pytest.mark.server

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, ignored_auth]  # fmt: skip
AUTH = {"Authorization": f"Bearer {KEY}"}
EXAMPLES = int(os.environ.get("R2V_CONFORMANCE_EXAMPLES", "25"))  # per operation and mode; more to hunt


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> ServerProcess:
    server = ServerProcess(tmp_path_factory.mktemp("openapi") / "data", KEY, workers=1).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live_schema(live):
    return schemathesis.openapi.from_url(live.base + "/openapi.json")


# Each operation by hand, not through schemathesis's pytest plugin (from_fixture): its lazy loader reads a pytest
# internal (Function._nodeid) that pytest 9 no longer has.
# Invalid requests too (negative mode), for every operation that takes anything (health and metrics take nothing).
CASES = [
    pytest.param(method, path, mode)
    for method, path in sorted(OPERATIONS) for mode in GenerationMode
    if mode == GenerationMode.POSITIVE or path not in ("/healthz", "/metrics")
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=lambda x: getattr(x, "value", x))
def test_the_live_server_answers_as_its_document_says(live_schema, method, path, mode):
    operation = live_schema[path][method.upper()]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(derandomize=True, database=None, deadline=None, max_examples=EXAMPLES,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(case):
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    check()


def test_the_document_lists_no_422_and_the_envelope_everywhere(live):
    """What a generated client reads: FastAPI's 422 nowhere (r2v never sends it), every error status in the
    envelope, and the public routes (health, metrics, result files, the signed upload form) need no key."""
    import httpx

    document = httpx.get(live.base + "/openapi.json").json()
    assert set(document["components"]["schemas"]) == {"Error"}
    assert document["components"]["schemas"]["Error"]["required"] == ["code", "message", "request_id"]
    operations = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert operations == set(OPERATIONS)  # each described in openapi.py, none left as FastAPI made it
    public = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert "422" not in statuses, (method, path)
            for status in statuses - {"200", "206"} - ({"503"} if path == "/healthz" else set()):
                content = operation["responses"][status]["content"]
                assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, status
            if operation.get("security") == []:
                public.add(path)
            else:
                assert {"401", "429", "500", "503"} <= statuses, (method, path)
    assert public == {"/healthz", "/metrics", "/files/{name}", "/api/v1/uploads/oss"}
    assert document["security"] == [{"ApiKey": []}]
    create = document["paths"]["/api/v1/services/aigc/video-generation/video-synthesis"]["post"]
    assert {"400", "401", "403", "413", "429", "500", "503"} <= set(create["responses"])
    assert set(document["paths"]["/files/{name}"]["get"]["responses"]["200"]["content"]) == {"video/mp4"}
    assert set(document["paths"]["/api/v1/uploads/oss"]["post"]["requestBody"]["content"]) == {"multipart/form-data"}


@pytest.mark.parametrize(
    ("method", "url", "form", "status"),
    [
        ("GET", "/files/x.mp4?Expires=1&Signature=%C3%A9", None, 403),
        ("POST", "/api/v1/uploads/oss", {"policy": "e30=", "Signature": "é", "key": "k/a.png"}, 403),
        ("GET", "/api/v1/tasks?page_no=%C2%B2", None, 400),  # ² passes str.isdigit
    ],
    ids=["file-signature-non-ascii", "upload-signature-non-ascii", "page_no-superscript-two"],
)  # fmt: skip
def test_refused_not_crashed(live, method, url, form, status):
    """What schemathesis found (or, for ², what its cousin case showed): each answered in the envelope, no 500."""
    import httpx

    files = {"file": ("a.png", b"\x89PNG\r\n\x1a\n")} if form else None
    answer = httpx.request(method, live.base + url, headers=AUTH, data=form, files=files)
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"code", "message", "request_id"}
