"""Actions: the director names each action of the prompt (verb, subject, object, target, time) over a table of
prompts in both languages, stages them (held objects in the hand at their own size, furniture on the floor,
sitting, lying, facing), and the animatic draws them: measured on rendered frames, a held object keeps its place
at its holder's hand while the holder walks, a put object ends resting on the table's top, a sitting subject is
lower than it stood, and a table put on is an object on the floor, not the backdrop.

Tiers per test: the table and the staging are unit tests, the renders engine tests."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from r2v.demo.assets import draw_guitar, draw_person, draw_room_with_chair, write_png
from r2v.demo.guide import PROMPT as GUIDE_MULTI
from r2v.director import Cast, direct
from r2v.director.actions import VERBS
from r2v.director.blocking import HELD_SHARE, SIT_DROP
from r2v.director.storyboard import Storyboard
from r2v.engines.animatic import AnimaticEngine
from r2v.engines.base import Asset, RenderJob
from r2v.media.probe import probe

IMG2 = [("图1", "image"), ("图2", "image")]
IMG3 = [*IMG2, ("图3", "image")]
IMG4 = [*IMG3, ("图4", "image")]
VID_IMG2 = [("视频1", "video"), ("图1", "image"), ("图2", "image")]
GUIDE_CAST = [("图1", "image"), ("视频1", "video"), ("图2", "image"), ("图3", "image"), ("图4", "image")]
CHAR2 = [("character1", "video"), ("character2", "image")]

# (prompt, cast, the plan's actions over all its shots as (verb, subject, object, target))
ACTIONS = [
    ('Video 1 picks up Image 2 and smiles. He says: "What a fine day it is today."', VID_IMG2,
     [("pick_up", "视频1", "图2", None)]),
    ("视频1拿起图2，看向图1。他说：“今天天气真好。”", VID_IMG2,
     [("pick_up", "视频1", "图2", None), ("look_at", "视频1", None, "图1")]),
    (GUIDE_MULTI, GUIDE_CAST,
     [("hold", "视频1", "图3", None), ("sit", "视频1", None, "图4"), ("play", "视频1", "图3", None),
      ("hold", "图1", "图2", None), ("put", "图1", "图2", None)]),
    ("character2 坐在椅子上弹吉他,character1 走过来说:'听起来不错'", CHAR2,
     [("sit", "character2", None, None), ("play", "character2", None, None), ("enter", "character1", None, None)]),
    ("图1把图2放到桌子上。", IMG2, [("put", "图1", "图2", None)]),
    ("图1把图2放在图3上。", IMG3, [("put", "图1", "图2", "图3")]),
    ("Image 1 puts Image 2 on Image 3.", IMG3, [("put", "图1", "图2", "图3")]),
    ("图1把图2递给图3。", IMG3, [("give", "图1", "图2", "图3")]),
    ("图1把图2交给图3，然后离开。", IMG3, [("give", "图1", "图2", "图3"), ("leave", "图1", None, None)]),
    ("图1把图2送给图3。", IMG3, [("give", "图1", "图2", "图3")]),
    ("Image 1 gives Image 2 to Image 3.", IMG3, [("give", "图1", "图2", "图3")]),
    ("Image 1 carries Image 2 and hands it to Image 3.", IMG3,
     [("carry", "图1", "图2", None), ("give", "图1", "图2", "图3")]),
    ("图1坐在图4的椅子上，然后站起来，走向图2。", IMG4,
     [("sit", "图1", None, "图4"), ("stand_up", "图1", None, None), ("walk_to", "图1", None, "图2")]),
    ("Image 1 sits on Image 2, then stands up.", IMG2, [("sit", "图1", None, "图2"), ("stand_up", "图1", None, None)]),
    ("图1躺下。", IMG2, [("lie_down", "图1", None, None)]),
    ("Image 1 lies down.", IMG2, [("lie_down", "图1", None, None)]),
    ("图1走进图3，走向图2，拥抱她。", IMG3,
     [("enter", "图1", None, "图3"), ("walk_to", "图1", None, "图2"), ("hug", "图1", None, "图2")]),
    ("Image 1 walks to Image 2 and hugs her.", IMG2, [("walk_to", "图1", None, "图2"), ("hug", "图1", None, "图2")]),
    ("图2抱住图1。", IMG2, [("hug", "图2", None, "图1")]),
    ("图1向图2挥手，图2指着图1。", IMG2, [("wave", "图1", None, "图2"), ("point_at", "图2", None, "图1")]),
    ("Image 1 waves at Image 2. Image 2 points at Image 1.", IMG2,
     [("wave", "图1", None, "图2"), ("point_at", "图2", None, "图1")]),
    ("图1看向图2，图2转向图1。", IMG2, [("look_at", "图1", None, "图2"), ("turn_to", "图2", None, "图1")]),
    ("Image 1 looks at Image 2 and Image 2 turns to look at Image 1.", IMG2,
     [("look_at", "图1", None, "图2"), ("turn_to", "图2", None, "图1"), ("look_at", "图2", None, "图1")]),
    ("图1提着图2走进来。", IMG2, [("carry", "图1", "图2", None), ("enter", "图1", None, None)]),
    ("图1拿着图2离开了。", IMG2, [("hold", "图1", "图2", None), ("leave", "图1", None, None)]),
    ("图1弹图2。", IMG2, [("play", "图1", "图2", None)]),
    ("Image 1 holds Image 2. Image 1 plays Image 2.", IMG2,
     [("hold", "图1", "图2", None), ("play", "图1", "图2", None)]),
    ("Image 1 is holding Image 2.", IMG2, [("hold", "图1", "图2", None)]),
    ('图1说：“我拿起了吉他。”', IMG2, []),  # words inside a spoken line are no action
]  # fmt: skip
STATES = {"hold", "carry", "play", "sit", "lie_down"}


@pytest.mark.unit
@pytest.mark.parametrize("prompt, cast, expected", ACTIONS, ids=[a[0][:40] for a in ACTIONS])
def test_the_plan_names_each_action(prompt, cast, expected):
    board = direct(prompt, Cast.of(cast), 6)
    got = [(a.verb, a.subject, a.object, a.target) for shot in board.shots for a in shot.actions]
    assert got == expected
    for shot in board.shots:
        events = [a for a in shot.actions if a.start > shot.start or a.verb not in STATES]
        for action in shot.actions:  # timed within its shot, in seconds of the video
            assert action.verb in VERBS
            assert shot.start <= action.start < action.end <= shot.end + 1e-6, (action, shot.start, shot.end)
        for a, b in zip(events, events[1:], strict=False):  # one after the other
            assert a.end <= b.start + 1e-6, (a, b)
    assert Storyboard.from_dict(board.to_dict()) == board


@pytest.mark.unit
def test_a_plan_stored_before_actions_still_loads():
    stored = direct("图1把图2放在图3上。", Cast.of(IMG3), 5).to_dict()
    for shot in stored["shots"]:
        del shot["actions"]
        for placement in shot["placements"]:
            del placement["keys"], placement["drawn"]
    board = Storyboard.from_dict(stored)
    assert all(not s.actions and all(not p.keys for p in s.placements) for s in board.shots)


def _placed(prompt, cast, duration=5):
    board = direct(prompt, Cast.of(cast), duration)
    return board, {p.label: p for p in board.shots[0].placements}


@pytest.mark.unit
def test_a_held_object_is_in_the_hand_at_its_own_size():
    for prompt, share in [("图2是一把吉他。图1拿着图2走过。", 0.55), ("图2是一个杯子。图1拿着图2走过。", 0.07),
                          ("图1拿着图2走过。", HELD_SHARE), ("视频1抱着图2，弹奏一首歌。", 0.55)]:  # fmt: skip
        cast = [("视频1", "video"), ("图2", "image")] if "视频1" in prompt else IMG2
        board = direct(prompt, Cast.of(cast), 5)
        shot = next(s for s in board.shots if "图2" in {p.label for p in s.placements if p.held_by})
        placed = {p.label: p for p in shot.placements}
        holder = placed[placed["图2"].held_by]
        assert placed["图2"].height == pytest.approx(holder.height * share, abs=0.01), prompt


@pytest.mark.unit
def test_what_is_put_on_or_sat_on_is_an_object_on_the_floor_not_the_backdrop():
    for prompt in (
        "图1把图2放在图3上。",
        "Image 1 puts Image 2 on Image 3.",
        "图1坐在图3上。",
        "Image 1 sits on Image 3.",
    ):
        board, placed = _placed(prompt, IMG3)
        assert board.shots[0].background.kind == "generated", prompt
        table, person = placed["图3"], placed["图1"]
        assert table.bottom == person.bottom and table.height < 0.7 * person.height, prompt
    # a chair IN a room: the room stays the place, the sitter is lowered onto a chair the engine draws
    board, placed = _placed("图1坐在图4的椅子上。", IMG4)
    assert board.shots[0].background.label == "图4" and placed["chair"].drawn == "chair"
    assert placed["图1"].keys[-1].drop == SIT_DROP and placed["图1"].keys[-1].near == "chair"


@pytest.mark.unit
def test_actions_become_keys():
    _, placed = _placed("图1把图2递给图3。", IMG3)
    keys = placed["图2"].keys
    assert (keys[0].holder, keys[-1].holder) == ("图1", "图3") and keys[0].t < keys[-1].t
    assert placed["图1"].keys[-1].near == "图3"
    _, placed = _placed("图1把图2放到桌子上。", IMG2)
    assert placed["图2"].keys[-1].on == "table" and placed["table"].drawn == "table"
    _, placed = _placed("图1躺下。", IMG2)
    assert abs(placed["图1"].keys[-1].tilt) == 90
    _, placed = _placed("Image 1 walks to Image 2 and hugs her.", IMG2)
    first, second = placed["图1"], placed["图2"]
    assert first.keys[-1].near == "图2" and first.keys[-1].gap < 0 and first.keys[-1].face == 1
    assert second.keys[-1].face == -1  # they end facing each other
    _, placed = _placed("图2看向图1，图1转身。", IMG2)
    looker, other = placed["图2"], placed["图1"]
    assert looker.keys[-1].face == (1 if other.x > looker.x else -1)  # toward the one looked at
    assert other.keys[-1].face == (-1 if other.x <= 0.5 else 1)  # turning round without a target: away


@pytest.mark.unit
def test_held_objects_stay_in_the_hand_into_the_next_shot():
    board = direct("视频1拿起图2，坐了下来。全景：视频1和图2在窗前。", Cast.of(VID_IMG2), 5)
    assert not board.shots[1].actions  # the second shot's text says no action...
    later = {p.label: p for p in board.shots[1].placements}
    assert later["图2"].held_by == "视频1"  # ...but what was picked up is still in the hand
    assert later["视频1"].keys[0].drop == SIT_DROP and later["chair"].drawn == "chair"  # and he is still seated


# -- rendered -----------------------------------------------------------------------------------------------------
W, H = 1280, 720
SHIRT, TABLE_TOP, BOX, GUITAR_BODY, HAIR = (220, 90, 120), (40, 90, 170), (40, 170, 60), (200, 120, 50), (120, 60, 30)
BOY_SHIRT = (60, 110, 200)


def _references(folder):
    girl = draw_person(720, 960, skin=(240, 200, 175), hair=HAIR, shirt=SHIRT, long_hair=True)
    table = np.zeros((300, 560, 4), np.uint8)  # a table seen from the front, on a transparent ground
    cv2.rectangle(table, (0, 0), (559, 40), (*TABLE_TOP, 255), -1)
    for x in (30, 490):
        cv2.rectangle(table, (x, 41), (x + 40, 299), (30, 60, 120, 255), -1)
    box = np.zeros((200, 240, 4), np.uint8)
    cv2.rectangle(box, (0, 0), (239, 199), (*BOX, 255), -1)
    boy = draw_person(720, 960, skin=(225, 180, 150), hair=(50, 35, 25), shirt=BOY_SHIRT)
    paths = {"girl": write_png(folder / "girl.png", girl), "guitar": write_png(folder / "guitar.png", draw_guitar()),
             "room": write_png(folder / "room.png", draw_room_with_chair()), "boy": write_png(folder / "boy.png", boy)}  # fmt: skip
    for name, rgba in (("table", table), ("box", box)):
        paths[name] = folder / f"{name}.png"
        cv2.imwrite(str(paths[name]), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    return paths


def _render(tmp_path, prompt, members, duration=3):
    refs = _references(tmp_path)
    assets = [Asset("image", refs[name], probe(refs[name], name), label) for label, name in members]
    board = direct(prompt, Cast.of([(a.label, "image") for a in assets]), duration)
    job = RenderJob(width=W, height=H, duration=duration, seed=1, watermark=False, audio=False, assets=assets,
                    prompt=prompt, storyboard=board)  # fmt: skip
    AnimaticEngine().render(job, tmp_path / "v.mp4", lambda _: None)
    with av.open(str(tmp_path / "v.mp4")) as container:
        return board, [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _mask(frame, colour, tolerance=45):
    return np.abs(frame.astype(np.int16) - np.array(colour, np.int16)).sum(axis=2) < tolerance


def _box(mask):
    """(left, top, right, bottom) of the mask's largest blob."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    assert count > 1, "colour not found in the frame"
    x, y, w, h, _ = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
    return int(x), int(y), int(x + w - 1), int(y + h - 1)


