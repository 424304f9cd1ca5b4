"""AnimaticEngine.render: the Storyboard drawn shot by shot.

Per shot: the background (a reference used as the place, the first frame, a storyboard panel, or a backdrop
coloured after the subjects); each subject's cut-out at the place, size and motion the director staged (reference
videos play their own frames); the speaking subject talks (mouth opened and body lifted by the speech envelope)
and the others step back a little; the shot's camera move; a short dissolve into the next shot. The first frame,
when given, is exactly frame 0. Deterministic for a given job."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from r2v.director import Shot, Storyboard
from r2v.director.storyboard import Placement
from r2v.engines.animatic import camera, framing, motion
from r2v.engines.animatic.cutout import Cutout, cut_out, image_alpha
from r2v.engines.animatic.layers import Layers, draw
from r2v.engines.animatic.listeners import Dimming
from r2v.engines.animatic.matte import MovingMatte
from r2v.engines.base import (
    Asset,
    Engine,
    Progress,
    RenderCancelled,
    RenderJob,
    RenderResult,
    panel_picture,
    shot_frames,
)
from r2v.engines.sound import job_soundtrack
from r2v.render import watermark
from r2v.render.decode import read_image, video_frames, video_loop
from r2v.render.encoder import AUDIO_RATE, FPS, PipelinedMp4Writer
from r2v.render.geometry import cover
from r2v.voice.tts import mandarin_to_pinyin

DISSOLVE_FRAMES = 6
FADE_IN_FRAMES = 8  # subjects appear over the first frame, which itself is shown exactly at frame 0
LOOP_FRAMES = 120  # a looping reference clip up to 4 s is kept as cut-outs (1-4 MB a frame at its drawn size)


class AnimaticEngine(Engine):
    name = "animatic"

    def render(self, job: RenderJob, out_path: Path, progress: Progress) -> RenderResult:
        board = job.plan()
        # OpenCV's own thread pool is off: the render already keeps the cores busy with its own threads (x264,
        # the helpers, the compositor), and fanning each small resize out over them costs more than it gains
        # (about 9% of a 720P render on 2 cores).
        cv2.setNumThreads(1)
        # The slow preparations (the voices, GrabCut, the video mattes) run on helper threads (all of them spend
        # their time in C code that lets the GIL go) while frames are composed and encoded; each is waited for
        # only where it is first needed, and the encoder holds its packets until the soundtrack is there.
        with _Helpers() as helpers:
            sound = _Sound(job, board, helpers) if job.audio else None  # the longest: started first
            prepared = _Prepared(job, board, helpers)  # the first shot's subjects first
            writer = PipelinedMp4Writer(out_path, job.width, job.height, sound.track if sound else None)
            try:
                written = self._draw_shots(job, board, prepared, _Talk(board, job.frames, sound), writer, progress,
                                           on_first_frame=helpers.yield_to_encoder)  # fmt: skip
                writer.close()
            except BaseException:
                writer.abort()
                raise
        progress(1.0)
        return RenderResult(frames=written)  # what is shown when is the plan itself

    def warm_up(self) -> None:
        mandarin_to_pinyin("你好")  # pypinyin's dictionaries take a fifth of a second to load

    def _draw_shots(self, job: RenderJob, board: Storyboard, prepared: _Prepared, talk: _Talk,
                    writer: PipelinedMp4Writer, progress: Progress,
                    on_first_frame: Callable[[], None]) -> int:  # fmt: skip
        backgrounds: dict[tuple, np.ndarray] = {}  # shots on the same background share it
        layers = Layers()
        dimming = Dimming()
        written = 0
        previous = None
        for shot, (first, last) in zip(board.shots, shot_frames(board, job.frames), strict=True):
            layers.new_shot()
            where = (shot.background.kind, shot.background.label, shot.background.panel, tuple(shot.subjects))
            if where not in backgrounds:
                backgrounds[where] = self._background(shot, job, board, prepared)
            background = backgrounds[where]
            count = last - first
            # sizes and places refitted to this frame's width (framing.py): the director's are for 16:9
            aspects = {p.label: prepared.aspect(p.label, p.drawn) for p in shot.placements}
            placements = framing.fit(shot.placements, aspects, shot.framing, job.width, job.height)
            videos = {p.label: prepared.video_layer(p.label, count, round(p.height * job.height))
                      for p in placements if prepared.is_video(p.label)}  # fmt: skip
            opening = shot.index == 0 and shot.background.kind == "first_frame"
            stage = motion.Stage(_by_depth(placements), job.width, job.height)  # what actions do, frame by frame
            for i in range(count):
                t = i / max(1, count - 1)
                speaker, level = talk.at(first + i)
                frame = background.copy()
                sized = {}
                for placement in stage.placements:
                    video = videos.get(placement.label)
                    layer = next(video) if video else prepared.cutout(placement.label, placement.drawn)
                    sized[placement.label] = layers.sized(placement, layer, job.height, video is None)
                for placement, layer, at in stage.frame(t, sized, {speaker: level} if speaker else {}):
                    dim = dimming.at(placement.label, speaker)  # eased over a few frames (listeners.py)
                    fade = min(1.0, i / FADE_IN_FRAMES) if opening else 1.0
                    talking = level if speaker == placement.label else 0.0
                    draw(frame, layer, placement, t, talking, dim, fade, at)
                frame = camera.apply(frame, shot.camera, t)
                if previous is not None and i < DISSOLVE_FRAMES:
                    w = (i + 1) / (DISSOLVE_FRAMES + 1)
                    frame = cv2.addWeighted(previous, 1 - w, frame, w, 0)
                if i == count - 1:
                    previous = frame
                    frame = frame.copy()  # kept for the dissolve: the watermark goes on a copy
                writer.write_frame(watermark.apply(frame) if job.watermark else frame)
                written += 1
                if written == 1:
                    on_first_frame()
                if written % 15 == 0:
                    progress(0.1 + 0.88 * written / job.frames)
                    if job.cancelled():
                        raise RenderCancelled(f"stopped at frame {written}")
        return written

    @staticmethod
    def _background(shot: Shot, job: RenderJob, board: Storyboard, prepared: _Prepared) -> np.ndarray:
        kind = shot.background.kind
        if kind == "first_frame" and job.first_frame is not None:
            return cover(prepared.picture(job.first_frame), job.width, job.height)
        if kind == "reference" and prepared.has(shot.background.label):
            place = prepared.assets[shot.background.label]
            if place.kind == "image":
                picture = prepared.picture(place.path)
            else:
                picture = next(video_frames(place.path, 1, 1920))
            return cover(picture, job.width, job.height)
        panel = panel_picture(job, board, shot, prepared.picture)
        if panel is not None:
            return cover(panel, job.width, job.height)
        subjects = [prepared.cutout(label) for label in shot.subjects if prepared.is_image_subject(label)]
        return _backdrop(job.width, job.height, subjects)


class _Helpers(ThreadPoolExecutor):
    """The render's helper threads. Until the first frame they are the critical path; from then on the encoder
    is, and the helpers step down in priority (Linux: niceness is per thread) so that they use the time the
    encoder leaves instead of taking its share: about 9% off a 720P render on 2 cores."""

    def __init__(self) -> None:
        self._thread_ids: list[int] = []
        super().__init__(max_workers=2, thread_name_prefix="r2v-prep",
                         initializer=lambda: self._thread_ids.append(threading.get_native_id()))  # fmt: skip

    def yield_to_encoder(self) -> None:
        if sys.platform != "linux":
            return
        for thread_id in list(self._thread_ids):
            try:
                os.setpriority(os.PRIO_PROCESS, thread_id, os.getpriority(os.PRIO_PROCESS, thread_id) + 5)
            except OSError:  # the thread has ended
                pass


class _Prepared:
    """What a render prepares before drawing, started at once on helper threads and waited for where used:
    each picture decoded once (a grid serves every panel), each image subject's cut-out, and each reference
    video's matte."""

    def __init__(self, job: RenderJob, board: Storyboard, helpers: ThreadPoolExecutor):
        self.assets = {a.label: a for a in job.assets}
        self._pictures: dict[Path, Future] = {}
        self._lock = threading.Lock()
        self._cutouts: dict[str, Future] = {}
        self._mattes: dict[str, Future] = {}
        for shot in board.shots:  # in order of first appearance: the first shot's subjects are ready first
            for placement in shot.placements:
                asset = self.assets.get(placement.label)
                if asset is None or placement.label in self._cutouts or placement.label in self._mattes:
                    continue
                if asset.kind == "image":
                    self._cutouts[placement.label] = helpers.submit(self._cut, asset)
                else:
                    self._mattes[placement.label] = helpers.submit(MovingMatte, asset.path)

    def has(self, label: str) -> bool:
        return label in self.assets

    def is_video(self, label: str) -> bool:
        return label in self._mattes

    def is_image_subject(self, label: str) -> bool:
        return label in self._cutouts

    def picture(self, path: Path) -> np.ndarray:
        """Decoded by the first thread that asks (the others wait for it), not on the pool: a helper waiting
        on the pool could wait for itself."""
        with self._lock:
            decoded = self._pictures.get(path)
            mine = decoded is None
            if mine:
                decoded = self._pictures[path] = Future()
        if mine:
            try:
                decoded.set_result(read_image(path))
            except BaseException as exc:  # noqa: BLE001 - handed to every thread that waits for it
                decoded.set_exception(exc)
        return decoded.result()

    def cutout(self, label: str, drawn: str | None = None) -> Cutout:
        """The subject's cut-out; furniture a plan asks for without a reference (`drawn`) is drawn here."""
        return motion.furniture(drawn) if drawn else self._cutouts[label].result()

    def aspect(self, label: str, drawn: str | None = None) -> float:
        """The subject's drawn width over its drawn height (a video's: its moving matte's box)."""
        if drawn:  # furniture drawn here
            rgb = motion.furniture(drawn).rgb
            return rgb.shape[1] / rgb.shape[0]
        if label in self._mattes:
            _, _, w, h = self._mattes[label].result().box
            return w / h
        if label in self._cutouts:
            rgb = self.cutout(label).rgb
            return rgb.shape[1] / rgb.shape[0]
        return 1.0

    def _cut(self, asset: Asset) -> Cutout:
        return cut_out(self.picture(asset.path), image_alpha(asset.path))

    def video_layer(self, label: str, count: int, height: int) -> Iterator[Cutout]:
        """The video's frames as cut-outs under a matte that follows the subject's movement (matte.py), decoded
        at the size they are drawn at."""
        matte: MovingMatte = self._mattes[label].result()
        asset = self.assets[label]
        if count > 1 and asset.info.duration_s * FPS <= min(count - 1, LOOP_FRAMES):
            # A clip shorter than the shot plays over and over: each of its frames is decoded and cut out once.
            loop = video_loop(asset.path, matte.drawn_side(height), min(count - 1, LOOP_FRAMES))
            if loop is not None:
                cuts = [matte.cut(picture, height) for picture in loop]
                for cut in cuts:
                    cut.repeats = True
                for i in range(count):
                    yield cuts[i % len(cuts)]
                return
        last = None
        for picture in video_frames(asset.path, max(1, count), matte.drawn_side(height)):
            last = matte.cut(picture, height)
            yield last
        while last is not None:  # a shot longer than the decoded frames holds the last one
            yield last


