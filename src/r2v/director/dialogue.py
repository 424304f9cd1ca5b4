"""Dialogue in a prompt: quoted lines after a speech verb (X说：“…”, 并说道“…”, X says: "…") or before one
("…," says X / "…," X says / “…”，她说), each with its speaker (a reference label) and language. The speaker is
the subject of the clause that holds the verb: a reference, a role noun ("the girl"), or a pronoun resolved by
subject continuity (pronouns.py). Only a reference named as the speaker may be an object (a talking guitar, if
the prompt says so); an inferred speaker is always a person."""

from __future__ import annotations

import re
from dataclasses import dataclass

from r2v.director.cast import Cast
from r2v.director.pronouns import (
    CLAUSE_MARKS,
    PRONOUN_AT_END,
    PRONOUN_AT_START,
    Discourse,
    lead_allowance,
    referent,
    strip_lead,
)
from r2v.director.roles import ROLE_AT_START, describe, named_by_role, strong_object
from r2v.director.segment import CLOSE_FOR, OPEN_QUOTES, ZH_SPEECH_VERB, clauses, quote_spans

_ZH_VERB = ZH_SPEECH_VERB
_EN_VERB = (
    r"(?:says|said|say|asks|asked|ask|replies|replied|reply|answers|answered|answer|shouts|shouted|"
    r"whispers|whispered|exclaims|exclaimed|sings|sang|adds|added|yells|yelled|calls out|tells \w+)"
)
# whom a line is said to, between the verb and the quote: "says to Image 2:", "asks Image 2,", "tells Image 2:"
_EN_ADDRESSEE = (
    r"(?:\s*#?\d+)?(?:\s+(?:to|at)\s+(?:the\s+)?\w+(?:\s*#?\s*\d+)?"
    r"|\s+(?:image|video|img|picture|photo|character)\s*#?\s*\d+|\s+(?:him|her|them|me|us|everyone))?"
)
_VERB_THEN_QUOTE = re.compile(
    rf"(?:{_ZH_VERB}|(?i:\b{_EN_VERB}\b{_EN_ADDRESSEE}))\s*(?:[:：,，]\s*)?(?=[{re.escape(OPEN_QUOTES)}])"
)
_QUOTE_THEN_VERB = re.compile(rf"^\s*[,，]?\s*(?i:{_EN_VERB})\s+(?P<after>.{{0,40}})")
_CJK = re.compile(r"[\u3400-\u9fff]")
_ENGLISH_STOP = re.compile(r"\.(?=\s)")


@dataclass
class Spoken:
    speaker: str | None
    text: str
    language: str
    position: int  # offset of the line's verb (or quote) in the text it was found in
    named: bool = False  # the speaker is named at the line (a reference or a role noun), not inferred


