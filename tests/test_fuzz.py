"""Property-based tests of the request handling: whatever a client sends, the answer is 200 or a 4xx in the
DashScope envelope, never a 500 or a traceback. Hypothesis drives the create body directly, derandomised, so a run
is repeatable. (schemathesis drives every route from the served OpenAPI document against a live server:
test_openapi_conformance.py.)"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from r2v.clock import FakeClock
from r2v.config import Settings
from r2v.ratelimits import RateLimits
from r2v.wiring import build, build_app
from tests.conftest import KEY

pytestmark = pytest.mark.http

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
REPEATABLE = settings(derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))


PARTS = build(
    Settings(data_dir=Path(tempfile.mkdtemp(prefix="r2v-fuzz-")), api_keys=(KEY,), rate_limits=RateLimits.off()),
    FakeClock(),
)
APP = build_app(PARTS)
CLIENT = TestClient(APP, base_url="http://r2v.test", raise_server_exceptions=False)

VALID = {"model": "wan2.7-r2v",
         "input": {"prompt": "图1 and 视频1 meet", "negative_prompt": "blur",
                   "media": [{"type": "reference_image", "url": "https://example.com/a.png",
                              "reference_voice": "https://example.com/a.wav"},
                             {"type": "reference_video", "url": "https://example.com/b.mp4"}]},
         "parameters": {"resolution": "720P", "ratio": "16:9", "duration": 5, "prompt_extend": True,
                        "watermark": False, "seed": 42}}  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def _assert_answered(response) -> None:
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if response.status_code == 200:
        assert body["output"]["task_status"] in ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")
    else:
        assert set(body) == {"code", "message", "request_id"}
        assert "Traceback" not in body["message"]


def _paths(value, prefix=()):
    """Every place in a JSON document, as a key path."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _replace(document, path, value):
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


ALL_PATHS = list(_paths(VALID))


@settings(REPEATABLE, max_examples=300)
@given(body=json_values)
def test_any_json_body_is_answered_in_the_envelope(body):
    _assert_answered(CLIENT.post(CREATE, json=body, headers=HEADERS))


@settings(REPEATABLE, max_examples=400)
@given(path=st.sampled_from(ALL_PATHS), value=json_values)
def test_a_valid_body_with_any_one_part_replaced_is_answered_in_the_envelope(path, value):
    _assert_answered(CLIENT.post(CREATE, json=_replace(VALID, path, value), headers=HEADERS))


@settings(REPEATABLE, max_examples=200)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
@example(raw=json.dumps(VALID).replace("blur", "\\ud800").encode())  # a lone surrogate escape
@example(raw=json.dumps(VALID).replace("42", "Infinity").encode())
@example(raw=json.dumps(VALID).replace("42", "NaN").encode())
def test_any_bytes_are_answered_in_the_envelope(raw):
    _assert_answered(CLIENT.post(CREATE, content=raw, headers=HEADERS))


PLACES = [
    ("parameters", "seed"),
    ("parameters", "watermark"),
    ("input", "media", 0, "url"),
    ("extra",),
    ("parameters", "anything", 1, "deep"),
]  # the last two are fields r2v ignores: refused all the same


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("path", PLACES, ids=lambda path: ".".join(map(str, path)))
def test_nan_and_infinity_anywhere_are_malformed_json(path, constant):
    """Python's json writes (and reads) them by default; they are not JSON, and a body holding one is refused
    whole, wherever it is, before any field is looked at."""
    body = _replace(_replace(VALID, ("parameters", "anything"), [0, {}]), path, "@constant@")
    raw = json.dumps(body).replace('"@constant@"', constant).encode()
    answer = CLIENT.post(CREATE, content=raw, headers=HEADERS)
    assert answer.status_code == 400, answer.text
    refused = answer.json()
    assert set(refused) == {"code", "message", "request_id"} and refused["code"] == "InvalidParameter"
    assert refused["message"] == f"body: malformed JSON ({constant} is not a JSON number)"


def _nested(levels: int, container: str) -> dict:
    """VALID with parameters.extra nested so that the body is `levels` arrays/objects deep (body 1, parameters 2)."""
    inner: object = "leaf"
    for _ in range(levels - 2):
        inner = [inner] if container == "array" else {"k": inner}
    return _replace(VALID, ("parameters", "extra"), inner)


@pytest.mark.parametrize("container", ["array", "object"])
def test_json_nested_64_deep_is_accepted_and_65_is_refused(container):
    accepted = CLIENT.post(CREATE, json=_nested(64, container), headers=HEADERS)
    assert accepted.status_code == 200, accepted.text
    refused = CLIENT.post(CREATE, json=_nested(65, container), headers=HEADERS)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "InvalidParameter"
    assert refused.json()["message"] == "body: JSON nested deeper than 64 levels"
    far = CLIENT.post(CREATE, content=b"[" * 100_000 + b"]" * 100_000, headers=HEADERS)  # past Python's recursion
    assert far.status_code == 400 and far.json()["message"].startswith("body: malformed JSON"), far.text


def test_duplicate_keys_are_decided_by_the_last_one():
    """Like most JSON parsers (and the cloud's), the last of repeated keys wins: the same answer every time."""
    body = json.dumps(VALID)[1:]
    last_valid = '{"model": "no-such-model", ' + body
    last_invalid = "{" + body[:-1] + ', "model": "no-such-model"}'
    assert CLIENT.post(CREATE, content=last_valid.encode(), headers=HEADERS).status_code == 200
    refused = CLIENT.post(CREATE, content=last_invalid.encode(), headers=HEADERS)
    assert refused.status_code == 400 and refused.json()["message"] == "Model not exist."


def test_long_prompts_are_truncated_at_the_spec_lengths():
    body = _replace(_replace(VALID, ("input", "prompt"), "图1 " + "长" * 6000), ("input", "negative_prompt"), "n" * 900)
    task_id = CLIENT.post(CREATE, json=body, headers=HEADERS).json()["output"]["task_id"]
    task = PARTS.tasks.get(task_id)
    assert len(task.orig_prompt) == 5000
    assert len(json.loads(task.spec_json)["negative_prompt"]) == 500
