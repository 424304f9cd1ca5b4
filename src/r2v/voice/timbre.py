"""Voice matching with the WORLD vocoder: a speaker's voice is measured (median pitch and average spectral
envelope) from a reference recording, and a synthetic line is re-spoken with that pitch and timbre, stretched
to the length the plan gives it.

Pitch: the line's own intonation is kept and scaled so that its median is the speaker's. Timbre: the spectral
envelope is first warped along frequency (vocal-tract length follows pitch, by its fourth root) and then
equalised so that its long-term average matches the speaker's, within +-12 dB."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyworld
from scipy.signal import resample_poly

WORLD_RATE = 24000
FRAME_MS = 10.0  # analysis hop: speech pitch and envelope move slower than this
MAX_EQ_DB = 12.0
MEASURE_SECONDS = 10  # of a reference recording are enough to know the voice
APERIODICITY_STEP = 2  # aperiodicity (D4C, the slowest analysis) is measured every 20 ms: it changes slowly


@dataclass
class VoiceProfile:
    f0: float  # median pitch of voiced speech, Hz
    envelope: np.ndarray | None = None  # mean log spectral envelope (WORLD, WORLD_RATE), None for a stock voice


def to_world_rate(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == WORLD_RATE:
        return samples.astype(np.float64)
    g = np.gcd(rate, WORLD_RATE)
    return resample_poly(samples.astype(np.float64), WORLD_RATE // g, rate // g)


def pitch_track(samples: np.ndarray, rate: int = WORLD_RATE) -> np.ndarray:
    """f0 per 5 ms frame (0 where unvoiced): DIO refined by StoneMask, fast and steady on speech."""
    x = np.ascontiguousarray(samples, dtype=np.float64)
    f0, times = pyworld.dio(x, rate, f0_floor=60.0, f0_ceil=500.0, frame_period=FRAME_MS)
    return pyworld.stonemask(x, f0, times, rate)


def median_pitch(samples: np.ndarray, rate: int = WORLD_RATE) -> float:
    f0 = pitch_track(samples, rate)
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if voiced.size else 0.0


def measure(samples: np.ndarray, rate: int) -> VoiceProfile | None:
    """The profile of a recorded voice (mono), or None when it holds too little voiced speech to measure."""
    x = to_world_rate(samples, rate)[: WORLD_RATE * MEASURE_SECONDS]
    f0 = pitch_track(x)
    voiced = f0 > 0
    if voiced.sum() < 20:
        return None
    sp = pyworld.cheaptrick(x, f0, _times(len(f0)), WORLD_RATE)
    return VoiceProfile(f0=float(np.median(f0[voiced])), envelope=np.log(sp[voiced] + 1e-12).mean(axis=0))


def _times(frames: int) -> np.ndarray:
    return np.arange(frames) * FRAME_MS / 1000


def _stretch(track: np.ndarray, frames: int) -> np.ndarray:
    """Resample a per-frame track (1-D or frames x bins) to `frames` frames by nearest frame."""
    index = np.minimum((np.arange(frames) * len(track) / frames).astype(int), len(track) - 1)
    return track[index]


def _warp(sp: np.ndarray, factor: float) -> np.ndarray:
    """Scale the envelope's frequency axis by `factor` (>1 moves formants up)."""
    bins = sp.shape[1]
    source = np.clip(np.arange(bins) / factor, 0, bins - 1)
    lo = np.floor(source).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    w = source - lo
    return sp[:, lo] * (1 - w) + sp[:, hi] * w


def respeak(samples: np.ndarray, rate: int, voice: VoiceProfile, seconds: float) -> np.ndarray:
    """`samples` (a synthetic line) re-spoken in `voice`, `seconds` long, at WORLD_RATE, peak 0.9."""
    x = to_world_rate(samples, rate)
    x = np.concatenate([x, np.zeros(WORLD_RATE // 50)])
    f0 = pitch_track(x)
    times = _times(len(f0))
    sp = pyworld.cheaptrick(x, f0, times, WORLD_RATE)
    coarse_f0, coarse_times = (np.ascontiguousarray(a[::APERIODICITY_STEP]) for a in (f0, times))
    ap = np.repeat(pyworld.d4c(x, coarse_f0, coarse_times, WORLD_RATE), APERIODICITY_STEP, axis=0)[: len(f0)]
    voiced = f0 > 0
    own = float(np.median(f0[voiced])) if voiced.any() else voice.f0
    ratio = voice.f0 / own
    frames = max(2, int(round(seconds * 1000 / FRAME_MS)))
    f0, sp, ap = _stretch(f0 * ratio, frames), _stretch(sp, frames), _stretch(ap, frames)
    sp = _warp(sp, ratio**0.25)
    if voice.envelope is not None and voiced.any():
        own_env = np.log(sp[f0 > 0] + 1e-12).mean(axis=0) if (f0 > 0).any() else np.log(sp + 1e-12).mean(axis=0)
        gain = np.clip(voice.envelope - own_env, -MAX_EQ_DB / 8.686, MAX_EQ_DB / 8.686)
        kernel = np.hanning(9) / np.hanning(9).sum()
        sp = sp * np.exp(np.convolve(gain, kernel, mode="same"))[None, :]
    y = pyworld.synthesize(
        np.ascontiguousarray(f0), np.ascontiguousarray(sp), np.ascontiguousarray(ap), WORLD_RATE, FRAME_MS
    )
    y = y[: int(seconds * WORLD_RATE)]
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return (y * (0.9 / peak) if peak > 0 else y).astype(np.float32)
