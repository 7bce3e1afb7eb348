"""Grounding: every number, price and specification in the copy must come from the facts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from pitchcraft.store.schema import Product
from pitchcraft.text.terms import Lexicon

# A token holding digits: "40-count", "9V", "2032", "20.99", "1,000", "50%".
NUMBER_TOKEN = re.compile(r"[A-Za-z]*\d[\d,.]*(?:[A-Za-z%]+\d*)*(?:-[A-Za-z0-9]+)*")
NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
CN_MEASURES = (
    "个月|小时|分钟|毫升|千克|公斤|英寸|厘米|毫米|"
    "年|天|节|号|升|克|瓦|伏|寸|米|倍|件|包|瓶|片|双|套|档|核|秒|度"
)
CN_NUMBER = re.compile(rf"([零一二两三四五六七八九十百千万]+)(?={CN_MEASURES})")
CURRENCY_BEFORE = {
    "US$": "USD",
    "$": "USD",
    "¥": "CNY",
    "￥": "CNY",
    "€": "EUR",
    "£": "GBP",
    "RMB": "CNY",
    "CNY": "CNY",
    "USD": "USD",
    "EUR": "EUR",
    "GBP": "GBP",
}
CURRENCY_AFTER = {
    "元": "CNY",
    "块钱": "CNY",
    "块": "CNY",
    "美元": "USD",
    "美金": "USD",
    "欧元": "EUR",
    "英镑": "GBP",
    "dollars": "USD",
    "dollar": "USD",
    "USD": "USD",
    "RMB": "CNY",
    "CNY": "CNY",
    "EUR": "EUR",
    "GBP": "GBP",
}
# How a Chinese sentence names each currency after the sum ("89.99美元"): shown a code such as
# "89.99 USD", the small model wrote "89.99元" for dollars.
CURRENCY_NAME_ZH = {"CNY": "元", "USD": "美元", "EUR": "欧元", "GBP": "英镑"}
_before = "|".join(re.escape(c) for c in sorted(CURRENCY_BEFORE, key=len, reverse=True))
# Currencies that are also measure words ("2 块电池" is two batteries, "99块" 99 yuan): money
# only with no noun after them.
MEASURE_WORDS = {"块"}
_after = "|".join(
    re.escape(c) + ("(?![\u4e00-\u9fff])" if c in MEASURE_WORDS else "")
    for c in sorted(CURRENCY_AFTER, key=len, reverse=True)
)
MONEY = re.compile(
    rf"(?P<cb>{_before})\s?(?P<a1>{NUMBER.pattern})"
    rf"|(?P<a2>{NUMBER.pattern})\s?(?P<ca>{_after})(?![A-Za-z])"
)


def price_words(amount: float | str, currency: str, language: str) -> str:
    """A price (or a range, "10–50") as a sentence in `language` writes it: "89.99美元" in
    Chinese, "89.99 USD"."""
    text = f"{amount:g}" if isinstance(amount, float | int) else amount
    if language == "zh" and currency in CURRENCY_NAME_ZH:
        return f"{text}{CURRENCY_NAME_ZH[currency]}"
    return f"{text} {currency}".strip()


def to_float(text: str) -> float:
    return float(text.replace(",", ""))


def money_value(match: re.Match[str]) -> tuple[float, str]:
    """(amount, currency) of a MONEY match: "10 美元" -> (10.0, "USD")."""
    currency = CURRENCY_BEFORE[match["cb"]] if match["cb"] else CURRENCY_AFTER[match["ca"]]
    return to_float(match["a1"] or match["a2"]), currency


def amounts(text: str) -> list[tuple[float, str]]:
    """Each sum of money in `text` with its currency."""
    return [money_value(m) for m in MONEY.finditer(text)]


def chinese_number(text: str) -> int | None:
    """十二 -> 12, 三百五十 -> 350, 五 -> 5; None when it is not a plain numeral."""
    total, current = 0, 0
    for char in text:
        if char in CN_DIGITS:
            current = CN_DIGITS[char]
        elif char in CN_UNITS:
            total += (current or 1) * CN_UNITS[char]
            current = 0
        else:
            return None
    return total + current


class Number(NamedTuple):
    token: str  # as written: "40-count", "十二"
    start: int
    values: list[float]
    chinese: bool


def numbers_in(text: str) -> list[Number]:
    """Each number in `text`: digit tokens first, then Chinese numerals before a unit."""
    found = [
        Number(m.group(), m.start(), [to_float(n) for n in NUMBER.findall(m.group())], False)
        for m in NUMBER_TOKEN.finditer(text)
    ]
    for m in CN_NUMBER.finditer(text):
        value = chinese_number(m.group(1))
        if value is not None and m.group(1) != "一":  # 一 is mostly the article "a"
            found.append(Number(m.group(1), m.start(), [float(value)], True))
    return found


def fact_attributes(product: Product) -> dict[str, object]:
    """The attributes that describe the product (not catalog links such as translation_of)."""
    return {k: v for k, v in product.attributes.items() if k != "translation_of"}


@dataclass
class Facts:
    """What the copy may claim: the product's own words, numbers and price."""

    product: Product
    extra: list[str] = field(default_factory=list)  # keywords, brand name: user-given

    def __post_init__(self) -> None:
        p = self.product
        attrs = " ".join(f"{k} {v}" for k, v in fact_attributes(p).items())
        parts = [p.title, p.description, p.brand, p.category, attrs, *self.extra]
        self.text = "\n".join(parts)
        self.lower = self.text.lower()
        self.numbers = {v for number in numbers_in(self.text) for v in number.values}
        if p.price is not None:
            self.numbers.add(round(p.price, 2))
        self._specs: tuple[Lexicon, set[str]] | None = None

    def spec_groups(self, lexicon: Lexicon) -> set[str]:
        """Lexicon groups the facts mention (scanned once, not once per text checked)."""
        if self._specs is None or self._specs[0] is not lexicon:
            self._specs = (lexicon, set(lexicon.mentioned(self.text)))
        return self._specs[1]

    def supports_number(self, token: str, values: list[float]) -> bool:
        return token.lower() in self.lower or all(round(v, 2) in self.numbers for v in values)

    def money_problem(self, currency: str, amount: float) -> str | None:
        p = self.product
        if p.price is None:
            return "the product has no price in its facts"
        if currency != p.currency:
            return f"the product is priced in {p.currency}, not {currency}"
        if abs(amount - p.price) > 0.005:
            return f"the product's price is {p.price:g} {p.currency}"
        return None


