"""The director's shot rules (director/plan.py), one rule per test: how many shots, which references are
subjects and which are places, the default framing, angle and camera, `shot_type` single and multi (the two-shot
coverage of a one-shot text), unnamed references, storyboard-grid panels and the first frame."""

from __future__ import annotations

import pytest

from r2v.director import Cast, direct
from r2v.director.plan import MIN_SHOT_S

pytestmark = pytest.mark.unit

ONE = Cast.of([("图1", "image")])
TWO = Cast.of([("图1", "image"), ("图2", "image")])
THREE = Cast.of([("图1", "image"), ("图2", "image"), ("图3", "image")])
FOUR = Cast.of([("图1", "image"), ("图2", "image"), ("图3", "image"), ("图4", "image")])


def texts(board) -> list[str]:
    return [shot.text for shot in board.shots]


def backgrounds(board) -> list[str]:
    out = []
    for shot in board.shots:
        bg = shot.background
        out.append(bg.kind + (f":{bg.label}" if bg.label else "") + (f":{bg.panel}" if bg.panel is not None else ""))
    return out


def lines(shot) -> list[tuple[str | None, str]]:
    return [(line.speaker, line.text) for line in shot.lines]


# --- how many shots ------------------------------------------------------------------------------------------------


def test_sentences_are_merged_to_one_shot_per_minimum_length():
    """As many shots as the text has sentences, but no more than the video holds at MIN_SHOT_S each."""
    assert MIN_SHOT_S == 1.5
    prompt = "图1走。图1停。图1看。图1笑。图1跳。图1坐。"
    assert [len(direct(prompt, ONE, d).shots) for d in (1, 2, 3, 4.4, 4.5, 6, 9, 10)] == [1, 1, 2, 2, 3, 4, 6, 6]


def test_sentences_merge_the_shortest_neighbouring_pair_first():
    board = direct("图1走。图1慢慢地走过长长的街道。图1停。图1笑。", ONE, 4.5)
    assert texts(board) == ["图1走。", "图1慢慢地走过长长的街道。", "图1停。图1笑。"]
    board = direct("图1走。图1停。图1慢慢地走过长长的街道。图1笑。", ONE, 4.5)
    assert texts(board) == ["图1走。图1停。", "图1慢慢地走过长长的街道。", "图1笑。"]


def test_numbered_and_timed_shots_are_never_merged():
    assert len(direct("1. 图1走。2. 图1停。3. 图1看。4. 图1笑。", ONE, 3).shots) == 4
    timed = direct("[0-1s] 图1走。[1-2s] 图1停。[2-3s] 图1看。", ONE, 3)
    assert [(s.start, s.end, s.timed) for s in timed.shots] == [(0, 1, True), (1, 2, True), (2, 3, True)]


def test_single_is_one_shot_of_the_whole_text():
    board = direct("1. 图1走进来。2. 图2坐下。3. 图1笑了。", TWO, 10, shot_type="single")
    assert texts(board) == ["图1走进来。 图2坐下。 图1笑了。"]
    assert board.shots[0].subjects == ["图1", "图2"]
    assert len(direct("图1跳舞。", ONE, 10, shot_type="single").shots) == 1


def test_a_grid_caps_the_shots_at_its_panels():
    prompt = "图1走。图2走。图1停。图2停。图1笑。图2笑。"
    assert len(direct(prompt, TWO, 10).shots) == 6
    assert texts(direct(prompt, TWO, 10, panels=3)) == ["图1走。图2走。", "图1停。图2停。", "图1笑。图2笑。"]
    assert len(direct(prompt, TWO, 3, panels=4).shots) == 2  # the time limit is the smaller one here


def test_text_without_sentences_is_one_wide_shot():
    board = direct("……", TWO, 5)
    assert len(board.shots) == 1 and board.shots[0].framing == "wide"
    assert (board.shots[0].start, board.shots[0].end) == (0, 5)


# --- subjects and places -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    ["图1坐在图3的沙发上，和图2聊天。", "场景为图3。图1和图2在聊天。", "图1和图2在聊天，图3作为背景。",
     "Image 1 and Image 2 chat in Image 3.", "Image 1 and Image 2 dance against Image 3.",
     "Image 3 as the background, Image 1 and Image 2 sing.", "以图3为背景，图1和图2唱歌。"],
)  # fmt: skip
def test_a_reference_used_as_a_place_is_the_background_not_a_subject(prompt):
    board = direct(prompt, THREE, 5)
    assert board.subjects == ["图1", "图2"], prompt
    assert set(backgrounds(board)) == {"reference:图3"}, prompt


