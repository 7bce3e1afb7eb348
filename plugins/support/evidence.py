"""Evidence for an answer: hybrid retrieval over policies and products, scored per sentence.

Every candidate sentence gets one score, comparable across policies and
products: 0.75 x cosine(question, section + sentence) + 0.25 x the share of the
question's content words the sentence holds (+ FACT_BONUS when a product fact
line matches what is asked: price, stock, brand). The best sentence's score is
the evidence score the escalation policy thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel

from pitchcraft.needs import need_reader
from pitchcraft.plugins.support.text import split_sentences
from pitchcraft.store import Product, ProductStore
from pitchcraft.store.schema import Language, ProductFilter
from pitchcraft.text.words import content_words

if TYPE_CHECKING:
    from pitchcraft.context import Context

KNOWLEDGE_K = 5
PRODUCT_K = 3
COSINE_WEIGHT = 0.75
FACT_BONUS = 0.1
QUOTE_MARGIN = 0.1  # sentences this close to the best one, from its source, are quoted too
FACT_CUES: dict[str, tuple[str, ...]] = {
    "price": ("price", "cost", "how much", "expensive", "cheap", "价格", "多少钱", "售价", "价钱"),
    "stock": (
        "in stock",
        "available",
        "availability",
        "sold out",
        "have any",
        "有货",
        "库存",
        "现货",
        "缺货",
        "还有吗",
        "有没有货",
    ),
    "brand": ("brand", "who makes", "made by", "manufacturer", "品牌", "牌子", "厂家"),
}


class Sentence(BaseModel):
    source_id: str
    kind: Literal["knowledge", "product"]
    title: str
    text: str
    score: float = 0.0
    fact: str | None = None


def money(price: float | None, currency: str | None) -> str:
    if price is None:
        return ""
    return f"${price:.2f}" if currency in (None, "USD") else f"{price:.2f} {currency}"


FACT_LINES: dict[str, dict[str, str]] = {
    "en": {
        "price": "The {title} costs {price}.",
        "in_stock": "The {title} is in stock ({stock} left).",
        "out_of_stock": "The {title} is out of stock.",
        "brand": "The {title} is made by {brand}.",
    },
    "zh": {
        "price": "{title} 售价 {price}。",
        "in_stock": "{title} 有货（库存 {stock} 件）。",
        "out_of_stock": "{title} 目前缺货。",
        "brand": "{title} 的品牌是 {brand}。",
    },
}


def product_facts(p: Product, language: Language) -> list[tuple[str | None, str]]:
    """(fact kind, sentence) lines stating the record's fields, in the reply language."""
    say = FACT_LINES[language]
    price = money(float(p.price) if p.price is not None else None, p.currency)
    fields = {"title": p.title, "price": price, "stock": p.stock, "brand": p.brand}
    lines: list[tuple[str | None, str]] = []
    if price:
        lines.append(("price", say["price"].format(**fields)))
    if p.stock is not None:
        lines.append(("stock", say["in_stock" if p.stock > 0 else "out_of_stock"].format(**fields)))
    if p.brand:
        lines.append(("brand", say["brand"].format(**fields)))
    lines += [(None, s) for s in split_sentences(p.description or "")[:4]]
    return lines


def asked_facts(question: str) -> set[str]:
    lowered = question.lower()
    return {kind for kind, cues in FACT_CUES.items() if any(c in lowered for c in cues)}


def asked_kinds(ctx: Context, question: str) -> list[str]:
    """The product kinds a question clearly asks about (none when the reading is unsure)."""
    need = need_reader(ctx).read(question)
    return need.categories if need.kind_known else []


def candidates(
    store: ProductStore, query: str, language: Language, kinds: Sequence[str] = ()
) -> list[Sentence]:
    """Sentences of the best policy chunks (reply language first) and product records: the
    best matches of the query, and the best of the product kinds it asks about (`kinds`, from
    pitchcraft.needs), so "a camera for my kid's games" also finds cameras."""
    out: list[Sentence] = []
    hits = store.search_knowledge(query, k=KNOWLEDGE_K, language=language)
    if not hits:  # a shop whose policies exist in one language only
        hits = store.search_knowledge(query, k=KNOWLEDGE_K)
    for hit in hits:
        c = hit.chunk
        title = f"{c.source} › {c.section}" if c.section else c.source
        out += [
            Sentence(source_id=c.id, kind="knowledge", title=title, text=s)
            for s in split_sentences(c.text)
        ]
    products = store.search_products(query, k=PRODUCT_K)
    if kinds:
        products += store.search_products(query, PRODUCT_K, ProductFilter(category=list(kinds)))
    unique: dict[str, Product] = {}
    for hit in products:
        unique.setdefault(hit.product.id, hit.product)
    for p in unique.values():
        out += [
            Sentence(source_id=p.id, kind="product", title=p.title, text=s, fact=fact)
            for fact, s in product_facts(p, language)
        ]
    return out


def score(store: ProductStore, question: str, sentences: Sequence[Sentence]) -> list[Sentence]:
    """The sentences with scores, best first."""
    if not sentences:
        return []
    asked = asked_facts(question)
    wanted = content_words(question)
    texts = [f"{heading(s.title)}: {s.text}" for s in sentences]
    q = store.embedder.embed_query(question)
    cosine = np.asarray(store.embedder.embed(texts)) @ q
    scored = []
    for s, cos, text in zip(sentences, cosine, texts, strict=True):
        overlap = len(wanted & content_words(text)) / len(wanted) if wanted else 0.0
        value = COSINE_WEIGHT * float(cos) + (1 - COSINE_WEIGHT) * overlap
        if s.fact is not None and s.fact in asked:
            value += FACT_BONUS
        scored.append(s.model_copy(update={"score": round(min(1.0, value), 4)}))
    return sorted(scored, key=lambda s: -s.score)


def heading(title: str) -> str:
    """The innermost heading of 'returns.en.md › Returns and refunds > Refunds'."""
    return title.split(" › ")[-1].split(" > ")[-1]


def ranked_sources(sentences: Sequence[Sentence]) -> list[str]:
    """Source ids in order of their best sentence."""
    return list(dict.fromkeys(s.source_id for s in sentences))


def answer_sentences(
    sentences: Sequence[Sentence], limit: int = 3, restated: Sentence | None = None
) -> list[Sentence]:
    """The best sentence and, from the same source, the next ones nearly as good (a policy
    section is short: its neighbouring sentences often finish the answer). `restated`, the
    sentence the model's refused drafts came from, breaks a near tie: within QUOTE_MARGIN of
    the best, it leads (a defect remedy over the refund-shipping rule beside it)."""
    if not sentences:
        return []
    best = sentences[0]
    same = [s for s in sentences[1:] if s.source_id == best.source_id]
    chosen = [best, *[s for s in same if s.score >= best.score - QUOTE_MARGIN][: limit - 1]]
    near = restated is not None and restated.score >= best.score - QUOTE_MARGIN
    if near and restated not in chosen:
        return [restated, *chosen][:limit]
    return chosen
