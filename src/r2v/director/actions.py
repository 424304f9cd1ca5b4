"""Actions in a shot's text, Chinese and English: who picks up, holds, carries or plays what, puts it where, gives
it to whom, sits, stands up, lies down, walks to, enters, leaves, hugs, waves, points at, looks or turns to.

Each verb's subject is its clause's subject (dialogue.clause_subject); its object and target are the references
named in the words that follow it ("把图2放到图3上", "gives Image 2 to Image 1"), or the object the subject
already holds ("弹奏" with 图3 in the hand, "gives it to her"). Actions the text describes as already so when the
shot opens (拿着, 坐在, holding, sitting) last from its start; the others follow one another through the shot."""

from __future__ import annotations

import re
from dataclasses import dataclass

from r2v.director import dialogue
from r2v.director.cast import Cast, Mention
from r2v.director.segment import quote_spans
from r2v.director.storyboard import Action, Shot

VERBS = ("pick_up", "hold", "carry", "play", "put", "give", "sit", "stand_up", "lie_down", "walk_to", "enter",
         "leave", "hug", "wave", "point_at", "look_at", "turn_to")  # fmt: skip
HANDLED = ("pick_up", "hold", "carry", "play", "put", "give")  # the verbs whose object is in the subject's hand
LEAD, TAIL = 0.1, 0.1  # shares of a shot before its first and after its last action
_CLAUSE_END = "，,。；;！？!?\n：."
_EN_WORD = "(?i:\\b(?:{})\\b)"


def _en(words: str) -> str:
    return _EN_WORD.format(words)


# (verb, pattern, what the words after it name, already so when the shot opens). Earlier rows win a span of text.
# "object": the thing handled; "target": who or what it is done to; "place": where it is done (a surface or a
# place); None: nothing. A state row is a state only when no other action of its subject comes before it.
_ROWS = [
    ("pick_up", "拿起|捡起|举起|抱起|提起|端起|拾起|捧起", "object", False),
    ("pick_up", _en(r"picks?\s+up|picking\s+up|picked\s+up|lifts|lifting|lifted|grabs|grabbing|grabbed"), "object",
     False),
    ("carry", "提着|背着|扛着|拎着", "object", True),
    ("carry", _en("carries|carrying|carried"), "object", True),
    ("hug", "拥抱|抱住|相拥|搂住|抱了抱|抱在一起", "target", False),
    ("hug", _en("hugs|hugging|hugged|embraces|embracing|embraced"), "target", False),
    ("hold", "(?:手里|手中)?(?:拿着|握着|举着|捧着|端着|抱着|搂着|吃着|喝着)|手持", "object", True),
    ("hold", _en(r"holds|holding|is\s+holding"), "object", True),
    ("play", "弹奏|演奏|弹着|弹起|吹奏|弹(?=吉他|琴|钢琴|图|视频|一首|一曲|了)|拉(?=小提琴|大提琴|二胡)", "object",
     True),
    ("play", _en("plays|playing|played|strums|strumming|strummed"), "object", True),
    ("sit", "坐下|坐了下来", "place", False),
    ("sit", "坐在|坐到|坐上|坐进|坐于|坐着", "place", True),
    ("sit", _en(r"sits\s+down|sat\s+down|sitting\s+down|takes\s+a\s+seat"), "place", False),
    ("sit", _en(r"sits|sitting|sat|is\s+seated"), "place", True),
    ("stand_up", "站了起来|站起来|站起身|站起|起身", None, False),
    ("stand_up", _en(r"stands\s+up|standing\s+up|stood\s+up|gets\s+up|getting\s+up|rises"), None, False),
    ("lie_down", "躺下|躺了下来|躺到", "place", False),
    ("lie_down", "躺在|躺着", "place", True),
    ("lie_down", _en(r"lies\s+down|lying\s+down|lay\s+down|lays\s+down"), "place", False),
    ("lie_down", _en(r"lies|lying"), "place", True),
    ("enter", "走进|走入|走来|跑来|跑进|进入画面|入画|走过来|跑过来|进入", "target", False),
    ("enter", _en(r"enters|entering|entered|(?:walks|comes|runs|steps)\s+in(?:to)?"), "target", False),
    ("leave", "离开|走出|走开|走远|跑开|出画", "target", False),
    ("leave", _en(r"leaves|leaving|exits|exiting|(?:walks|runs|goes)\s+(?:away|off|out)"), "target", False),
    ("walk_to", "走向|走到|走近|来到|跑向|跑到|奔向", "target", False),
    ("walk_to", _en(r"(?:walks|walking|walked|runs|running|ran|goes|going|went|heads|heading|steps|stepping|comes|"
                    r"coming)\s+(?:over\s+|up\s+|back\s+)?(?:to|towards?)|approaches|approaching|approached"),
     "target", False),
    ("wave", "挥了挥手|挥挥手|挥手|招了招手|招手", "before", False),
    ("wave", _en("waves|waving|waved"), "target", False),
    ("point_at", "指着|指向", "target", False),
    ("point_at", _en(r"(?:points|pointing|pointed)\s+(?:at|to|towards?)"), "target", False),
    ("look_at", "看向|看着|望向|望着|注视着?|盯着|看了看|凝视着?|看了一眼", "target", False),
    ("look_at", _en(r"(?:looks?|looking|looked|glances?|glancing|gazes?|gazing|stares?|staring)\s+"
                    r"(?:up\s+|down\s+|over\s+|back\s+)?at|watches|watching"), "target", False),
    ("turn_to", "转过身|转身|转向|转头|回过头|回头", "target", False),
    ("turn_to", _en(r"(?:turns|turning|turned)(?:\s+(?:around|back))?(?:\s+to(?:wards?)?)?"), "target", False),
]  # fmt: skip
_COMPILED = [(verb, re.compile(pattern), role, state) for verb, pattern, role, state in _ROWS]
# 把/将 X 放到 Y上, "puts X on Y"; 把 X 递给 Y, "gives X to Y", "hands Y X"
_NOT_END = "[^，,。；;！？!?]"
_PUT_ZH = re.compile(rf"(?:把|将)(?P<obj>{_NOT_END}{{0,14}}?)(?:轻轻地?|慢慢地?|小心地?)?"
                     r"(?:放到|放在|放进|放入|放回|放上|摆到|摆在|搁在|搁到|放)"
                     rf"(?P<where>{_NOT_END}{{0,16}})")  # fmt: skip