def test_a_place_holds_until_another_is_named():
    board = direct("图1在图3里。图2走过来。图1走进图4的厨房里。", FOUR, 6)
    assert backgrounds(board) == ["reference:图3", "reference:图3", "reference:图4"]


def test_a_pronoun_carries_the_previous_subjects():
    board = direct("图1和图2走进来。他们坐下。太阳落山了。", TWO, 6)
    assert [s.subjects for s in board.shots] == [["图1", "图2"], ["图1", "图2"], []]


def test_a_lone_reference_is_the_subject_unless_it_is_the_place():
    assert direct("清晨的森林，阳光穿过树叶。", ONE, 5).shots[0].subjects == ["图1"]
    board = direct("在图1里，阳光明媚。", ONE, 5)
    assert board.shots[0].subjects == [] and backgrounds(board) == ["reference:图1"]


def test_a_speaker_joins_the_subjects():
    board = direct("图1说：“你好。”图2挥手。接着说：“再见。”", TWO, 6)
    assert [s.subjects for s in board.shots] == [["图1"], ["图2"], ["图1"]]
    assert lines(board.shots[2]) == [("图1", "再见。")]
    board = direct('The city at night, "I am back," Image 2 says.', TWO, 5)
    assert board.shots[0].subjects[0] == "图2" and lines(board.shots[0]) == [("图2", "I am back")]


def test_a_later_line_without_a_named_speaker_is_the_last_speakers():
    board = direct("图1说：“你好。”接着说：“再见。”", TWO, 5)
    assert [lines(s) for s in board.shots] == [[("图1", "你好。")], [("图1", "再见。")]]


def test_unnamed_references_join_the_shot_with_the_fewest_subjects():
    board = direct("图1和图2走进来。图1坐下。图2笑了。", FOUR, 6)
    assert [s.subjects for s in board.shots] == [["图1", "图2"], ["图1", "图4"], ["图2", "图3"]]
    places = direct("图1在图3里跳舞。", THREE, 5)  # a place is not unnamed
    assert places.shots[0].subjects == ["图1", "图2"]


# --- framing, angle, camera ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, framing",
    [("城市夜景。", "wide"), ("图1在跑步。", "medium"), ("图1说：“你好。”", "close"), ("图1和图2在跑步。", "medium"),
     ("图1、图2和图3在跑步。", "wide"), ("图1、图2、图3和图4在跑步。", "wide")],
)  # fmt: skip
def test_default_framing_follows_subjects_and_speech(prompt, framing):
    shot = direct(prompt, FOUR, 5).shots[0] if "城市" not in prompt else direct(prompt, Cast.of([]), 5).shots[0]
    assert shot.framing == framing


def test_the_text_sets_framing_angle_and_camera_else_eye_level_and_static():
    shot = direct("特写，俯拍，镜头推进，图1和图2在跑步。", TWO, 5).shots[0]
    assert (shot.framing, shot.angle, shot.camera) == ("close_up", "high", "push_in")
    shot = direct("图1在跑步。", ONE, 5).shots[0]
    assert (shot.angle, shot.camera) == ("eye", "static")


# --- shot_type multi: one text, two shots ---------------------------------------------------------------------------


def test_multi_cuts_a_one_shot_text_at_the_clause_nearest_its_middle():
    board = direct("图1走进厨房，图1打开冰箱，图1拿出牛奶，图1倒了一杯", ONE, 5, shot_type="multi")
    assert texts(board) == ["图1走进厨房，图1打开冰箱", "图1拿出牛奶，图1倒了一杯"]
    board = direct("图1走进厨房，图1打开冰箱，图1从冰箱里拿出一瓶牛奶和两个鸡蛋", ONE, 5, shot_type="multi")
    assert texts(board) == ["图1走进厨房，图1打开冰箱", "图1从冰箱里拿出一瓶牛奶和两个鸡蛋"]
    board = direct("图1从冰箱里拿出一瓶牛奶和两个鸡蛋，图1走进厨房，图1打开冰箱", ONE, 5, shot_type="multi")
    assert texts(board) == ["图1从冰箱里拿出一瓶牛奶和两个鸡蛋", "图1走进厨房，图1打开冰箱"]


