"""Questions that lean on earlier turns ("does it come in blue?", "那退货呢？") made whole."""

from __future__ import annotations

import re

from pitchcraft.plugins.support.sessions import Focus
from pitchcraft.text.words import content_words

EN_REFERENCES = re.compile(
    r"\b(it|its|it's|this|that|these|those|they|them|the same|this one|that one|what about|"
    r"how about|and for|and if)\b",
    re.IGNORECASE,
)
ZH_REFERENCES = (
    "它",
    "这个",
    "那个",
    "这款",
    "那款",
    "这件",
    "那件",
    "这台",
    "那台",
    "呢",
    "那么",
    "还有",
    "同样",
    "这种",
    "那种",
)
SHORT = 2  # content words: a question this short cannot stand alone


def depends_on_context(message: str) -> bool:
    words = content_words(message)
    refers = bool(EN_REFERENCES.search(message)) or any(w in message for w in ZH_REFERENCES)
    return len(words) <= SHORT or (refers and len(words) <= 2 * SHORT)


def rewrite(message: str, focus: Focus) -> str:
    """The message with what it refers to prepended (the product in focus, else the
    previous question); unchanged when it stands alone or nothing came before."""
    if not depends_on_context(message):
        return message
    if focus.product_title:
        return f"{focus.product_title} {message}"
    if focus.topic:
        return f"{focus.topic} {message}"
    return message
