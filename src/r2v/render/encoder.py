"""The MP4 writer every engine renders into: exactly what the spec promises about the output file."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

FPS = 30
AUDIO_RATE = 48000
AAC_FRAME = 1024
# A fixed thread count keeps the bytes identical across machines (x264's output depends on it).
X264_THREADS = "2"


Soundtrack = np.ndarray | Future  # (n, 2) float32 at 48 kHz, or one still being made


class Mp4Writer:
    """Write RGB frames and (optionally) a float stereo soundtrack into an H.264/AAC MP4.

    Frames are numbered, so the file has exactly as many frames as were written, at exactly 30 fps. The
    soundtrack is given whole and interleaved with the frames as they come, so that a player reading the file
    front to back finds sound and picture side by side. It may be a Future still being computed: frames are
    encoded meanwhile and their packets held until it is ready, then muxed in the same order as if it had been
    there from the start (the file's bytes do not depend on when it arrived).
    """

    def __init__(self, path: Path, width: int, height: int, soundtrack: Soundtrack | None, preset: str = "veryfast"):
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even sizes, got {width}x{height}")
        self.width, self.height = width, height
        # Muxer options: the index (moov) goes first so that players can start before the download ends.
        self._container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        self._container.metadata.clear()
        self._video = self._container.add_stream("libx264", rate=FPS)
        self._video.width, self._video.height = width, height
        self._video.pix_fmt = "yuv420p"
        self._video.time_base = Fraction(1, FPS)
        self._video.codec_context.options = {
            "preset": preset,  # x264's speed/size trade-off: "ultrafast" for the emulator's throwaway videos
            "crf": "20",
            "threads": X264_THREADS,
            "x264-params": "keyint=60:min-keyint=30",
        }
        self._audio = None
        self._sound: np.ndarray | None = None  # planar (2, n), once known
        self._sound_future: Future | None = None
        self._sound_pos = 0
        # (video packets, sound end) per written frame whose muxing waits for the soundtrack
        self._held: list[tuple[list[av.Packet], int]] = []
        if soundtrack is not None:
            self._audio = self._container.add_stream("aac", rate=AUDIO_RATE)
            self._audio.layout = "stereo"
            self._audio.bit_rate = 128_000
            # Opened now: the MP4 header, written with the first packet, needs both codecs' parameters.
            self._audio.codec_context.open()
            if isinstance(soundtrack, Future):
                self._sound_future = soundtrack
            else:
                self._take_sound(soundtrack)
        self._frames = 0

    def _take_sound(self, soundtrack: np.ndarray) -> None:
        self._sound = np.ascontiguousarray(soundtrack.T.astype(np.float32))

    def write_frame(self, rgb: np.ndarray) -> None:
        yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self._frames
        frame.time_base = Fraction(1, FPS)  # not the stream's: the muxer changes that after the header
        self._frames += 1
        self._mux(list(self._video.encode(frame)), self._frames * AUDIO_RATE // FPS, wait=False)

    def _mux(self, packets: list[av.Packet], sound_end: int, wait: bool) -> None:
        """Mux a frame's video packets, then the sound up to its end; held back while the sound is pending."""
        self._held.append((packets, sound_end))
        if self._audio is not None and self._sound is None:
            if not (wait or self._sound_future.done()):
                return
            self._take_sound(self._sound_future.result())
        for held, end in self._held:
            for packet in held:
                self._container.mux(packet)
            self._write_sound_until(end)
        self._held.clear()

    def _write_sound_until(self, end: int) -> None:
        if self._sound is None:
            return
        end = min(end, self._sound.shape[1])
        while self._sound_pos + AAC_FRAME <= end or (end == self._sound.shape[1] and self._sound_pos < end):
            chunk = self._sound[:, self._sound_pos : self._sound_pos + AAC_FRAME]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
            frame.sample_rate = AUDIO_RATE
            frame.pts = self._sound_pos
            frame.time_base = Fraction(1, AUDIO_RATE)
            self._sound_pos += chunk.shape[1]
            for packet in self._audio.encode(frame):
                self._container.mux(packet)

    @property
    def frames_written(self) -> int:
        return self._frames

    def close(self) -> None:
        self._mux(list(self._video.encode()), self._frames * AUDIO_RATE // FPS, wait=True)
        if self._audio is not None:
            self._write_sound_until(self._sound.shape[1])
            for packet in self._audio.encode():
                self._container.mux(packet)
        self._container.close()

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the file is being thrown away
            pass


class PipelinedMp4Writer:
    """An Mp4Writer fed from a bounded queue by a thread of its own, so that the next frame is composed while
    this one is encoded (x264 and the compositing both run mostly outside the GIL). One consumer, in order:
    the bytes are the same as Mp4Writer's. An encoding error is raised on the next call."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        soundtrack: Soundtrack | None,
        depth: int = 3,
        preset: str = "veryfast",
    ):
        self._writer = Mp4Writer(path, width, height, soundtrack, preset)
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="r2v-encoder", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write_frame(frame)
                except BaseException as exc:  # noqa: BLE001 - handed to the producer
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def write_frame(self, rgb: np.ndarray) -> None:
        self._raise()
        self._queue.put(rgb)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise()
        self._writer.close()

    def abort(self) -> None:
        self._error = self._error or RuntimeError("aborted")
        self._queue.put(None)
        self._thread.join()
        self._writer.abort()
