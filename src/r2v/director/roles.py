"""Who each reference is: a person or an object, and the gender and age that pronouns (他/她, he/she) and a
default voice follow. The prompt's own words come first ("图2是一位老人", "Image 1 is a young woman", "the girl
in Image 1", "图3是一把吉他"); then the facts about the references (a video, a voice, a face or a figure in the
picture: worker/pipeline.py finds them); then what the prompt does with it (named as the one who speaks: a
person; picked up, held, played, put somewhere, used as a place: an object); last a picture without a face."""

from __future__ import annotations

import re
from dataclasses import replace

from r2v.director.cast import Cast, Member, aliases
from r2v.director.storyboard import Role

FEMALE, MALE = "female", "male"
CHILD, ADULT, OLD = "child", "adult", "old"
F, M = FEMALE, MALE

# Role words: (gender, age). Longest first when matched, so that 小女孩 wins over 女孩 and "old man" over "man".
ZH_WORDS = {
    "小女孩": (F, CHILD), "女孩子": (F, CHILD), "女孩": (F, CHILD), "女童": (F, CHILD), "少女": (F, None),
    "女生": (F, None), "女人": (F, ADULT), "女子": (F, ADULT), "女士": (F, ADULT), "女性": (F, None),
    "姑娘": (F, None), "小姐": (F, ADULT), "妇女": (F, ADULT), "妈妈": (F, ADULT), "母亲": (F, ADULT),
    "姐姐": (F, None), "妹妹": (F, None), "女儿": (F, None), "妻子": (F, ADULT), "阿姨": (F, ADULT),
    "公主": (F, None), "女王": (F, ADULT), "新娘": (F, ADULT), "女孩儿": (F, CHILD),
    "老奶奶": (F, OLD), "老太太": (F, OLD), "老妇人": (F, OLD), "奶奶": (F, OLD), "外婆": (F, OLD),
    "姥姥": (F, OLD), "婆婆": (F, OLD),
    "小男孩": (M, CHILD), "男孩子": (M, CHILD), "男孩": (M, CHILD), "男童": (M, CHILD), "少年": (M, None),
    "男生": (M, None), "男人": (M, ADULT), "男子": (M, ADULT), "男士": (M, ADULT), "男性": (M, None),
    "小伙子": (M, ADULT), "小伙": (M, ADULT), "先生": (M, ADULT), "爸爸": (M, ADULT), "父亲": (M, ADULT),
    "哥哥": (M, None), "弟弟": (M, None), "儿子": (M, None), "丈夫": (M, ADULT), "叔叔": (M, ADULT),
    "王子": (M, None), "国王": (M, ADULT), "新郎": (M, ADULT),
    "老爷爷": (M, OLD), "老大爷": (M, OLD), "老先生": (M, OLD), "老头": (M, OLD), "爷爷": (M, OLD),
    "外公": (M, OLD), "姥爷": (M, OLD), "大爷": (M, OLD),
    "老人": (None, OLD), "老者": (None, OLD), "孩子": (None, CHILD), "小孩": (None, CHILD),
    "儿童": (None, CHILD), "宝宝": (None, CHILD), "婴儿": (None, CHILD), "人物": (None, None),
    "学生": (None, None), "老师": (None, ADULT), "医生": (None, ADULT), "护士": (None, ADULT),
    "厨师": (None, ADULT), "歌手": (None, None), "宇航员": (None, ADULT), "探险家": (None, None),
    "机器人": (None, None), "角色": (None, None), "主角": (None, None), "人": (None, None),
    "小狗": (None, None), "狗": (None, None), "小猫": (None, None), "猫": (None, None), "小鸟": (None, None),
    "鹦鹉": (None, None), "兔子": (None, None), "小熊": (None, None), "熊": (None, None), "狐狸": (None, None),
}  # fmt: skip
EN_WORDS = {
    "little girl": (F, CHILD), "girl": (F, CHILD), "schoolgirl": (F, CHILD), "woman": (F, ADULT),
    "lady": (F, ADULT), "mother": (F, ADULT), "mom": (F, ADULT), "mum": (F, ADULT), "mommy": (F, ADULT),
    "sister": (F, None), "daughter": (F, None), "wife": (F, ADULT), "aunt": (F, ADULT), "queen": (F, ADULT),
    "princess": (F, None), "actress": (F, ADULT), "waitress": (F, ADULT), "girlfriend": (F, None),
    "bride": (F, ADULT), "old woman": (F, OLD), "old lady": (F, OLD), "grandma": (F, OLD),
    "grandmother": (F, OLD), "granny": (F, OLD), "grandmom": (F, OLD),
    "little boy": (M, CHILD), "boy": (M, CHILD), "schoolboy": (M, CHILD), "man": (M, ADULT),
    "gentleman": (M, ADULT), "guy": (M, ADULT), "father": (M, ADULT), "dad": (M, ADULT), "daddy": (M, ADULT),
    "brother": (M, None), "son": (M, None), "husband": (M, ADULT), "uncle": (M, ADULT), "king": (M, ADULT),
    "prince": (M, None), "actor": (M, ADULT), "waiter": (M, ADULT), "boyfriend": (M, None),
    "groom": (M, ADULT), "old man": (M, OLD), "grandpa": (M, OLD), "grandfather": (M, OLD),
    "granddad": (M, OLD), "grandad": (M, OLD),
    "child": (None, CHILD), "kid": (None, CHILD), "baby": (None, CHILD), "toddler": (None, CHILD),
    "person": (None, None), "teenager": (None, None), "student": (None, None), "teacher": (None, ADULT),
    "doctor": (None, ADULT), "nurse": (None, ADULT), "chef": (None, ADULT), "singer": (None, None),
    "musician": (None, None), "guitarist": (None, None), "astronaut": (None, ADULT), "explorer": (None, None),
    "robot": (None, None), "character": (None, None), "hero": (None, None), "elder": (None, OLD),
    "dog": (None, None), "puppy": (None, None), "cat": (None, None), "kitten": (None, None), "bird": (None, None),
    "parrot": (None, None), "rabbit": (None, None), "bunny": (None, None), "bear": (None, None), "fox": (None, None),
}  # fmt: skip
# Characters that are not human: 它 / "it" means one of them before anyone else.
NOT_HUMAN = {"机器人", "小狗", "狗", "小猫", "猫", "小鸟", "鹦鹉", "兔子", "小熊", "熊", "狐狸",
             "robot", "dog", "puppy", "cat", "kitten", "bird", "parrot", "rabbit", "bunny", "bear", "fox"}  # fmt: skip
