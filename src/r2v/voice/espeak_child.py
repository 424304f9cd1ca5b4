"""The eSpeak NG side of tts.py, run as `python -m r2v.voice.espeak_child` (a fresh process per job; see
tts.EspeakSynth for why). Reads JSON [[text, language], ...] on stdin (Mandarin already as pinyin with tone
digits); writes one JSON header line {"rate": R, "samples": [n0, n1, ...]} and then every line's samples as
16-bit PCM. It imports neither numpy nor pypinyin, so it starts in a few tens of milliseconds."""

from __future__ import annotations

import ctypes
import json
import sys

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_UTF8 = 1
POS_CHARACTER = 1
ESPEAK_RATE, ESPEAK_PITCH, ESPEAK_RANGE = 1, 3, 4
VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us"}


class Espeak:
    """The library, loaded through ctypes in synchronous mode (no audio device, no system package)."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if self.rate <= 0:
            raise RuntimeError("eSpeak NG failed to initialise")
        self._chunks: list[bytes] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

        def collect(wav, count, events):  # called by espeak_Synth with each chunk of samples
            if count > 0:
                self._chunks.append(ctypes.string_at(wav, count * 2))
            return 0

        self._callback = callback_type(collect)  # kept alive as long as the library
        self.lib.espeak_SetSynthCallback(self._callback)

    def speak(self, text: str, language: str) -> bytes:
        """16-bit little-endian PCM at self.rate."""
        data = text.encode("utf-8") + b"\0"
        if self.lib.espeak_SetVoiceByName(VOICES.get(language, "en-us").encode()) != 0:
            raise RuntimeError(f"eSpeak NG has no voice for {language!r}")
        self.lib.espeak_SetParameter(ESPEAK_RATE, 165 if language == "en" else 190, 0)
        self.lib.espeak_SetParameter(ESPEAK_PITCH, 50, 0)
        self.lib.espeak_SetParameter(ESPEAK_RANGE, 60, 0)
        self._chunks = []
        self.lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        return b"".join(self._chunks)


def main() -> int:
    lines = json.loads(sys.stdin.buffer.read())
    engine = Espeak()
    spoken = [engine.speak(text, language) for text, language in lines]
    header = {"rate": engine.rate, "samples": [len(pcm) // 2 for pcm in spoken]}
    sys.stdout.buffer.write(json.dumps(header).encode() + b"\n" + b"".join(spoken))
    return 0


if __name__ == "__main__":
    sys.exit(main())
