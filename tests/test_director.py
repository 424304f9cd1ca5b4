"""The director over a table of prompts (the guide's examples and many more, Chinese and English): shots,
framing, angle, camera, subjects, backgrounds, speakers, lines and timing."""

from __future__ import annotations

import pytest

from r2v.demo.guide import PROMPT as GUIDE_MULTI
from r2v.director import Cast, direct
from r2v.director.timing import MAX_RATE, natural_seconds

pytestmark = pytest.mark.unit

GUIDE_CAST = [("图1", "image"), ("视频1", "video"), ("图2", "image"), ("图3", "image"), ("图4", "image")]
GUIDE_GRID = ("参考图片,3D卡通冒险电影风,角色Q版但材质细腻,动作流畅,色彩鲜明,保持角色与森林场景一致,不要加入文字。"
              "氛围: 冒险、轻快、神秘、童趣。角色: 小男孩探险家:圆帽、背包、短斗篷。小伙伴:会飞的小机器人,圆形身体,蓝色发光眼。"
              "场景: 奇幻森林,巨大树根、蘑菇、藤蔓、藏宝洞口、阳光光束。分镜脚本: 1. 全景:奇幻森林里高大树木与光束交错,环境神秘明亮。"
              " 2. 中景:小男孩拨开藤蔓向前探路。 3. 中景:小机器人飞在他身边,用蓝光扫描前方。 4. 特写:一张旧藏宝图在男孩手里展开。"
              " 5. 近景:他露出兴奋表情,眼睛亮起来。 6. 动作镜头:两人跳过树根和小溪,继续深入森林。 7. 中景:藤蔓后方露出一个被苔藓覆盖的宝箱。"
              " 8. 特写:宝箱边缘闪出金色光芒。 9. 收束镜头:男孩和小机器人站在宝箱前惊喜对望,冒险感拉满。")  # fmt: skip
GUIDE_PLANET = (
    "俯拍在一个蓝色的星球上,镜头逐渐推进到星球上面给到图1特写,他拿着图2,一边吃着图2,一边说:“怎么没人找我来玩呀?”"
)
IMG2 = [("图1", "image"), ("图2", "image")]
IMG3 = [("图1", "image"), ("图2", "image"), ("图3", "image")]
IMG_VID = [("图1", "image"), ("视频1", "video")]
ONE_IMG = [("图1", "image")]
ONE_VID = [("视频1", "video")]
CHAR2 = [("character1", "video"), ("character2", "image")]

