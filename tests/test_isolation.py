"""Two API keys over every endpoint and every kind of URL: neither can see, list, cancel, fetch or upload into
what belongs to the other; signed result URLs cannot be forged, extended or pointed elsewhere; upload keys
cannot leave their directory."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from r2v.clock import FakeClock
from r2v.config import Settings
from r2v.ratelimits import RateLimits
from r2v.wiring import build, build_app, runner_for
from tests.conftest import KEY, OTHER_KEY, data_uri

pytestmark = pytest.mark.http

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"


def _headers(key: str, **extra) -> dict:
    return {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable", **extra}


@pytest.fixture
def stack(tmp_path):
    clock = FakeClock()
    settings = Settings(data_dir=tmp_path, api_keys=(KEY, OTHER_KEY), allow_private_urls=True,
                        rate_limits=RateLimits.off())  # fmt: skip
    parts = build(settings, clock)
    client = TestClient(build_app(parts), base_url="http://r2v.test")
    yield parts, client, runner_for(parts)
    client.close()


def _body(url: str) -> dict:
    return {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": url}]},
            "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip


def _create(client, key: str, url: str, **headers) -> str:
    answer = client.post(CREATE, json=_body(url), headers=_headers(key, **headers))
    assert answer.status_code == 200, answer.text
    return answer.json()["output"]["task_id"]


def _run_all(parts, runner) -> None:
    while (task := parts.tasks.claim_next("w", parts.clock.now_ms(), None)) is not None:
        runner.run(task)


def _upload(client, key: str, name: str, content: bytes, key_override: str | None = None):
    policy = client.get("/api/v1/uploads", params={"action": "getPolicy", "model": "wan2.7-r2v"},
                        headers=_headers(key)).json()["data"]  # fmt: skip
    object_key = key_override if key_override is not None else f"{policy['upload_dir']}/{name}"
    form = {"OSSAccessKeyId": policy["oss_access_key_id"], "Signature": policy["signature"],
            "policy": policy["policy"], "key": object_key, "x-oss-object-acl": "private",
            "x-oss-forbid-overwrite": "true", "success_action_status": "200"}  # fmt: skip
    answer = client.post(urlsplit(policy["upload_host"]).path, data=form, files={"file": (name, content)})
    return policy, object_key, answer


def test_tasks_of_one_key_are_invisible_to_the_other(stack, media, assets):
    parts, client, runner = stack
    by_url = _create(client, KEY, media.url("girl.png"))
    by_data = _create(client, KEY, data_uri(assets["girl"]))
    _, object_key, answer = _upload(client, KEY, "girl.png", assets["girl"].read_bytes())
    assert answer.status_code == 200
    by_oss = _create(client, KEY, f"oss://{object_key}", **{"X-DashScope-OssResourceResolve": "enable"})
    pending = _create(client, KEY, media.url("girl.png"))
    mine = {by_url, by_data, by_oss, pending}

    # The other key: every query UNKNOWN, an empty list, and cancel refused without touching the task.
    for task_id in mine:
        other = client.get(f"/api/v1/tasks/{task_id}", headers=_headers(OTHER_KEY)).json()
        assert other["output"] == {"task_id": task_id, "task_status": "UNKNOWN"}
    assert client.get("/api/v1/tasks", headers=_headers(OTHER_KEY)).json()["total"] == 0
    assert client.get("/api/v1/tasks", params={"task_id": pending}, headers=_headers(OTHER_KEY)).json()["data"] == []
    refused = client.post(f"/api/v1/tasks/{pending}/cancel", headers=_headers(OTHER_KEY))
    assert refused.status_code == 400 and refused.json()["code"] == "UnsupportedOperation"
    mine_now = client.get(f"/api/v1/tasks/{pending}", headers=_headers(KEY)).json()["output"]
    assert mine_now["task_status"] == "PENDING"
    assert {r["task_id"] for r in client.get("/api/v1/tasks", headers=_headers(KEY)).json()["data"]} == mine

    # The other key cannot use the first key's upload, nor name the saved data-URI file of its task.
    stolen = client.post(CREATE, json=_body(f"oss://{object_key}"),
                         headers=_headers(OTHER_KEY, **{"X-DashScope-OssResourceResolve": "enable"}))  # fmt: skip
    assert stolen.status_code == 400 and stolen.json()["message"].startswith("input.media[0].url")
    for url in (f"r2v-input:inputs/{by_data}/input_media0_url.png", "file:///etc/passwd"):
        sneaky = client.post(CREATE, json=_body(url), headers=_headers(OTHER_KEY))
        assert sneaky.status_code == 400 and sneaky.json()["code"] == "InvalidURL", sneaky.text

    _run_all(parts, runner)
    for task_id in (by_url, by_data, by_oss):
        done = client.get(f"/api/v1/tasks/{task_id}", headers=_headers(KEY)).json()["output"]
        assert done["task_status"] == "SUCCEEDED", done
        assert client.get(f"/api/v1/tasks/{task_id}", headers=_headers(OTHER_KEY)).json()["output"] == {
            "task_id": task_id, "task_status": "UNKNOWN"}  # fmt: skip


def test_result_urls_cannot_be_forged_extended_or_redirected(stack, media):
    parts, client, runner = stack
    first, second = _create(client, KEY, media.url("girl.png")), _create(client, OTHER_KEY, media.url("girl.png"))
    _run_all(parts, runner)
    url = client.get(f"/api/v1/tasks/{first}", headers=_headers(KEY)).json()["output"]["video_url"]
    other_url = client.get(f"/api/v1/tasks/{second}", headers=_headers(OTHER_KEY)).json()["output"]["video_url"]
    parts_ = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts_.query).items()}
    assert client.get(f"{parts_.path}?{parts_.query}").status_code == 200

    def status(path: str, **params) -> int:
        answer = client.get(path, params={**query, **params})
        if answer.status_code != 200:
            assert set(answer.json()) == {"code", "message", "request_id"}
        return answer.status_code

    assert status(parts_.path, Expires=str(int(query["Expires"]) + 3600)) == 403  # extended
    assert status(parts_.path, Signature=query["Signature"][:-4] + "AAAA") == 403  # forged
    assert status(urlsplit(other_url).path) == 403  # this signature on the other key's file
    assert status(parts_.path.replace(first, second)) == 403
    for escape in ("/files/../secret.key", "/files/%2e%2e/secret.key", "/files/results/..%2f..%2fsecret.key",
                   "/files/results/%00.mp4", "/files//etc/passwd"):  # fmt: skip
        answer = client.get(escape, params=query)
        assert answer.status_code in (403, 404), escape
        assert answer.headers["content-type"] == "application/json"  # an envelope, never a file


@pytest.mark.parametrize(
    "suffix",
    ["../x.png", "..", "a/../../x.png", "/abs.png", "a\x00.png", "a\\..\\x.png", "a\u202egnp.exe", "．．／x.png",
     "e\u0301.png", "\u2024\u2024/x.png", "sub/x.png", ""],
)  # fmt: skip
def test_upload_keys_cannot_escape_their_directory(stack, assets, suffix):
    _, client, _ = stack
    policy = client.get("/api/v1/uploads", params={"action": "getPolicy", "model": "wan2.7-r2v"},
                        headers=_headers(KEY)).json()["data"]  # fmt: skip
    _, _, answer = _upload(client, KEY, "x.png", assets["girl"].read_bytes(),
                           key_override=f"{policy['upload_dir']}/{suffix}")  # fmt: skip
    assert answer.status_code == 403 and answer.json()["code"] == "AccessDenied", (suffix, answer.text)


def test_an_upload_policy_is_bound_to_its_key(stack, assets):
    _, client, _ = stack
    policy, object_key, answer = _upload(client, KEY, "girl.png", assets["girl"].read_bytes())
    assert answer.status_code == 200
    # The other key's policy cannot write into this key's directory.
    _, _, into_mine = _upload(client, OTHER_KEY, "x.png", assets["girl"].read_bytes(),
                              key_override=f"{policy['upload_dir']}/x.png")  # fmt: skip
    assert into_mine.status_code == 403