_GIVE_ZH = re.compile(rf"(?:(?:把|将)(?P<obj>{_NOT_END}{{0,14}}?))?"
                      rf"(?:递给|交给|送给|还给|扔给|拿给|(?<=[图视频\d它])给)(?P<to>{_NOT_END}{{0,14}})")  # fmt: skip
_PUT_EN = re.compile(r"(?i:\b(?:puts|put|places|placed|placing|sets|setting|lays|laying)\s+(?:down\s+)?"
                     r"(?P<obj>[^,.;!?]{0,40}?)\s+(?:down\s+)?(?P<where>(?:on\s+top\s+of|onto|upon|on|into|in)\s+"
                     r"[^,.;!?]{0,40}))")  # fmt: skip
_GIVE_EN = re.compile(r"(?i:\b(?:gives|gave|giving|hands|handed|handing|passes|passed|passing|offers|offered|"
                      r"offering)\s+(?P<obj>[^,.;!?]{0,40}?)\s+to\s+(?P<to>[^,.;!?]{0,30}))")  # fmt: skip
# Sitting said by where it happens: 在图4的椅子上弹奏 (on a chair, a person sits)
_ON_SEAT_ZH = re.compile(r"在(?P<where>[^，,。；;！？!?]{0,10}?(?:椅子|沙发|凳子|长椅|板凳|座位)上)")
_PRONOUN_ZH = re.compile(r"^\s*(?:他们|她们|他|她|对方)")
_PRONOUN_EN = re.compile(r"(?i)^\s*(?:him|her|them|he|she|they)\b")
_IT = re.compile(r"(?i)它|\b(?:it|them)\b")
FURNITURE = {"table": ("桌", "台", "柜", "table", "desk", "counter", "shelf"),
             "chair": ("椅", "凳", "沙发", "chair", "stool", "sofa", "couch", "bench", "seat")}  # fmt: skip


@dataclass
class Found:
    """An action as found in the text, before it is placed in time: `t0`/`t1` are shares of the shot."""

    verb: str
    subject: str
    object: str | None
    target: str | None
    position: int
    span: tuple[int, int]  # the words that say it
    state: bool = False
    surface: bool = False  # the target is the very thing put on or sat on ("在图3上", "on Image 3"), not a place
    beside: str | None = None  # a reference the place is said to be next to ("视频1旁边的桌子")
    furniture: str | None = None  # "table" | "chair": what the words name as the surface
    t0: float = 0.0
    t1: float = 1.0

    @property
    def action(self) -> Action:
        return Action(self.verb, self.subject, self.object, self.target, self.t0, self.t1)


