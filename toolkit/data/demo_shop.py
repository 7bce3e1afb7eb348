"""Lumen & Loom, the demo shop: real products and reviews, plus policies written for the demo.

- Electronics: every distinct listing of `electronics_catalog()` (real, US marketplace).
- Clothing: the 60 most-reviewed items of `clothing_reviews()`; the dataset has no
  product names, so each title is its class and department, and the description
  states the item's real review statistics.
- Chinese listings: 36 of the electronics, translated for the demo (each keeps
  `translation_of` and the original's price).
- Stock levels are the demo shop's own (deterministic from the id): the source
  data has none.
- Policies (shipping, returns, warranty, payment, membership; zh + en) are
  written for the demo; no real e-commerce FAQ corpus ships in any package.

`scripts/build_demo_shop.py` regenerates products.jsonl and reviews.jsonl.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel

from pitchcraft.data.datasets import ClothingReview, clothing_reviews, electronics_catalog
from pitchcraft.store.schema import Product, sha

DEMO_DIR = Path(__file__).resolve().parent / "demo_shop"
PRODUCTS = DEMO_DIR / "products.jsonl"
REVIEWS = DEMO_DIR / "reviews.jsonl"
POLICIES = DEMO_DIR / "policies"
TRANSLATIONS = DEMO_DIR / "products_zh.jsonl"
CLOTHING_ITEMS = 60
REVIEWS_PER_ITEM = 25


class DemoReview(BaseModel):
    product_id: str
    rating: int
    title: str
    text: str
    recommended: bool


def demo_stock(product_id: str) -> int:
    """0 for about one product in five, else 1-47."""
    return max(0, int(sha(product_id)[:8], 16) % 60 - 12)


def clothing_products(reviews: list[ClothingReview]) -> tuple[list[Product], list[DemoReview]]:
    by_item: dict[int, list[ClothingReview]] = defaultdict(list)
    for review in reviews:
        by_item[review.clothing_id].append(review)
    top = sorted(by_item, key=lambda item: (-len(by_item[item]), item))[:CLOTHING_ITEMS]
    products, kept = [], []
    for item in top:
        rows = by_item[item]
        first = rows[0]
        mean = sum(r.rating for r in rows) / len(rows)
        recommend = sum(r.recommended for r in rows) / len(rows)
        pid = f"cloth-{item}"
        products.append(
            Product(
                id=pid,
                title=f"Women's {first.class_name} — {first.department} (item {item})",
                description=(
                    f"Women's {first.class_name.lower()} from the {first.division} line, "
                    f"{first.department} department. Rated {mean:.1f} out of 5 by "
                    f"{len(rows)} reviewers; {recommend:.0%} recommend it."
                ),
                category=f"Women's {first.department}",
                brand="Lumen & Loom",
                currency="USD",
                stock=demo_stock(pid),
                attributes={
                    "rating": round(mean, 2),
                    "review_count": len(rows),
                    "recommend_rate": round(recommend, 3),
                    "class": first.class_name,
                },
                language="en",
            )
        )
        kept += [
            DemoReview(
                product_id=pid,
                rating=r.rating,
                title=r.title,
                text=r.text,
                recommended=r.recommended,
            )
            for r in rows[:REVIEWS_PER_ITEM]
        ]
    return products, kept


def translated_products(originals: dict[str, Product]) -> list[Product]:
    out = []
    for line in TRANSLATIONS.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        source = originals[entry["translation_of"]]
        pid = "zh-" + source.id.removeprefix("elec-")
        out.append(
            source.model_copy(
                update={
                    "id": pid,
                    "title": entry["title"],
                    "description": entry["description"],
                    "language": "zh",
                    "stock": demo_stock(pid),
                    "attributes": {**source.attributes, "translation_of": source.id},
                }
            )
        )
    return out


def build() -> tuple[list[Product], list[DemoReview]]:
    electronics = [p.model_copy(update={"stock": demo_stock(p.id)}) for p in electronics_catalog()]
    clothing, reviews = clothing_products(clothing_reviews())
    chinese = translated_products({p.id: p for p in electronics})
    return electronics + chinese + clothing, reviews


def load_products() -> list[Product]:
    return [Product.model_validate_json(line) for line in PRODUCTS.read_text("utf-8").splitlines()]


def load_reviews() -> list[DemoReview]:
    return [
        DemoReview.model_validate_json(line) for line in REVIEWS.read_text("utf-8").splitlines()
    ]