EN_OBJECTS = (
    "guitar", "violin", "piano", "drum", "chair", "table", "desk", "sofa", "couch", "bed", "cup", "mug", "glass",
    "bottle", "book", "ball", "phone", "lamp", "box", "bag", "hat", "car", "bike", "bicycle", "flower", "flowers",
    "bouquet", "vase", "plate", "bowl", "apple", "cake", "umbrella", "clock", "key", "letter", "gift", "present",
    "toy", "sword", "camera", "laptop", "computer", "painting", "picture", "pen", "stone", "rock", "tree",
)  # fmt: skip
ZH_OBJECT_CLASSIFIERS = "把张件台辆本束杯块朵盆盏顶双条枚瓶支架"
_TALKING = re.compile(r"(?i)会说话|能说话|会讲话|\btalking\b|\bspeaking\b")
_OLD = re.compile(r"(?i)年迈|年老|白发|苍老|\b(?:old|elderly|aged|older|grey-haired|gray-haired)\b")
_YOUNG_CHILD = re.compile(r"(?i)年幼|幼小|\b(?:little|small|tiny)\b")


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_ZW = rf"(?P<w>{_alternation(ZH_WORDS)})"
_ZW_NOT_BARE_PERSON = rf"(?P<w>{_alternation(w for w in ZH_WORDS if w != '人')})"
_EW = rf"(?P<w>(?i:{_alternation(EN_WORDS)}))\b"
_ADJECTIVE = r"(?!(?i:with|to|at|and|or|the|a|an|of|in|on|for|by|from|near|next|his|her|their|its)\b)[\w-]+"
_PRE_EN = rf"(?P<pre>(?:{_ADJECTIVE}\s+){{{{0,2}}}}?)"  # up to two adjectives (young, talking); a template
_ARTICLE = r"(?i:(?:a|an|the|our|my|this)\s+)?"
# How a text ties role words to a reference; {ref} is any alias of it.
_BINDINGS = (
    rf"{{ref}}\s*(?:是|为(?=一)|扮演|饰演|变成)\s*(?P<pre>[^，。；,;！？“”图视]{{{{0,8}}}}?){_ZW}",  # 图2是一位老人
    rf"{{ref}}\s*(?:中|里|里面|内)的\s*(?P<pre>[^，。；,;！？“”的]{{{{0,6}}}}?){_ZW}",  # 图1中的女孩
    rf"(?P<pre>[^，。；,;！？“”\s]{{{{0,3}}}}?){_ZW_NOT_BARE_PERSON}\s*[（(]?\s*{{ref}}",  # 小男孩（图1）, 老人图2
    rf"{{ref}}\s*[（(]\s*(?P<pre>[^）)]{{{{0,6}}}}?){_ZW}",  # 图1（女孩）
    rf"{{ref}}\s+(?i:is|as|plays|becomes|represents)\s+{_ARTICLE}{_PRE_EN}{_EW}",  # Image 1 is a young woman
    rf"{{ref}}\s*,\s*(?i:(?:a|an|the)\s+){_PRE_EN}{_EW}",  # Image 1, a young woman, ...
    rf"(?P<pre>(?:{_ADJECTIVE}\s+){{{{0,2}}}}){_EW}\s+(?i:in|from|of)\s+{{ref}}",  # the old man in Image 2
    rf"(?P<pre>(?:{_ADJECTIVE}\s+){{{{0,2}}}}){_EW}\s*\(\s*{{ref}}\s*\)",  # a girl (Image 1)
    rf"{{ref}}\s*\(\s*{_ARTICLE}{_PRE_EN}{_EW}\s*\)",  # Image 1 (a girl)
)
_OBJECT_DECLARED = (
    rf"{{ref}}\s*(?:是|为)\s*(?P<pre>[一这那]?)[{ZH_OBJECT_CLASSIFIERS}]",  # 图3是一把吉他
    rf"{{ref}}\s+(?i:is)\s+(?i:(?:a|an|the)\s+){_PRE_EN}(?i:{_alternation(EN_OBJECTS)})\b",  # Image 2 is a guitar
)
# What is done to an object: picked up, held, played, eaten, put somewhere, given.
_HANDLED = (
    r"(?:拿着|拿起|拿出|举着|举起|握着|提着|捧着|弹奏|弹着|吃着|喝着|放下|戴着|背着|打开|玩着|拿|弹|吃|喝)"
    r"\s*(?:着|起)?\s*(?:手中的|手里的)?\s*{ref}",
    r"把\s*(?:手中的|手里的)?\s*{ref}\s*(?:放|递|交|扔|送|摆|挂|插|举|拿)",
    r"(?i:\b(?:picks?\s+up|picking\s+up|holds?|holding|carr(?:y|ies|ying)|plays?|playing|puts?|putting|places?|"
    r"placing|eats?|eating|drinks?|drinking|strums?|strumming|throws?|throwing|drops?|dropping|opens?|opening|"
    r"reads?|reading|wears?|wearing|lifts?|lifting|grabs?|grabbing|gives?|giving|hands?|handing)\s+(?:up\s+)?"
    r"(?:the\s+[\w-]+\s+(?:from|in|of)\s+)?){ref}(?![''’]s)",
)
STRONG_OBJECT = ("prompt", "object", "place")  # evidence that an object is one: it never speaks


