"""A job's soundtrack, the same for every engine: the plan's lines in their speakers' voices (measured from
each reference's voice) over a room tone, mixed as voice/mix.py says."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from r2v.director.storyboard import Storyboard
from r2v.engines.base import RenderJob
from r2v.render.decode import read_audio
from r2v.voice.mix import soundtrack, speaker_voices
from r2v.voice.tts import EspeakSynth


def job_soundtrack(job: RenderJob, board: Storyboard,
                   on_line: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:  # fmt: skip
    voices = speaker_voices(board, {a.label: a.voice for a in job.assets}, read_audio)
    return soundtrack(board, voices, EspeakSynth(), job.seed, on_line=on_line)
