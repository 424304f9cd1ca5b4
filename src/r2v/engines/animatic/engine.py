"""AnimaticEngine.render: the Storyboard drawn shot by shot.

Per shot: the background (a reference used as the place, the first frame, a storyboard panel, or a backdrop
coloured after the subjects); each subject's cut-out at the place, size and motion the director staged (reference
videos play their own frames); the speaking subject talks (jaw and body moved by the speech envelope) and the
others step back a little; the shot's camera move; a short dissolve into the next shot. The first frame, when
given, is exactly frame 0. Deterministic for a given job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from r2v.director import Cast, Shot, Storyboard, direct
from r2v.director.storyboard import Placement
from r2v.engines.animatic import camera
from r2v.engines.animatic.cutout import Cutout, cut_out, image_alpha
from r2v.engines.base import Asset, Engine, Progress, RenderJob, RenderResult
from r2v.render import watermark
from r2v.render.decode import read_audio, read_image, video_frames
from r2v.render.encoder import AUDIO_RATE, FPS, Mp4Writer
from r2v.voice.mix import soundtrack, speaker_voices
from r2v.voice.tts import EspeakSynth

DISSOLVE_FRAMES = 6
FADE_IN_FRAMES = 8  # subjects appear over the first frame, which itself is shown exactly at frame 0
DIM_LISTENERS = 0.86


def _cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y, x = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[y : y + height, x : x + width])


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
        sound = None
        if job.audio:
            voices = speaker_voices(board, {a.label: a.voice for a in job.assets}, read_audio)
            sound = soundtrack(board, voices, EspeakSynth(), job.seed)
        progress(0.1)
        talk = _talking(board, sound, job.frames)
        cutouts = {a.label: self._cutout(a) for a in job.assets if a.kind == "image"}
        writer = Mp4Writer(out_path, job.width, job.height, sound)
        written = 0
        try:
            previous = None
            for shot, (first, last) in zip(board.shots, shot_frames(board, job.frames), strict=True):
                background = self._background(shot, job, board, assets, cutouts)
                videos = {p.label: self._video_layer(assets[p.label], last - first, job)
                          for p in shot.placements if assets[p.label].kind == "video"}  # fmt: skip
                count = last - first
                for i in range(count):
                    t = i / max(1, count - 1)
                    frame = background.copy()
                    for placement in _by_depth(shot.placements):
                        layer = cutouts.get(placement.label) or next(videos[placement.label])
                        speaker, level = talk[first + i]
                        dim = DIM_LISTENERS if speaker and speaker != placement.label else 1.0
                        fade = min(1.0, i / FADE_IN_FRAMES) if shot.background.kind == "first_frame" and \
                            shot.index == 0 else 1.0  # fmt: skip
                        _draw(frame, layer, placement, t, level if speaker == placement.label else 0.0, dim * 1.0,
                              fade)  # fmt: skip
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
        timeline = [(s.start, s.end, ",".join(s.subjects) or s.background.kind) for s in board.shots]
        return RenderResult(frames=written, timeline=timeline)

    # -- layers -----------------------------------------------------------------------------------------

    @staticmethod
    def _cutout(asset: Asset) -> Cutout:
        return cut_out(read_image(asset.path), image_alpha(asset.path))

    @staticmethod
    def _video_layer(asset: Asset, count: int, job: RenderJob) -> Iterator[Cutout]:
        """The video's frames as cut-outs; the matte comes from its first frame (the subject stays in place)."""
        matte = None
        for picture in video_frames(asset.path, max(1, count), max(job.width, job.height)):
            if matte is None:
                first = cut_out(picture)
                matte = first
                full = np.zeros(picture.shape[:2], np.float32)
                x, y, w, h = _locate(first, picture)
                full[y : y + h, x : x + w] = first.alpha
                box = (x, y, w, h)
            x, y, w, h = box
            yield Cutout(picture[y : y + h, x : x + w], full[y : y + h, x : x + w], matte.face)
        while True:  # a shot longer than the decoded frames holds the last one
            yield Cutout(picture[y : y + h, x : x + w], full[y : y + h, x : x + w], matte.face)

    def _background(self, shot: Shot, job: RenderJob, board: Storyboard, assets, cutouts) -> np.ndarray:
        kind = shot.background.kind
        if kind == "first_frame" and job.first_frame is not None:
            return _cover(read_image(job.first_frame), job.width, job.height)
        if kind == "reference" and shot.background.label in assets:
            place = assets[shot.background.label]
            picture = read_image(place.path) if place.kind == "image" else next(video_frames(place.path, 1, 1920))
            return _cover(picture, job.width, job.height)
        if kind == "panel" and board.panels and job.assets:
            x, y, w, h = board.panels[shot.background.panel]
            grid = read_image(job.assets[0].path)
            return _cover(grid[y : y + h, x : x + w], job.width, job.height)
        return _backdrop(job.width, job.height, [cutouts[label] for label in shot.subjects if label in cutouts])


def _locate(cut: Cutout, picture: np.ndarray) -> tuple[int, int, int, int]:
    """Where a cropped cut-out lies in the picture it was cut from (cut_out crops to the opaque box)."""
    h, w = cut.rgb.shape[:2]
    result = cv2.matchTemplate(picture, cut.rgb, cv2.TM_SQDIFF)
    _, _, (x, y), _ = cv2.minMaxLoc(result)
    return x, y, w, h


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


def _draw(frame: np.ndarray, layer: Cutout, placement: Placement, t: float, level: float, dim: float,
          fade: float) -> None:  # fmt: skip
    """Composite one subject: scaled to its placement, moved if it walks, talking at `level`."""
    height, width = frame.shape[:2]
    target_h = max(4, round(placement.height * height * (1 + 0.03 * level)))
    scale = target_h / layer.rgb.shape[0]
    target_w = max(4, round(layer.rgb.shape[1] * scale))
    rgb = cv2.resize(layer.rgb, (target_w, target_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    alpha = cv2.resize(layer.alpha, (target_w, target_h), interpolation=cv2.INTER_LINEAR)
    if level > 0 and layer.face is not None:
        rgb = _open_jaw(rgb, [round(v * scale) for v in layer.face], level)
    x = placement.x
    if placement.motion == "walk_right":
        x += -0.25 + 0.5 * t
    elif placement.motion == "walk_left":
        x += 0.25 - 0.5 * t
    left = round(x * width - target_w / 2)
    top = round(placement.bottom * height - target_h)
    x0, y0, x1, y1 = max(0, left), max(0, top), min(width, left + target_w), min(height, top + target_h)
    if x0 >= x1 or y0 >= y1:
        return
    src = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    a = (alpha[src] * fade)[:, :, None]
    region = frame[y0:y1, x0:x1].astype(np.float32)
    subject = rgb[src].astype(np.float32) * dim
    frame[y0:y1, x0:x1] = (region + (subject - region) * a).astype(np.uint8)


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