def describe(prompt: str, cast: Cast, places: set[str] = frozenset(), speakers: set[str] = frozenset()) -> Cast:
    """The cast with every member's final `person`, `evidence`, `gender`, `age` and role `words`.
    `places`: members used as a place; `speakers`: members the prompt names as saying a line."""
    only_one = len(cast.members) == 1
    members = []
    for member in cast.members:
        ref = "(?:" + "|".join(aliases(member, only_one)) + ")"
        words, gender, age, declared = _bound_words(prompt, ref)
        person, evidence = member.person, member.evidence
        if declared is not None:
            person, evidence = declared, "prompt"
        elif person is True:
            pass  # a video, a voice, a face or a figure
        elif member.kind == "video":  # a Cast made from labels alone: a reference video shows someone
            person, evidence = True, "video"
        elif member.label in speakers:
            person, evidence = True, "speaker"
        elif member.label in places:
            person, evidence = False, "place"
        elif any(re.search(p.format(ref=ref), prompt) for p in _HANDLED):
            person, evidence = False, "object"
        members.append(replace(member, person=person, evidence=evidence, gender=gender, age=age, words=words))
    return Cast(members)


def as_roles(cast: Cast) -> list[Role]:
    """What the plan records of each member: person or object (and why), gender, age."""
    return [Role(m.label, m.person, m.gender, m.age, m.evidence) for m in cast.members]


