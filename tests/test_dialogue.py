"""Dialogue extraction (director/dialogue.py) on its own: which quoted passages are spoken lines, who says each
(the clause's subject, a name after the quote, a pronoun resolved by subject continuity, or the fallback),
the line's text and language, in the order spoken."""

from __future__ import annotations

import pytest

from r2v.director import Cast, direct
from r2v.director.dialogue import clause_subject, find_lines, language_of

pytestmark = pytest.mark.unit

TWO = Cast.of([("图1", "image"), ("图2", "image")])
WITH_VIDEO = Cast.of([("图1", "image"), ("图2", "image"), ("视频1", "video")])


def spoken(text: str, cast: Cast = TWO, **kwargs) -> list[tuple[str | None, str]]:
    return [(line.speaker, line.text) for line in find_lines(text, cast, **kwargs)]


# (text, [(speaker, line)])
LINES = [
    # Chinese: verb, then the quotation
    ("图1说：“你好。”", [("图1", "你好。")]),
    ("图1说“你好”", [("图1", "你好")]),
    ("图1说:“你好”", [("图1", "你好")]),
    ("图1问道，“去哪儿？”", [("图1", "去哪儿？")]),
    ("图1唱道「啦啦啦」", [("图1", "啦啦啦")]),
    ("图1大喊：『救命！』", [("图1", "救命！")]),
    ("图2笑着说：'好呀'", [("图2", "好呀")]),
    ('图2说："太好了"', [("图2", "太好了")]),
    ("然后图2说：“走吧。”", [("图2", "走吧。")]),
    ("图1并说道：“送给你。”", [("图1", "送给你。")]),
    ("图1一边吃一边说：“好吃。”", [("图1", "好吃。")]),
    ("图1看着图2说：“你来了。”", [("图1", "你来了。")]),
    ("图1对图2说「明天见」", [("图1", "明天见")]),
    ("近景：图2说：“好。”", [("图2", "好。")]),
    ("视频1说：“一起来！”", [("视频1", "一起来！")]),
    # several lines, each with its own speaker, even with nothing between them
    ("图1问：“你去哪儿？”图2回答：“去学校。”", [("图1", "你去哪儿？"), ("图2", "去学校。")]),
    ("图1问：“去哪？”图2答：“学校”", [("图1", "去哪？"), ("图2", "学校")]),
    ("图1说：“你好”图2说：“嗨”", [("图1", "你好"), ("图2", "嗨")]),
    ("图1说“一”图2说“二”", [("图1", "一"), ("图2", "二")]),
    ("图1说：「好」图2答道『行』", [("图1", "好"), ("图2", "行")]),
    ("图1说：“你好”，然后图2说：“嗨”", [("图1", "你好"), ("图2", "嗨")]),
    ("图1说：“一”，图1又说：“二”", [("图1", "一"), ("图1", "二")]),
    # a quotation that is not spoken, and quotations inside a line
    ("图1举着写有“欢迎”的牌子", []),
    ("图1把写着“欢迎”的牌子举起来说：“你好”", [("图1", "你好")]),
    ("图1说：“他说：‘你好’”", [("图1", "他说：‘你好’")]),
    # the text of a line: trimmed, commas at its ends dropped, empty lines dropped, an unclosed one runs to the end
    ("图1说：“ ，你好， ”", [("图1", "你好")]),
    ("图1说：“”", []),
    ("图1说：“没说完", [("图1", "没说完")]),
    # English: verb, then the quotation
    ('Image 1 says: "Hello."', [("图1", "Hello.")]),
    ('Image 1 says, "Hello."', [("图1", "Hello.")]),
    ("Image 1 says 'hi there'", [("图1", "hi there")]),
    ('Image 1 calls out, "Wait!"', [("图1", "Wait!")]),
    ('Then Image 2 says: "Go."', [("图2", "Go.")]),
    ('The girl in Image 2 says: "Look."', [("图2", "Look.")]),
    ('Walking to Image 2, Image 1 says: "Hi."', [("图1", "Hi.")]),
    ('Image 1 looks at Image 2 and says: "Hi."', [("图1", "Hi.")]),
    ('Video 1 says: "ok"', [("视频1", "ok")]),
    ('IMAGE 2 SAYS: "Loud."', [("图2", "Loud.")]),
    # English: whom it is said to, between the verb and the quotation
    ('Image 1 says to Image 2: "Go."', [("图1", "Go.")]),
    ('Image 1 tells Image 2: "Go."', [("图1", "Go.")]),
    ('Image 1 asks Image 2, "Ready?"', [("图1", "Ready?")]),
    ('Image 2 whispers to the boy: "Quiet."', [("图2", "Quiet.")]),
    ('Image 2 tells him: "Quiet."', [("图2", "Quiet.")]),
    # English: the quotation first
    ('"Watch out!" shouts Image 2 as Image 1 runs.', [("图2", "Watch out!")]),
    ('"Go," says Image 2 to Image 1.', [("图2", "Go")]),
    ('"Hello," Image 2 says to Image 1.', [("图2", "Hello")]),
    ('"Run!" Image 1 shouts.', [("图1", "Run!")]),
    ('Image 1 waves. "Hi," Image 2 replies.', [("图2", "Hi")]),
    ('Image 1: "Watch out!" says nothing', [("图1", "Watch out!")]),
    ('"Hi" Image 1 and Image 2 smile.', []),
    # English: two speakers in one sentence
    ('Image 2 said, "Hi there," and Image 1 replied: "Hello."', [("图2", "Hi there"), ("图1", "Hello.")]),
    ('Image 1 says "hi" to Image 2 and Image 2 says "hey"', [("图1", "hi"), ("图2", "hey")]),
    ('Image 1 greets Image 2, Image 2 says: "Hi."', [("图2", "Hi.")]),
]


