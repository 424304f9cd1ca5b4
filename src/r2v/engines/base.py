"""The Engine port: what every renderer receives and must produce."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from r2v.director.storyboard import Shot, Storyboard
from r2v.media.info import MediaInfo

if TYPE_CHECKING:
    import numpy as np

Progress = Callable[[float], None]  # 0.0 .. 1.0
OUTPUT_FPS = 30  # every engine's output, as the spec says


@dataclass
class Asset:
    """A resolved, probed reference: an image or a video, with the voice its subject speaks with."""

    kind: str  # "image" | "video"
    path: Path
    info: MediaInfo
    label: str  # how the prompt names it: 图1, 视频2, character1
    voice: Path | None = None  # reference_voice, or the reference video itself when it has sound


@dataclass
class RenderJob:
    width: int
    height: int
    duration: int  # seconds; the output has exactly duration x 30 frames
    seed: int
    watermark: bool
    audio: bool  # False only for wan2.6-r2v-flash with audio=false: then the MP4 has no audio stream
    assets: list[Asset]
    first_frame: Path | None = None
    prompt: str = ""
    negative_prompt: str | None = None
    storyboard: Storyboard | None = None  # the director's plan (shots, subjects, lines, timing)
    # True once the task is to be stopped (R2V_CANCEL_RUNNING): an engine checks it as it goes and raises
    # RenderCancelled, leaving whatever it keeps loaded (a model) as it was.
    cancelled: Callable[[], bool] = lambda: False

    @property
    def frames(self) -> int:
        return self.duration * OUTPUT_FPS

    def plan(self) -> Storyboard:
        """The director's plan; made from the prompt when the job came without one (an engine used alone)."""
        if self.storyboard is not None:
            return self.storyboard
        from r2v.director import Cast, direct

        return direct(self.prompt, Cast.of([(a.label, a.kind) for a in self.assets]), self.duration)


@dataclass
class RenderResult:
    frames: int
    # What was shown when, as (start s, end s, label), for engines that do not follow the director's plan (reel).
    timeline: list[tuple[float, float, str]] = field(default_factory=list)


class RenderCancelled(Exception):
    """The render stopped because its task was canceled while running."""


class Engine(ABC):
    name: str

    @abstractmethod
    def render(self, job: RenderJob, out_path: Path, progress: Progress) -> RenderResult:
        """Write the finished MP4 to out_path, calling progress(fraction) as it goes."""

    def warm_up(self) -> None:  # noqa: B027 - optional hook; most engines need nothing
        """Load what the first render would otherwise wait for (dictionaries, weights). Called once by each
        worker process before it takes tasks."""


def shot_frames(board: Storyboard, total: int) -> list[tuple[int, int]]:
    """[start, end) frame ranges (at 30 fps) of the plan's shots; they tile exactly `total` frames."""
    bounds = [min(total, round(shot.start * OUTPUT_FPS)) for shot in board.shots] + [total]
    bounds[0] = 0
    return [(bounds[i], max(bounds[i], bounds[i + 1])) for i in range(len(board.shots))]


def panel_picture(
    job: RenderJob, board: Storyboard, shot: Shot, read: Callable[[Path], np.ndarray]
) -> np.ndarray | None:
    """The storyboard panel a shot stages, cut from the grid (the job's one reference image), or None."""
    if shot.background.kind != "panel" or not board.panels or not job.assets:
        return None
    x, y, w, h = board.panels[shot.background.panel]
    return read(job.assets[0].path)[y : y + h, x : x + w]