def _backdrop(width: int, height: int, subjects: list[Cutout]) -> np.ndarray:
    """A neutral studio backdrop tinted after the subjects: a soft vertical gradient and a floor."""
    if subjects:
        colours = [c.rgb[c.alpha > 0.5].mean(axis=0) for c in subjects if (c.alpha > 0.5).any()]
        tint = np.mean(colours, axis=0) if colours else np.array([128, 128, 128])
    else:
        tint = np.array([128, 128, 128])
    grey = tint.mean()
    base = 0.35 * tint + 0.65 * grey  # mostly grey: the subjects stand out
    top, bottom = np.clip(base * 1.25 + 30, 0, 255), np.clip(base * 0.7, 0, 255)
    t = np.linspace(0, 1, height)[:, None, None]
    frame = (top * (1 - t) + bottom * t).astype(np.float32).repeat(width, axis=1)
    floor = int(height * 0.8)
    frame[floor:] *= 0.8
    return frame.astype(np.uint8)


def _by_depth(placements: list[Placement]) -> list[Placement]:
    """Far (higher feet) first, so nearer subjects are drawn over them; held objects (placed after the subjects
    by the director) last, in front of their holders."""
    props = [p for p in placements if p.held_by]
    return sorted((p for p in placements if not p.held_by), key=lambda p: (p.bottom, p.height)) + props


