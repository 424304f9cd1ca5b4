"""Offline text-to-speech: the SpeechSynth port and its eSpeak NG implementation.

eSpeak NG comes with its data in the `espeakng-loader` wheel and is driven through ctypes in synchronous mode
(no audio device, no system package). Mandarin is spoken through the `cmn-latn-pinyin` voice from pinyin with
tone numbers (pypinyin), which gives correct tones; Debian's plain `cmn` voice reads tone digits as English."""

from __future__ import annotations

import ctypes
import io
import json
import re
import subprocess
import sys
import threading
from abc import ABC, abstractmethod

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_UTF8 = 1
POS_CHARACTER = 1
ESPEAK_RATE, ESPEAK_PITCH, ESPEAK_RANGE = 1, 3, 4
VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us"}
_ZH_PAUSES = str.maketrans({"，": ",", "、": ",", "；": ";", "：": ":", "。": ".", "！": "!", "？": "?", "…": "..."})


class SpeechSynth(ABC):
    @abstractmethod
    def speak_lines(self, lines: list[tuple[str, str]]) -> list[tuple[np.ndarray, int]]:
        """For each (text, language "zh" | "en"): (mono float32 samples in -1..1, sample rate)."""


def mandarin_to_pinyin(text: str) -> str:
    """Hanzi to pinyin syllables with tone digits (neutral tone 5); punctuation kept as pauses."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(text.translate(_ZH_PAUSES), style=Style.TONE3, neutral_tone_with_five=True)
    joined = " ".join(s.strip() for s in syllables if s.strip())
    return re.sub(r"\s+([,.;:!?])", r"\1", joined)


class EspeakSynth(SpeechSynth):
    """eSpeak NG in a fresh child process per call: the library keeps state from one sentence to the next (its
    output for a line depends on what it spoke before), so only a fresh process speaking a job's lines in order
    gives the same samples every time, which keeps renders repeatable."""

    def speak_lines(self, lines: list[tuple[str, str]]) -> list[tuple[np.ndarray, int]]:
        if not lines:
            return []
        done = subprocess.run([sys.executable, "-m", "r2v.voice.tts"], input=json.dumps(lines).encode(),
                              capture_output=True, timeout=120, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"speech synthesis failed: {done.stderr.decode(errors='replace')[-500:]}")
        arrays = np.load(io.BytesIO(done.stdout))
        rate = int(arrays["rate"])
        return [(arrays[f"line{i}"], rate) for i in range(len(lines))]


def main() -> int:
    """Child process: JSON [[text, language], ...] on stdin, an .npz of line0.. and rate on stdout."""
    lines = json.loads(sys.stdin.buffer.read())
    engine = _Espeak()
    spoken = [engine.speak(text, language) for text, language in lines]
    out = io.BytesIO()
    np.savez(out, rate=np.int64(spoken[0][1] if spoken else 22050),
             **{f"line{i}": samples for i, (samples, _) in enumerate(spoken)})  # fmt: skip
    sys.stdout.buffer.write(out.getvalue())
    return 0


class _Espeak:
    """The library itself (one per process: it keeps global state)."""

    _lock = threading.Lock()
    _lib = None
    _rate = 0
    _chunks: list[np.ndarray] = []

    def __init__(self) -> None:
        with self._lock:
            if _Espeak._lib is None:
                _Espeak._load()

    @classmethod
    def _load(cls) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate <= 0:
            raise RuntimeError("eSpeak NG failed to initialise")
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

        def collect(wav, count, events):  # called by espeak_Synth with each chunk of samples
            if count > 0:
                cls._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).astype(np.float32) / 32768.0)
            return 0

        cls._callback = callback_type(collect)  # kept alive as long as the library
        lib.espeak_SetSynthCallback(cls._callback)
        cls._lib, cls._rate = lib, rate

    def speak(self, text: str, language: str) -> tuple[np.ndarray, int]:
        spoken = mandarin_to_pinyin(text) if language == "zh" else text
        data = spoken.encode("utf-8") + b"\0"
        with self._lock:
            lib = self._lib
            if lib.espeak_SetVoiceByName(VOICES.get(language, "en-us").encode()) != 0:
                raise RuntimeError(f"eSpeak NG has no voice for {language!r}")
            lib.espeak_SetParameter(ESPEAK_RATE, 165 if language == "en" else 190, 0)
            lib.espeak_SetParameter(ESPEAK_PITCH, 50, 0)
            lib.espeak_SetParameter(ESPEAK_RANGE, 60, 0)
            _Espeak._chunks = []
            lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            chunks, _Espeak._chunks = _Espeak._chunks, []
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return samples, self._rate


if __name__ == "__main__":
    sys.exit(main())
