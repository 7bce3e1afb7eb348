"""The labelled review corpora the classifier is trained and evaluated on, split once.

A review is in the test split when the hash of its text says so (one in five),
so the split does not depend on row order or library versions, and training
never sees a test review. Both corpora are real (see pitchcraft.data.datasets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pitchcraft.data.datasets import chinese_reviews, clothing_reviews
from pitchcraft.store.schema import sha

Polarity = Literal["negative", "neutral", "positive"]
POLARITIES: tuple[Polarity, ...] = ("negative", "neutral", "positive")
TEST_SHARE = 5  # one review in TEST_SHARE is held out


@dataclass(frozen=True)
class Example:
    text: str
    label: Polarity
    language: Literal["zh", "en"]


def bucket(text: str, buckets: int, salt: str = "") -> int:
    """A stable bucket for a text, independent of row order and library versions."""
    return int(sha(salt + text)[:8], 16) % buckets


def is_test(text: str) -> bool:
    return bucket(text, TEST_SHARE) == 0


def rating_polarity(rating: int) -> Polarity:
    """Stars to polarity, the usual convention: 1-2 negative, 3 neutral, 4-5 positive."""
    return "negative" if rating <= 2 else "neutral" if rating == 3 else "positive"


def chinese_examples() -> list[Example]:
    """Chinese shopping reviews: positive or negative (the corpus has no neutral class)."""
    return [Example(r.text, r.label, "zh") for r in chinese_reviews()]


def english_examples() -> list[Example]:
    """Women's clothing reviews, title and text, labelled from their star rating."""
    out = []
    for r in clothing_reviews():
        text = f"{r.title}. {r.text}" if r.title else r.text
        out.append(Example(text, rating_polarity(r.rating), "en"))
    return out


def split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """(train, test) by text hash."""
    train = [e for e in examples if not is_test(e.text)]
    test = [e for e in examples if is_test(e.text)]
    return train, test
