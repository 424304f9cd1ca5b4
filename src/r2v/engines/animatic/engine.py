"""AnimaticEngine.render: the Storyboard drawn shot by shot.

Per shot: the background (a reference used as the place, the first frame, a storyboard panel, or a backdrop
coloured after the subjects); each subject's cut-out at the place, size and motion the director staged (reference
videos play their own frames); the speaking subject talks (jaw and body moved by the speech envelope) and the
others step back a little; the shot's camera move; a short dissolve into the next shot. The first frame, when
given, is exactly frame 0. Deterministic for a given job."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from r2v.director import Cast, Shot, Storyboard, direct
from r2v.director.storyboard import Placement
from r2v.engines.animatic import camera
from r2v.engines.animatic.cutout import Cutout, cut_out, image_alpha
from r2v.engines.animatic.matte import MovingMatte
from r2v.engines.base import Asset, Engine, Progress, RenderJob, RenderResult
from r2v.render import watermark
from r2v.render.decode import read_audio, read_image, video_frames
from r2v.render.encoder import AUDIO_RATE, FPS, PipelinedMp4Writer
from r2v.render.geometry import cover
from r2v.voice.mix import soundtrack, speaker_voices
from r2v.voice.tts import EspeakSynth

DISSOLVE_FRAMES = 6
FADE_IN_FRAMES = 8  # subjects appear over the first frame, which itself is shown exactly at frame 0
DIM_LISTENERS = 0.86


def shot_frames(board: Storyboard, total: int) -> list[tuple[int, int]]:
    """[start, end) frame ranges of the shots; they tile exactly `total` frames."""
    bounds = [min(total, round(shot.start * FPS)) for shot in board.shots] + [total]
    bounds[0] = 0
    return [(bounds[i], max(bounds[i], bounds[i + 1])) for i in range(len(board.shots))]


class AnimaticEngine(Engine):
    name = "animatic"

    def render(self, job: RenderJob, out_path: Path, progress: Progress) -> RenderResult:
        board = job.storyboard or direct(job.prompt, Cast.of([(a.label, a.kind) for a in job.assets]), job.duration)
        assets = {a.label: a for a in job.assets}
        on_stage = {p.label for shot in board.shots for p in shot.placements}
        sound = self._sound(job, board) if job.audio else None
        read = functools.cache(read_image)  # each picture decoded once per render (a grid serves every panel)
        cutouts = {a.label: self._cutout(a, read) for a in job.assets if a.kind == "image" and a.label in on_stage}
        backgrounds: dict[tuple, np.ndarray] = {}  # shots on the same background share it
        progress(0.1)
        talk = _talking(board, sound, job.frames)
        mattes: dict[str, MovingMatte] = {}  # one per reference video, made once
        layers = _Layers()
        writer = PipelinedMp4Writer(out_path, job.width, job.height, sound)
        written = 0
        try:
            previous = None
            for shot, (first, last) in zip(board.shots, shot_frames(board, job.frames), strict=True):
                where = (shot.background.kind, shot.background.label, shot.background.panel, tuple(shot.subjects))
                if where not in backgrounds:
                    backgrounds[where] = self._background(shot, job, board, assets, cutouts, read)
                background = backgrounds[where]
                count = last - first
                videos = {p.label: self._video_layer(assets[p.label], count, job, mattes)
                          for p in shot.placements if assets[p.label].kind == "video"}  # fmt: skip
                opening = shot.index == 0 and shot.background.kind == "first_frame"
                for i in range(count):
                    t = i / max(1, count - 1)
                    speaker, level = talk[first + i]
                    frame = background.copy()
                    for placement in _by_depth(shot.placements):
                        video = videos.get(placement.label)
                        layer = next(video) if video else cutouts[placement.label]
                        dim = DIM_LISTENERS if speaker and speaker != placement.label else 1.0
                        fade = min(1.0, i / FADE_IN_FRAMES) if opening else 1.0
                        talking = level if speaker == placement.label else 0.0
                        _draw(frame, layers.sized(placement, layer, job.height, video is None), placement, t,
                              talking, dim, fade)  # fmt: skip
                    frame = camera.apply(frame, shot.camera, t)
                    if previous is not None and i < DISSOLVE_FRAMES:
                        w = (i + 1) / (DISSOLVE_FRAMES + 1)
                        frame = cv2.addWeighted(previous, 1 - w, frame, w, 0)
                    if i == count - 1:
                        previous = frame
                    writer.write_frame(watermark.apply(frame.copy()) if job.watermark else frame)
                    written += 1
                    if written % 15 == 0:
                        progress(0.1 + 0.88 * written / job.frames)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        progress(1.0)
        return RenderResult(frames=written)  # what is shown when is the plan itself

    # -- layers -----------------------------------------------------------------------------------------

    @staticmethod
    def _sound(job: RenderJob, board: Storyboard) -> np.ndarray:
        voices = speaker_voices(board, {a.label: a.voice for a in job.assets}, read_audio)
        return soundtrack(board, voices, EspeakSynth(), job.seed)

    @staticmethod
    def _cutout(asset: Asset, read) -> Cutout:
        return cut_out(read(asset.path), image_alpha(asset.path))

    @staticmethod
    def _video_layer(asset: Asset, count: int, job: RenderJob, mattes: dict[str, MovingMatte]) -> Iterator[Cutout]:
        """The video's frames as cut-outs under a matte that follows the subject's movement (matte.py)."""
        side = min(job.width, job.height)  # a subject is drawn about frame-high: decoding it bigger is waste
        if asset.label not in mattes:
            mattes[asset.label] = MovingMatte(asset.path, side)
        matte = mattes[asset.label]
        last = None
        for picture in video_frames(asset.path, max(1, count), side):
            last = matte.cut(picture)
            yield last
        while last is not None:  # a shot longer than the decoded frames holds the last one
            yield last

    def _background(self, shot: Shot, job: RenderJob, board: Storyboard, assets, cutouts, read) -> np.ndarray:
        kind = shot.background.kind
        if kind == "first_frame" and job.first_frame is not None:
            return cover(read(job.first_frame), job.width, job.height)
        if kind == "reference" and shot.background.label in assets:
            place = assets[shot.background.label]
            picture = read(place.path) if place.kind == "image" else next(video_frames(place.path, 1, 1920))
            return cover(picture, job.width, job.height)
        if kind == "panel" and board.panels and job.assets:
            x, y, w, h = board.panels[shot.background.panel]
            grid = read(job.assets[0].path)
            return cover(grid[y : y + h, x : x + w], job.width, job.height)
        return _backdrop(job.width, job.height, [cutouts[label] for label in shot.subjects if label in cutouts])


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


def _talking(board: Storyboard, sound: np.ndarray | None, frames: int) -> list[tuple[str | None, float]]:
    """(speaker, speech level 0..1) per video frame: from the soundtrack's envelope, or, without sound, a
    syllable-rate movement inside each line's window."""
    talk: list[tuple[str | None, float]] = [(None, 0.0)] * frames
    per_frame = AUDIO_RATE // FPS
    levels = None
    if sound is not None:
        mono = sound[: frames * per_frame, 0]
        mono = np.pad(mono, (0, frames * per_frame - len(mono)))
        levels = np.sqrt((mono.reshape(frames, per_frame).astype(np.float64) ** 2).mean(axis=1))
        speaking = [levels[round(line.start * FPS) : round(line.end * FPS)] for line in board.lines]
        loud = np.percentile(np.concatenate(speaking), 90) if any(len(s) for s in speaking) else 1.0
        levels = np.clip(levels / max(loud, 1e-6), 0, 1)
    for line in board.lines:
        for f in range(round(line.start * FPS), min(frames, round(line.end * FPS))):
            level = levels[f] if levels is not None else 0.5 + 0.5 * np.sin(2 * np.pi * 4 * f / FPS)
            talk[f] = (line.speaker, float(level))
    return talk


