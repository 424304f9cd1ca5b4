"""Dialogue audio read back from rendered videos: each line has speech energy inside its window and near-silence
of speech outside, is spoken at its speaker's pitch (from reference_voice, or the reference video's own sound),
speakers without a reference get distinct voices, and the mix sits at -16 LUFS with true peak under -1 dBTP."""

from __future__ import annotations

import av
import numpy as np
import pytest

from r2v.director import Cast, direct
from r2v.engines.base import Asset, RenderJob
from r2v.engines.reel import ReelEngine
from r2v.media.probe import probe
from r2v.render.decode import read_audio
from r2v.voice.mix import RATE, TARGET_LUFS, loudness, true_peak_db
from r2v.voice.timbre import median_pitch, to_world_rate
from r2v.voice.tts import EspeakSynth, mandarin_to_pinyin

pytestmark = pytest.mark.engine

W, H = 320, 240


def _asset(assets, name, kind, label, voice=None) -> Asset:
    return Asset(kind=kind, path=assets[name], info=probe(assets[name], name), label=label, voice=voice)


def _render(tmp_path, prompt: str, members: list[Asset], duration: int, seed: int = 3):
    board = direct(prompt, Cast.of([(a.label, a.kind) for a in members]), duration)
    job = RenderJob(width=W, height=H, duration=duration, seed=seed, watermark=False, audio=True, assets=members,
                    prompt=prompt, storyboard=board)  # fmt: skip
    out = tmp_path / "v.mp4"
    ReelEngine().render(job, out, lambda _: None)
    with av.open(str(out)) as container:
        assert container.streams.audio[0].sample_rate == RATE
    return board, read_audio(out)[:, 0]


def _window(sound: np.ndarray, start: float, end: float) -> np.ndarray:
    return sound[int(start * RATE) : int(end * RATE)]


def _db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def test_lines_at_their_times_in_their_speakers_voices(assets, tmp_path):
    girl = _asset(assets, "girl", "image", "图1", voice=assets["girl_voice"])
    boy = _asset(assets, "boy_video", "video", "视频1", voice=assets["boy_voice"])
    board, sound = _render(tmp_path, "视频1说：“今天的阳光真好。”图1回答：“真好听，能不能再唱一遍？”", [girl, boy], 8)
    assert [line.speaker for line in board.lines] == ["视频1", "图1"]
    speech = np.zeros(len(sound), bool)
    for line in board.lines:
        speech[int(line.start * RATE) : int(line.end * RATE)] = True
        inside = _window(sound, line.start, line.end)
        assert _db(inside) > -30, line
        reference = read_audio(assets["girl_voice" if line.speaker == "图1" else "boy_voice"]).mean(axis=1)
        want = median_pitch(to_world_rate(reference, RATE))
        got = median_pitch(to_world_rate(inside, RATE))
        assert abs(got - want) / want < 0.10, (line.speaker, got, want)
    guard = int(0.15 * RATE)  # AAC's frame spreads a line's edges by a few ms
    outside = np.convolve(speech, np.ones(2 * guard + 1), mode="same") == 0
    assert _db(sound[outside]) < _db(sound[speech]) - 25  # room tone only between the lines
    assert abs(loudness(np.stack([sound, sound], axis=1)) - TARGET_LUFS) < 1.0
    assert true_peak_db(sound) <= -0.8  # -1 dBTP before AAC; its quantisation may move peaks by a tenth of a dB


def test_the_reference_videos_own_sound_is_the_voice_without_reference_voice(assets, tmp_path):
    boy = _asset(assets, "boy_video", "video", "视频1", voice=assets["boy_video"])
    board, sound = _render(tmp_path, "视频1说：“我们出发吧。”", [boy], 3)
    line = board.lines[0]
    want = median_pitch(to_world_rate(read_audio(assets["boy_video"]).mean(axis=1), RATE))
    got = median_pitch(to_world_rate(_window(sound, line.start, line.end), RATE))
    assert abs(got - want) / want < 0.10


def test_speakers_without_a_reference_get_distinct_voices(assets, tmp_path):
    first, second = _asset(assets, "girl", "image", "图1"), _asset(assets, "guitar", "image", "图2")
    board, sound = _render(tmp_path, 'Image 1 says: "Good morning." Image 2 says: "Good morning to you."',
                           [first, second], 5)  # fmt: skip
    pitches = [median_pitch(to_world_rate(_window(sound, line.start, line.end), RATE)) for line in board.lines]
    assert len(pitches) == 2 and min(pitches) > 0
    assert max(pitches) / min(pitches) > 1.3  # clearly different voices


def test_no_dialogue_is_a_quiet_room_tone(assets, tmp_path):
    _, sound = _render(tmp_path, "图1在窗边看书。", [_asset(assets, "girl", "image", "图1")], 2)
    assert -60 < _db(sound) < -40


@pytest.mark.parametrize(
    "text, pinyin",
    [("今天的阳光真好", "jin1 tian1 de5 yang2 guang1 zhen1 hao3"),
     ("你好，世界。", "ni3 hao3, shi4 jie4."), ("能不能再唱一遍？", "neng2 bu4 neng2 zai4 chang4 yi1 bian4?")],
)  # fmt: skip
def test_mandarin_is_spoken_from_pinyin_with_tones(text, pinyin):
    assert mandarin_to_pinyin(text) == pinyin
    [(samples, rate)] = EspeakSynth().speak_lines([(text, "zh")])
    syllables = len(pinyin.split())
    assert 0.15 * syllables < len(samples) / rate < 0.6 * syllables + 0.8


def test_speech_is_repeatable():
    lines = [("你好。", "zh"), ("Hello there.", "en"), ("你好。", "zh")]
    first, second = EspeakSynth().speak_lines(lines), EspeakSynth().speak_lines(lines)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, second, strict=True))
