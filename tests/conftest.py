from __future__ import annotations

import base64
from pathlib import Path

import pytest

from r2v.demo.assets import make_guide_assets
from tests.helpers import MediaServer, ServerProcess

KEY = "sk-test-alpha"
OTHER_KEY = "sk-test-beta"

GUIDE_PROMPT = (
    "视频1抱着图3，在图4的椅子上弹奏一支舒缓的乡村民谣，并说道：“今天的阳光真好。”图1手中拿着图2，路过视频1，"
    "把手中的图2放到视频1旁边的桌子上，并说道：“真好听，能不能再唱一遍”。"
)


@pytest.fixture(scope="session")
def assets(tmp_path_factory) -> dict[str, Path]:
    return make_guide_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="session")
def media(assets) -> MediaServer:
    server = MediaServer(next(iter(assets.values())).parent)
    yield server
    server.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> ServerProcess:
    proc = ServerProcess(tmp_path_factory.mktemp("serve") / "data", f"{KEY},{OTHER_KEY}", workers=2).start()
    yield proc
    proc.stop()


@pytest.fixture
def sdk(server):
    """The official dashscope SDK pointed at the test server."""
    import dashscope

    previous = dashscope.base_http_api_url
    dashscope.base_http_api_url = server.api
    yield dashscope
    dashscope.base_http_api_url = previous


def data_uri(path: Path, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def guide_media(media: MediaServer) -> list[dict]:
    """The guide's multi-subject media list, its URLs pointing at the loopback media server."""
    return [
        {"type": "reference_image", "url": media.url("girl.png"), "reference_voice": media.url("girl-voice.wav")},
        {"type": "reference_video", "url": media.url("boy.mp4"), "reference_voice": media.url("boy-voice.wav")},
        {"type": "reference_image", "url": media.url("sunflowers.png")},
        {"type": "reference_image", "url": media.url("guitar.png")},
        {"type": "reference_image", "url": media.url("room.png")},
    ]
