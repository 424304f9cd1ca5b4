"""Content moderation: the Moderator port (prompt in, video out) and its first implementation, a word list.

Off by default. With R2V_MODERATION_WORDS_FILE set, a prompt containing a listed word is refused at create
time with 400 DataInspectionFailed, and a finished video whose text (the prompt the engine actually used) does
is failed with the same code, as the cloud does. Other moderators (an image classifier, a remote service) plug
in behind the same two methods."""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from pathlib import Path

MSG_INPUT_REFUSED = "Input data may contain inappropriate content."
MSG_OUTPUT_REFUSED = "Output data may contain inappropriate content."


class Moderator(ABC):
    @abstractmethod
    def refuses_text(self, text: str) -> bool:
        """True if this prompt must not be rendered."""

    @abstractmethod
    def refuses_video(self, video: Path, text: str) -> bool:
        """True if this finished video (made from `text`) must not be delivered."""


def _normalise(text: str) -> str:
    """Case-folded NFKC text without spaces, punctuation or invisible characters, so that "B a D", "ＢＡＤ" and
    "b\u200bad" all match "bad"."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN")


class WordListModerator(Moderator):
    def __init__(self, words: list[str]):
        self.words = sorted({w for w in map(_normalise, words) if w})

    @classmethod
    def from_file(cls, path: Path) -> WordListModerator:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return cls([line for line in lines if line.strip() and not line.lstrip().startswith("#")])

    def refuses_text(self, text: str) -> bool:
        flat = _normalise(text)
        return any(word in flat for word in self.words)

    def refuses_video(self, video: Path, text: str) -> bool:
        return self.refuses_text(text)
