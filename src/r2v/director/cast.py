"""Who and what a prompt can name: the task's references, and where the text mentions each of them."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    label: str  # canonical: 图1, 视频2 (wan2.7) or character1 (wan2.6)
    kind: str  # "image" | "video"
    # A person or an object. From the references (worker/pipeline.py): True for a video, a voice, or a picture
    # with a face or a human figure; False for a picture without; None when unknown (a Cast made from labels).
    # The director's describe() (roles.py) then weighs the prompt's words and sets the final answer.
    person: bool | None = None
    evidence: str = ""  # what decided `person`: "video", "voice", "picture"; after describe() also "prompt", ...
    gender: str | None = None  # "female" | "male", from the prompt's words (roles.py)
    age: str | None = None  # "child" | "adult" | "old", from the prompt's words
    words: tuple[str, ...] = ()  # the role words the prompt gives it (女孩, old man): "the girl says" finds it


def aliases(member: Member, only_one: bool) -> list[str]:
    """Regular expressions that name this member in Chinese or English text."""
    number = re.search(r"\d+$", member.label).group()
    n = rf"{number}(?!\d)"
    if member.label.startswith("character"):
        found = [rf"(?i:character\s*{n})"]
    elif member.kind == "image":
        found = [rf"图片?\s*{n}", rf"(?i:\b(?:image|img|picture|photo)\s*#?\s*{n})"]
    else:
        found = [rf"视频\s*{n}", rf"(?i:\bvideo\s*#?\s*{n})"]
    if only_one:  # the guide: a single reference may be called 参考图片 / 参考视频 / "the reference image"
        found += [r"参考(?:图片|图像|图|视频|素材)", r"(?i:\b(?:the\s+)?reference\s+(?:image|picture|photo|video))"]
    return found


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    label: str


class Cast:
    """The references of one task, in request order, and a finder for their mentions in text."""

    def __init__(self, members: list[Member]):
        self.members = members
        patterns = []
        for i, member in enumerate(members):
            for alias in aliases(member, only_one=len(members) == 1):
                patterns.append(f"(?P<m{i}_{len(patterns)}>{alias})")
        self._finder = re.compile("|".join(patterns)) if patterns else None

    @classmethod
    def of(cls, labels_and_kinds: list[tuple[str, str]]) -> Cast:
        return cls([Member(label, kind) for label, kind in labels_and_kinds])

    @property
    def labels(self) -> list[str]:
        return [m.label for m in self.members]

    def kind(self, label: str) -> str:
        return self.member(label).kind

    def member(self, label: str) -> Member:
        return next(m for m in self.members if m.label == label)

    def mentions(self, text: str) -> list[Mention]:
        if self._finder is None:
            return []
        found = []
        for match in self._finder.finditer(text):
            group = next(name for name, value in match.groupdict().items() if value is not None)
            index = int(group[1:].split("_")[0])
            found.append(Mention(match.start(), match.end(), self.members[index].label))
        return found

    def labels_in(self, text: str) -> list[str]:
        """The members a text names, each once, in order of first mention."""
        return list(dict.fromkeys(m.label for m in self.mentions(text)))
