"""Content words of a text in either language (jieba for Chinese), for comparing what
a text says with its sources."""

from __future__ import annotations

import re

from pitchcraft.store.keyword import tokenize

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