def _bound_words(prompt: str, ref: str) -> tuple[tuple[str, ...], str | None, str | None, bool | None]:
    """(role words, gender, age, declared person-or-object) the prompt gives one reference."""
    found: list[tuple[int, str, str]] = []  # (where, word, words before it)
    for template in _BINDINGS:
        for match in re.finditer(template.format(ref=ref), prompt):
            found.append((match.start(), match.group("w").lower(), match.group("pre") or ""))
    objects = [m for t in _OBJECT_DECLARED for m in re.finditer(t.format(ref=ref), prompt)]
    if not found:
        if objects:
            return (), None, None, bool(_TALKING.search(objects[0].group("pre") or ""))
        return (), None, None, None
    found.sort()
    words = tuple(dict.fromkeys(word for _, word, _ in found))
    table = {**ZH_WORDS, **EN_WORDS}
    gender = next((table[w][0] for w in words if table[w][0]), None)
    age = next((table[w][1] for w in words if table[w][1]), None)
    before = " ".join(pre for _, _, pre in found)
    if _OLD.search(before):
        age = OLD
    elif _YOUNG_CHILD.search(before) and age is None:
        age = CHILD
    return words, gender, age, True


def role_word(word: str) -> tuple[str | None, str | None] | None:
    """(gender, age) of a role word, or None when it is not one."""
    return ZH_WORDS.get(word) or EN_WORDS.get(word.lower())


def named_by_role(word: str, cast: Cast) -> str | None:
    """The one member a role word ("the girl", 老人) stands for: the member the prompt gave that word, else the
    only person whose gender and age agree with it."""
    word = word.lower()
    exact = [m for m in cast.members if word in m.words]
    if len(exact) == 1:
        return exact[0].label
    wanted = role_word(word)
    if wanted is None or wanted == (None, None):
        return None
    gender, age = wanted
    fitting = [m for m in cast.members if m.person is not False and m.words
               and (gender is None or m.gender == gender) and (age is None or m.age in (age, None))]  # fmt: skip
    return fitting[0].label if len(fitting) == 1 else None


def strong_object(member: Member) -> bool:
    """The prompt itself makes this member an object (not only a picture without a face)."""
    return member.person is False and member.evidence in STRONG_OBJECT


ROLE_AT_START = re.compile(
    rf"^\s*(?:(?i:the|a|an)\s+(?:[\w-]+\s+){{0,2}}?|这个|那个|这位|那位|这名|那名)?"
    rf"(?P<w>{_alternation(w for w in ZH_WORDS if w != '人')}|(?i:{_alternation(EN_WORDS)})\b)"
)
