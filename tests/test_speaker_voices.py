"""The right voice for each line, heard in rendered videos: 720P animatic renders made the way `r2v generate` and
the server make them (worker/pipeline.run_job: the Cast with its person facts, the plan, the render), and the
pitch (F0, WORLD's DIO + StoneMask) of every spoken line measured in the soundtrack read back from the MP4.

A line said by a pronoun's person is in that person's reference voice (never in an object's or the last-named
person's); without reference voices the default voice follows the prompt's gender and age words, and two
people of one kind still get voices apart."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from r2v.demo.assets import draw_person
from r2v.render.decode import read_audio
from r2v.voice.mix import RATE, speaker_voices
from r2v.voice.timbre import median_pitch, to_world_rate

pytestmark = pytest.mark.engine


def _generate(tmp_path: Path, prompt: str, media: list[dict], duration: int):
    """run_job as `r2v generate` runs it (local paths, the animatic engine): (plan, soundtrack mono 48 kHz)."""
    from r2v.clock import Clock
    from r2v.engines.animatic import AnimaticEngine
    from r2v.media.fetch import MediaResolver
    from r2v.protocol.validate import parse_create
    from r2v.wiring import open_storage
    from r2v.worker.pipeline import run_job

    body = {"model": "wan2.7-r2v", "input": {"prompt": prompt, "media": media},
            "parameters": {"resolution": "720P", "ratio": "16:9", "duration": duration, "watermark": False,
                           "seed": 5}}  # fmt: skip
    spec = parse_create(json.loads(json.dumps(body)), region="cn-beijing", allow_local_paths=True).spec
    for ref in spec.media:
        ref.url = Path(ref.url).as_uri()
        ref.voice_url = Path(ref.voice_url).as_uri() if ref.voice_url else None
    blobs = open_storage((tmp_path / "files").as_uri())
    resolver = MediaResolver(blobs=blobs, uploads=None, owner="test", now_ms=Clock().now_ms(), allow_local_files=True)
    outcome = run_job("voices", spec, resolver, blobs, tmp_path / "scratch", AnimaticEngine(), lambda _: None)
    out = tmp_path / "out.mp4"
    assert blobs.fetch(outcome.result_name, out)
    return outcome.plan, read_audio(out).mean(axis=1)


def _pitch(sound: np.ndarray, line) -> float:
    return median_pitch(to_world_rate(sound[int(line.start * RATE) : int(line.end * RATE)], RATE))


def _reference_pitch(path: Path) -> float:
    return median_pitch(to_world_rate(read_audio(path).mean(axis=1), RATE))


def _drawn(tmp_path: Path, name: str, **look) -> str:
    """A drawn character (the cascade finds no face in it: only the prompt's words make it a person)."""
    path = tmp_path / f"{name}.png"
    cv2.imwrite(str(path), cv2.cvtColor(draw_person(480, 640, **look), cv2.COLOR_RGB2BGR))
    return str(path)


@pytest.mark.parametrize(
    "prompt",
    [
        "视频1拿起图2，看向图1。他说：“我们一起唱首歌吧。”",
        'Video 1 picks up Image 2 and smiles. He says: "Let us sing a song."',
    ],
    ids=["zh", "en"],
)
def test_the_issues_prompts_are_said_in_the_subjects_voice(assets, tmp_path, prompt):
    media = [{"type": "reference_image", "url": str(assets["girl"]), "reference_voice": str(assets["girl_voice"])},
             {"type": "reference_image", "url": str(assets["guitar"])},
             {"type": "reference_video", "url": str(assets["boy_video"]), "reference_voice": str(assets["boy_voice"])}]  # fmt: skip
    plan, sound = _generate(tmp_path, prompt, media, 4)
    assert [line.speaker for line in plan.lines] == ["视频1"]
    roles = {role.label: (role.person, role.evidence) for role in plan.roles}
    assert roles == {"图1": (True, "voice"), "图2": (False, "object"), "视频1": (True, "video")}
    boy, girl = _reference_pitch(assets["boy_voice"]), _reference_pitch(assets["girl_voice"])
    got = _pitch(sound, plan.lines[0])
    assert abs(got - boy) / boy < 0.10, (got, boy, girl)  # the boy's voice, ~125 Hz, not the girl's ~230 Hz


# (prompt, {speaker: (lowest, highest) Hz}); the pictures: 图1 drawn with long hair, 图2 drawn short-haired
GENDERED = [
    ("图1是一位年轻女子，图2是一位老爷爷。图2说：“你好啊。”她笑着回答：“您好！”", {"图2": (85, 125), "图1": (185, 255)}),
    ('Image 1 is a little girl. Image 2 is a man. Image 2 says: "Hello there." She answers: "Hi!"',
     {"图2": (100, 155), "图1": (250, 320)}),
]  # fmt: skip


@pytest.mark.parametrize("prompt, ranges", GENDERED, ids=["zh", "en"])
def test_default_voices_follow_the_prompts_gender_and_age(tmp_path, prompt, ranges):
    media = [{"type": "reference_image", "url": _drawn(tmp_path, "her", skin=(240, 200, 175), hair=(120, 60, 30),
                                                       shirt=(220, 90, 120), long_hair=True)},
             {"type": "reference_image", "url": _drawn(tmp_path, "him", skin=(225, 180, 150), hair=(200, 200, 200),
                                                       shirt=(60, 110, 200))}]  # fmt: skip
    plan, sound = _generate(tmp_path, prompt, media, 4)
    assert [line.speaker for line in plan.lines] == ["图2", "图1"]
    intended = {label: voice.f0 for label, voice in speaker_voices(plan, {}, read_audio).items()}
    pitches = {line.speaker: _pitch(sound, line) for line in plan.lines}
    for label, (low, high) in ranges.items():
        assert low <= pitches[label] <= high, (label, pitches, intended)
        assert abs(pitches[label] - intended[label]) / intended[label] < 0.08, (label, pitches, intended)
    assert pitches["图1"] / pitches["图2"] > 1.6  # the woman or girl clearly higher than the (old) man


def test_two_people_of_one_kind_get_voices_apart(tmp_path):
    look = {"skin": (240, 200, 175), "hair": (120, 60, 30), "shirt": (220, 90, 120), "long_hair": True}
    media = [{"type": "reference_image", "url": _drawn(tmp_path, "one", **look)},
             {"type": "reference_image", "url": _drawn(tmp_path, "two", **{**look, "shirt": (90, 160, 90)})}]  # fmt: skip
    prompt = 'Image 1 is a woman. Image 2 is a woman. Image 1 says: "Good morning." Image 2 says: "Good morning!"'
    plan, sound = _generate(tmp_path, prompt, media, 3)
    assert [line.speaker for line in plan.lines] == ["图1", "图2"]
    first, second = (_pitch(sound, line) for line in plan.lines)
    assert 165 <= min(first, second) and max(first, second) <= 275  # both women's voices
    assert max(first, second) / min(first, second) > 1.08, (first, second)  # yet two different ones