def language_of(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


# After a quotation: who says it, then a Chinese speech verb that does not open another quotation
# (“…”，图1说。 / “…”她笑着说), or an English pronoun or role noun then a verb ("…," she says).
_ZH_AFTER = re.compile(
    rf"^\s*[,，]?\s*(?P<who>[^，。,.！？!?；;“”\"「」『』]{{1,12}}?){_ZH_VERB}(?!\s*[:：,，]?\s*[“\"「『‘'])"
)
_EN_AFTER = re.compile(rf"(?i)^\s*[,，]?\s*(?P<who>he|she|they|it|the\s+(?:[\w-]+\s+){{0,2}}?[\w-]+)\s+{_EN_VERB}\b")


def find_lines(text: str, cast: Cast, fallback_speaker: str | None = None, before: str = "") -> list[Spoken]:
    """Every spoken line in `text`, in order; `before` is the prompt up to `text`, for pronouns."""
    lines: list[Spoken] = []
    quotes = quote_spans(text)
    used: set[int] = set()
    for match in _VERB_THEN_QUOTE.finditer(text):
        if any(a < match.start() < b for a, b in quotes):
            continue
        span = next(((a, b) for a, b in quotes if a == match.end()), None)
        if span is None:
            continue
        used.add(span[0])
        speaker, named = _subject(text, match.start(), cast, before)
        if speaker is None and fallback_speaker is None and language_of(text[: match.start()]) == "zh":
            speaker = _topic(before + text[: match.start()], cast)  # the shot before is about someone: them
        _append(lines, text, span, speaker or fallback_speaker, match.start(), named)
    for a, b in quotes:  # the quotation first: "…," says Image 2 / "…" Image 1 replies / “…”，她说
        if a in used:
            continue
        speaker, named = _said_after(text, a, b, cast, before)
        if speaker is not None:
            _append(lines, text, (a, b), speaker, a, named)
            continue
        if any(p.match(text[b:]) for p in (_QUOTE_THEN_VERB, _EN_AFTER, _ZH_AFTER)):  # said by someone unnamed
            _append(lines, text, (a, b), _subject(text, a, cast, before)[0] or fallback_speaker, a, False)
            continue
        ahead = text[max(0, a - 30) : a]
        named_before = re.search(rf"(?i)({_EN_VERB})\s*$", ahead) is None and cast.mentions(ahead)
        if named_before and re.search(rf"(?i)\b{_EN_VERB}\b", text[b : b + 30]):
            _append(lines, text, (a, b), named_before[-1].label, a, True)
    lines.sort(key=lambda line: line.position)
    return lines


def _said_after(text: str, a: int, b: int, cast: Cast, before: str) -> tuple[str | None, bool]:
    """Who the words after a quotation say said it: "…," says Image 2 / "…," Image 2 says / "…," said the girl /
    "…," she said / “…”，图1说 / “…”她说."""
    rest = text[b:]
    after = _QUOTE_THEN_VERB.match(rest)
    if after:
        named = cast.labels_in(after.group("after"))
        if named:
            return named[0], True
        who = _who(after.group("after"), cast, before + text[:a])
        if who[0] is not None:
            return who
    named = _named_then_verb(rest, cast)
    if named:
        return named, True
    for pattern in (_EN_AFTER, _ZH_AFTER):
        said = pattern.match(rest)
        if said:
            return _who(said.group("who"), cast, before + text[:a])
    return None, False


def _who(words: str, cast: Cast, context: str) -> tuple[str | None, bool]:
    """The speaker some words name: a reference they start with, a role noun, or a pronoun."""
    mentions = cast.mentions(words)
    if mentions and not words[: mentions[0].start].strip(" ,，"):
        return mentions[0].label, True
    role = ROLE_AT_START.match(words)
    if role:
        return named_by_role(role.group("w"), cast), True
    pronoun = PRONOUN_AT_START.match(words)
    if pronoun:
        return referent(pronoun.group("p"), context, cast), False
    return None, False


def _named_then_verb(rest: str, cast: Cast) -> str | None:
    """The reference named right after a quotation when a speech verb follows it ("…," Image 2 says)."""
    lead = re.match(r"\s*[,，]?\s*", rest).end()
    mentions = cast.mentions(rest[: lead + 40])
    if mentions and mentions[0].start == lead and re.match(rf"\s*(?i:{_EN_VERB})\b", rest[mentions[0].end :]):
        return mentions[0].label
    return None


def _append(lines: list[Spoken], text: str, span: tuple[int, int], speaker: str | None, position: int,
            named: bool) -> None:  # fmt: skip
    a, b = span
    inner = text[a + 1 : b - 1] if text[b - 1 : b] == CLOSE_FOR.get(text[a], "") else text[a + 1 : b]
    inner = inner.strip().strip("，,")
    if inner:
        lines.append(Spoken(speaker, inner, language_of(inner), position, named and speaker is not None))


def clause_subject(text: str, position: int, cast: Cast, before: str = "") -> str | None:
    """The speaker of a verb at `position`: the subject of its clause (see _subject)."""
    return _subject(text, position, cast, before)[0]


def _subject(text: str, position: int, cast: Cast, before: str) -> tuple[str | None, bool]:
    """(speaker, named) for a speech verb at `position`: going back clause by clause through the sentence, the
    first clause that starts with a reference, a role noun or a pronoun (resolved by subject continuity); a
    Chinese sentence without a subject goes on with the topic of the text before it."""
    head = text[:position]
    stops = [m.start() for m in _ENGLISH_STOP.finditer(head)]  # "Video 1 picks up Image 2. He says"
    sentence_start = max([head.rfind(ch) for ch in "。！？!?；;\n"] + stops[-1:])
    base = sentence_start + 1
    base += _after_spoken_line(head[base:])  # 图1说：“你好”图2说 -> 图2说
    sentence = head[base:]
    english = language_of(sentence) == "en"
    right_before = [m for m in cast.mentions(sentence) if not sentence[m.end :].strip()]
    if right_before and english:  # English puts the subject before its verb: "… Image 2 says"
        return right_before[-1].label, True
    for offset, clause in reversed(clauses(sentence, marks=CLAUSE_MARKS)):  # "近景：图1说" -> "图1说"
        body = strip_lead(clause)
        at = base + offset + len(clause) - len(body)
        mentions = cast.mentions(body)
        if mentions and mentions[0].start <= lead_allowance(body):
            return mentions[0].label, True
        role = ROLE_AT_START.match(body)
        if role and named_by_role(role.group("w"), cast):
            return named_by_role(role.group("w"), cast), True
        pronoun = PRONOUN_AT_START.match(body) or (PRONOUN_AT_END.search(body) if english else None)
        if pronoun:
            return referent(pronoun.group("p"), before + text[: at + pronoun.start("p")], cast), False
        if english and not re.match(r"(?i)\s*(?:to|at|toward|with|past|from|in|on)\b", body):
            people = [m for m in mentions if not strong_object(cast.member(m.label))]
            if people:
                return people[0].label, True
    if not english and not cast.mentions(sentence):  # Chinese drops a known subject: 视频1拿起图2。笑着说：
        return _topic(text[:base], cast), False
    return None, False


def _topic(context: str, cast: Cast) -> str | None:
    """The person the text before is about (the most recent clause subject that is not an object)."""
    discourse = Discourse(cast).read(context)
    return next((label for label in reversed(discourse.topics) if not strong_object(cast.member(label))), None)


def _after_spoken_line(sentence: str) -> int:
    """Where the last line spoken in `sentence` ends (0 if none): the clause of the next speaker starts there."""
    end = 0
    for a, b in quote_spans(sentence):
        if any(m.end() == a for m in _VERB_THEN_QUOTE.finditer(sentence[: a + 1])):
            end = b
    return end


def describe_cast(prompt: str, cast: Cast, places: set[str]) -> Cast:
    """The cast as the prompt tells it (roles.describe), with the references it names as speakers: a reference
    that says a line is a person even when its picture shows no face (a drawn character)."""
    described = describe(prompt, cast, places)
    speakers = {line.speaker for line in find_lines(prompt, described) if line.named and line.speaker}
    return describe(prompt, cast, places, speakers)
