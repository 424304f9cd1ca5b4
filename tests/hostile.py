"""A hostile-input corpus, generated (never downloaded), and a loopback HTTP server that misbehaves on purpose."""

from __future__ import annotations

import gzip
import http.server
import struct
import threading
import time
import wave
import zipfile
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import av
import cv2
import numpy as np

HOSTILE_HOST = "127.0.0.2"  # loopback, but not 127.0.0.1: the r2v server under test allows only this address


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring width x height RGB pixels, with one tiny compressed row after it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\0" * (1 + 3 * 64))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def image(path: Path, width: int, height: int, noise: bool = False) -> Path:
    """A flat grey picture (small on disk), or random noise (about as large as its pixels)."""
    pixels = np.full((height, width, 3), 128, np.uint8)
    if noise:
        pixels = np.random.default_rng(width * 7 + height).integers(0, 255, (height, width, 3), dtype=np.uint8)
    cv2.imwrite(str(path), pixels)
    return path


def video(path: Path, seconds: float, fps: int = 5, size: int = 256, with_audio: bool = False) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), (i * 7) % 255, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _tone(path: Path, container: str, codec: str, rate: int, frame: int, hz: float, seconds: float) -> Path:
    """A sine tone encoded with `codec` into a `container` file that holds nothing else."""
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        pcm = (0.3 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)).astype(np.float32)
        for start in range(0, len(pcm), frame):
            chunk = av.AudioFrame.from_ndarray(pcm[None, start : start + frame], format="fltp", layout="mono")
            chunk.sample_rate = rate
            out.mux(stream.encode(chunk))
        out.mux(stream.encode(None))
    return path


def audio_only_mp4(path: Path, seconds: float = 2.0) -> Path:
    return _tone(path, "mp4", "aac", 48000, 1024, 220, seconds)


def mp3(path: Path, seconds: float = 2.0) -> Path:
    return _tone(path, "mp3", "libmp3lame", 44100, 1152, 330, seconds)


def wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    """A real PCM WAV (unsigned 8-bit mono) of that length."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(bytes([128]) * int(seconds * rate))
    return path


def zip_file(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("movie.mp4", b"not a movie" * 100)
    return path


def make_corpus(root: Path, valid_png: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    data = valid_png.read_bytes()
    (root / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / "bomb.png").write_bytes(png_bomb())
    (root / "empty.png").write_bytes(b"")
    audio_only_mp4(root / "audio-only.mp4")
    zip_file(root / "archive.mp4")
    mp3(root / "song.png")
    mp3(root / "voice.mp3")
    wav(root / "hour.wav", 3600)
    wav(root / "twelve.wav", 12)
    wav(root / "no-samples.wav", 0)
    video(root / "long.mp4", 31)
    image(root / "wide-8001.png", 8001, 1001)
    image(root / "thin-239.png", 239, 400)
    image(root / "aspect-1-9.png", 240, 2160)
    image(root / "photo.jpg", 400, 300)
    return root


class _Hostile(http.server.SimpleHTTPRequestHandler):
    """Files from the corpus, plus /loop/ (a redirect loop), /to?u=URL (a redirect), /trickle (one byte a
    second, forever), /endless (bytes without end and without a length) and /gzip (an unasked-for gzip body)."""

    def do_GET(self):  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path.startswith("/loop/"):
            return self._redirect(parts.path + "x")
        if parts.path == "/to":
            return self._redirect(parse_qs(parts.query)["u"][0])
        if parts.path == "/trickle":
            return self._stream(b"\x89", delay=1.0, length=10**6)
        if parts.path == "/endless":
            return self._stream(b"\x89PNG\r\n\x1a\n" + b"\0" * 65536, delay=0.0, length=None)
        if parts.path == "/gzip":  # content coding r2v did not ask for: a small answer that inflates
            body = gzip.compress(b"\0" * 10_000_000)
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        return super().do_GET()

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _stream(self, chunk: bytes, delay: float, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            while True:
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(delay)
        except OSError:  # the client gave up: that is the point
            return

    def log_message(self, *args) -> None:
        pass


class HostileServer:
    def __init__(self, root: Path, host: str = HOSTILE_HOST):
        handler = lambda *a, **kw: _Hostile(*a, directory=str(root), **kw)  # noqa: E731
        self._httpd = http.server.ThreadingHTTPServer((host, 0), handler)
        self._httpd.daemon_threads = True
        self.host, self.port = host, self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    def redirect_to(self, target: str) -> str:
        return self.url("to?u=" + target)

    def close(self) -> None:
        self._httpd.shutdown()
