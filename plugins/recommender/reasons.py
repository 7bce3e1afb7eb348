"""Reasons for recommendations: written by the shared model (`reasons` adapter), checked
against the facts they may use, regenerated with the problems named, else a template.

A reason may state only what the recommended product's record says (title, brand,
category, price, details) and what the shopper's history items and need say: every
number and price must be found there, every specification word (the copywriter's
lexicon: waterproof, 4K, ...) must be in the product's facts, and no brand of another
catalogue product may be named unless it is in the history.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from pitchcraft.context import Context
from pitchcraft.errors import ModelUnavailable
from pitchcraft.llm.structured import ascii_quotes, json_safe_quotes
from pitchcraft.llm.verified import ONE_DRAFT, DraftPlan, first_passing
from pitchcraft.store.schema import Language, Product, detect_language
from pitchcraft.text.grounding import Facts, fact_attributes, grounding_problems, price_words
from pitchcraft.text.terms import Lexicon

log = logging.getLogger(__name__)

NAME = "recommender"
ADAPTER = "reasons"
MAX_TOKENS = 120
DETAILS_CHARS = 300
MAX_CHARS = 200


class DraftReason(BaseModel):
    reason: str = Field(min_length=8, max_length=MAX_CHARS)


# A capitalised Latin word not at the start of a sentence: a name (brand, model, product).
NAME_WORD = re.compile(
    r"(?<![.!?。！？:：]\s)(?<!^)(?<![A-Za-z0-9'’-])[A-Z][A-Za-z0-9'’-]*[A-Za-z0-9]"
)
TITLE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]{2,}|[\u4e00-\u9fff]{2,}|\d+[A-Za-z]+")
STOP_WORDS = {"the", "and", "for", "with", "pack", "count", "new"}
# The English prompt's labels: a draft copying "(Bought before: ...)" names nothing.
LABEL_WORDS = {"recommended", "product", "brand", "category", "price", "details", "bought"}


def mentions_product(text: str, product: Product) -> bool:
    """The reason names something of the product: a title word, its brand or category
    (Chinese: any two characters in a row of them)."""
    lower = text.lower()
    named = f"{product.title} {product.brand} {product.category}"
    words = {w.lower() for w in TITLE_WORD.findall(named)}
    for word in words - STOP_WORDS:
        if detect_language(word) == "zh":
            if any(word[i : i + 2] in lower for i in range(len(word) - 1)):
                return True
        elif word in lower:
            return True
    return False


def unknown_names(text: str, known_lower: str) -> list[str]:
    """Capitalised words (names) the facts do not contain."""
    return [
        w
        for w in dict.fromkeys(NAME_WORD.findall(text))
        if w.lower() not in known_lower and w.lower() not in LABEL_WORDS
    ]


@dataclass
class ReasonFacts:
    product: Product
    history: list[Product] = field(default_factory=list)  # the items it is most like
    need: str = ""

    def facts(self) -> Facts:
        extra = [self.need, self.product.currency, *(h.title for h in self.history)]
        extra += [h.brand for h in self.history]
        extra += [h.description for h in self.history]
        return Facts(self.product, extra=[e for e in extra if e])


def price_text(product: Product, language: Language) -> str:
    if product.price is None:
        return ""
    return price_words(product.price, product.currency, language)


def details_text(product: Product) -> str:
    attrs = "; ".join(f"{k}: {v}" for k, v in fact_attributes(product).items())
    return " ".join(p for p in (product.description, attrs) if p)[:DETAILS_CHARS]


def brand_mentions(text: str, brands: Iterable[str]) -> list[str]:
    """Catalogue brands named in `text` (whole words for Latin names)."""
    lower = text.lower()
    found = []
    for brand in brands:
        b = brand.lower().strip()
        if len(b) < 2:
            continue
        pattern = (
            re.escape(b) if detect_language(b) == "zh" else rf"(?<![\w]){re.escape(b)}(?![\w])"
        )
        if re.search(pattern, lower):
            found.append(brand)
    return found


def blanked(text: str, phrases: Iterable[str]) -> str:
    """`text` with each (non-empty) phrase blanked out."""
    for phrase in phrases:
        text = text.replace(phrase, " ") if phrase else text
    return text


NEED_CLAUSE = re.compile(r"[,，;；。、!！?？\n]+")


def need_phrases(need: str) -> list[str]:
    """The shopper's need and each of its clauses: copied into a reason, they are the
    shopper's own words ("500美元以内" is their budget, not this product's price)."""
    clauses = [c.strip() for c in NEED_CLAUSE.split(need) if len(c.strip()) >= 4]
    return sorted({need.strip(), *clauses} - {""}, key=len, reverse=True)


def reason_problems(
    text: str,
    facts: ReasonFacts,
    language: Language,
    lexicon: Lexicon,
    catalogue_brands: Iterable[str] = (),
) -> list[str]:
    """Why a reason may not be shown; empty when it is grounded."""
    text = ascii_quotes(text.strip())  # the prompt showed the facts' quotes typographic
    if not text:
        return ["the reason is empty"]
    problems = []
    bought = [h.title for h in facts.history]
    # the reason's own words: quoted titles and need do not set its language
    own = blanked(text, [facts.need, facts.product.title, *bought])
    if detect_language(own) != language:
        problems.append(f"not written in {'Chinese' if language == 'zh' else 'English'}")
    known = facts.facts()  # holds the product's and the history's brands too
    # a bought title or the shopper's own words quoted whole are grounded, prices and all
    unquoted = blanked(text, [*bought, *need_phrases(ascii_quotes(facts.need))])
    problems += [why for _, why in grounding_problems(unquoted, known, lexicon)]
    if not mentions_product(text, facts.product):
        problems.append("does not mention the recommended product")
    for brand in brand_mentions(text, catalogue_brands):
        if brand.lower() not in known.lower:
            problems.append(f"names {brand!r}, which is neither this product's nor the history's")
    problems += [
        f"names {name!r}, which the facts do not" for name in unknown_names(text, known.lower)
    ]
    return list(dict.fromkeys(problems))


TEMPLATES: dict[Language, dict[str, str]] = {
    "zh": {
        "history": "因为您买过「{bought}」，为您推荐「{title}」{price}。",
        "need": "符合您的需求「{need}」：「{title}」{price}。",
        "popular": "热门商品：「{title}」{price}。",
        "price": "（{}）",
    },
    "en": {
        "history": "Because you bought “{bought}”: {title}{price}.",
        "need": "Matches what you asked for (“{need}”): {title}{price}.",
        "popular": "Popular with shoppers: {title}{price}.",
        "price": ", at {}",
    },
}


def template_reason(facts: ReasonFacts, language: Language) -> str:
    """A reason built from the facts alone (always grounded)."""
    wording = TEMPLATES[language]
    price = price_text(facts.product, language)
    kind = "history" if facts.history else "need" if facts.need else "popular"
    return wording[kind].format(
        bought=facts.history[0].title if facts.history else "",
        need=facts.need,
        title=facts.product.title,
        price=wording["price"].format(price) if price else "",
    )


class ReasonOutcome(BaseModel):
    text: str
    by: Literal["model", "template"]
    problems: list[str] = []  # why model drafts were refused
    draft: int | None = None  # with by=model: which draft, counted over the rounds (1: first)


def reason_prompt(facts: ReasonFacts, language: Language, ctx: Context) -> str:
    """The first request for a reason (also what the `reasons` adapter is trained on)."""
    product = facts.product
    shown = product.model_copy(update={"title": json_safe_quotes(product.title)})
    return ctx.prompts.render(
        NAME,
        "reason",
        language,
        product=shown,
        price=price_text(product, language),
        details=json_safe_quotes(details_text(product)),
        history=[json_safe_quotes(h.title) for h in facts.history],
        need=json_safe_quotes(facts.need),
    )


def write_reason(
    facts: ReasonFacts,
    language: Language,
    ctx: Context,
    lexicon: Lexicon,
    catalogue_brands: Sequence[str],
    retries: int,
    use_model: bool = True,
    plan: DraftPlan = ONE_DRAFT,
) -> ReasonOutcome:
    """The model's reason if a draft passes the check, else the template. Each round asks
    for `plan.drafts` drafts at once (the greedy one, then sampled ones); up to `retries` more
    rounds are told what was wrong."""
    if not use_model:
        return ReasonOutcome(text=template_reason(facts, language), by="template")
    refused: list[str] = []
    base_prompt = reason_prompt(facts, language, ctx)
    for round_ in range(retries + 1):
        prompt = base_prompt
        if refused:
            prompt += "\n\nYour previous reason was refused: " + "; ".join(refused[-3:])
        try:
            found = first_passing(
                ctx.llm,
                DraftReason,
                prompt,
                lambda d: reason_problems(d.reason, facts, language, lexicon, catalogue_brands),
                adapter=ADAPTER,
                max_tokens=MAX_TOKENS,
                plan=plan,
            )
        except ModelUnavailable as err:
            log.warning("recommender: no model reason: %s", err)
            refused.append(str(err))
            break
        if found.value is not None and found.draft is not None:
            number = round_ * plan.drafts + found.draft
            text = found.value.reason.strip()
            return ReasonOutcome(text=text, by="model", problems=refused, draft=number)
        refused += [problem for problems in found.refusals for problem in problems]
    return ReasonOutcome(text=template_reason(facts, language), by="template", problems=refused)