@pytest.mark.parametrize("text, expected", LINES, ids=[case[0] for case in LINES])
def test_lines_and_their_speakers(text, expected):
    assert spoken(text, WITH_VIDEO) == expected


def test_a_pronoun_is_the_subject_before_it_not_the_last_name():
    assert spoken("她说：“早上好。”", before="图2走进教室。") == [("图2", "早上好。")]
    assert spoken("他们说：“好。”", before="图2和图1走进来。") == [("图2", "好。")]
    assert spoken("图1看着图2。她说：“好。”") == [("图1", "好。")]
    assert spoken('Next to Image 2 she says: "Go."', before="Image 1 stands up. ") == [("图1", "Go.")]
    assert spoken('He smiles at Image 2 and says: "Hi."', before="Image 1 enters. ") == [("图1", "Hi.")]
    assert spoken('They say: "Go."', before="Image 1 and Image 2 stand up. ") == [("图1", "Go.")]


def test_a_pronoun_with_nobody_named_before_it_has_no_speaker():
    assert spoken("他说：“你好。”") == [(None, "你好。")]
    assert spoken('She says: "Hi."') == [(None, "Hi.")]


def test_the_fallback_speaker_is_used_only_when_no_one_is_found():
    assert spoken("他说：“你好。”", fallback_speaker="图2") == [("图2", "你好。")]
    assert spoken("接着说：“再见。”", fallback_speaker="图1") == [("图1", "再见。")]
    assert spoken('"Hello," says the boy.', fallback_speaker="图1") == [("图1", "Hello")]
    assert spoken('"Hello," says the boy.') == [(None, "Hello")]
    assert spoken("近景：图1说：“好。”", fallback_speaker="图2") == [("图1", "好。")]


def test_language_and_position():
    text = '图1说：“你好”，Image 2 says: "Hi, 朋友" and Image 1 says: "Bye"'
    lines = find_lines(text, TWO)
    assert [(line.text, line.language) for line in lines] == [("你好", "zh"), ("Hi, 朋友", "zh"), ("Bye", "en")]
    assert [line.position for line in lines] == [2, text.index("says"), text.rindex("says")]  # where its verb is
    quote_first = find_lines('"Go," says Image 2.', TWO)[0]
    assert quote_first.position == 0
    assert find_lines("近景：图2说：“好。”", TWO)[0].position == 5


def test_lines_come_in_the_order_they_are_spoken():
    text = 'Image 1 asks: "Ready?" "Yes," says Image 2. Image 1 replies: "Go."'
    assert spoken(text) == [("图1", "Ready?"), ("图2", "Yes"), ("图1", "Go.")]


def test_language_of():
    assert language_of("你好") == "zh" and language_of("hello 你好") == "zh" and language_of("㐀") == "zh"
    assert language_of("hello") == "en" and language_of("") == "en" and language_of("……!") == "en"


def test_clause_subject():
    text = "图1走过来，图2笑着说"
    assert clause_subject(text, len(text) - 1, TWO) == "图2"
    assert clause_subject("近景：图1说", 5, TWO) == "图1"
    assert clause_subject("图1走过来。他说", 7, TWO) == "图1"
    assert clause_subject("他说", 1, TWO) is None
    assert clause_subject("他说", 1, TWO, before="图2来了。") == "图2"
    assert clause_subject("to Image 2 it says", 15, TWO) is None
    assert clause_subject("图2拿起图1。笑着说", 9, TWO) == "图2"  # Chinese drops a known subject
    assert spoken("笑着说：“好。”", before="图2拿起图1。") == [("图2", "好。")]  # also the shot before's
    assert spoken("笑着说：“好。”", before="图2拿起图1。", fallback_speaker="图1") == [("图1", "好。")]


@pytest.mark.parametrize("verb", ["说", "说道", "喊道", "唱道", "念道", "嘀咕", "回答道", "大喊"])
def test_a_quote_with_its_speaker_and_verb_after_it_stays_one_sentence(verb):
    """segment.py and dialogue.py read the same speech verbs: the quote and “…”图1唱道 make one shot, spoken by 图1."""
    board = direct(f"图1看着图2。“快来看！”图1{verb}。图2笑了。", Cast.of([("图1", "image"), ("图2", "image")]), 6)
    said = [shot for shot in board.shots if shot.lines]
    assert len(said) == 1 and said[0].text == f"“快来看！”图1{verb}。", [s.text for s in board.shots]
    assert [(line.speaker, line.text) for line in said[0].lines] == [("图1", "快来看！")]