@pytest.mark.engine
def test_a_held_guitar_follows_its_holders_hand_at_half_her_height(tmp_path):
    board, frames = _render(tmp_path, "中景：图1拿着吉他图2路过。", [("图1", "girl"), ("图2", "guitar")])
    assert board.shots[0].placements[0].motion.startswith("walk_")
    offsets, holder_x, heights = [], [], []
    for frame in frames[5:-5:6]:
        shirt, guitar = _box(_mask(frame, SHIRT)), _box(_mask(frame, GUITAR_BODY))
        holder_x.append((shirt[0] + shirt[2]) / 2)
        offsets.append(((guitar[0] + guitar[2]) / 2 - holder_x[-1], guitar[3] - shirt[1]))
        heights.append(guitar[3] - guitar[1])
    offsets = np.array(offsets)
    assert max(holder_x) - min(holder_x) > 200  # she walks across
    assert np.ptp(offsets[:, 0]) <= 6 and np.ptp(offsets[:, 1]) <= 6, offsets  # and the guitar goes with her hand
    assert abs(offsets[:, 0]).max() < 0.25 * H  # at her side, not floating away
    girl_height = board.shots[0].placements[0].height * H
    # a guitar is about half a standing person; its round body (what is measured) is the lower 55% of its outline
    assert 0.22 * girl_height < np.median(heights) < 0.4 * girl_height, (np.median(heights), girl_height)