class _Sized:
    """A cut-out at its placement's size, ready to composite: colour premultiplied by alpha, and 1 - alpha."""

    def __init__(self, rgb: np.ndarray, alpha: np.ndarray, face):
        self.rgb, self.face = rgb, face
        self.alpha = alpha[:, :, None].astype(np.float32)
        self.inverse = 1.0 - self.alpha
        self.premultiplied = rgb.astype(np.float32) * self.alpha


class _Layers:
    """Cut-outs resized to their placement, kept across frames (a still subject is resized once per shot)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, _Sized] = {}

    def sized(self, placement: Placement, layer: Cutout, frame_height: int, still: bool) -> _Sized:
        target_h = max(4, round(placement.height * frame_height))
        scale = target_h / layer.rgb.shape[0]
        target_w = max(4, round(layer.rgb.shape[1] * scale))
        key = (placement.label, target_w, target_h)
        if still and key in self._cache:
            return self._cache[key]
        shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        face = [round(v * scale) for v in layer.face] if layer.face else None
        sized = _Sized(cv2.resize(layer.rgb, (target_w, target_h), interpolation=shrink),
                       cv2.resize(layer.alpha, (target_w, target_h), interpolation=cv2.INTER_LINEAR), face)  # fmt: skip
        if still:
            self._cache[key] = sized
        return sized


def _draw(frame: np.ndarray, layer: _Sized, placement: Placement, t: float, level: float, dim: float,
          fade: float) -> None:  # fmt: skip
    """Composite one sized subject at its placement, moved if it walks, talking at `level`: its jaw opens and
    it rises a little with the voice."""
    height, width = frame.shape[:2]
    target_h, target_w = layer.alpha.shape[:2]
    x = placement.x
    if placement.motion == "walk_right":
        x += -0.25 + 0.5 * t
    elif placement.motion == "walk_left":
        x += 0.25 - 0.5 * t
    left = round(x * width - target_w / 2)
    top = round(placement.bottom * height - target_h - 0.015 * height * level)
    x0, y0, x1, y1 = max(0, left), max(0, top), min(width, left + target_w), min(height, top + target_h)
    if x0 >= x1 or y0 >= y1:
        return
    src = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    region = frame[y0:y1, x0:x1].astype(np.float32)
    if level > 0 and layer.face is not None:  # the talking face changes every frame: blended from scratch
        rgb = _open_jaw(layer.rgb, layer.face, level)[src].astype(np.float32)
        a = layer.alpha[src] * fade
        frame[y0:y1, x0:x1] = (region * (1 - a) + rgb * dim * a).astype(np.uint8)
    elif fade < 1.0:
        a = layer.alpha[src] * fade
        frame[y0:y1, x0:x1] = (region * (1 - a) + layer.premultiplied[src] * (dim * fade)).astype(np.uint8)
    else:
        colour = layer.premultiplied[src] if dim == 1.0 else layer.premultiplied[src] * dim
        frame[y0:y1, x0:x1] = (region * layer.inverse[src] + colour).astype(np.uint8)


def _open_jaw(rgb: np.ndarray, face: list[int], level: float) -> np.ndarray:
    """Stretch the lower part of the face downwards with the speech level: the mouth opens as the voice rises."""
    fx, fy, fw, fh = face
    y0, y1 = fy + int(fh * 0.62), min(rgb.shape[0], fy + fh)
    x0, x1 = max(0, fx), min(rgb.shape[1], fx + fw)
    if y1 - y0 < 4 or x1 - x0 < 4:
        return rgb
    stretch = 1 + 0.35 * level
    jaw = rgb[y0:y1, x0:x1]
    tall = cv2.resize(jaw, (x1 - x0, max(1, round((y1 - y0) * stretch))), interpolation=cv2.INTER_LINEAR)
    out = rgb.copy()
    end = min(rgb.shape[0], y0 + tall.shape[0])
    out[y0:end, x0:x1] = tall[: end - y0]
    return out
