"""Who speaks each line, over a table of prompts in both languages (the issue's two among them): people versus
objects (a face or a figure in the picture, a video, a voice, the prompt's own words), subject continuity for
pronouns, gender and role words, quotes followed by their speaker. Also: which pictures show a person
(media/people.py), how the pipeline builds the Cast, and the default voice each speaker gets (voice/mix.py)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage

from r2v.demo.assets import draw_guitar, draw_person, draw_room_with_chair, draw_storyboard, draw_sunflowers
from r2v.director import Cast, direct
from r2v.director.cast import Member
from r2v.director.storyboard import Line, Role, Shot, Storyboard
from r2v.media.people import shows_a_person
from r2v.voice.mix import DISTINCT, speaker_voices

pytestmark = pytest.mark.unit

ASTRONAUT = Path(skimage.__file__).parent / "data" / "astronaut.png"


def person(label: str, kind: str = "image", why: str = "picture") -> Member:
    return Member(label, kind, person=True, evidence=why)


def thing(label: str) -> Member:
    return Member(label, "image", person=False, evidence="picture")


VIDEO = Member("视频1", "video", person=True, evidence="video")
GIRL, GUITAR, FLOWERS = person("图1", why="voice"), thing("图2"), thing("图3")
DRAWN_1, DRAWN_2 = thing("图1"), thing("图2")  # drawn characters: no face the cascade can find
UNKNOWN = [Member("图1", "image"), Member("图2", "image"), Member("图3", "image")]  # Cast.of: nothing known

# (id, prompt, members, [(speaker, line)])
SPEAKERS = [
    ("issue zh: the subject speaks, not the last name", "视频1拿起图2，看向图1。他说：“我们走吧。”",
     [GIRL, GUITAR, VIDEO], [("视频1", "我们走吧。")]),
    ("issue en: an object never takes the pronoun", 'Video 1 picks up Image 2 and smiles. He says: "Shall I play?"',
     [GIRL, GUITAR, VIDEO], [("视频1", "Shall I play?")]),
    ("issue zh without person facts", "视频1拿起图2，看向图1。他说：“我们走吧。”", [*UNKNOWN[:2], VIDEO],
     [("视频1", "我们走吧。")]),
    ("issue en without person facts", 'Video 1 picks up Image 2 and smiles. He says: "Shall I play?"',
     [*UNKNOWN[:2], VIDEO], [("视频1", "Shall I play?")]),
    ("zh gender: 她 is the woman, not the topic", "图1是一位年轻女子，视频1是一个男孩。视频1走向图1。她说：“你来了。”",
     [DRAWN_1, VIDEO], [("图1", "你来了。")]),
    ("zh gender: 他 is the old man", "图1是一个小女孩，图2是一位老爷爷。图1拉着图2的手。他笑着说：“慢点走。”",
     [DRAWN_1, DRAWN_2], [("图2", "慢点走。")]),
    ("en gender: she is the young woman", 'Image 1 is a young woman. Video 1 hands Image 2 to Image 1. She says: '
     '"Thank you."', [DRAWN_1, GUITAR, VIDEO], [("图1", "Thank you.")]),
    ("en gender: he is the old man", "Image 1 is a girl and Image 2 is an old man. Image 1 waves at Image 2. "
     'He waves back and says: "Good morning."', [DRAWN_1, DRAWN_2], [("图2", "Good morning.")]),
    ("zh role noun as the speaker", "图1是一位老人，图2是一个男孩。男孩跑过来。老人说：“别跑那么快。”",
     [DRAWN_1, DRAWN_2], [("图1", "别跑那么快。")]),
    ("en role noun as the speaker", 'The girl in Image 1 waves at the old man in Image 2. The old man says: "Hello!"',
     [DRAWN_1, DRAWN_2], [("图2", "Hello!")]),
    ("en quote, then said + name", '"Time to go," said Video 1.', [GIRL, VIDEO], [("视频1", "Time to go")]),
    ("en quote, then name + says", '"Time to go," Video 1 says to Image 1.', [GIRL, VIDEO], [("视频1", "Time to go")]),
    ("en quote, then pronoun", 'Image 1 is a woman. Image 1 opens the door. "Come in," she says.', [DRAWN_1, VIDEO],
     [("图1", "Come in")]),
    ("en quote, then role noun", 'Image 1 is a boy. "Look at this!" said the boy.', [DRAWN_1], [("图1", "Look at this!")]),
    ("zh quote, then name", "“快来看！”图1喊道。", [GIRL, VIDEO], [("图1", "快来看！")]),
    ("zh quote, then pronoun", "视频1弹着图2。“这首歌好听吗？”他问。", [GIRL, GUITAR, VIDEO], [("视频1", "这首歌好听吗？")]),
    ("zh: a robot the prompt makes a person", "图3是一个会说话的机器人。图3飞到图1身边。它说：“你好，主人。”",
     [GIRL, GUITAR, thing("图3")], [("图3", "你好，主人。")]),
    ("en: a talking robot", 'Image 3 is a talking robot. Image 1 holds Image 2. It says: "Hello!"',
     [GIRL, GUITAR, thing("图3")], [("图3", "Hello!")]),
    ("zh: an object the prompt names never takes 它", "图2是一把吉他。图1拿起图2。它说：“真好看。”",
     [GIRL, Member("图2", "image")], [("图1", "真好看。")]),
    ("zh: a subjectless line goes on with the topic", "视频1拿起图2，笑着说：“我来弹一首。”", [GIRL, GUITAR, VIDEO],
     [("视频1", "我来弹一首。")]),
    ("zh: subject continuity over two sentences", "图1走进房间。她看见图2，开心地说：“原来在这里！”",
     [GIRL, GUITAR], [("图1", "原来在这里！")]),
    ("en: pronoun after a held object", 'Image 1 lifts Image 2 over her head. She laughs and says: "Got it!"',
     [GIRL, GUITAR], [("图1", "Got it!")]),
    ("two speakers by name, then pronouns", "图1是一个女孩，视频1是一个男孩。图1说：“你好。”视频1回答：“你好呀。”"
     "她又说：“一起玩吧。”", [DRAWN_1, VIDEO], [("图1", "你好。"), ("视频1", "你好呀。"), ("图1", "一起玩吧。")]),
    ("a named drawn character still speaks", "图1说：“我是画出来的。”", [DRAWN_1], [("图1", "我是画出来的。")]),
]  # fmt: skip


@pytest.mark.parametrize("case", SPEAKERS, ids=[c[0] for c in SPEAKERS])
def test_who_speaks(case):
    _, prompt, members, expected = case
    board = direct(prompt, Cast(members), 5)
    assert [(line.speaker, line.text) for line in board.lines] == expected
    roles = {role.label: role for role in board.roles}
    for line in board.lines:  # whoever speaks is a person in the plan
        assert roles[line.speaker].person is True, roles[line.speaker]


# (prompt, {label: (person, gender, age)}) — what the plan records of each reference
ROLES = [
    ("图1是一位年轻女子，图2是一位老人。", {"图1": (True, "female", "adult"), "图2": (True, None, "old")}),
    ("Image 1 is a young woman and Image 2 is a little boy.",
     {"图1": (True, "female", "adult"), "图2": (True, "male", "child")}),
    ("图1中的妈妈抱着小男孩（图2）。", {"图1": (True, "female", "adult"), "图2": (True, "male", "child")}),
    ("The grandpa in Image 1 plays chess with Image 2, a girl.",
     {"图1": (True, "male", "old"), "图2": (True, "female", "child")}),
    ("图2是一把吉他，图1弹奏图2。", {"图2": (False, None, None)}),
    ("Image 2 is a guitar.", {"图2": (False, None, None)}),
    ("Image 1 picks up Image 2.", {"图1": (None, None, None), "图2": (False, None, None)}),
    ("图1把图2放到桌子上。", {"图2": (False, None, None)}),
    ("Image 1 is with the old man.", {"图1": (None, None, None)}),  # "with": no role for Image 1
]  # fmt: skip


@pytest.mark.parametrize("prompt, expected", ROLES, ids=[r[0] for r in ROLES])
def test_roles_from_the_prompt(prompt, expected):
    board = direct(prompt, Cast(UNKNOWN[:2]), 4)
    roles = {role.label: role for role in board.roles}
    for label, want in expected.items():
        assert (roles[label].person, roles[label].gender, roles[label].age) == want, roles[label]


def test_the_prompt_outranks_the_picture_and_a_voice_outranks_handling():
    board = direct("图2是一个会说话的机器人。图1拿起图2。", Cast([thing("图1"), thing("图2")]), 4)
    assert {r.label: (r.person, r.evidence) for r in board.roles} == {"图1": (False, "picture"),
                                                                      "图2": (True, "prompt")}  # fmt: skip
    held_voice = direct("视频1抱起图1。", Cast([person("图1", why="voice"), VIDEO]), 4)
    assert {r.label: r.person for r in held_voice.roles} == {"图1": True, "视频1": True}


def _figure(h: int = 480, w: int = 320) -> np.ndarray:
    """A person seen from behind: a silhouette, no face."""
    img = np.full((h, w, 3), (200, 210, 220), np.uint8)
    ink, cx, s = (60, 50, 45), w // 2, h / 480
    cv2.circle(img, (cx, int(70 * s)), int(28 * s), ink, -1)
    cv2.ellipse(img, (cx, int(190 * s)), (int(45 * s), int(85 * s)), 0, 0, 360, ink, -1)
    for side in (-1, 1):
        cv2.line(img, (cx + side * int(40 * s), int(125 * s)), (cx + side * int(58 * s), int(255 * s)), ink,
                 int(18 * s))  # fmt: skip
        cv2.line(img, (cx + side * int(20 * s), int(260 * s)), (cx + side * int(30 * s), int(440 * s)), ink,
                 int(24 * s))  # fmt: skip
    return img


def test_pictures_with_a_face_or_a_figure_show_a_person():
    astronaut = cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)
    assert shows_a_person(astronaut)  # a photographed face
    assert shows_a_person(_figure()) and shows_a_person(_figure(640, 480))  # a figure without a face
    props = [draw_guitar(), draw_sunflowers(), draw_room_with_chair(), draw_storyboard()]
    coins = cv2.imread(str(ASTRONAUT.parent / "coins.png"))  # round things the cascade half-likes
    assert not any(shows_a_person(p) for p in [*props, cv2.cvtColor(coins, cv2.COLOR_BGR2RGB)])


def test_the_pipeline_casts_videos_voices_and_faces_as_people(assets, tmp_path):
    from r2v.engines.base import Asset
    from r2v.media.probe import probe
    from r2v.worker.pipeline import cast_of

    def asset(path, kind, label, voice=None):
        return Asset(kind=kind, path=path, info=probe(path, label), label=label, voice=voice)

    drawn = tmp_path / "drawn.png"
    cv2.imwrite(str(drawn), cv2.cvtColor(draw_person(480, 640, skin=(225, 180, 150), hair=(50, 35, 25),
                                                     shirt=(60, 110, 200)), cv2.COLOR_RGB2BGR))  # fmt: skip
    cast = cast_of([asset(assets["girl"], "image", "图1", voice=assets["girl_voice"]),
                    asset(assets["boy_video"], "video", "视频1"), asset(assets["guitar"], "image", "图2"),
                    asset(ASTRONAUT, "image", "图3"), asset(drawn, "image", "图4")])  # fmt: skip
    facts = {m.label: (m.person, m.evidence) for m in cast.members}
    assert facts == {"图1": (True, "voice"), "视频1": (True, "video"), "图2": (False, "picture"),
                     "图3": (True, "picture"), "图4": (False, "picture")}  # fmt: skip


def _board(roles: list[Role]) -> Storyboard:
    lines = [Line(role.label, "你好", "zh", start=i, end=i + 1) for i, role in enumerate(roles)]
    return Storyboard(duration=len(roles), language="zh", shots=[Shot(0, "", lines=lines)], subjects=[],
                      roles=roles)  # fmt: skip


def test_default_voices_follow_gender_and_age_and_stay_apart():
    roles = [Role("图1", True, "female", "adult"), Role("图2", True, "male", "old"), Role("图3", True, "female", "child"),
             Role("图4", True, "male", "adult"), Role("图5", True, "female", "adult"), Role("图6", True)]  # fmt: skip
    f0 = {k: v.f0 for k, v in speaker_voices(_board(roles), {}, lambda *a, **k: np.zeros((0, 2))).items()}
    assert f0["图2"] < f0["图4"] < 160 < f0["图1"] < f0["图3"]  # old man < man < woman < girl
    assert 165 <= f0["图1"] <= 255 and 165 <= f0["图5"] <= 255 and 85 <= f0["图2"] <= 155
    pitches = sorted(f0.values())
    assert min(b / a for a, b in zip(pitches, pitches[1:], strict=False)) >= DISTINCT - 1e-9, f0


def test_a_default_voice_keeps_away_from_a_measured_one(assets):
    from r2v.render.decode import read_audio
    from r2v.voice.timbre import median_pitch, to_world_rate

    girl = median_pitch(to_world_rate(read_audio(assets["girl_voice"]).mean(axis=1), 48000))
    roles = [Role("图1", True, "female", "adult", "voice"), Role("图2", True, "female", "adult")]
    voices = speaker_voices(_board(roles), {"图1": assets["girl_voice"]}, read_audio)
    assert voices["图1"].f0 == pytest.approx(girl, rel=0.02)  # the reference voice is kept
    assert 165 <= voices["图2"].f0 <= 275 and math.log(voices["图2"].f0 / girl) ** 2 >= math.log(DISTINCT) ** 2
