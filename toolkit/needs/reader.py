"""Reading a shopper's need (zh or en): the kinds of product wanted and ruled out, mapped onto
the store's own categories, plus price, brand, size or capacity, colour, recipient and
occasion. Shared by every plugin that retrieves products for free text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field

from pitchcraft.needs.categories import (
    CategoryIndex,
    CategoryScore,
    CategorySource,
    LiveCategoryIndex,
)
from pitchcraft.needs.model import Picker
from pitchcraft.needs.price import price_limits
from pitchcraft.needs.rules import asks_question, need_parts
from pitchcraft.store.schema import Language, detect_language

# Chosen on the even rows of both catalogues of benchmarks/eval_needs.py (--tune).
SURE_MARGIN = 0.035  # the best category is this far ahead of the next: the type is known
CLOSE = 0.0  # otherwise categories this close to the best are kept with it (0: none)
MAX_CATEGORIES = 3
FULL_SHARE = 0.5  # weight of the whole need against its wanted part when rules found one
# A stated want is this close to the best category at least: greetings and short replies
# ("yes please" 0.11, "hello" 0.09) are not wants even when one category is ahead; costs 10
# of the 206 sure, stated needs of eval_needs' demo set.
WANT_FLOOR = 0.15


class EmbedQuery(Protocol):
    def __call__(self, text: str) -> np.ndarray: ...


class NeedCategory(BaseModel):
    name: str
    score: float = Field(description="Cosine of the need to the category's products.")


class Need(BaseModel):
    """What a need asks for, as recognised; shown with results so a user can correct it."""

    text: str
    language: Language
    categories: list[str] = Field(
        default_factory=list, description="Product types wanted, best first (the filter)."
    )
    confident: bool = Field(default=False, description="One category clearly ahead of the rest.")
    categories_by: Literal["embedding", "model"] = Field(
        default="embedding",
        description="What chose the categories: closeness to each category's products, or the "
        "shared model's pick among the closest when that was unsure.",
    )
    considered: list[NeedCategory] = Field(
        default_factory=list, description="The closest categories with their scores."
    )
    excluded_categories: list[str] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list, description="Phrases ruled out.")
    min_price: float | None = None
    max_price: float | None = None
    currency: str | None = Field(default=None, description="As stated in the need.")
    brands: list[str] = Field(default_factory=list, description="Store brands the need names.")
    attributes: dict[str, str] = Field(default_factory=dict)
    recipient: str | None = None
    occasions: list[str] = Field(default_factory=list)
    gift: bool = False
    complements: list[str] = Field(
        default_factory=list, description="What the product goes with (not what is wanted)."
    )
    question: bool = Field(
        default=False,
        description="The text asks something (about the shop, an order, a product) rather "
        "than stating what is wanted; a question asking what to buy is a want.",
    )
    search_text: str = Field(description="The need without its price phrases: what to search.")
    wanted: str = Field(default="", description="The need without what rules read in it.")

    @property
    def kind_known(self) -> bool:
        """The categories are taken as the product type: the reader was sure, or the model
        picked them. Otherwise they are only shown, and retrieval goes by the need's words."""
        return bool(self.categories) and (self.confident or self.categories_by == "model")

    @property
    def is_want(self) -> bool:
        """A stated want for a kind of product the shop sells: what a chat sends to the
        plugins that take needs."""
        best = self.considered[0].score if self.considered else 0.0
        return self.confident and not self.question and best >= WANT_FLOOR


def chosen(
    ranking: Sequence[CategoryScore], sure_margin: float = SURE_MARGIN, close: float = CLOSE
) -> tuple[list[str], bool]:
    """The categories a need is taken to ask for, and whether one is clearly ahead."""
    if not ranking:
        return [], False
    best = ranking[0].score
    if len(ranking) == 1 or best - ranking[1].score >= sure_margin:
        return [ranking[0].name], True
    near = [c.name for c in ranking[:MAX_CATEGORIES] if best - c.score <= close]
    return near, False


def named_brands(text: str, brands: Sequence[str]) -> list[str]:
    """Store brands the text names as whole words (case ignored)."""
    lowered = text.lower()
    return [
        b
        for b in brands
        if len(b) >= 2 and re.search(rf"(?<![\w]){re.escape(b.lower())}(?![\w])", lowered)
    ]


class NeedReader:
    def __init__(
        self,
        store: CategorySource,
        embed: EmbedQuery,
        sure_margin: float = SURE_MARGIN,
        close: float = CLOSE,
    ) -> None:
        self.categories = LiveCategoryIndex(store, "category")
        self.brands = LiveCategoryIndex(store, "brand")
        self.embed = embed
        self.sure_margin = sure_margin
        self.close = close

    def read(self, text: str, pick: Picker | None = None) -> Need:
        """`pick`: asked for the type when no category is clearly ahead."""
        price = price_limits(text)
        search = price.rest or text
        parts = need_parts(search)
        index = self.categories.current()
        vector = self.embed(search)
        if parts.wanted != search:  # "a top to wear with jeans": the top is the type
            vector = FULL_SHARE * vector + self.embed(parts.wanted)
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        ranking = index.rank(vector)
        categories, confident = chosen(ranking, self.sure_margin, self.close)
        language: Language = detect_language(text) if text.strip() else "en"
        picked = pick(search, language, ranking) if pick and not confident else None
        return Need(
            text=text,
            language=language,
            categories=[picked] if picked else categories,
            confident=confident,
            categories_by="model" if picked else "embedding",
            considered=[NeedCategory(name=c.name, score=round(c.score, 4)) for c in ranking[:5]],
            excluded_categories=self._excluded(index, parts.excluded, categories),
            min_price=price.low,
            max_price=price.high,
            currency=price.currency,
            brands=named_brands(search, self.brands.current().names),
            question=asks_question(text),
            search_text=search,
            **parts._asdict(),  # recipient, occasions, gift, complements, excluded, attributes
        )

    def _excluded(
        self, index: CategoryIndex, phrases: Sequence[str], wanted: Sequence[str]
    ) -> list[str]:
        out = []
        for phrase in phrases:
            ranking = index.rank(self.embed(phrase))
            if ranking and ranking[0].name not in wanted and ranking[0].name not in out:
                out.append(ranking[0].name)
        return out