@pytest.mark.engine
def test_a_put_box_ends_resting_on_the_tables_top(tmp_path):
    board, frames = _render(tmp_path, "图1把盒子图2放在图3上。", [("图1", "girl"), ("图2", "box"), ("图3", "table")])
    assert board.shots[0].background.kind == "generated"
    last = frames[-1]
    box, table, girl = _box(_mask(last, BOX)), _box(_mask(last, TABLE_TOP)), _box(_mask(last, SHIRT))
    assert abs(box[3] + 1 - table[1]) <= 3, (box, table)  # its bottom on the top's upper row
    assert table[0] <= (box[0] + box[2]) / 2 <= table[2]  # over the table
    table_legs = _box(_mask(last, (30, 60, 120)))
    assert abs(table_legs[3] - girl[3]) <= 6  # the table stands on her floor
    table_share = (_mask(last, TABLE_TOP) | _mask(last, (30, 60, 120))).mean()
    assert table_share < 0.08 and (table[2] - table[0]) < 0.4 * W  # an object in the room, not the backdrop
    start = _box(_mask(frames[5], BOX))
    assert start[3] < table[1] - 20 or abs((start[0] + start[2]) / 2 - (box[0] + box[2]) / 2) > 20  # it moved there


@pytest.mark.engine
def test_a_sitting_subject_is_lower_than_standing_and_the_room_stays_the_place(tmp_path):
    board, frames = _render(tmp_path, "中景：图1坐在图2的椅子上，然后站起来。", [("图1", "girl"), ("图2", "room")])
    assert board.shots[0].background.label == "图2"
    sitting, standing = _box(_mask(frames[4], HAIR)), _box(_mask(frames[-1], HAIR))
    height = board.shots[0].placements[0].height * H
    assert sitting[1] - standing[1] > 0.15 * height, (sitting, standing)  # lowered onto the seat
    room = cv2.resize(cv2.imread(str(tmp_path / "room.png"))[:, :, ::-1], (W, H), interpolation=cv2.INTER_AREA)
    corner = (slice(0, H // 5), slice(0, W // 6))  # the room is the backdrop, whole
    assert np.abs(frames[4][corner].astype(np.int16) - room[corner].astype(np.int16)).mean() < 8


@pytest.mark.engine
def test_a_hug_brings_two_together_overlapping_a_little_and_lying_down_turns_the_cut_out_over(tmp_path):
    board, frames = _render(tmp_path, "中景：图1走向图2，拥抱他。", [("图1", "girl"), ("图2", "boy")])

    def torsos(frame):  # the columns of each torso on the frame's last rows (no arms there)
        band = slice(int(0.96 * H), int(0.99 * H))
        return [np.flatnonzero(_mask(frame[band], colour).any(axis=0))[[0, -1]] for colour in (SHIRT, BOY_SHIRT)]

    (g0, g1), (b0, b1) = torsos(frames[4])
    widths = (g1 - g0, b1 - b0)
    assert b0 - g1 > 0.1 * W  # apart at first
    (g0, _), (_, b1) = torsos(frames[-1])  # the outer sides (one of them is drawn over the other)
    overlap = sum(widths) - (b1 - g0)
    assert 0 < overlap < 0.35 * min(widths), (overlap, widths)  # together, overlapping a little
    board, frames = _render(tmp_path, "中景：图1躺下。", [("图1", "girl")])
    standing, lying = _box(_mask(frames[4], SHIRT)), _box(_mask(frames[-1], SHIRT))
    assert standing[3] - standing[1] > standing[2] - standing[0]  # taller than wide
    assert lying[2] - lying[0] > 1.3 * (lying[3] - lying[1])  # then wider than tall
