"""The hostile-input corpus against a real server: every case ends FAILED with the spec's code and a message
that names the field; afterwards the server is healthy and still renders a valid task."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from tests.conftest import KEY
from tests.helpers import ServerProcess
from tests.hostile import HOSTILE_HOST, HostileServer, image, make_corpus

pytestmark = pytest.mark.server

CREATE = "/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
FIELD = "input.media[0].url"
VOICE_FIELD = "input.media[0].reference_voice"
DOWNLOAD, FORMAT, PARAM = "BadRequest.InputDownloadFailed", "BadRequest.UnsupportedFileFormat", "InvalidParameter"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, assets):
    root = make_corpus(tmp_path_factory.mktemp("hostile"), assets["girl"])
    (root / "girl.png").write_bytes(assets["girl"].read_bytes())
    server = HostileServer(root)
    yield server, root
    server.close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A server that may download from the hostile host only: every other private address stays refused."""
    env = {"R2V_ALLOW_PRIVATE_URLS": f"{HOSTILE_HOST}/32", "R2V_FETCH_TIMEOUT_S": "4"}
    proc = ServerProcess(tmp_path_factory.mktemp("guarded") / "data", KEY, workers=2, env=env).start()
    yield proc
    proc.stop()


def _body(media: list[dict]) -> dict:
    return {"model": "wan2.7-r2v", "input": {"prompt": "a short scene", "media": media},
            "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip


def _image(url: str) -> dict:
    return _body([{"type": "reference_image", "url": url}])


def _video(url: str) -> dict:
    return _body([{"type": "reference_video", "url": url}])


def _cases(host: HostileServer, root) -> list[tuple[str, dict, str, str, str]]:
    """(name, body, expected code, field, a fragment of the expected message)."""
    jpeg_as_png = "data:image/png;base64," + base64.b64encode((root / "photo.jpg").read_bytes()).decode()

    def voice(name: str) -> dict:
        return _body([{"type": "reference_image", "url": host.url("girl.png"), "reference_voice": host.url(name)}])

    inward = [f"http://127.0.0.1:{host.port}/girl.png", "http://169.254.169.254/latest/meta-data/",
              "http://10.0.0.1/a.png", f"http://[::1]:{host.port}/girl.png",
              f"http://[::ffff:127.0.0.1]:{host.port}/girl.png"]  # fmt: skip
    return [
        ("truncated png", _image(host.url("truncated.png")), FORMAT, FIELD, "cannot be decoded"),
        ("png declaring 100000x100000", _image(host.url("bomb.png")), PARAM, FIELD, "width 100000 px is above"),
        ("jpeg under a png data uri", _image(jpeg_as_png), PARAM, FIELD, "says image/png but the data is jpeg"),
        ("zero-byte file", _image(host.url("empty.png")), DOWNLOAD, FIELD, "the file is empty"),
        ("mp4 with only audio", _video(host.url("audio-only.mp4")), FORMAT, FIELD, "has no video stream"),
        ("zip named .mp4", _video(host.url("archive.mp4")), FORMAT, FIELD, "unrecognised file format"),
        ("mp3 named .png", _image(host.url("song.png")), FORMAT, FIELD, "expected image"),
        ("one-hour wav", voice("hour.wav"), PARAM, VOICE_FIELD, "larger than 15 MB"),
        ("12 s wav", voice("twelve.wav"), PARAM, VOICE_FIELD, "duration 12.00 s is outside 1..10 s"),
        ("image as a voice", voice("girl.png"), FORMAT, VOICE_FIELD, "expected audio"),
        ("silent mp4 as a voice", voice("long.mp4"), FORMAT, VOICE_FIELD, "expected audio (WAV, MP3), got mp4"),
        ("wav without samples", voice("no-samples.wav"), FORMAT, VOICE_FIELD, "cannot be decoded"),
        ("31 s video", _video(host.url("long.mp4")), PARAM, FIELD, "duration 31.00 s is outside 1..30 s"),
        ("8001 px image", _image(host.url("wide-8001.png")), PARAM, FIELD, "width 8001 px is above the maximum"),
        ("239 px image", _image(host.url("thin-239.png")), PARAM, FIELD, "width 239 px is below the minimum"),
        ("1:9 image", _image(host.url("aspect-1-9.png")), PARAM, FIELD, "aspect ratio 240:2160 is outside"),
        ("redirect loop", _image(host.url("loop/a")), DOWNLOAD, FIELD, "more than 3 redirects"),
        *[(f"redirect to {u}", _image(host.redirect_to(u)), DOWNLOAD, FIELD, "non-public address") for u in inward],
        ("direct loopback url", _image(inward[0]), DOWNLOAD, FIELD, "non-public address (127.0.0.1)"),
        (
            "server trickling forever",
            _image(host.url("trickle")),
            DOWNLOAD,
            FIELD,
            "the download took longer than 4 s (R2V_FETCH_TIMEOUT_S)",
        ),
        ("body without end", _image(host.url("endless")), PARAM, FIELD, "larger than 20 MB"),
        ("unresolvable host", _image("http://no-such-host.invalid/a.png"), DOWNLOAD, FIELD, "cannot resolve"),
    ]


def _wait_all(client: httpx.Client, task_ids: dict[str, str], timeout: float = 240) -> dict[str, dict]:
    done: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(task_ids) and time.monotonic() < deadline:
        for name, task_id in task_ids.items():
            if name not in done:
                output = client.get(f"/tasks/{task_id}").json()["output"]
                if output["task_status"] in ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"):
                    done[name] = output
        time.sleep(0.2)
    assert len(done) == len(task_ids), f"unfinished: {set(task_ids) - set(done)}"
    return done


def test_hostile_corpus_fails_each_task_cleanly_and_the_server_keeps_serving(guarded, corpus):
    host, root = corpus
    cases = _cases(host, root)
    with httpx.Client(base_url=guarded.api, headers=HEADERS, timeout=30) as client:
        task_ids = {}
        for name, body, *_ in cases:
            answer = client.post(CREATE, json=body)
            assert answer.status_code == 200, (name, answer.text)
            task_ids[name] = answer.json()["output"]["task_id"]
        outputs = _wait_all(client, task_ids)
        for name, _, code, field, fragment in cases:
            output = outputs[name]
            assert output["task_status"] == "FAILED", (name, output)
            assert output["code"] == code, (name, output)
            assert output["message"].startswith(field + ":"), (name, output)
            assert fragment in output["message"], (name, output)

        assert httpx.get(guarded.base + "/healthz").status_code == 200
        valid = client.post(CREATE, json=_image(host.url("girl.png"))).json()["output"]["task_id"]
        assert _wait_all(client, {"valid": valid})["valid"]["task_status"] == "SUCCEEDED"
    assert "Traceback" not in guarded.log_path.read_text(errors="replace")  # refused, never crashed


def test_request_body_limit(guarded, tmp_path):
    """A 20 MB image as a base64 data URI fits in a create body; a body over the limit is a 413."""
    big = image(tmp_path / "big.png", 2630, 2630, noise=True)
    assert 19 * 2**20 < big.stat().st_size <= 20 * 2**20
    uri = "data:image/png;base64," + base64.b64encode(big.read_bytes()).decode()
    with httpx.Client(base_url=guarded.api, headers=HEADERS, timeout=60) as client:
        answer = client.post(CREATE, json=_image(uri))
        assert answer.status_code == 200, answer.text
        task_id = answer.json()["output"]["task_id"]
        over = client.post(CREATE, content=b'{"model": "' + b"x" * (33 * 2**20) + b'"}')
        assert over.status_code == 413 and over.json()["code"] == "BadRequest.TooLarge"
        assert over.json()["message"].startswith("body:")
        assert _wait_all(client, {"big": task_id})["big"]["task_status"] == "SUCCEEDED"
