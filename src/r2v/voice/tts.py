"""Offline text-to-speech: the SpeechSynth port and its eSpeak NG implementation.

eSpeak NG comes with its data in the `espeakng-loader` wheel and is driven through ctypes (espeak_child.py).
Mandarin is spoken through the `cmn-latn-pinyin` voice from pinyin with tone numbers (pypinyin), which gives
correct tones; Debian's plain `cmn` voice reads tone digits as English."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from abc import ABC, abstractmethod

import numpy as np

_ZH_PAUSES = str.maketrans({"，": ",", "、": ",", "；": ";", "：": ":", "。": ".", "！": "!", "？": "?", "…": "..."})


def mandarin_to_pinyin(text: str) -> str:
    """Hanzi to pinyin syllables with tone digits (neutral tone 5); punctuation kept as pauses."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(text.translate(_ZH_PAUSES), style=Style.TONE3, neutral_tone_with_five=True)
    joined = " ".join(s.strip() for s in syllables if s.strip())
    return re.sub(r"\s+([,.;:!?])", r"\1", joined)


class SpeechSynth(ABC):
    @abstractmethod
    def speak_lines(self, lines: list[tuple[str, str]]) -> list[tuple[np.ndarray, int]]:
        """For each (text, language "zh" | "en"): (mono float32 samples in -1..1, sample rate)."""


class EspeakSynth(SpeechSynth):
    """eSpeak NG in a fresh child process per call. The library keeps state from one sentence to the next (its
    output for a line depends on what it spoke before, and on seeds it does not let us set), so only a fresh
    process speaking a job's lines in order gives the same samples every time, which keeps renders repeatable."""

    def speak_lines(self, lines: list[tuple[str, str]]) -> list[tuple[np.ndarray, int]]:
        if not lines:
            return []
        lines = [(mandarin_to_pinyin(text) if language == "zh" else text, language) for text, language in lines]
        done = subprocess.run([sys.executable, "-m", "r2v.voice.espeak_child"], input=json.dumps(lines).encode(),
                              capture_output=True, timeout=120, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"speech synthesis failed: {done.stderr.decode(errors='replace')[-500:]}")
        head, _, body = done.stdout.partition(b"\n")
        header = json.loads(head)
        pcm = np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0
        out, offset = [], 0
        for count in header["samples"]:
            out.append((pcm[offset : offset + count], int(header["rate"])))
            offset += count
        return out
