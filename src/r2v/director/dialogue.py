"""Dialogue in a prompt: quoted lines after a speech verb (X说：“…”, 并说道“…”, X says: "…", "…," says X),
each with its speaker (a reference label) and language."""

from __future__ import annotations

import re
from dataclasses import dataclass

from r2v.director.cast import Cast
from r2v.director.segment import CLOSE_FOR, OPEN_QUOTES, clauses, quote_spans

_ZH_VERB = r"(?:说道|说着|说|问道|问|回答道|回答|答道|答|喊道|大喊|喊|叫道|唱道|念道|嘀咕|道)"
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
_CONNECTORS = re.compile(
    r"^\s*(?:并且|并|然后|接着|随后|同时|又|再|便|就|于是|最后|一边|边|还|也|and|then|while|as|before|after)\s*",
    re.IGNORECASE,
)
_ZH_PRONOUN = re.compile(r"^\s*(?:他们|她们|他|她|它|两人|二人|对方)")
_EN_PRONOUN = re.compile(r"(?i)^\s*(?:he|she|they|it)\b")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Spoken:
    speaker: str | None
    text: str
    language: str
    position: int  # offset of the line's verb (or quote) in the text it was found in


def language_of(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


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
        speaker = clause_subject(text, match.start(), cast, before) or fallback_speaker
        _append(lines, text, span, speaker, match.start())
    for a, b in quotes:  # English: "…," says Image 2 / "…" Image 1 replies
        if a in used:
            continue
        after = _QUOTE_THEN_VERB.match(text[b:])
        if after:
            named = cast.labels_in(after.group("after"))
            speaker = named[0] if named else clause_subject(text, a, cast, before) or fallback_speaker
            _append(lines, text, (a, b), speaker, a)
            continue
        named_after = _named_then_verb(text[b:], cast)
        if named_after:
            _append(lines, text, (a, b), named_after, a)
            continue
        before = text[max(0, a - 30) : a]
        named_before = re.search(rf"(?i)({_EN_VERB})\s*$", before) is None and cast.mentions(before)
        if named_before and re.search(rf"(?i)\b{_EN_VERB}\b", text[b : b + 30]):
            _append(lines, text, (a, b), named_before[-1].label, a)
    lines.sort(key=lambda line: line.position)
    return lines


def _named_then_verb(rest: str, cast: Cast) -> str | None:
    """The reference named right after a quotation when a speech verb follows it ("…," Image 2 says)."""
    lead = re.match(r"\s*[,，]?\s*", rest).end()
    mentions = cast.mentions(rest[: lead + 40])
    if mentions and mentions[0].start == lead and re.match(rf"\s*(?i:{_EN_VERB})\b", rest[mentions[0].end :]):
        return mentions[0].label
    return None


def _append(lines: list[Spoken], text: str, span: tuple[int, int], speaker: str | None, position: int) -> None:
    a, b = span
    inner = text[a + 1 : b - 1] if text[b - 1 : b] == CLOSE_FOR.get(text[a], "") else text[a + 1 : b]
    inner = inner.strip().strip("，,")
    if inner:
        lines.append(Spoken(speaker, inner, language_of(inner), position))


def clause_subject(text: str, position: int, cast: Cast, before: str = "") -> str | None:
    """The subject of the clause that holds the speech verb: going back clause by clause through the sentence,
    the first clause that starts with a reference (or a pronoun, resolved to the last person named)."""
    head = text[:position]
    sentence_start = max(head.rfind(ch) for ch in "。！？!?；;\n")
    base = sentence_start + 1
    base += _after_spoken_line(head[base:])  # 图1说：“你好”图2说 -> 图2说
    sentence = head[base:]
    right_before = [m for m in cast.mentions(sentence) if not sentence[m.end :].strip()]
    if right_before and language_of(sentence) == "en":  # English puts the subject before its verb: "… Image 2 says"
        return right_before[-1].label
    for offset, clause in reversed(clauses(sentence, marks="，,；;、：:")):  # "近景：图1说" -> "图1说"
        body = _CONNECTORS.sub("", clause.lstrip(" ”\"」』’'"))
        skipped = len(clause) - len(body)
        mentions = cast.mentions(body)
        if mentions and mentions[0].start <= _lead_allowance(body):
            return mentions[0].label
        if _ZH_PRONOUN.match(body) or _EN_PRONOUN.match(body):
            return last_person(before + text[: base + offset + skipped], cast)
        if mentions and language_of(body) == "en" and not re.match(r"(?i)\s*(?:to|at|toward|with|past|from|in|on)\b",
                                                                  body):  # fmt: skip
            return mentions[0].label
    return None


def _after_spoken_line(sentence: str) -> int:
    """Where the last line spoken in `sentence` ends (0 if none): the clause of the next speaker starts there."""
    end = 0
    for a, b in quote_spans(sentence):
        if any(m.end() == a for m in _VERB_THEN_QUOTE.finditer(sentence[: a + 1])):
            end = b
    return end


def _lead_allowance(clause: str) -> int:
    """How far into a clause its subject may start: "The girl in Image 1 says" names Image 1 a few words in."""
    match = re.match(r"(?i)\s*(?:the|a|an)\s+\w+\s+(?:in|from|of)\s+", clause)
    return match.end() if match else len(clause) - len(clause.lstrip())


def last_person(text: str, cast: Cast) -> str | None:
    mentions = cast.mentions(text)
    return mentions[-1].label if mentions else None
