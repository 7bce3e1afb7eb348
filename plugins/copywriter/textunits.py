"""Lengths as platforms count them, and cutting text to fit at a natural boundary."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Unit = Literal["chars", "width", "utf8_bytes"]
# Where a cut reads naturally: after sentence or clause punctuation, or at a space.
BOUNDARY = re.compile(r"[。！？!?；;，,、：:]|\s")
TRAILING = " \t\n,，、;；:：-–—/|·"
BRACKET_PAIRS = ("()", "（）", "[]", "【】", "“”", "《》")
# Text that ends on a heading's colon or a word that needs another after it ("... by",
# "...的") was cut from a sentence.
ENDS_OPEN = re.compile(
    r"(?:[:：]|\b(?:a|an|the|and|or|of|to|for|with|by|from|in|on|at|as|your|our|its|w/)"
    r"|[的和与及或为把被在])\s*$",
    re.IGNORECASE,
)


def char_cost(char: str, unit: Unit) -> int:
    if unit == "chars":
        return 1
    if unit == "width":
        return 2 if is_cjk(char) else 1
    return len(char.encode("utf-8"))


def measure(text: str, unit: Unit) -> int:
    if unit == "chars":
        return len(text)
    return sum(char_cost(c, unit) for c in text)


def fit(text: str, limit: int, unit: Unit) -> str:
    """`text` cut to at most `limit`, at the last natural boundary when one is not too early."""
    text = text.strip()
    if measure(text, unit) <= limit:
        return text
    used, end = 0, 0
    for i, char in enumerate(text):
        used += char_cost(char, unit)
        if used > limit:
            break
        end = i + 1
    prefix = text[:end]
    if not BOUNDARY.match(text[end]):  # the cut falls inside a phrase: back off to a boundary
        cuts = [m.start() if m.group().isspace() else m.end() for m in BOUNDARY.finditer(prefix)]
        late = [c for c in cuts if c >= end // 2]
        if late:
            prefix = prefix[: late[-1]]
    prefix = without_open_bracket(prefix.rstrip(TRAILING))
    for _ in range(3):  # "... for remotes, toys a" -> "... for remotes, toys"
        shorter = ENDS_OPEN.sub("", prefix).rstrip(TRAILING)
        if shorter == prefix or not shorter:
            break
        prefix = shorter
    return prefix


def without_open_bracket(text: str) -> str:
    """A cut inside brackets ends before them: "Knits — Tops (item" -> "Knits — Tops"."""
    for left, right in BRACKET_PAIRS:
        while text.count(left) > text.count(right) and text.rfind(left) > 0:
            text = text[: text.rfind(left)].rstrip(TRAILING)
    return text


def is_cjk(char: str) -> bool:
    """Full-width (Chinese, Japanese, Korean) characters, which platforms count double."""
    return unicodedata.east_asian_width(char) in ("W", "F")