# (id, prompt, cast, duration, options, expected). Expected keys: shots (count), subjects (per shot),
# framing/angle/camera (per shot; None = not checked), background (per shot: "kind" or "kind:label"),
# lines ([(speaker, text)] over the whole video), times ([(start, end)] per shot).
CASES = [
    ("guide multi-subject", GUIDE_MULTI, GUIDE_CAST, 10, {},
     {"shots": 2, "subjects": [["视频1", "图3"], ["图1", "图2", "视频1"]],
      "background": ["reference:图4", "reference:图4"],
      "lines": [("视频1", "今天的阳光真好。"), ("图1", "真好听，能不能再唱一遍")]}),
    ("guide multi-subject, the guide's own punctuation", GUIDE_MULTI.replace("，", ",").replace("：", ":"),
     GUIDE_CAST, 10, {},
     {"shots": 2, "subjects": [["视频1", "图3"], ["图1", "图2", "视频1"]],
      "lines": [("视频1", "今天的阳光真好。"), ("图1", "真好听,能不能再唱一遍")]}),
    ("guide storyboard grid", GUIDE_GRID, ONE_IMG, 15, {"panels": 9},
     {"shots": 9, "framing": ["wide", "medium", "medium", "close_up", "close", None, "medium", "close_up", None],
      "background": [f"panel:{i}" for i in range(9)], "subjects": [[]] * 9, "lines": []}),
    ("guide first frame", GUIDE_PLANET, IMG2, 5, {"first_frame": True},
     {"shots": 1, "framing": ["close_up"], "angle": ["high"], "camera": ["push_in"], "subjects": [["图1", "图2"]],
      "background": ["first_frame"], "lines": [("图1", "怎么没人找我来玩呀?")]}),
    ("guide wan2.6", "character2 坐在椅子上弹吉他,character1 走过来说:'听起来不错'", CHAR2, 5, {"shot_type": "multi"},
     {"shots": 2, "subjects": [["character2"], ["character1"]], "lines": [("character1", "听起来不错")]}),
    ("guide wan2.6 single", "character2 坐在椅子上弹吉他,character1 走过来说:'听起来不错'", CHAR2, 5,
     {"shot_type": "single"}, {"shots": 1, "lines": [("character1", "听起来不错")]}),
    ("guide walk past", "视频1在弹吉他，图1手中拿着一束花，路过视频1", IMG_VID, 5, {},
     {"shots": 1, "subjects": [["视频1", "图1"]], "lines": []}),
    ("numbered zh 、", "1、全景：图1站在山顶。2、特写：图1微笑。3、中景：图2跑过来。", IMG2, 6, {},
     {"shots": 3, "framing": ["wide", "close_up", "medium"], "subjects": [["图1"], ["图1"], ["图2"]]}),
    ("numbered en", "Shot 1: Wide shot of Image 1 walking into the kitchen of Image 3. Shot 2: Close-up, Image 2 "
     'says: "Dinner is ready." Shot 3: Image 1 replies, "Finally!"', IMG3, 8, {},
     {"shots": 3, "framing": ["wide", "close_up", None], "subjects": [["图1"], ["图2"], ["图1"]],
      "background": ["reference:图3"] * 3, "lines": [("图2", "Dinner is ready."), ("图1", "Finally!")]}),
    ("numbered zh with preamble", "风格：水彩动画。分镜脚本：1. 远景：图1在海边散步。2. 近景：图1回头看向镜头。", ONE_IMG, 5, {},
     {"shots": 2, "framing": ["wide", "close"], "subjects": [["图1"], ["图1"]]}),
    ("镜头N words", "镜头1：图1打开门。镜头2：图2走进来，说道：“我回来了。”", IMG2, 5, {},
     {"shots": 2, "subjects": [["图1"], ["图2"]], "lines": [("图2", "我回来了。")]}),
    ("timed zh", "第1个镜头[0-3秒] 全景：图1走进房间。第2个镜头[3-5秒] 近景：图1说：“你好，世界。”", ONE_IMG, 5, {},
     {"shots": 2, "times": [(0, 3), (3, 5)], "framing": ["wide", "close"], "lines": [("图1", "你好，世界。")]}),
    ("timed en", '[0-2s] Image 1 waves. [2-6s] Image 2 says: "See you tomorrow." [6-10s] Both walk away.', IMG2, 10,
     {}, {"shots": 3, "times": [(0, 2), (2, 6), (6, 10)], "lines": [("图2", "See you tomorrow.")]}),
    ("timed bare", "0-2秒：图1挥手；2-5秒：图2点头。", IMG2, 5, {},
     {"shots": 2, "times": [(0, 2), (2, 5)], "subjects": [["图1"], ["图2"]]}),
    ("sentences en", "Image 1 sits by the window. Image 2 enters the room. They smile at each other.", IMG2, 6, {},
     {"shots": 3, "subjects": [["图1"], ["图2"], ["图2"]]}),
    ("sentences merged to fit", "图1走。图1停。图1看。图1笑。图1跳。图1坐。", ONE_IMG, 3, {},
     {"shots": 2}),
    ("multi splits one sentence", "图1在厨房里做饭，然后端着盘子走向餐桌", ONE_IMG, 5, {"shot_type": "multi"},
     {"shots": 2, "framing": ["wide", None]}),
    ("single merges", "图1跑步。图1喝水。图1休息。", ONE_IMG, 10, {"shot_type": "single"}, {"shots": 1}),
    ("说 with quotes 「」", "图1对图2说「明天见」。", IMG2, 5, {}, {"lines": [("图1", "明天见")]}),
    ("回答", "图1问：“你去哪儿？”图2回答：“去学校。”", IMG2, 6, {},
     {"shots": 2, "lines": [("图1", "你去哪儿？"), ("图2", "去学校。")]}),
    ("ascii quotes zh", '图2笑着说："太好了"', IMG2, 5, {}, {"lines": [("图2", "太好了")]}),
    ("quote first en", '"Watch out!" shouts Image 2 as Image 1 runs.', IMG2, 5, {}, {"lines": [("图2", "Watch out!")]}),
    ("said en pronoun", 'Image 1 looks up at the stars. She whispers, "They are beautiful."', IMG2, 6, {},
     {"lines": [("图1", "They are beautiful.")], "subjects": [["图1"], ["图1", "图2"]]}),
    ("pronoun zh", "图2走进教室。她说：“早上好。”", IMG2, 5, {}, {"lines": [("图2", "早上好。")]}),
    ("并说道 subject is the clause's", "图1拿着图2，走到视频1面前，并说道：“送给你。”", [*IMG2, ("视频1", "video")], 5, {},
     {"lines": [("图1", "送给你。")], "subjects": [["图1", "图2", "视频1"]]}),
    ("Character case-insensitive", 'Character1 says: "Hello" and character2 replies: "Hi"', CHAR2, 5, {},
     {"lines": [("character1", "Hello"), ("character2", "Hi")]}),
    ("single video alias", "参考视频中的人在跳舞，并说：“一起来！”", ONE_VID, 5, {},
     {"subjects": [["视频1"]], "lines": [("视频1", "一起来！")]}),
    ("single image alias en", 'The reference image walks forward and says: "Follow me."', ONE_IMG, 5, {},
     {"subjects": [["图1"]], "lines": [("图1", "Follow me.")]}),
    ("push in and low angle", "仰拍，镜头缓缓推进，图1站在高楼之上。", ONE_IMG, 5, {},
     {"angle": ["low"], "camera": ["push_in"]}),
    ("pull out overhead", "鸟瞰，镜头拉远，图1变成人群中的一个小点。", ONE_IMG, 5, {},
     {"angle": ["overhead"], "camera": ["pull_out"]}),
    ("pan and track en", "Low angle tracking shot of Image 1 running. Pan left to reveal Image 2.", IMG2, 6, {},
     {"shots": 2, "angle": ["low", "eye"], "camera": ["track", "pan_left"]}),
    ("dolly orbit en", "High angle, the camera dollies in on Image 1. The camera orbits around Image 2.", IMG2, 6, {},
     {"angle": ["high", "eye"], "camera": ["push_in", "orbit"]}),
    ("place en", 'Image 1 sits on the sofa in Image 3 and says: "Home at last."', IMG3, 5, {},
     {"background": ["reference:图3"], "subjects": [["图1", "图2"]], "lines": [("图1", "Home at last.")]}),
    ("place zh 场景", "场景为图3。图1和图2在聊天。", IMG3, 5, {},
     {"background": ["reference:图3", "reference:图3"]}),
    ("place carries over", "图1坐在图3的沙发上。图2走过来。", IMG3, 5, {},
     {"background": ["reference:图3", "reference:图3"], "subjects": [["图1"], ["图2"]]}),
    ("unnamed reference still used", "图1在跳舞。", IMG3, 5, {}, {"subjects": [["图1", "图2", "图3"]]}),
    ("unnamed go to empty shots", "全景：城市夜景。图1在街上走。", IMG2, 5, {},
     {"shots": 2, "subjects": [["图2"], ["图1"]]}),
    ("wide by default without subjects", "清晨的森林，阳光穿过树叶。", ONE_IMG, 5, {},
     {"framing": ["medium"], "subjects": [["图1"]]}),
    ("extreme close-up", "大特写：图1的眼睛。", ONE_IMG, 3, {}, {"framing": ["extreme_close_up"]}),
    ("two lines in one shot", "图1说：“你好。”图2说：“你也好。”", IMG2, 3, {"shot_type": "single"},
     {"shots": 1, "lines": [("图1", "你好。"), ("图2", "你也好。")]}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_director_table(case):
    _, prompt, cast, duration, options, expected = case
    board = direct(prompt, Cast.of(cast), duration, **options)
    shots = board.shots
    if "shots" in expected:
        assert len(shots) == expected["shots"], [s.text for s in shots]
    for key in ("framing", "angle", "camera"):
        for shot, want in zip(shots, expected.get(key, []), strict=False):
            if want is not None:
                assert getattr(shot, key) == want, (key, shot.index, shot.text)
    for shot, want in zip(shots, expected.get("subjects", []), strict=False):
        assert shot.subjects == want, (shot.index, shot.text)
    for shot, want in zip(shots, expected.get("background", []), strict=False):
        got = shot.background.kind
        if shot.background.label:
            got += f":{shot.background.label}"
        if shot.background.panel is not None:
            got += f":{shot.background.panel}"
        assert got == want, (shot.index, shot.text)
    if "lines" in expected:
        assert [(line.speaker, line.text) for line in board.lines] == expected["lines"]
    for shot, (start, end) in zip(shots, expected.get("times", []), strict=False):
        assert (shot.start, shot.end) == (start, end)
    _assert_consistent(board)


def _assert_consistent(board) -> None:
    """Every plan: shots tile the video in order; every line starts inside its shot, after the line before, and
    ends with its shot (or is marked as running past it, and the notes say so) and by the video's end; it is
    never cut, is long enough for its text at its rate, and that rate still sounds like speech unless the notes
    say that the video was too short for it."""
    assert board.shots[0].start == 0 and board.shots[-1].end == board.duration
    for a, b in zip(board.shots, board.shots[1:], strict=False):
        assert a.end == pytest.approx(b.start) and a.start < a.end
    previous_end = 0.0
    too_short = any("could not all be said" in note for note in board.notes)
    for shot in board.shots:
        for line in shot.lines:
            assert shot.start <= line.start < line.end <= board.duration + 1e-6
            assert line.overrun == (line.end > shot.end + 1e-6) and not line.cut
            assert not line.overrun or any("past its shot" in note and line.text in note for note in board.notes)
            assert line.start >= previous_end - 1e-6
            assert 1.0 <= line.rate and (line.rate <= MAX_RATE or too_short)
            assert line.seconds == pytest.approx(natural_seconds(line.text, line.language) / line.rate, abs=0.02)
            previous_end = line.end
    assert board.subjects == list(dict.fromkeys(s for shot in board.shots for s in shot.subjects))


def test_a_long_line_is_sped_up_within_limits():
    text = "今天我们一起去公园散步，看看花，看看树"  # 19 characters: 4.2 s at the natural rate
    board = direct(f"图1说：“{text}”", Cast.of(ONE_IMG), 4)
    line = board.lines[0]
    assert line.text == text and not line.cut
    assert 1.0 < line.rate <= MAX_RATE and any("sped up" in note for note in board.notes)
    _assert_consistent(board)


def test_a_line_too_long_for_the_video_is_never_cut_and_the_plan_says_at_what_rate():
    text = "这是一段非常非常长的台词，" * 5 + "这是一段非常非常长的台词"  # 14.7 s at the natural rate, in 3 s
    board = direct(f"图1说：“{text}”", Cast.of(ONE_IMG), 3)
    line = board.lines[0]
    assert line.text == text and not line.cut
    assert line.end <= 3.0 and line.seconds == pytest.approx(natural_seconds(text, "zh") / line.rate, abs=0.02)
    assert line.rate > MAX_RATE and any(f"{line.rate:.2f}x" in note for note in board.notes)
    _assert_consistent(board)


def test_a_long_line_takes_time_from_shots_without_lines():
    text = "今天的阳光真好，我们一起去公园散步吧"  # 17 characters: 3.8 s, 2.9 s at MAX_RATE
    board = direct(f"全景：城市的清晨。近景：图1说：“{text}”。远景：街道。", Cast.of(ONE_IMG), 5)
    silent = [shot for shot in board.shots if not shot.lines]
    assert len(board.shots) == 3 and len(silent) == 2
    assert all(shot.seconds < 1.2 for shot in silent)  # shorter than a silent shot is otherwise
    assert not board.lines[0].overrun and board.lines[0].text == text
    _assert_consistent(board)


def test_a_line_longer_than_its_timed_shot_runs_past_it():
    prompt = "[0-1s] 图1说：“今天我们一起去公园散步吧。” [1-5s] 全景：公园。"
    board = direct(prompt, Cast.of(ONE_IMG), 5)
    line = board.lines[0]
    assert (board.shots[0].start, board.shots[0].end) == (0, 1)  # explicit times are kept
    assert line.overrun and line.end > 1 and line.rate == MAX_RATE and line.text == "今天我们一起去公园散步吧。"
    assert any("past its shot" in note for note in board.notes)
    _assert_consistent(board)


def test_a_plan_stored_with_cut_still_loads():
    from r2v.director.storyboard import Storyboard

    data = direct("图1说：“你好。”", Cast.of(ONE_IMG), 3).to_dict()
    for line in data["shots"][0]["lines"]:
        line.pop("overrun")
        line["cut"] = True  # an old plan's cut line
    data.pop("roles")
    board = Storyboard.from_dict(data)
    assert board.lines[0].cut and not board.lines[0].overrun and board.roles == []


def test_same_input_same_plan_and_the_plan_round_trips():
    first = direct(GUIDE_MULTI, Cast.of(GUIDE_CAST), 10)
    assert first == direct(GUIDE_MULTI, Cast.of(GUIDE_CAST), 10)
    assert type(first).from_dict(first.to_dict()) == first


def test_script_is_an_explicit_shot_list_in_the_prompts_language():
    zh = direct(GUIDE_MULTI, Cast.of(GUIDE_CAST), 10).script()
    assert zh.startswith("镜头1[0.0-") and "镜头2[" in zh and "场景为图4" in zh and "今天的阳光真好" in zh
    en = direct('Image 1 waves. Image 2 says: "Hi."', Cast.of(IMG2), 4).script()
    assert en.startswith("Shot 1 [0.0-") and "Shot 2 [" in en


# (prompt, cast, {label: (depth, motion)}) — how the text stages its subjects
STAGING = [
    ("全景：图1站在近处，远处的图2在看书。", IMG2, {"图1": ("near", "static"), "图2": ("far", "static")}),
    ("Wide shot: Image 1 in the foreground, Image 2 waves in the distance.", IMG2,
     {"图1": ("near", "static"), "图2": ("far", "static")}),
    ("图2在背景里，图1在画面左边。", IMG2, {"图1": ("middle", "static"), "图2": ("far", "static")}),
    ("图1走进房间，图2离开了。", IMG2, {"图1": ("middle", "enter_left"), "图2": ("middle", "leave_right")}),
    ("character2 坐在椅子上弹吉他,character1 走过来说:'听起来不错'", CHAR2, {"character1": ("middle", "enter_right")}),
    ("图1路过图2。", IMG2, {"图1": ("middle", "walk_right"), "图2": ("middle", "static")}),
    ("Image 1 and Image 2 talk, then Image 2 walks away.", IMG2, {"图2": ("middle", "leave_right")}),
]  # fmt: skip


@pytest.mark.parametrize("prompt, cast, expected", STAGING, ids=[s[0] for s in STAGING])
def test_staging_depth_and_movement(prompt, cast, expected):
    board = direct(prompt, Cast.of(cast), 5, shot_type="single")
    placed = {p.label: p for p in board.shots[0].placements}
    for label, (depth, motion) in expected.items():
        assert (placed[label].depth, placed[label].motion) == (depth, motion), placed[label]
    middle = [p for p in placed.values() if p.depth == "middle" and not p.held_by]
    for p in placed.values():  # perspective: far is smaller with its feet higher, near the other way
        for m in middle:
            if p.depth == "far":
                assert p.height < m.height and p.bottom < m.bottom
            if p.depth == "near":
                assert p.height > m.height and p.bottom > m.bottom


@pytest.mark.parametrize("motion, start, end", [("enter_left", -0.3, 0.4), ("enter_right", 1.3, 0.4),
                                                ("leave_left", 0.4, -0.3), ("leave_right", 0.4, 1.3),
                                                ("walk_right", 0.15, 0.65), ("static", 0.4, 0.4)])  # fmt: skip
def test_a_movement_is_a_smooth_path_from_off_frame_or_to_it(motion, start, end):
    from r2v.director.storyboard import Placement

    p = Placement("图1", 0.4, 1.0, 0.8, motion)
    path = [p.x_at(i / 90) for i in range(91)]  # a 3 s shot's frames
    assert path[0] == pytest.approx(start) and path[-1] == pytest.approx(end)
    steps = [b - a for a, b in zip(path, path[1:], strict=False)]
    assert all(s * (end - start) >= 0 for s in steps)  # never turns back
    assert max(map(abs, steps), default=0) < 0.04  # no jump between frames (a frame width in 25 frames at most)
