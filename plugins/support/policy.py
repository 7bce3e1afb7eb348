"""The escalation policy: which messages go to a human, and which words try to steer the agent.

Rules live here in code and in data/cues.yaml, never in a prompt, so nothing a
customer or a document says can switch them off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cached_property

from pydantic import BaseModel, Field, field_validator

from pitchcraft.plugins.support.models import Attack, EscalationReason, SupportOptions

# Cue lists by escalation reason, most urgent first: the first reason found words the reply.
CUE_REASONS: tuple[EscalationReason, ...] = (
    "safety_issue",
    "legal_threat",
    "refund_dispute",
    "personal_data",
    "asked_for_human",
)
# Anger is read from cues and the classifier together; it outranks a plain request for a person.
PRIORITY: tuple[EscalationReason, ...] = (
    *CUE_REASONS[:-1],
    "angry_customer",
    "asked_for_human",
    "weak_retrieval",
    "unsupported_answer",
)
# Cue lists by attack, in the order that words a refusal.
ATTACK_CUES: dict[Attack, str] = {
    "prompt_injection": "injection",
    "others_personal_data": "others_data",
    "unauthorised_offer": "unauthorised_offer",
}
CUE_SIGNALS = ("anger", "complaint", "order_lookup", "return_request", *ATTACK_CUES.values())
SHOUTED = re.compile(r"\b[A-Z]{4,}\b")


class CueList(BaseModel):
    key: str
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)
    # Regular expressions (either language, case-insensitive) for cues that are a shape
    # rather than a phrase, e.g. "manager ... approved ... refund".
    patterns: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"{pattern!r} is not a regular expression: {err}") from None
        return patterns

    @cached_property
    def _shapes(self) -> list[re.Pattern[str]]:
        return [re.compile(p, re.IGNORECASE) for p in self.patterns]

    @cached_property
    def _en_pattern(self) -> re.Pattern[str] | None:
        if not self.en:
            return None
        words = sorted((re.escape(w.lower()) for w in self.en), key=len, reverse=True)
        return re.compile(r"(?<![\w])(?:" + "|".join(words) + r")(?![\w])")

    def found(self, text: str) -> list[str]:
        """The cues in `text` (English on word boundaries, Chinese as substrings)."""
        lowered = text.lower()
        hits = [w for w in self.zh if w.lower() in lowered]
        pattern = self._en_pattern
        if pattern is not None:
            hits += pattern.findall(lowered)
        hits += [m.group(0) for shape in self._shapes if (m := shape.search(text))]
        return hits


class Cues:
    def __init__(self, lists: dict[str, CueList]) -> None:
        missing = {*CUE_REASONS, *CUE_SIGNALS} - set(lists)
        if missing:
            raise ValueError(f"support cues lack {sorted(missing)}")
        self.lists = lists

    def reasons(self, text: str) -> list[EscalationReason]:
        return [r for r in CUE_REASONS if self.lists[r].found(text)]

    def attacks(self, text: str) -> list[Attack]:
        return [a for a, key in ATTACK_CUES.items() if self.lists[key].found(text)]

    def anger_cues(self, text: str) -> list[str]:
        cues = self.lists["anger"].found(text)
        if "!!" in text or "！！" in text:
            cues.append("!!")
        cues += SHOUTED.findall(text)
        return cues

    def is_injection(self, text: str) -> bool:
        return bool(self.lists["injection"].found(text))


ANGRY_CUES = 3  # anger cues that make a message angry on their own


def is_angry(
    negative_confidence: float, anger_cues: Sequence[str], options: SupportOptions
) -> bool:
    """Negative with high confidence and at least one cue, or several cues on their own."""
    strong = negative_confidence >= options.anger_confidence
    return (strong and len(anger_cues) >= 1) or len(anger_cues) >= ANGRY_CUES


def enabled(reasons: Iterable[EscalationReason], options: SupportOptions) -> list[EscalationReason]:
    """The reasons the options escalate on, most urgent first, each once."""
    allowed = set(options.escalate_on)
    return sorted({r for r in reasons if r in allowed}, key=PRIORITY.index)