LINK = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|net|org|cn|io)\b\S*", re.I)


def title_spans(text: str, title: str) -> list[tuple[int, int]]:
    """Where `text` names the product by its whole title (case ignored)."""
    if not title.strip():
        return []
    return [(m.start(), m.end()) for m in re.finditer(re.escape(title), text, re.I)]


def grounding_problems(text: str, facts: Facts, lexicon: Lexicon) -> list[tuple[str, str]]:
    """(offending span, why) for each unsupported number, price or specification."""
    problems: list[tuple[str, str]] = []
    money_spans = []
    named = title_spans(text, facts.product.title)
    for m in MONEY.finditer(text):
        amount, currency = money_value(m)
        money_spans.append((m.start(), m.end()))
        if any(s <= m.start() < e for s, e in named):  # "Xbox $100 Gift Card": a name
            continue
        if m["ca"] in MEASURE_WORDS and m.group().lower() in facts.lower:
            continue  # "电池（共 2 块）" copied from the facts counts batteries
        if why := facts.money_problem(currency, amount):
            problems.append((m.group(), f"price {m.group()!r}: {why}"))
    for n in numbers_in(text):
        in_money = any(s <= n.start < e for s, e in money_spans)
        if n.chinese and n.values[0] not in facts.numbers:
            problems.append(
                (n.token, f"number {n.token!r} ({int(n.values[0])}) is not in the facts")
            )
        elif not n.chinese and not in_money and not facts.supports_number(n.token, n.values):
            problems.append((n.token, f"number {n.token!r} is not in the product facts"))
    for link in LINK.findall(text):  # a small model fills in placeholder addresses
        if link.lower().rstrip(".,;:!?)") not in facts.lower:
            problems.append((link, f"link {link!r} is not in the product facts"))
    fact_specs = facts.spec_groups(lexicon)
    for group, word in lexicon.mentioned(text).items():
        if group not in fact_specs:
            problems.append((word, f"claims {word!r} but the product facts do not say so"))
    return problems
