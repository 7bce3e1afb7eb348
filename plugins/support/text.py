"""Text helpers the responder shares: sentences, joining a reply's parts (content words:
pitchcraft.text.words)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pitchcraft.store.schema import Language

# A full stop ends a sentence when followed by a space, not after a capital ("P.O. box").
SENTENCE = re.compile(r"[^。！？!?\n]+?(?:[。！？!?]|(?<![A-Z])\.(?=\s|$)|$)", re.MULTILINE)
BULLET = re.compile(r"^\s*[-*•]\s*")


def split_sentences(text: str) -> list[str]:
    """Sentences of prose; a bullet stays whole (its first words say what it is about)."""
    out: list[str] = []
    for line in text.splitlines():
        if BULLET.match(line):
            out.append(BULLET.sub("", line).strip())
        else:
            out += [s.strip() for s in SENTENCE.findall(line)]
    return [s for s in out if len(s) > 2]


def join_sentences(parts: Iterable[str], language: Language) -> str:
    """Chinese sentences run on; English ones are separated by a space."""
    return ("" if language == "zh" else " ").join(parts)
