"""Per-key rate limits (spec section 6) and the moderation hook, in-process with an injected clock."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from r2v.clock import FakeClock
from r2v.config import Settings
from r2v.moderation import WordListModerator
from r2v.ratelimits import RateLimits
from r2v.wiring import build, build_app, runner_for
from tests.conftest import KEY, OTHER_KEY
from tests.helpers import ServerProcess

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"


def _headers(key: str = KEY) -> dict:
    return {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"}


def _body(url: str, prompt: str = "图1 waves", **params) -> dict:
    return {"model": "wan2.7-r2v", "input": {"prompt": prompt, "media": [{"type": "reference_image", "url": url}]},
            "parameters": {"resolution": "720P", "duration": 2, **params}}  # fmt: skip


def _stack(tmp_path, **settings):
    clock = FakeClock()
    parts = build(Settings(data_dir=tmp_path, api_keys=(KEY, OTHER_KEY), allow_private_urls=True, **settings), clock)
    return parts, TestClient(build_app(parts), base_url="http://r2v.test"), clock


def _throttled(answer) -> bool:
    if answer.status_code != 429:
        return False
    assert answer.json()["code"] == "Throttling.RateQuota"
    assert answer.json()["message"] == "Requests rate limit exceeded, please try again later."
    return True


@pytest.mark.http
def test_default_limits_are_the_clouds(tmp_path, media, monkeypatch):
    monkeypatch.delenv("R2V_RATE_LIMITS", raising=False)
    assert Settings(data_dir=tmp_path).rate_limits == RateLimits(submit=5, query=20, list=20, cancel=20, policy=100,
                                                                 running=5)  # fmt: skip
    parts, client, clock = _stack(tmp_path, rate_limits=RateLimits())
    creates = [client.post(CREATE, json=_body(media.url("girl.png")), headers=_headers()) for _ in range(6)]
    assert [a.status_code for a in creates[:5]] == [200] * 5 and _throttled(creates[5])
    assert client.post(CREATE, json=_body(media.url("girl.png")), headers=_headers(OTHER_KEY)).status_code == 200
    clock.advance(0.2)  # one token back at 5/s
    assert client.post(CREATE, json=_body(media.url("girl.png")), headers=_headers()).status_code == 200
    assert _throttled(client.post(CREATE, json=_body(media.url("girl.png")), headers=_headers()))
    task_id = creates[0].json()["output"]["task_id"]
    queries = [client.get(f"/api/v1/tasks/{task_id}", headers=_headers()) for _ in range(21)]
    assert all(q.status_code == 200 for q in queries[:20]) and _throttled(queries[20])
    lists = [client.get("/api/v1/tasks", headers=_headers()) for _ in range(21)]
    assert all(q.status_code == 200 for q in lists[:20]) and _throttled(lists[20])
    cancels = [client.post(f"/api/v1/tasks/{task_id}/cancel", headers=_headers()) for _ in range(21)]
    assert cancels[0].status_code == 200 and cancels[1].status_code == 400 and _throttled(cancels[20])
    params = {"action": "getPolicy", "model": "wan2.7-r2v"}
    policies = [client.get("/api/v1/uploads", params=params, headers=_headers()) for _ in range(101)]
    assert all(p.status_code == 200 for p in policies[:100]) and _throttled(policies[100])
    clock.advance(1)
    assert client.get(f"/api/v1/tasks/{task_id}", headers=_headers()).status_code == 200
    # A bad key is told so (401), not throttled.
    assert client.get("/api/v1/tasks", headers=_headers("sk-nope")).status_code == 401


@pytest.mark.server
def test_the_sdk_sees_the_429(tmp_path, media):
    """Through the official SDK: over the submission limit, the call answers 429 Throttling.RateQuota."""
    from dashscope import VideoSynthesis

    server = ServerProcess(tmp_path / "data", KEY, env={"R2V_RATE_LIMITS": "submit=0.01"}).start()
    try:
        import dashscope

        previous, dashscope.base_http_api_url = dashscope.base_http_api_url, server.api
        media_list = [{"type": "reference_image", "url": media.url("girl.png")}]
        first = VideoSynthesis.async_call(api_key=KEY, model="wan2.7-r2v", prompt="图1", media=media_list)
        second = VideoSynthesis.async_call(api_key=KEY, model="wan2.7-r2v", prompt="图1", media=media_list)
        assert first.status_code == 200
        assert second.status_code == 429 and second.code == "Throttling.RateQuota"
        assert second.message == "Requests rate limit exceeded, please try again later."
    finally:
        dashscope.base_http_api_url = previous
        server.stop()


@pytest.mark.http
def test_limits_switch_off_and_parse(tmp_path, media, monkeypatch):
    parts, client, _ = _stack(tmp_path, rate_limits=RateLimits.parse("off"))
    answers = [client.post(CREATE, json=_body(media.url("girl.png")), headers=_headers()) for _ in range(12)]
    assert all(a.status_code == 200 for a in answers)
    assert RateLimits.parse("submit=10, running=2, policy=off") == RateLimits(submit=10, running=2, policy=None)
    monkeypatch.setenv("R2V_RATE_LIMITS", "query=0.5")
    assert Settings(data_dir=tmp_path).rate_limits.query == 0.5
    for bad in ("submit=fast", "speed=3", "query=-1"):
        with pytest.raises(ValueError, match="R2V_RATE_LIMITS"):
            RateLimits.parse(bad)


@pytest.mark.http
def test_running_limit_keeps_extra_tasks_pending(tmp_path, media):
    parts, client, clock = _stack(tmp_path, rate_limits=RateLimits(submit=None, running=2))
    for _ in range(3):
        client.post(CREATE, json=_body(media.url("girl.png")), headers=_headers())
    client.post(CREATE, json=_body(media.url("girl.png")), headers=_headers(OTHER_KEY))
    running = parts.settings.max_running_per_key
    claimed = [parts.tasks.claim_next(f"w{i}", clock.now_ms(), running) for i in range(4)]
    owners = [t.owner for t in claimed if t is not None]
    assert len(owners) == 3 and len(set(owners)) == 2  # two of the first key's, one of the other's; one waits


@pytest.mark.http
def test_word_list_refuses_prompts_and_outputs(tmp_path, media):
    words = tmp_path / "words.txt"
    words.write_text("# refused words\nforbidden\n镜头1\n", encoding="utf-8")
    parts, client, clock = _stack(tmp_path / "data", moderation_words_file=words, rate_limits=RateLimits.off())
    for prompt in (
        "图1 a FORBIDDEN dance",
        "图1 a f o r b i d d e n dance",
        "图1 ｆｏｒｂｉｄｄｅｎ",
        "图1 forbid\u200bden",
    ):
        refused = client.post(CREATE, json=_body(media.url("girl.png"), prompt=prompt), headers=_headers())
        assert refused.status_code == 400, prompt
        assert refused.json()["code"] == "DataInspectionFailed"
        assert refused.json()["message"] == "Input data may contain inappropriate content."
    # The prompt passes, but the prompt the engine actually used (with its shot list) holds a listed word.
    extended = client.post(CREATE, json=_body(media.url("girl.png"), prompt_extend=True), headers=_headers())
    plain = client.post(CREATE, json=_body(media.url("girl.png"), prompt_extend=False), headers=_headers())
    runner = runner_for(parts)
    while (task := parts.tasks.claim_next("w", clock.now_ms(), None)) is not None:
        runner.run(task)
    out = client.get(f"/api/v1/tasks/{extended.json()['output']['task_id']}", headers=_headers()).json()["output"]
    assert out["task_status"] == "FAILED" and out["code"] == "DataInspectionFailed"
    assert out["message"] == "Output data may contain inappropriate content." and "video_url" not in out
    ok = client.get(f"/api/v1/tasks/{plain.json()['output']['task_id']}", headers=_headers()).json()["output"]
    assert ok["task_status"] == "SUCCEEDED"
    assert not WordListModerator([]).refuses_text("anything at all")


@pytest.mark.http
def test_moderation_is_off_by_default(tmp_path, media):
    parts, client, _ = _stack(tmp_path, rate_limits=RateLimits.off())
    assert parts.moderator is None
    answer = client.post(CREATE, json=_body(media.url("girl.png"), prompt="图1 forbidden"), headers=_headers())
    assert answer.status_code == 200


@pytest.mark.http
def test_the_word_list_comes_from_its_variable(tmp_path, media, monkeypatch):
    words = tmp_path / "words.txt"
    words.write_text("forbidden\n", encoding="utf-8")
    monkeypatch.setenv("R2V_MODERATION_WORDS_FILE", str(words))
    monkeypatch.setenv("R2V_API_KEYS", KEY)
    monkeypatch.setenv("R2V_ALLOW_PRIVATE_URLS", "1")
    client = TestClient(build_app(build(Settings(data_dir=tmp_path / "data"), FakeClock())))
    refused = client.post(CREATE, json=_body(media.url("girl.png"), prompt="图1 forbidden"), headers=_headers())
    assert refused.status_code == 400 and refused.json()["code"] == "DataInspectionFailed"
    assert client.post(CREATE, json=_body(media.url("girl.png")), headers=_headers()).status_code == 200
    monkeypatch.setenv("R2V_MODERATION_WORDS_FILE", str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="R2V_MODERATION_WORDS_FILE: no such file"):
        build(Settings(data_dir=tmp_path / "data"))
