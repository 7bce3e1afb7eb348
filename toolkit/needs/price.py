"""Price limits stated in a free-text need: "under 300 yuan", "$20-50", "300元以内"."""

from __future__ import annotations

import re
from typing import NamedTuple

from pitchcraft.text.grounding import (
    CURRENCY_AFTER,
    CURRENCY_BEFORE,
    NUMBER,
    to_float,
)

SPOKEN_AFTER = {**CURRENCY_AFTER, "yuan": "CNY", "bucks": "USD", "usd": "USD", "rmb": "CNY"}
_before = "|".join(re.escape(c) for c in sorted(CURRENCY_BEFORE, key=len, reverse=True))
_after = "|".join(re.escape(c) for c in sorted(SPOKEN_AFTER, key=len, reverse=True))
AMOUNT = rf"(?P<cb>{_before})?\s?(?P<n>{NUMBER.pattern})\s?(?P<ca>{_after})?(?![A-Za-z\d])"
UPPER_BEFORE = re.compile(
    rf"(?:under|below|less than|at most|up to|max(?:imum)?|no more than|within|budget(?: of)?|"
    rf"不超过|不到|低于|少于|最多|预算)\s*{AMOUNT}",
    re.IGNORECASE,
)
UPPER_AFTER = re.compile(rf"{AMOUNT}\s*(?:以内|以下|之内|内|or less|and under|max)", re.IGNORECASE)
LOWER_BEFORE = re.compile(
    rf"(?:over|above|more than|at least|不低于|至少|高于)\s*{AMOUNT}", re.IGNORECASE
)
LOWER_AFTER = re.compile(rf"{AMOUNT}\s*(?:以上|起|or more|and up)", re.IGNORECASE)
RANGE = re.compile(
    rf"(?:between\s*)?{AMOUNT}\s*(?:-|–|~|到|至|and|to)\s*"
    rf"(?P<cb2>{_before})?\s?(?P<n2>{NUMBER.pattern})\s?(?P<ca2>{_after})?",
    re.IGNORECASE,
)


class PriceLimits(NamedTuple):
    low: float | None
    high: float | None
    currency: str | None  # as stated; None when the need names none
    rest: str  # the need without its price phrases (what to search by)


def _currency(match: re.Match[str], *groups: str) -> str | None:
    for group in groups:
        token = match.groupdict().get(group)
        if token:
            table = CURRENCY_BEFORE if group.startswith("cb") else SPOKEN_AFTER
            return table.get(token) or table.get(token.lower()) or table.get(token.upper())
    return None


def price_limits(need: str) -> PriceLimits:
    """The price range a need states, if any (a range first, then an upper, a lower bound)."""
    if m := RANGE.search(need):
        currency = _currency(m, "cb", "ca", "cb2", "ca2")
        if currency or re.search(r"between|到|至", m.group(0), re.IGNORECASE):
            low, high = sorted((to_float(m["n"]), to_float(m["n2"])))
            return PriceLimits(low, high, currency, _cut(need, [m]))
    high = low = None
    currency = None
    found = []
    if m := UPPER_BEFORE.search(need) or UPPER_AFTER.search(need):
        high, currency = to_float(m["n"]), _currency(m, "cb", "ca")
        found.append(m)
    if m := LOWER_BEFORE.search(need) or LOWER_AFTER.search(need):
        low, currency = to_float(m["n"]), currency or _currency(m, "cb", "ca")
        found.append(m)
    return PriceLimits(low, high, currency, _cut(need, found))


def _cut(text: str, matches: list[re.Match[str]]) -> str:
    for m in sorted(matches, key=lambda m: -m.start()):
        text = text[: m.start()] + " " + text[m.end() :]
    return re.sub(r"\s+", " ", text).strip(" ,，;；")
