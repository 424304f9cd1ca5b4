"""prompt_extend through an OpenAI-compatible chat endpoint (a loopback stand-in here, since no language model
can run in CI): its script becomes actual_prompt when it keeps every reference and line; otherwise, or when the
endpoint is down, the director's own script does."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from r2v.director import Cast, direct
from r2v.director.rewrite import PromptRewriter

pytestmark = pytest.mark.http

PROMPT = "图1走进房间。图1说：“大家好。”"


class _Chat(BaseHTTPRequestHandler):
    answer = ""
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Chat.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": _Chat.answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Chat.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _board():
    return direct(PROMPT, Cast.of([("图1", "image")]), 4)


def test_the_models_script_is_used_when_it_keeps_references_and_lines(chat):
    _Chat.answer = "镜头1[0-2秒] 全景：图1推门走进明亮的房间。\n镜头2[2-4秒] 近景：图1微笑着说：“大家好。”"
    rewritten = PromptRewriter(chat, model="local-model", api_key="sk-local").rewrite(PROMPT, _board())
    assert rewritten == _Chat.answer
    request = _Chat.seen[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-local"
    assert request["body"]["model"] == "local-model"
    assert PROMPT in request["body"]["messages"][1]["content"] and "镜头1[" in request["body"]["messages"][1]["content"]


@pytest.mark.parametrize("answer", ["镜头1：一个人走进房间并打招呼。", "镜头1：图1走进房间，挥手。", ""])
def test_an_answer_that_drops_a_reference_or_a_line_falls_back_to_the_plan(chat, answer):
    _Chat.answer = answer
    board = _board()
    assert PromptRewriter(chat).rewrite(PROMPT, board) == board.script()


def test_an_unreachable_endpoint_falls_back_to_the_plan():
    board = _board()
    assert PromptRewriter("http://127.0.0.1:9/v1", timeout_s=2).rewrite(PROMPT, board) == board.script()


def test_a_server_configured_through_the_environment_answers_its_script(chat, media, tmp_path, monkeypatch):
    """R2V_PROMPT_EXTEND_URL, _MODEL and _KEY as `r2v serve` reads them: the endpoint is asked with that model and
    key, and its script is the task's actual_prompt."""
    from fastapi.testclient import TestClient

    from r2v.clock import FakeClock
    from r2v.config import Settings
    from r2v.wiring import build, build_app, runner_for
    from tests.conftest import KEY

    for name, value in {"R2V_PROMPT_EXTEND_URL": chat, "R2V_PROMPT_EXTEND_MODEL": "local-model",
                        "R2V_PROMPT_EXTEND_KEY": "sk-local", "R2V_API_KEYS": KEY, "R2V_ALLOW_PRIVATE_URLS": "1",
                        "R2V_RATE_LIMITS": "off"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    _Chat.answer = "镜头1[0-4秒] 中景：图1走进房间，说：“大家好。”"
    parts = build(Settings(data_dir=tmp_path), FakeClock())
    client = TestClient(build_app(parts))
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    body = {"model": "wan2.7-r2v", "input": {"prompt": PROMPT, "media": [
        {"type": "reference_image", "url": media.url("girl.png")}]}, "parameters": {"duration": 4}}  # fmt: skip
    task_id = client.post("/api/v1/services/aigc/video-generation/video-synthesis", json=body,
                          headers=headers).json()["output"]["task_id"]  # fmt: skip
    task = parts.tasks.claim_next("w", parts.clock.now_ms(), None)
    runner_for(parts).run(task)
    output = client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()["output"]
    assert output["task_status"] == "SUCCEEDED" and output["actual_prompt"] == _Chat.answer
    (asked,) = _Chat.seen
    assert asked["path"] == "/v1/chat/completions" and asked["auth"] == "Bearer sk-local"
    assert asked["body"]["model"] == "local-model"