def find(text: str, cast: Cast, before: str = "") -> list[Action]:
    """The actions of a shot's text, in order; start/end are shares of the shot until place_in_time runs."""
    return [f.action for f in found(text, cast, before)]


def place_in_time(shot: Shot) -> None:
    """Turn the shares of the shot that `find` gave into seconds of the video, once the shot is timed."""
    for action in shot.actions:
        action.start = round(shot.start + action.start * shot.seconds, 3)
        action.end = round(shot.start + action.end * shot.seconds, 3)


def surfaces(text: str, cast: Cast) -> set[str]:
    """References the text puts something on or sits on as the thing itself ("把图2放到图3上", "sits on Image 4"):
    drawn as objects standing on the floor, not used as the shot's place."""
    return {f.target for f in found(text, cast) if f.surface and f.target}


def found(text: str, cast: Cast, before: str = "", carry: bool = False) -> list[Found]:
    """The actions of `text` with their details; `carry`: led by what is still so from `before` (held objects
    stay in the hand and a seated subject stays seated from one shot to the next)."""
    quotes = quote_spans(text)
    claimed: list[tuple[int, int]] = []
    results: list[Found] = []

    def free(a: int, b: int) -> bool:
        return not any(a < y and x < b for x, y in claimed) and not any(x <= a < y for x, y in quotes)

    def add(f: Found | None) -> None:
        if f is not None and free(*f.span):
            claimed.append(f.span)
            results.append(f)

    for pattern, handler in ((_PUT_ZH, _put), (_PUT_EN, _put), (_GIVE_ZH, _give), (_GIVE_EN, _give)):
        for match in pattern.finditer(text):
            if free(match.start(), match.end()):
                add(handler(match, text, cast, before))
    for verb, pattern, role, state in _COMPILED:
        for match in pattern.finditer(text):
            if free(match.start(), match.end()):
                add(_simple(verb, role, state, match, text, cast, before))
    for match in _ON_SEAT_ZH.finditer(text):  # 在图4的椅子上弹奏: sitting, unless a sitting verb said it already
        subject = _subject(text, match.start(), cast, before)
        if (
            subject
            and free(match.start(), match.end())
            and not any(f.verb == "sit" and f.subject == subject for f in results)
        ):
            sit = Found("sit", subject, None, None, match.start(), match.span(), state=True)
            add(_with_place(sit, match.group("where") + "上", cast, zh=True))
    results.sort(key=lambda f: f.position)
    if carry and before.strip():
        results = _still_so(found(before, cast)) + results
    results = _unique(results)
    _fill_objects(results)
    _time(results)
    return results


def _subject(text: str, position: int, cast: Cast, before: str) -> str | None:
    subject = _coordinated_subject(text, position, cast) or dialogue.clause_subject(text, position, cast, before)
    if subject is None and len(cast.members) == 1:
        subject = cast.labels[0]
    if subject is not None and _person(cast, subject) is False:
        return None  # objects do nothing by themselves
    return subject


def _coordinated_subject(text: str, position: int, cast: Cast) -> str | None:
    """English "… and Image 2 turns to look at …": a reference right after "and"/"then" before the verb is its
    subject (the clause's first one did the verb before the "and")."""
    head = text[:position]
    joint = list(re.finditer(r"(?i)\b(?:and|then|while|but)\s+", head))
    if not joint or dialogue.language_of(head) != "en":
        return None
    rest = head[joint[-1].end() :]
    mentions = cast.mentions(rest)
    if mentions and mentions[0].start == 0 and not cast.mentions(rest[mentions[0].end :]):
        return mentions[0].label
    return None


def _person(cast: Cast, label: str) -> bool | None:
    member = next((m for m in cast.members if m.label == label), None)
    if member is None:
        return None
    person = getattr(member, "person", None)
    return True if person is None and member.kind == "video" else person


def _window(text: str, start: int, zh: bool) -> str:
    """The words after a verb up to the end of its clause (and, in English, before the next 'and'/'then')."""
    end = start
    while end < len(text) and text[end] not in _CLAUSE_END and end - start < (16 if zh else 48):
        end += 1
    window = text[start:end]
    if not zh:
        cut = re.search(r"(?i)\b(?:and|then|while|as|before|after|who|which)\b", window)
        window = window[: cut.start()] if cut else window
    return window


def _is_zh(word: str) -> bool:
    return dialogue.language_of(word) == "zh"


