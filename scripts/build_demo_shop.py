"""Regenerate the demo shop's products.jsonl and reviews.jsonl from the packaged datasets."""

from __future__ import annotations

from pitchcraft.data import demo_shop


def main() -> None:
    products, reviews = demo_shop.build()
    demo_shop.PRODUCTS.write_text(
        "".join(p.model_dump_json(exclude_none=True) + "\n" for p in products), encoding="utf-8"
    )
    demo_shop.REVIEWS.write_text(
        "".join(r.model_dump_json() + "\n" for r in reviews), encoding="utf-8"
    )
    print(f"{len(products)} products, {len(reviews)} reviews -> {demo_shop.DEMO_DIR}")


if __name__ == "__main__":
    main()
