"""Lifecycle rules that need time to pass: run in-process with an injected clock, so nothing waits 24 hours."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from fastapi.testclient import TestClient

from r2v.clock import FakeClock
from r2v.config import Settings
from r2v.service.views import CHINA
from r2v.wiring import build, build_app, janitor_for, runner_for
from tests.conftest import KEY, OTHER_KEY, data_uri

pytestmark = pytest.mark.http

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}


@pytest.fixture
def stack(tmp_path):
    clock = FakeClock()
    parts = build(Settings(data_dir=tmp_path, api_keys=(KEY, OTHER_KEY), allow_private_urls=True), clock)
    client = TestClient(build_app(parts), base_url="http://r2v.test")
    yield parts, client, clock, runner_for(parts)
    client.close()


def _run_pending(parts, runner):
    while (task := parts.tasks.claim_next("test-worker", parts.clock.now_ms(), 5)) is not None:
        runner.run(task)


def _create(client, media_url, **params):
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": media_url}]},
            "parameters": {"resolution": "720P", "duration": 2, **params}}  # fmt: skip
    response = client.post(CREATE, json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    return response.json()["output"]["task_id"]


def test_states_times_and_24h_expiry(stack, media):
    parts, client, clock, runner = stack
    task_id = _create(client, media.url("girl.png"))
    pending = client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS).json()["output"]
    assert pending["task_status"] == "PENDING"
    assert "submit_time" in pending and "scheduled_time" not in pending and "end_time" not in pending
    clock.advance(3)
    _run_pending(parts, runner)
    done = client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS).json()
    assert done["output"]["task_status"] == "SUCCEEDED"
    assert done["output"]["video_url"].startswith("http://r2v.test/files/results/")
    assert done["usage"]["output_video_duration"] == 2

    # The result URL works, then expires 24 h after the task ended.
    path = done["output"]["video_url"].removeprefix("http://r2v.test")
    assert client.get(path).status_code == 200
    clock.advance(24 * 3600 - 10)
    assert client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS).json()["output"]["task_status"] == "SUCCEEDED"
    assert client.get(path).status_code == 200
    clock.advance(20)
    expired = client.get(path)
    assert expired.status_code == 403 and expired.json()["message"] == "Request has expired."
    # ... and the task id answers UNKNOWN once it is older than 24 h (nothing else: no times, no usage); the list
    # no longer shows it.
    later = client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS)
    assert later.status_code == 200
    assert later.json() == {"request_id": later.json()["request_id"],
                            "output": {"task_id": task_id, "task_status": "UNKNOWN"}}  # fmt: skip
    assert task_id not in [r["task_id"] for r in client.get("/api/v1/tasks", headers=HEADERS).json()["data"]]


def test_list_time_window(stack, media):
    parts, client, clock, runner = stack
    first = _create(client, media.url("girl.png"))
    clock.advance(3600)
    second = _create(client, media.url("girl.png"))
    listed = client.get("/api/v1/tasks", headers=HEADERS).json()
    assert [r["task_id"] for r in listed["data"]] == [second, first]  # newest first
    assert all("end_time" not in r and "start_time" not in r for r in listed["data"])  # not started yet

    def stamp(ms):
        return dt.datetime.fromtimestamp(ms / 1000, CHINA).strftime("%Y%m%d%H%M%S")

    now = clock.now_ms()
    only_first = client.get("/api/v1/tasks", params={"end_time": stamp(now - 1800 * 1000)}, headers=HEADERS).json()
    assert [r["task_id"] for r in only_first["data"]] == [first]
    only_second = client.get("/api/v1/tasks", params={"start_time": stamp(now - 60 * 1000)}, headers=HEADERS).json()
    assert [r["task_id"] for r in only_second["data"]] == [second]
    paged = client.get("/api/v1/tasks", params={"page_size": 1, "page_no": 2}, headers=HEADERS).json()
    assert paged["total"] == 2 and paged["total_page"] == 2 and [r["task_id"] for r in paged["data"]] == [first]


def test_upload_policy_expires_and_uploads_last_48h(stack, assets):
    parts, client, clock, runner = stack
    policy = client.get("/api/v1/uploads", params={"action": "getPolicy", "model": "wan2.7-r2v"}, headers=HEADERS)
    data = policy.json()["data"]
    fields = {"OSSAccessKeyId": data["oss_access_key_id"], "Signature": data["signature"], "policy": data["policy"],
              "x-oss-object-acl": "private", "x-oss-forbid-overwrite": "true", "success_action_status": "200"}  # fmt: skip
    upload_path = httpx.URL(data["upload_host"]).path
    content = assets["girl"].read_bytes()
    ok = client.post(
        upload_path, data={**fields, "key": f"{data['upload_dir']}/a.png"}, files={"file": ("a.png", content)}
    )
    assert ok.status_code == 200
    clock.advance(301)
    late = client.post(
        upload_path, data={**fields, "key": f"{data['upload_dir']}/b.png"}, files={"file": ("b.png", content)}
    )
    assert late.status_code == 403 and late.json()["message"] == "Invalid according to Policy: Policy expired."

    oss = f"oss://{data['upload_dir']}/a.png"
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": oss}]}}
    resolve = {**HEADERS, "X-DashScope-OssResourceResolve": "enable"}
    assert client.post(CREATE, json=body, headers=resolve).status_code == 200
    clock.advance(48 * 3600)
    gone = client.post(CREATE, json=body, headers=resolve)
    assert gone.status_code == 400 and gone.json()["message"].startswith("input.media[0].url")


def test_random_seed_is_drawn_once_and_kept(stack, media):
    """A task without a seed gets one at create time, stored with it, so a re-run after a crash renders the same
    video."""
    parts, client, clock, runner = stack
    seeds = {json.loads(parts.tasks.get(_create(client, media.url("girl.png"))).spec_json)["seed"] for _ in range(3)}
    assert all(0 <= seed <= 2147483647 for seed in seeds)
    assert len(seeds) > 1  # drawn at random per task ...
    fixed = _create(client, media.url("girl.png"), seed=1234)
    assert json.loads(parts.tasks.get(fixed).spec_json)["seed"] == 1234  # ... unless the request gives one


def test_billing_wan27_counts_every_reference_not_the_first_frame(stack, media):
    parts, client, clock, runner = stack
    body = {"model": "wan2.7-r2v", "input": {"prompt": "视频1和视频2", "media": [
        {"type": "reference_video", "url": media.url("boy.mp4")},
        {"type": "reference_video", "url": media.url("boy.mp4")},
        {"type": "reference_image", "url": media.url("girl.png")},
        {"type": "first_frame", "url": media.url("first-frame.png")}]},
        "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip
    task_id = client.post(CREATE, json=body, headers=HEADERS).json()["output"]["task_id"]
    _run_pending(parts, runner)
    usage = client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS).json()["usage"]
    # N = 3 references (two videos, one image; the first frame does not count) -> each 3 s video bills
    # min(3, 1.65) = 1.65 s; 3.3 s in all; plus 2 s of output.
    assert usage == {"duration": 5.3, "input_video_duration": 3.3, "output_video_duration": 2, "video_count": 1,
                     "SR": 720, "ratio": "4:3"}  # fmt: skip


def test_public_url_names_results_and_uploads(tmp_path, media):
    parts = build(Settings(data_dir=tmp_path, api_keys=(KEY,), allow_private_urls=True,
                           public_url="https://r2v.example.com/"), FakeClock())  # fmt: skip
    with TestClient(build_app(parts), base_url="http://internal:8000") as client:
        policy = client.get("/api/v1/uploads", params={"action": "getPolicy", "model": "wan2.6-r2v"}, headers=HEADERS)
        assert policy.json()["data"]["upload_host"].startswith("https://r2v.example.com/api/v1/uploads")
        task_id = _create(client, media.url("girl.png"))
        _run_pending(parts, runner_for(parts))
        url = client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS).json()["output"]["video_url"]
        assert url.startswith(f"https://r2v.example.com/files/results/{task_id}/1.mp4?Expires=")  # task/attempt


def test_us_east_region_takes_wan26_videos_only(tmp_path, media):
    parts = build(
        Settings(data_dir=tmp_path, api_keys=(KEY,), allow_private_urls=True, region="us-east-1"), FakeClock()
    )
    with TestClient(build_app(parts)) as client:
        wan27 = client.post(CREATE, headers=HEADERS, json={"model": "wan2.7-r2v", "input": {"prompt": "x", "media": [
            {"type": "reference_image", "url": media.url("girl.png")}]}})  # fmt: skip
        assert wan27.status_code == 400 and wan27.json()["message"] == "Model not exist."

        def create(url, duration=5):
            body = {"model": "wan2.6-r2v", "input": {"prompt": "character1", "reference_urls": [url]},
                    "parameters": {"size": "1280*720", "duration": duration}}  # fmt: skip
            return client.post(CREATE, headers=HEADERS, json=body)

        assert create(media.url("boy.mp4"), duration=6).status_code == 400
        image_task = create(media.url("girl.png")).json()["output"]["task_id"]
        video_task = create(media.url("boy.mp4")).json()["output"]["task_id"]
        _run_pending(parts, runner_for(parts))
        failed = client.get(f"/api/v1/tasks/{image_task}", headers=HEADERS).json()["output"]
        assert failed["task_status"] == "FAILED" and failed["message"].startswith("input.reference_urls[0]")
        done = client.get(f"/api/v1/tasks/{video_task}", headers=HEADERS).json()
        assert done["output"]["task_status"] == "SUCCEEDED" and done["usage"]["size"] == "1280*720"
        listed = client.get("/api/v1/tasks", headers=HEADERS).json()["data"]
        assert {row["region"] for row in listed} == {"us-east-1"}


def test_janitor_deletes_expired_tasks_results_inputs_and_uploads(stack, media, assets):
    parts, client, clock, runner = stack
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [
        {"type": "reference_image", "url": data_uri(assets["girl"])}]},
        "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip
    old = client.post(CREATE, json=body, headers=HEADERS).json()["output"]["task_id"]
    _run_pending(parts, runner)
    policy = client.get("/api/v1/uploads", params={"action": "getPolicy", "model": "wan2.7-r2v"}, headers=HEADERS)
    data = policy.json()["data"]
    form = {"OSSAccessKeyId": data["oss_access_key_id"], "Signature": data["signature"], "policy": data["policy"],
            "key": f"{data['upload_dir']}/a.png"}  # fmt: skip
    assert (
        client.post(
            httpx.URL(data["upload_host"]).path, data=form, files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)}
        ).status_code
        == 200
    )
    files = parts.blobs.root
    assert (files / "results" / old / "1.mp4").exists() and any((files / "inputs" / old).iterdir())
    janitor = janitor_for(parts)
    assert janitor.sweep() == (0, 0)  # nothing is old yet

    clock.advance(23 * 3600)
    fresh = _create(client, media.url("girl.png"))
    clock.advance(3600 + 60)
    assert janitor.sweep() == (1, 0)  # the task ended over 24 h ago; the upload is 24 h old: kept
    assert parts.tasks.get(old) is None and parts.tasks.get(fresh) is not None
    assert not (files / "results" / old).exists() and not (files / "inputs" / old).exists()
    assert client.get(f"/api/v1/tasks/{old}", headers=HEADERS).json()["output"]["task_status"] == "UNKNOWN"

    clock.advance(24 * 3600)
    assert janitor.sweep() == (1, 1)
    assert not any((files / "uploads").rglob("*.png"))


def test_inputs_of_an_interrupted_create_are_removed_at_startup(stack, assets):
    """A create that saved its data-URI inputs but died before writing its task row leaves files no task owns;
    the janitor removes them when the server starts (and keeps the inputs of real tasks)."""
    from r2v.storage.blobs import inputs_blob_dir

    parts, client, _, _ = stack
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [
        {"type": "reference_image", "url": data_uri(assets["girl"])}]},
        "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip
    kept = client.post(CREATE, json=body, headers=HEADERS).json()["output"]["task_id"]
    parts.blobs.put_bytes(f"{inputs_blob_dir('4b9e2c1a-dead-4bee-8000-000000000000')}/input.png", b"half a create")
    assert janitor_for(parts).remove_orphan_inputs() == 1
    assert parts.blobs.children("inputs") == [kept]


def test_the_plan_is_served_to_the_tasks_owner(stack, media):
    parts, client, _, runner = stack
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1走进房间。图1说：“大家好。”", "media": [
        {"type": "reference_image", "url": media.url("girl.png")}]},
        "parameters": {"resolution": "720P", "duration": 4, "prompt_extend": True}}  # fmt: skip
    task_id = client.post(CREATE, json=body, headers=HEADERS).json()["output"]["task_id"]
    pending = client.get(f"/api/v1/tasks/{task_id}/plan", headers=HEADERS).json()["output"]
    assert pending == {"task_id": task_id, "task_status": "PENDING", "plan": None}
    _run_pending(parts, runner)
    answer = client.get(f"/api/v1/tasks/{task_id}/plan", headers=HEADERS).json()
    plan = answer["output"]["plan"]
    assert answer["output"]["task_status"] == "SUCCEEDED"
    assert [shot["subjects"] for shot in plan["shots"]] == [["图1"], ["图1"]]
    assert plan["shots"][1]["lines"][0]["speaker"] == "图1" and plan["shots"][1]["lines"][0]["text"] == "大家好。"
    assert plan["duration"] == 4 and plan["shots"][-1]["end"] == 4
    query = client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS).json()["output"]
    assert query["actual_prompt"].startswith("镜头1[0.0-") and "大家好" in query["actual_prompt"]
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    assert client.get(f"/api/v1/tasks/{task_id}/plan", headers=other).json()["output"] == {
        "task_id": task_id, "task_status": "UNKNOWN"}  # fmt: skip
