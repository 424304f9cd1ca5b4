"""Cutting a prompt into shot texts: explicit timings first, then numbered shot lists, else sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass

OPEN_QUOTES = "“\"「『‘'"
CLOSE_FOR = {"“": "”", '"': '"', "「": "」", "『": "』", "‘": "’", "'": "'"}

_NUM = r"(\d+(?:\.\d+)?)"
_DASH = r"\s*(?:-|–|—|~|～|至|到)\s*"
_TIMED = re.compile(
    rf"(?:第\s*\d+\s*个?\s*镜头\s*[:：]?\s*|(?i:shot\s*\d+\s*[:：]?\s*))?"
    rf"(?:[\[【(（]\s*{_NUM}\s*(?:s|秒|sec)?{_DASH}{_NUM}\s*(?:s|秒|sec|seconds)?\s*[\]】)）]"
    rf"|(?<![\d.]){_NUM}\s*(?:s|秒)?{_DASH}{_NUM}\s*(?:s|秒|sec|seconds)\s*[:：,，]?)"
)
_NUMBERED = re.compile(r"(?:^|(?<=[\s:：。；;，,!！?？]))(?:镜头\s*|(?i:shot)\s*)?(\d{1,2})\s*[.．、)）:：](?!\d)")
_NAMES_BEFORE = re.compile(r"(?i)(?:image|video|img|photo|picture|character|图片?|视频)\s*$")  # "Image 1." is no list
_SHOT_WORD = re.compile(r"(?:镜头\s*|(?i:shot)\s*)(\d{1,2})\s*[:：.．、]?")
_SENTENCE_END = "。！？!?；;\n"
# The Chinese speech verbs (dialogue.py reads lines by them; longer forms first, so that 说道 is not read as 说).
ZH_SPEECH_VERB = r"(?:说道|说着|说|问道|问|回答道|回答|答道|答|喊道|大喊|喊|叫道|唱道|念道|嘀咕|道)"
# After a quotation, its speaker and a speech verb ending the sentence (“快来看！”图1喊道。): the same sentence.
_SAID_AFTER = re.compile(rf"[^，,。！？!?；;“”\"「」『』\n]{{1,12}}?{ZH_SPEECH_VERB}\s*(?:[。！？.!?]|$)")


@dataclass
class Piece:
    text: str
    start: int  # offset in the prompt
    times: tuple[float, float] | None = None


def quote_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every quoted passage, quotes included; an unclosed quote runs to the end."""
    spans, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch in OPEN_QUOTES and (ch != "'" or _opens_single_quote(text, i)):
            close = text.find(CLOSE_FOR[ch], i + 1)
            end = len(text) if close < 0 else close + 1
            spans.append((i, end))
            i = end
        else:
            i += 1
    return spans


def _opens_single_quote(text: str, i: int) -> bool:
    """An ASCII ' opens a quote only after a colon, a space or the start, not inside a word (don't)."""
    return i == 0 or text[i - 1] in " \t:：,，" and text.find("'", i + 1) > i + 1


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    return any(a < pos < b for a, b in spans)


def split(prompt: str) -> tuple[str, list[Piece], str]:
    """(preamble, shot pieces, how): how is "timed", "numbered" or "sentences"."""
    quotes = quote_spans(prompt)
    timed = [m for m in _TIMED.finditer(prompt) if not _inside(quotes, m.start())]
    if timed:
        pieces = []
        for i, m in enumerate(timed):
            end = timed[i + 1].start() if i + 1 < len(timed) else len(prompt)
            a, b = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(3), m.group(4))
            pieces.append(Piece(prompt[m.end() : end].strip(" ，,。;；\n"), m.end(), (float(a), float(b))))
        return prompt[: timed[0].start()].strip(), [p for p in pieces if p.text or p.times], "timed"
    numbered = _numbered(prompt, quotes)
    if len(numbered) >= 2:
        pieces = []
        for i, m in enumerate(numbered):
            end = numbered[i + 1].start() if i + 1 < len(numbered) else len(prompt)
            pieces.append(Piece(prompt[m.end() : end].strip(" ，,;；\n"), m.end()))
        return prompt[: numbered[0].start()].strip(), pieces, "numbered"
    return "", sentences(prompt, quotes), "sentences"


def _numbered(prompt: str, quotes) -> list[re.Match]:
    """The longest run of list markers numbered 1, 2, 3… in order (so that "图1" or a stray "3." is not one)."""
    candidates = [
        m
        for m in _NUMBERED.finditer(prompt)
        if not _inside(quotes, m.start()) and not _NAMES_BEFORE.search(prompt[max(0, m.start() - 12) : m.start()])
    ]
    candidates += [m for m in _SHOT_WORD.finditer(prompt) if not _inside(quotes, m.start())]
    candidates.sort(key=lambda m: m.start())
    run: list[re.Match] = []
    for m in candidates:
        if int(m.group(1)) == len(run) + 1 and (not run or m.start() >= run[-1].end()):
            run.append(m)
    return run


def sentences(text: str, quotes=None, offset: int = 0) -> list[Piece]:
    """Sentences, cut after 。！？!?；; and line ends (and ". " in English), never inside a quotation."""
    quotes = quote_spans(text) if quotes is None else quotes
    # A quotation that ends its sentence inside the quotes (“今天的阳光真好。”) ends it after the closing quote.
    # Not when the sentence goes on ("Watch out!" shouts Image 2 / “快跑！”，他喊道).
    closing = {
        b - 1
        for a, b in quotes
        if b - a >= 3
        and text[b - 2] in "。！？!?.…"
        and not re.match(r"\s*(?:[a-z,，]|$)", text[b : b + 3])
        and not _SAID_AFTER.match(text[b:])
    }
    pieces, start = [], 0
    for i, ch in enumerate(text):
        ends = ch in _SENTENCE_END or (ch == "." and (i + 1 == len(text) or text[i + 1] in " \n"))
        ends = (ends and not _inside(quotes, i)) or (
            i in closing and text[i + 1 : i + 2] not in ("。", "！", "？", "，")
        )
        if ends:
            _add(pieces, text, start, i + 1, offset)
            start = i + 1
    _add(pieces, text, start, len(text), offset)
    return pieces


def _add(pieces: list[Piece], text: str, a: int, b: int, offset: int) -> None:
    chunk = text[a:b]
    stripped = chunk.strip(" \n\t")
    if stripped.strip("。！？!?；;.,，、”’」』\"'"):
        pieces.append(Piece(stripped, offset + a + chunk.find(stripped)))
    elif pieces and stripped:  # a lone closing quote or mark: keep it with the sentence before
        pieces[-1].text += stripped


def clauses(text: str, marks: str = "，,；;、") -> list[tuple[int, str]]:
    """(offset, clause) split at `marks` (commas and semicolons) outside quotations."""
    quotes = quote_spans(text)
    found, start = [], 0
    for i, ch in enumerate(text):
        if ch in marks and not _inside(quotes, i):
            found.append((start, text[start:i]))
            start = i + 1
    found.append((start, text[start:]))
    return found
