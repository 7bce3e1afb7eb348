"""Reply drafts for negative reviews: polite, in the review's language, never admitting liability.

The shared model drafts; the draft is refused when it is too short to be a whole
reply, in the wrong language, or holds a phrase the shop must not say in public
(data/replies.yaml), and a template reply naming the complaints is used instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from pitchcraft.store.schema import detect_language

MAX_REPLY_CHARS = 400


class ReplyRules(BaseModel):
    key: str
    forbidden: list[str]
    template: str
    about: str
    joiner: str
    min_chars: int = Field(default=0, ge=0, description="Shorter drafts are cut off: refused.")


class DraftReply(BaseModel):
    reply: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)


def reply_problems(reply: str, language: str, rules: ReplyRules) -> list[str]:
    """Why a drafted reply must not be posted (empty when it may)."""
    problems = []
    if len(reply) < rules.min_chars:
        problems.append(f"shorter than {rules.min_chars} characters")
    if detect_language(reply) != language:
        problems.append(f"not written in {language}")
    lowered = reply.lower()
    problems += [f"says {p!r}" for p in rules.forbidden if p.lower() in lowered]
    return problems


def template_reply(complaints: Sequence[str], rules: ReplyRules) -> str:
    about = rules.about.format(aspects=rules.joiner.join(complaints)) if complaints else ""
    return rules.template.format(about=about)
