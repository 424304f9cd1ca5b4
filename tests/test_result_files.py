"""Result files served by r2v under the URLs it signs, from any blob store's stream: whole, HEAD, and one byte range
in each form a player sends; a range past the end is a 416 in the envelope."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from r2v.clock import FakeClock
from r2v.config import Settings
from r2v.wiring import build, build_app, runner_for
from tests.conftest import KEY

pytestmark = pytest.mark.http

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}


@pytest.fixture
def result(tmp_path, media):
    parts = build(Settings(data_dir=tmp_path, api_keys=(KEY,), allow_private_urls=True), FakeClock())
    client = TestClient(build_app(parts), base_url="http://r2v.test")
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [
        {"type": "reference_image", "url": media.url("girl.png")}]}, "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip
    task_id = client.post(CREATE, json=body, headers=HEADERS).json()["output"]["task_id"]
    runner_for(parts).run(parts.tasks.claim_next("w", parts.clock.now_ms(), None))
    url = client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS).json()["output"]["video_url"]
    path = httpx.URL(url).raw_path.decode()
    whole = client.get(path)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    yield client, path, whole.content
    client.close()


@pytest.mark.parametrize(
    "header, start, end",
    [("bytes=100-199", 100, 199), ("bytes=1000-", 1000, None), ("bytes=-500", -500, None), ("bytes=0-0", 0, 0),
     ("bytes=10-999999999", 10, None)],
)  # fmt: skip
def test_one_byte_range_in_each_form(result, header, start, end):
    client, path, content = result
    size = len(content)
    first = start if start >= 0 else size + start
    last = size - 1 if end is None else end
    part = client.get(path, headers={"Range": header})
    assert part.status_code == 206, part.text
    assert part.content == content[first : last + 1]
    assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert part.headers["content-length"] == str(last - first + 1) and part.headers["accept-ranges"] == "bytes"


def test_head_and_whole_answers_say_their_length(result):
    client, path, content = result
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(content)) and head.headers["accept-ranges"] == "bytes"
    several = client.get(path, headers={"Range": "bytes=0-1,5-6"})  # several ranges: the whole file (RFC 9110)
    assert several.status_code == 200 and several.content == content


def test_a_range_past_the_end_is_a_416_in_the_envelope(result):
    client, path, content = result
    answer = client.get(path, headers={"Range": f"bytes={len(content)}-"})
    assert answer.status_code == 416
    assert answer.json()["code"] == "InvalidRange" and answer.json()["message"].startswith("Range:")
