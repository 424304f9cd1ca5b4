"""Who a pronoun (他/她/它/他们, he/she/it/they) or a role noun (女孩, the old man) stands for.

Subject continuity: the text before the pronoun is read clause by clause, and the subject of each clause (the
reference it starts with) becomes the topic; a clause that starts with its verb keeps the topic ("视频1拿起图2，
看向图1。他说" → 视频1, not 图1, the last name). A pronoun is the most recent topic it fits, else the most recent
reference it fits. It fits: a person (an object the prompt names as one never stands for 他/she), of the
pronoun's gender when the prompt gives one. A reference of the pronoun's own gender is preferred over one whose
gender nobody gave (for 它/it: a robot or an animal over a human); one the prompt does not make an object but
whose picture shows no face comes last."""

from __future__ import annotations

import re

from r2v.director.cast import Cast, Member
from r2v.director.roles import FEMALE, MALE, NOT_HUMAN, ROLE_AT_START, named_by_role, strong_object
from r2v.director.segment import clauses, quote_spans, sentences

THING, GROUP = "thing", "group"
_KINDS = {"他们": GROUP, "她们": GROUP, "两人": GROUP, "二人": GROUP, "他": MALE, "她": FEMALE, "它": THING,
          "he": MALE, "she": FEMALE, "it": THING, "they": GROUP}  # fmt: skip
PRONOUN_AT_START = re.compile(r"^\s*(?P<p>他们|她们|两人|二人|他|她|它|(?i:he|she|they|it)\b)")
PRONOUN_AT_END = re.compile(r"(?i)\b(?P<p>he|she|they|it)\s+(?:\w+ly\s+)?$")  # "Next to Image 2 she | says"
CONNECTORS = re.compile(
    r"^\s*(?:并且|并|然后|接着|随后|同时|又|再|便|就|于是|最后|一边|边|还|也|and|then|while|as|before|after)\s*",
    re.IGNORECASE,
)
CLAUSE_MARKS = "，,；;、：:"


def lead_allowance(clause: str) -> int:
    """How far into a clause its subject may start: "The girl in Image 1 says" names Image 1 a few words in."""
    match = re.match(r"(?i)\s*(?:the|a|an)\s+\w+\s+(?:in|from|of)\s+", clause)
    return match.end() if match else len(clause) - len(clause.lstrip())


def strip_lead(clause: str) -> str:
    """The clause without the connectors and closing quotes it starts with."""
    return CONNECTORS.sub("", clause.lstrip(" ”\"」』’'"))


class Discourse:
    """The topics (clause subjects) and the references named, in the order the text gives them."""

    def __init__(self, cast: Cast):
        self.cast = cast
        self.topics: list[str] = []
        self.named: list[str] = []

    def read(self, text: str) -> Discourse:
        masked = list(text)
        for a, b in quote_spans(text):  # what is said inside a line is not the scene's narration
            masked[a:b] = " " * (b - a)
        for sentence in sentences("".join(masked)):
            for _, clause in clauses(sentence.text, marks=CLAUSE_MARKS):
                subject = self.subject(clause)
                self.named += [m.label for m in self.cast.mentions(clause)]
                if subject is not None:
                    self.topics.append(subject)
                    self.named.append(subject)
        return self

    def subject(self, clause: str) -> str | None:
        """The reference a clause starts with, a role noun's or a pronoun's (None: the topic goes on)."""
        body = strip_lead(clause)
        mentions = self.cast.mentions(body)
        if mentions and mentions[0].start <= lead_allowance(body):
            return mentions[0].label
        role = ROLE_AT_START.match(body)
        if role:
            return named_by_role(role.group("w"), self.cast)
        pronoun = PRONOUN_AT_START.match(body)
        return self.resolve(pronoun.group("p")) if pronoun else None

    def resolve(self, pronoun: str) -> str | None:
        kind = _KINDS[pronoun.lower()]
        order = list(dict.fromkeys([*reversed(self.topics), *reversed(self.named)]))
        members = [self.cast.member(label) for label in order]
        passes = (
            lambda m: m.person is not False and kind in (MALE, FEMALE) and m.gender == kind,
            lambda m: m.person is not False and kind == THING and bool(NOT_HUMAN & set(m.words)),  # 它: the robot
            lambda m: m.person is not False and _fits(m, kind),
            lambda m: not strong_object(m) and _fits(m, kind),
        )
        for accept in passes:
            found = next((m.label for m in members if accept(m)), None)
            if found is not None:
                return found
        return None


def _fits(member: Member, kind: str) -> bool:
    if kind == MALE:
        return member.gender != FEMALE
    if kind == FEMALE:
        return member.gender != MALE
    return True


def referent(pronoun: str, before: str, cast: Cast) -> str | None:
    """The reference `pronoun` stands for, after the text `before` it."""
    return Discourse(cast).read(before).resolve(pronoun)
