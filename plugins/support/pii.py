"""Personal data out of logs and transcripts: e-mail, card and ID numbers, phones, addresses.

Patterns are deliberately greedy where a miss leaks data (any 13-19 digit run
that passes the Luhn check is a card) and narrow where a false hit would hide
what the conversation was about (order numbers and prices stay).
"""

from __future__ import annotations

import re
from collections.abc import Callable

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
CN_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])")
PHONES = (
    re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)"),  # mainland mobile
    re.compile(r"(?<![\w+])(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}(?!\d)"),  # NANP
    re.compile(r"(?<!\w)\+\d{1,3}(?:[ .-]?\d{2,4}){3,5}(?!\d)"),  # other international
    re.compile(r"(?<!\d)0\d{2,3}-\d{7,8}(?!\d)"),  # mainland landline
)
STREET = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Parkway|Pkwy|Highway|Hwy|Circle|Cir"
)
EN_ADDRESS = re.compile(
    rf"\b\d{{1,6}}\s+(?:[A-Z][\w'-]*\.?\s+){{1,4}}(?:{STREET})\b\.?"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Unit|#)\.?\s*\w+)?"
    r"(?:,\s*[A-Z][\w .'-]{1,30})?(?:,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?)?",
    re.IGNORECASE,
)
ZH_ADDRESS = re.compile(
    r"(?:[\u4e00-\u9fa5]{1,8}(?:省|自治区|市|区|县|镇))*"
    r"[\u4e00-\u9fa5\w]{1,15}(?:路|街|大道|巷|弄|胡同)\s*\d{1,5}\s*号"
    r"(?:\s*[\d一二三四五六七八九十]+\s*(?:号楼|栋|幢|单元|楼|层|室|号))*"
)

MASKS = {
    "email": "[email]",
    "card": "[card]",
    "id": "[id]",
    "phone": "[phone]",
    "address": "[address]",
}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _cards(match: re.Match[str]) -> str | None:
    digits = re.sub(r"\D", "", match.group())
    return MASKS["card"] if 13 <= len(digits) <= 19 and luhn_ok(digits) else None


Rule = tuple[str, re.Pattern[str], Callable[[re.Match[str]], str | None] | None]
RULES: tuple[Rule, ...] = (
    ("email", EMAIL, None),
    ("id", CN_ID, None),
    ("card", CARD, _cards),
    *(("phone", pattern, None) for pattern in PHONES),
    ("address", EN_ADDRESS, None),
    ("address", ZH_ADDRESS, None),
)


def redact(text: str) -> tuple[str, list[str]]:
    """(text with personal data masked, the kinds found, in order of first appearance)."""
    found: list[str] = []
    for kind, pattern, check in RULES:

        def mask(match: re.Match[str], kind: str = kind, check: object = check) -> str:
            replacement = check(match) if callable(check) else MASKS[kind]
            if replacement is None:
                return match.group()
            if kind not in found:
                found.append(kind)
            return replacement

        text = pattern.sub(mask, text)
    return text, found