def _simple(verb: str, role: str | None, state: bool, match: re.Match, text: str, cast: Cast,
            before: str) -> Found | None:  # fmt: skip
    subject = _subject(text, match.start(), cast, before)
    if subject is None:
        return None
    zh = _is_zh(match.group())
    window = _window(text, match.end(), zh)
    mentions = [m for m in cast.mentions(window) if m.label != subject]
    found = Found(verb, subject, None, None, match.start(), match.span(), state=state)
    if role == "object":
        found.object = mentions[0].label if mentions else None
        if found.object and verb == "hold" and _person(cast, found.object) and re.search("抱|搂", match.group()):
            found.verb, found.object, found.target, found.state = "hug", None, found.object, False
        if found.object is None and verb != "play":
            return None  # something that is not a reference is held: nothing to name or draw
    elif role == "target":
        found.target = mentions[0].label if mentions else _pronoun_target(window, text, match.start(), subject,
                                                                           cast, before)  # fmt: skip
        if found.target is None and verb == "hug":
            found.target = _other_conjunct(text, match.start(), subject, cast)
    elif role == "before":  # 向图2挥手
        lead = re.search(r"(?:向|对|朝)\s*([^，,。；;]{0,8})$", text[max(0, match.start() - 12) : match.start()])
        named = cast.mentions(lead.group(1)) if lead else []
        found.target = named[-1].label if named and named[-1].label != subject else None
    elif role == "place":
        return _with_place(found, window, cast, zh)
    return found


# What the words beside a named reference make of it in a put/sit/lie: the surface itself, the place the surface is
# in, or a thing the surface is next to; the first rule that matches decides.
_WHERE_ZH = (
    (re.compile(r"^\s*(?:上面|上方|顶上|之上|上)"), "surface"),
    (re.compile(r"^(?:\s*(?:里的|中的|的)\s*[\u4e00-\u9fff]{1,4}?(?:上|里|中|旁|前)|\s*(?:里|中|内))"), "place"),
    (re.compile(r"^\s*(?:的)?\s*(?:旁边|身边|旁|附近|前面|前|边上|对面)"), "beside"),
)
_WHERE_EN = (
    (re.compile(r"(?i)\b(?:on\s+top\s+of|onto|upon|on)\s+(?:the\s+)?$"), "surface"),
    (re.compile(r"(?i)\b(?:in|into|inside|at|of|from)\s+(?:the\s+)?$"), "place"),
    (re.compile(r"(?i)\b(?:next\s+to|beside|near|by)\s+(?:the\s+)?$"), "beside"),
)


def _with_place(found: Found, where: str, cast: Cast, zh: bool) -> Found:
    """The target of a put/sit/lie from the words saying where: the thing itself when it is named right before
    上 / after "on" (a surface), a place when the surface is said to be in it (图4的椅子, the sofa in Image 3), a
    reference point when the surface is next to it (视频1旁边的桌子)."""
    found.furniture = next((kind for kind, words in FURNITURE.items() if any(w in where.lower() for w in words)),
                           None)  # fmt: skip
    rules = _WHERE_ZH if zh else _WHERE_EN
    for mention in cast.mentions(where):
        if mention.label in (found.subject, found.object):
            continue
        # Chinese says where after the name (图3上), English before it (on Image 3)
        near = where[mention.end :] if zh else where[: mention.start]
        said = next((what for pattern, what in rules if pattern.search(near)), None)
        if said == "beside":
            found.beside = mention.label
        elif said is not None:
            found.target = mention.label
            found.surface = found.surface or said == "surface"
            break
    return found


def _put(match: re.Match, text: str, cast: Cast, before: str) -> Found | None:
    subject = _subject(text, match.start(), cast, before)
    if subject is None:
        return None
    obj = _named_object(match.group("obj"), cast, subject)
    if obj is None and not _IT.search(match.group("obj")) and match.group("obj").strip():
        return None  # something not among the references is put somewhere: nothing to draw
    found = Found("put", subject, obj, None, match.start(), match.span())
    return _with_place(found, match.group("where"), cast, _is_zh(match.group()))


def _give(match: re.Match, text: str, cast: Cast, before: str) -> Found | None:
    subject = _subject(text, match.start(), cast, before)
    if subject is None:
        return None
    to = match.group("to")
    recipients = [m for m in cast.mentions(to) if m.label != subject]
    target = recipients[0].label if recipients else _pronoun_target(to, text, match.start(), subject, cast, before)
    obj = _named_object(match.group("obj") or "", cast, subject)
    if obj is None and recipients[1:]:  # 递给图1一束图2
        obj = recipients[1].label
    if target is None or obj == target:
        return None
    return Found("give", subject, obj, target, match.start(), match.span())


