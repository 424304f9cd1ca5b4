"""The soundtrack of a Storyboard: every line spoken in its speaker's voice at its time, a quiet ambience bed
under them, loudness normalised to -16 LUFS (ITU-R BS.1770, pyloudnorm) with true peak at most -1 dBTP,
48 kHz stereo. Deterministic for a given plan, voices and seed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyloudnorm
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

from r2v.director.storyboard import Storyboard
from r2v.voice.timbre import MEASURE_SECONDS, WORLD_RATE, VoiceProfile, measure, respeak
from r2v.voice.tts import SpeechSynth

RATE = 48000
TARGET_LUFS = -16.0
TRUE_PEAK_DBTP = -1.0
AMBIENCE_DBFS = -48.0  # RMS of the room tone under the dialogue
# Stock voices for speakers without a reference, by the gender and age the prompt gives them (director/roles.py):
# median pitches of ordinary speech (women about 165-255 Hz, men 85-155 Hz, children 250-300 Hz, older women
# lower and older men a little lower than in their middle years), several for each, so that two people of one
# kind still sound apart.
STOCK_PITCHES = {
    ("female", "child"): (285.0, 310.0, 260.0),
    ("male", "child"): (255.0, 235.0, 275.0),
    (None, "child"): (270.0, 295.0, 245.0),
    ("female", "old"): (180.0, 195.0, 165.0),
    ("male", "old"): (105.0, 95.0, 118.0),
    (None, "old"): (150.0, 112.0, 175.0),
    ("female", None): (215.0, 245.0, 195.0, 270.0),
    ("male", None): (120.0, 135.0, 108.0, 150.0),
    (None, None): (200.0, 115.0, 165.0, 240.0, 135.0),
}
DISTINCT = 1.12  # two voices' pitches differ by at least this ratio (about two semitones) when they can

ReadAudio = Callable[..., np.ndarray]  # read_audio(path, max_seconds=...): (n, 2) float32 at 48 kHz


def speaker_voices(board: Storyboard, references: dict[str, Path | None], read_audio: ReadAudio) -> dict:
    """A VoiceProfile for every speaker: measured from its reference (reference_voice, or its video's own
    sound), else a stock voice for its gender and age (the plan's roles), apart from every other voice."""
    voices: dict[str, VoiceProfile] = {}
    speakers = list(dict.fromkeys(line.speaker or "" for line in board.lines))
    for speaker in speakers:
        path = references.get(speaker)
        if path is not None:
            sound = read_audio(path, max_seconds=MEASURE_SECONDS)  # a 30 s video's sound is not all needed
            profile = measure(sound.mean(axis=1), RATE) if len(sound) else None
            if profile is not None:
                voices[speaker] = profile
    roles = {role.label: role for role in board.roles}
    for speaker in speakers:
        if speaker not in voices:
            role = roles.get(speaker)
            kind = (role.gender, role.age if role.age in ("child", "old") else None) if role else (None, None)
            voices[speaker] = VoiceProfile(f0=stock_pitch(STOCK_PITCHES[kind], [v.f0 for v in voices.values()]))
    return {speaker: voices[speaker] for speaker in speakers}


def stock_pitch(candidates: tuple[float, ...], taken: list[float]) -> float:
    """The first candidate at least DISTINCT from every pitch taken, else the one farthest from them."""

    def apart(f0: float) -> float:
        return min((max(f0, t) / min(f0, t) for t in taken if t > 0), default=np.inf)

    return next((f0 for f0 in candidates if apart(f0) >= DISTINCT), max(candidates, key=apart))


def soundtrack(board: Storyboard, voices: dict[str, VoiceProfile], synth: SpeechSynth, seed: int,
               on_line: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:  # fmt: skip
    """(duration x 48000, 2) float32. `on_line(index, voice)` is told each line's voice (mono, 48 kHz, starting
    at the line's start) as soon as it is made, before the mix: for what moves with the speech."""
    total = int(round(board.duration * RATE))
    speech = np.zeros(total, np.float32)
    spoken = synth.speak_lines([(line.text, line.language) for line in board.lines])
    for index, (line, (samples, rate)) in enumerate(zip(board.lines, spoken, strict=True)):
        voice = np.zeros(0, np.float32)
        if len(samples):
            voice = respeak(samples, rate, voices[line.speaker or ""], max(0.2, line.end - line.start))
            voice = resample_poly(voice, RATE // WORLD_RATE, 1).astype(np.float32)
        if on_line is not None:
            on_line(index, voice)
        start = int(round(line.start * RATE))
        end = min(total, start + len(voice))
        if end > start:
            speech[start:end] += voice[: end - start] * _fades(end - start)
    bed = _ambience(total, seed)
    if not board.lines or not np.any(speech):
        return np.repeat(bed[:, None], 2, axis=1)  # no dialogue: only the quiet room tone
    mixed = normalise(speech + bed)
    return np.repeat(mixed[:, None], 2, axis=1)


def _fades(n: int) -> np.ndarray:
    ramp = min(n // 2, RATE // 200)
    gain = np.ones(n, np.float32)
    if ramp:
        gain[:ramp] = np.linspace(0, 1, ramp)
        gain[-ramp:] = np.linspace(1, 0, ramp)
    return gain


def _ambience(n: int, seed: int) -> np.ndarray:
    """Soft room tone: brown-ish noise, gently band-limited, at AMBIENCE_DBFS RMS."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(n + RATE).astype(np.float32)
    brown = np.cumsum(white)
    brown -= uniform_filter1d(brown, size=4801, mode="nearest")  # remove the drift: no rumble below ~10 Hz
    brown = brown[RATE // 2 : RATE // 2 + n]
    rms = float(np.sqrt(np.mean(brown**2))) or 1.0
    return (brown * (10 ** (AMBIENCE_DBFS / 20) / rms)).astype(np.float32)


def loudness(samples: np.ndarray) -> float:
    """Integrated loudness in LUFS of a mono or stereo 48 kHz signal."""
    return float(pyloudnorm.Meter(RATE).integrated_loudness(np.asarray(samples, np.float64)))


def true_peak_db(samples: np.ndarray) -> float:
    """dBTP: the peak of the signal oversampled 4x (BS.1770 annex 2)."""
    up = resample_poly(np.asarray(samples, np.float64), 4, 1)
    peak = float(np.max(np.abs(up))) if up.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def normalise(mono: np.ndarray) -> np.ndarray:
    """Gain to TARGET_LUFS (measured as the stereo track it becomes, both channels alike), then a limiter
    holding the true peak under TRUE_PEAK_DBTP; repeated so that the limiter's loss of loudness is made up."""
    out = mono.astype(np.float64)

    def level_of(signal: np.ndarray) -> float:
        # Two equal channels carry twice the power of one: BS.1770 sums them, so this is exactly the stereo
        # track's loudness, for half the filtering.
        return loudness(signal) + 10 * np.log10(2)

    for _ in range(4):
        level = level_of(out)
        if not np.isfinite(level):
            return out.astype(np.float32)
        out *= 10 ** ((TARGET_LUFS - level) / 20)
        out = _limit(out, 10 ** ((TRUE_PEAK_DBTP - 0.3) / 20))
        if abs(level_of(out) - TARGET_LUFS) < 0.2 and true_peak_db(out) <= TRUE_PEAK_DBTP:
            break
    return out.astype(np.float32)


def _limit(x: np.ndarray, ceiling: float) -> np.ndarray:
    """Gain that never lets the (4x oversampled) peak pass `ceiling`. The needed gain is held by a minimum
    filter and smoothed by a moving average of the same radius (10 ms), so the gain is already down when a
    peak arrives and comes back up smoothly after it."""
    up = np.abs(resample_poly(x, 4, 1)).reshape(-1, 4).max(axis=1)[: len(x)]
    peak = np.maximum(np.abs(x), np.pad(up, (0, len(x) - len(up))))
    needed = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    radius = int(0.010 * RATE)
    held = minimum_filter1d(needed, size=2 * radius + 1, mode="nearest")
    gain = uniform_filter1d(held, size=2 * radius + 1, mode="nearest")
    return x * np.minimum(gain, needed)
