"""URL safety, content sniffing, the spec's media limits, and the billing rules."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from r2v.errors import TaskFailure
from r2v.media import probe as probing
from r2v.media.fetch import FetchPolicy, MediaResolver, address_is_public
from r2v.media.sniff import sniff
from r2v.protocol.billing import billed_input_seconds, usage

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "address, public",
    [("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
     ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
     ("240.0.0.1", False), ("::1", False), ("::ffff:127.0.0.1", False), ("fe80::1", False), ("fc00::1", False),
     ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("::ffff:8.8.8.8", True)],
)  # fmt: skip
def test_address_classes(address, public):
    assert address_is_public(address) is public


class _Redirect(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(302)
        self.send_header("Location", self.path + "x")  # a redirect loop
        self.end_headers()

    def log_message(self, *args):
        pass


def _resolver(allow_private: bool) -> MediaResolver:
    return MediaResolver(blobs=None, uploads=None, owner="o", now_ms=0, policy=FetchPolicy(allow_private=allow_private))


def test_loopback_urls_are_refused_unless_allowed(media, tmp_path):
    with pytest.raises(TaskFailure) as info:
        _resolver(False).resolve(media.url("girl.png"), "input.media[0].url", tmp_path / "a", 10**7)
    assert info.value.code == "BadRequest.InputDownloadFailed"
    assert info.value.message.startswith("input.media[0].url") and "127.0.0.1" in info.value.message
    path = _resolver(True).resolve(media.url("girl.png"), "input.media[0].url", tmp_path / "b", 10**7)
    assert sniff(path) == "png"


def test_size_cap_while_streaming(media, tmp_path):
    with pytest.raises(TaskFailure, match="larger than"):
        _resolver(True).resolve(media.url("boy.mp4"), "input.media[1].url", tmp_path / "c", 1024)


def test_redirect_loop_is_cut(tmp_path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/a.png"
        with pytest.raises(TaskFailure) as info:
            _resolver(True).resolve(url, "input.media[0].url", tmp_path / "d", 10**6)
        assert info.value.message == "input.media[0].url: more than 3 redirects"
    finally:
        httpd.shutdown()


def _png(tmp_path, w, h, name="x.png"):
    path = tmp_path / name
    cv2.imwrite(str(path), np.full((h, w, 3), 128, np.uint8))
    return path


@pytest.mark.parametrize(
    "size, reason",
    [((239, 400), "width 239 px is below the minimum 240 px"), ((400, 200), "height 200 px is below"),
     ((8001, 300), "width 8001 px is above the maximum 8000 px"), ((300, 2700), "aspect ratio")],
)  # fmt: skip
def test_image_limits(tmp_path, size, reason):
    path = _png(tmp_path, *size)
    with pytest.raises(TaskFailure) as info:
        probing.check(probing.probe(path, "input.media[2].url"), "input.media[2].url", "image")
    assert info.value.code == "InvalidParameter"
    assert info.value.message.startswith("input.media[2].url: image") and reason in info.value.message


def test_sniff_by_bytes_not_name(tmp_path, assets):
    disguised = tmp_path / "photo.png"
    disguised.write_bytes(assets["boy_voice"].read_bytes())
    assert sniff(disguised) == "wav"
    info = probing.probe(disguised, "f")
    with pytest.raises(TaskFailure) as failure:
        probing.check(info, "f", "image")
    assert failure.value.code == "BadRequest.UnsupportedFileFormat"
    junk = tmp_path / "x.mp4"
    junk.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(TaskFailure):
        probing.probe(junk, "f")


def test_probe_reports_kind_length_and_sound(assets):
    video = probing.probe(assets["boy_video"], "f")
    assert video.kind == "video" and video.has_audio and (video.width, video.height) == (480, 640)
    assert abs(video.duration_s - 3.0) < 0.1
    voice = probing.probe(assets["girl_voice"], "f")
    assert voice.kind == "audio" and abs(voice.duration_s - 2.5) < 0.05
    probing.check(voice, "f", "audio")


@pytest.mark.parametrize(
    "videos, refs, billed",
    [([], 3, 0), ([8.0], 1, 5), ([8.0], 5, 1), ([3.0], 5, 1), ([3.0, 3.0], 2, 5), ([2.0, 1.0, 9.0], 3, 4.3),
     ([1.0] * 5, 5, 5), ([0.5] * 4, 4, 2), ([9.0], 2, 2.5), ([9.0, 9.0], 3, 3.3), ([1.2], 4, 1.2), ([9.0], 7, 1)],
)  # fmt: skip
def test_billed_input_seconds(videos, refs, billed):
    """N counts every reference asset, images too, for both generations: the guide's five-reference example with
    one 3 s video bills 1 s."""
    assert billed_input_seconds(videos, refs) == pytest.approx(billed)


def test_usage_shapes():
    assert usage("wan2.7", 10, 1280, 720, "720P", "16:9", [3.0], 5) == {
        "duration": 11, "input_video_duration": 1, "output_video_duration": 10, "video_count": 1, "SR": 720,
        "ratio": "16:9"}  # fmt: skip
    assert usage("wan2.6", 5, 1920, 1080, "1080P", None, [4.0], 3) == {
        "duration": 6.65, "size": "1920*1080", "input_video_duration": 1.65, "output_video_duration": 5,
        "video_count": 1, "SR": 1080}  # fmt: skip