class _Sound:
    """The soundtrack, made on a helper thread line by line. Each line's voice is handed over as soon as it is
    made (`lines`), so that a frame where someone talks waits for that line only, not for the whole mix."""

    def __init__(self, job: RenderJob, board: Storyboard, helpers: ThreadPoolExecutor):
        self.lines: list[Future] = [Future() for _ in board.lines]
        self.track = helpers.submit(self._make, job, board)

    def _make(self, job: RenderJob, board: Storyboard) -> np.ndarray:
        try:
            return job_soundtrack(job, board, on_line=self._line_done)
        except BaseException as exc:
            for line in self.lines:  # nobody waits forever for a line that will never come
                if not line.done():
                    line.set_exception(exc)
            raise

    def _line_done(self, index: int, voice: np.ndarray) -> None:
        self.lines[index].set_result(voice)


class _Talk:
    """(speaker, speech level 0..1) per video frame: from the envelope of the line's voice (relative to its own
    loud parts), or, without sound, a syllable-rate movement inside each line's window."""

    def __init__(self, board: Storyboard, frames: int, sound: _Sound | None):
        self._board, self._sound = board, sound
        self._line: list[int | None] = [None] * frames  # the line spoken at each frame (a later one wins)
        for index, line in enumerate(board.lines):
            for f in range(round(line.start * FPS), min(frames, round(line.end * FPS))):
                self._line[f] = index
        self._levels: dict[int, np.ndarray] = {}

    def at(self, frame: int) -> tuple[str | None, float]:
        index = self._line[frame]
        if index is None:
            return None, 0.0
        line = self._board.lines[index]
        first = round(line.start * FPS)
        if self._sound is None:
            return line.speaker, 0.5 + 0.5 * float(np.sin(2 * np.pi * 4 * frame / FPS))
        if index not in self._levels:
            self._levels[index] = _envelope(self._sound.lines[index].result(), line.start - first / FPS)
        levels = self._levels[index]
        return line.speaker, float(levels[frame - first]) if frame - first < len(levels) else 0.0


def _envelope(voice: np.ndarray, lead: float) -> np.ndarray:
    """Speech level per video frame of a line's voice, which starts `lead` seconds after its first frame does
    (before it, when negative), 0..1 against the 90th percentile of its own levels."""
    per_frame = AUDIO_RATE // FPS
    shift = round(lead * AUDIO_RATE)
    voice = np.concatenate([np.zeros(shift, np.float32), voice]) if shift >= 0 else voice[-shift:]
    frames = -(-len(voice) // per_frame)
    if not frames:
        return np.zeros(0)
    padded = np.pad(voice, (0, frames * per_frame - len(voice))).astype(np.float64)
    levels = np.sqrt((padded.reshape(frames, per_frame) ** 2).mean(axis=1))
    loud = np.percentile(levels, 90)
    return np.clip(levels / max(loud, 1e-6), 0, 1)