def _named_object(words: str, cast: Cast, subject: str) -> str | None:
    mentions = [m for m in cast.mentions(words) if m.label != subject]
    return mentions[-1].label if mentions else None


def _pronoun_target(window: str, text: str, position: int, subject: str, cast: Cast, before: str) -> str | None:
    """him / her / 她 after the verb: the last person named before it who is not the subject."""
    if not (_PRONOUN_ZH.match(window) or _PRONOUN_EN.match(window)):
        return None
    mentions: list[Mention] = cast.mentions(before + text[:position])
    for mention in reversed(mentions):
        if mention.label != subject and _person(cast, mention.label) is not False:
            return mention.label
    return None


def _other_conjunct(text: str, position: int, subject: str, cast: Cast) -> str | None:
    """图1和图2拥抱, "Image 1 and Image 2 hug": the other one named with the subject."""
    head = text[:position]
    start = max(head.rfind(ch) for ch in _CLAUSE_END) + 1
    others = [m.label for m in cast.mentions(head[start:]) if m.label != subject]
    return others[0] if others else None


def _still_so(earlier: list[Found]) -> list[Found]:
    """The states the earlier actions leave: who holds what, who sits or lies (as states from the shot's start)."""
    in_hand: dict[str, Found] = {}
    posture: dict[str, Found] = {}
    for f in earlier:
        if f.verb in ("pick_up", "hold", "carry", "play") and f.object:
            in_hand[f.object] = f
        elif f.verb in ("put", "give") and f.object:
            in_hand.pop(f.object, None)
            if f.verb == "give" and f.target:
                in_hand[f.object] = Found("hold", f.target, f.object, None, -1, (-1, -1))
        if f.verb in ("sit", "lie_down"):
            posture[f.subject] = f
        elif f.verb in ("stand_up", "walk_to", "enter", "leave"):
            posture.pop(f.subject, None)
    states = [Found("hold", f.subject, obj, None, -1, (-1, -1), state=True) for obj, f in in_hand.items()]
    states += [Found(f.verb, who, None, f.target, -1, (-1, -1), state=True, surface=f.surface, furniture=f.furniture)
               for who, f in posture.items()]  # fmt: skip
    return states


def _unique(results: list[Found]) -> list[Found]:
    seen, kept = set(), []
    for f in results:
        key = (f.verb if f.verb != "carry" else "hold", f.subject, f.object, f.target)
        if key not in seen:
            seen.add(key)
            kept.append(f)
    return kept


def _fill_objects(results: list[Found]) -> None:
    """An object not named again is the one the subject has in hand: 弹奏 with 图3 held, "gives it to her"."""
    in_hand: dict[str, str] = {}
    for f in results:
        if f.verb in ("play", "put", "give") and f.object is None:
            f.object = in_hand.get(f.subject)
        if f.verb in ("pick_up", "hold", "carry", "play") and f.object:
            in_hand[f.subject] = f.object
        if f.verb in ("put", "give"):
            in_hand.pop(f.subject, None)
    # two holds of the same thing by its holder (拿着图2 … 吃着图2) are one
    results[:] = [f for i, f in enumerate(results) if not (f.verb == "hold" and any(
        g.verb in ("hold", "carry", "pick_up") and (g.subject, g.object) == (f.subject, f.object)
        for g in results[:i]))]  # fmt: skip


def _time(results: list[Found]) -> None:
    """States last from the shot's start until an action ends them; the other actions share the shot in order."""
    acted: set[str] = set()
    for f in results:
        if f.state and f.subject in acted:
            f.state = False
        if not f.state:
            acted.add(f.subject)
    events = [f for f in results if not f.state]
    for i, f in enumerate(events):
        span = (1 - LEAD - TAIL) / len(events)
        f.t0, f.t1 = round(LEAD + span * i, 3), round(LEAD + span * (i + 1), 3)
    for f in results:
        if not f.state:
            continue
        f.t0, f.t1 = 0.0, 1.0
        for e in events:
            ends_hold = f.verb in ("hold", "carry", "play") and e.verb in ("put", "give") and e.object == f.object
            ends_pose = f.verb in ("sit", "lie_down") and e.subject == f.subject and e.verb in (
                "stand_up", "walk_to", "leave", "lie_down" if f.verb == "sit" else "sit")  # fmt: skip
            if ends_hold:
                f.t1 = min(f.t1, e.t1)
            elif ends_pose:
                f.t1 = min(f.t1, e.t0)
