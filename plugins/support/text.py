"""Text helpers the responder shares: sentences, content words, joining a reply's parts."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pitchcraft.store.keyword import tokenize
from pitchcraft.store.schema import Language

# A full stop ends a sentence when followed by a space, not after a capital ("P.O. box").
SENTENCE = re.compile(r"[^。！？!?\n]+?(?:[。！？!?]|(?<![A-Z])\.(?=\s|$)|$)", re.MULTILINE)
BULLET = re.compile(r"^\s*[-*•]\s*")
STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        """a an the is are was were be do does did can could i you we my your our it its this
        that of to in on for with and or if how what when where which who why will would there
        any me have has about from by at as much many 吗 呢 的 了 我 你 是 在 有 么 什么 怎么 多少
        请问 能 可以 吧""",
    )
)


def stem(word: str) -> str:
    """Crude English suffix stripping, so that refund/refunds/refunded meet."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and word.isascii():
            return word[: -len(suffix)] + keep
    return word


def content_words(text: str) -> set[str]:
    return {stem(w) for w in tokenize(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())}


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
