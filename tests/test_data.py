"""Loaders read the real datasets out of their packages."""

from __future__ import annotations

from collections import Counter

from pitchcraft.data import datasets, demo_shop


def test_chinese_reviews_are_deduplicated_and_labelled() -> None:
    reviews = datasets.chinese_reviews()
    texts = [r.text for r in reviews]
    assert len(texts) == len(set(texts))  # no duplicate can leak across a split
    assert 17_000 < len(reviews) < 17_500
    labels = Counter(r.label for r in reviews)
    assert labels["positive"] > 8_000 and labels["negative"] > 8_000


def test_clothing_reviews() -> None:
    reviews = datasets.clothing_reviews()
    assert 22_000 < len(reviews) <= 23_486
    assert {r.rating for r in reviews} == {1, 2, 3, 4, 5}
    assert all(r.text for r in reviews)


def test_electronics_catalog_is_parsed() -> None:
    catalog = datasets.electronics_catalog()
    assert len(catalog) == 553
    assert len({p.id for p in catalog}) == 553
    duracell = next(p for p in catalog if p.title.startswith("Duracell 2032"))
    assert duracell.price == 14.99 and duracell.brand == "Duracell"
    assert duracell.attributes["rating"] == 4.8 and duracell.attributes["review_count"] == 125
    assert all(p.price is None or p.price > 0 for p in catalog)
    assert {p.brand for p in catalog if p.title.startswith("MacBook")} == {"Apple"}


def test_movielens_100k() -> None:
    ml = datasets.movielens_100k()
    assert len(ml.ratings) == 100_000
    assert len({r.user_id for r in ml.ratings}) == 943
    assert len(ml.movies) == 1_682
    assert ml.movies["1"].title == "Toy Story"


def test_open_bandit_logs() -> None:
    logs = datasets.open_bandit("random")
    assert len(logs) == 10_000
    assert {log.position for log in logs} == {1, 2, 3}
    assert 0 < sum(log.click for log in logs) < 100  # CTR is about 0.4%
    assert datasets.open_bandit("bts")[0].propensity > 0


def test_demo_shop_matches_its_sources() -> None:
    products = demo_shop.load_products()
    by_id = {p.id: p for p in products}
    assert len(by_id) == len(products)
    chinese = [p for p in products if p.language == "zh"]
    assert len(chinese) == 36
    for p in chinese:  # translations keep the original's price and point at it
        assert by_id[str(p.attributes["translation_of"])].price == p.price
    reviews = demo_shop.load_reviews()
    assert {r.product_id for r in reviews} <= set(by_id)
    assert sum(1 for p in products if p.stock == 0) > 50


def test_demo_shop_file_is_what_the_builder_makes() -> None:
    products, reviews = demo_shop.build()
    assert [p.id for p in products] == [p.id for p in demo_shop.load_products()]
    assert len(reviews) == len(demo_shop.load_reviews())