def test_multi_halves_are_the_texts_own_words():
    board = direct("Image 2 writes an O, Image 1 writes an X, Image 2 laughs, Image 1 claps", TWO, 5, shot_type="multi")
    assert texts(board) == ["Image 2 writes an O, Image 1 writes an X", "Image 2 laughs, Image 1 claps"]


def test_multi_is_an_establishing_shot_then_a_closer_one():
    board = direct("俯拍，镜头推进，图1在图3的厨房里做饭，图2端着盘子走向餐桌", THREE, 5, shot_type="multi")
    first, second = board.shots
    assert [s.index for s in board.shots] == [0, 1]
    assert (first.framing, first.angle, first.camera) == ("wide", "high", "push_in")  # the text's own camera
    assert (second.framing, second.angle, second.camera) == ("medium", "eye", "static")
    assert (first.subjects, second.subjects) == (["图1"], ["图2"])  # each half's own
    assert backgrounds(board) == ["reference:图3", "reference:图3"]
    assert first.start == 0 and first.end == second.start and second.end == 5


def test_multi_lines_go_with_the_half_that_holds_them():
    board = direct("俯拍，镜头推进，图1走到图2面前，图2说：“你好。”", TWO, 5, shot_type="multi")
    assert [lines(s) for s in board.shots] == [[], [("图2", "你好。")]]
    assert board.shots[1].framing == "close" and board.shots[1].subjects == ["图2"]
    board = direct("图1说：“你好。”，然后图2挥手", TWO, 5, shot_type="multi")
    assert [lines(s) for s in board.shots] == [[("图1", "你好。")], []]
    assert [s.framing for s in board.shots] == ["wide", "medium"]  # no close-up of someone who says nothing
    board = direct("图1说：“你好。”，图1和图2走着，图2说：“再见。”", TWO, 5, shot_type="multi")
    assert [lines(s) for s in board.shots] == [[("图1", "你好。")], [("图2", "再见。")]]


def test_multi_of_a_text_without_clauses_covers_it_twice():
    board = direct("图1跳舞", ONE, 5, shot_type="multi")
    assert texts(board) == ["图1跳舞", "图1跳舞"]
    assert [(s.index, s.framing, s.subjects) for s in board.shots] == [(0, "wide", ["图1"]), (1, "medium", ["图1"])]
    spoken = direct("图1说：“你好。”", ONE, 5, shot_type="multi")
    assert [lines(s) for s in spoken.shots] == [[], [("图1", "你好。")]]
    assert [s.framing for s in spoken.shots] == ["wide", "close"]


def test_multi_halves_without_a_name_keep_all_subjects():
    board = direct("图1和图2在厨房里做饭，然后端着盘子走向餐桌", TWO, 5, shot_type="multi")
    assert [s.subjects for s in board.shots] == [["图1", "图2"], ["图1", "图2"]]


def test_multi_leaves_a_text_of_several_shots_alone():
    assert len(direct("图1走进来。图2坐下。", TWO, 5, shot_type="multi").shots) == 2


# --- grid panels and the first frame ---------------------------------------------------------------------------------


def test_panels_spread_over_fewer_shots_and_repeat_over_more():
    assert backgrounds(direct("图1走。图2走。", TWO, 10, panels=5)) == ["panel:0", "panel:2"]
    assert backgrounds(direct("图1走。图2走。图1停。", TWO, 10, panels=3)) == ["panel:0", "panel:1", "panel:2"]
    board = direct("1. 图1走。2. 图2走。3. 图1停。4. 图2停。5. 图1笑。", TWO, 10, panels=2)
    assert backgrounds(board) == ["panel:0", "panel:1", "panel:0", "panel:1", "panel:0"]


def test_a_grid_image_is_the_storyboard_not_a_subject():
    board = direct("全景：森林。近景：视频1在笑。", Cast.of([("图1", "image"), ("视频1", "video")]), 5, panels=2)
    assert board.subjects == ["视频1"]


def test_the_first_frame_is_the_first_shots_background_only():
    board = direct("图1在跑步。图1停下来。", ONE, 5, first_frame=True)
    assert backgrounds(board) == ["first_frame", "generated"]
    board = direct("图1坐在图2的沙发上，图3走过来。", THREE, 5, first_frame=True)
    assert backgrounds(board) == ["first_frame"] and board.subjects == ["图1", "图3"]


def test_the_plan_language_is_the_prompts():
    assert direct("图1在跑步。", ONE, 5).language == "zh"
    assert direct("Image 1 runs.", ONE, 5).language == "en"
