"""The escalation policy: which messages go to a human, and which words try to steer the agent.

Rules live here in code and in data/cues.yaml, never in a prompt, so nothing a
customer or a document says can switch them off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cached_property

from pydantic import BaseModel, Field

from pitchcraft.plugins.support.models import EscalationReason, SupportOptions
from pitchcraft.plugins.support.text import SENTENCE

CUE_REASONS: tuple[EscalationReason, ...] = (
    "asked_for_human",
    "legal_threat",
    "safety_issue",
    "refund_dispute",
    "personal_data",
)
CUE_SIGNALS = ("anger", "complaint", "injection", "order_lookup", "return_request")
SHOUTED = re.compile(r"\b[A-Z]{4,}\b")


class CueList(BaseModel):
    key: str
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)

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
        return hits


class Cues:
    def __init__(self, lists: dict[str, CueList]) -> None:
        missing = {*CUE_REASONS, *CUE_SIGNALS} - set(lists)
        if missing:
            raise ValueError(f"support cues lack {sorted(missing)}")
        self.lists = lists

    def reasons(self, text: str) -> list[EscalationReason]:
        return [r for r in CUE_REASONS if self.lists[r].found(text)]

    def anger_cues(self, text: str) -> list[str]:
        cues = self.lists["anger"].found(text)
        if "!!" in text or "！！" in text:
            cues.append("!!")
        cues += SHOUTED.findall(text)
        return cues

    def is_injection(self, text: str) -> bool:
        return bool(self.lists["injection"].found(text))

    def without_instructions(self, text: str) -> str:
        """`text` minus the sentences that try to instruct the agent."""
        kept = [s for s in SENTENCE.findall(text) if not self.is_injection(s)]
        return "".join(kept).strip()


def is_angry(
    negative_confidence: float, anger_cues: Sequence[str], options: SupportOptions
) -> bool:
    """Negative with high confidence and at least one cue, or several cues on their own."""
    strong = negative_confidence >= options.anger_confidence
    return (strong and len(anger_cues) >= 1) or len(anger_cues) >= 3


def enabled(reasons: Iterable[EscalationReason], options: SupportOptions) -> list[EscalationReason]:
    allowed = set(options.escalate_on)
    return list(dict.fromkeys(r for r in reasons if r in allowed))
