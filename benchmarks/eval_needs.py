"""Understanding needs: does retrieval return the kind of product a shopper asks for?

Two catalogues, the same code:
- demo shop (toolkit/data/demo_shop, 25 categories): the needs of benchmarks/data/needs.yaml,
  written for this evaluation (each in English and Chinese, a third indirect: an occasion, a
  problem, a recipient), with the categories that satisfy each.
- clothing shop: a second catalogue built here from the real women's clothing reviews
  (`clothing_reviews()`), each item with at least 10 reviews a product, grouped by its finer
  class (Dresses, Knits, Blouses, Jeans, ...; classes with fewer than 5 items left out), listed
  by the titles of its first 5 reviews. Its needs are real: other reviews of those items
  (title and opening), the item's class the type wanted. English only.

Methods, each the recommender with a need alone (no history, no fitted model, no reasons):
- today: ranked by the need's words (embedding and keyword match), `understand_needs` off
- kinds: the recognised product type alone (the `type` signal; the need's words only break ties)
- whole: the recommender's defaults (type, need words, price, ruled-out kinds)
- with --model: whole + the shared model's pick of the kind when the embeddings are unsure
  (`need_model`), and whole + the model's check of the best 20 candidates (`rerank_model`)

precision@5: share of the top 5 whose category the need accepts (of the top n when only
n < 5 products of the accepted kinds pass the need's price limit and are in stock); hit@1:
the first one is. `--tune` chooses the reader's sure margin on the even rows of both
catalogues and reports the odd rows (held out) too. Then chat routing
(benchmarks/chat_routing.py): do the demo needs reach the recommender, and support's
questions and guard messages stay with support?

    python -m benchmarks.eval_needs [--quick] [--tune]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from benchmarks.chat_routing import evaluate_routing
from benchmarks.common import print_json_line, print_table
from pitchcraft.context import Context
from pitchcraft.data import demo_shop
from pitchcraft.data.datasets import clothing_reviews
from pitchcraft.needs import NeedReader, need_reader
from pitchcraft.needs.reader import SURE_MARGIN
from pitchcraft.registry import Registry
from pitchcraft.settings import Settings
from pitchcraft.store.ingest import ingest_products
from pitchcraft.store.schema import Language, Product, ProductFilter

NEEDS = Path(__file__).parent / "data" / "needs.yaml"
K = 5
ITEM_REVIEWS = 10  # reviews an item needs to be a product of the clothing shop
LISTED_REVIEWS = 5  # review titles that make its listing; later ones are needs
CLASS_ITEMS = 5  # products a class needs to be a category
METHODS = {
    "today": {"understand_needs": False},
    "kinds": {"weights": {"type": 1.0, "need": 0.01}},
    "whole": {},
}
MARGINS = (0.0, 0.01, 0.02, 0.035, 0.05, 0.08)
MODEL_METHODS = {  # --model: the shared model picks the kind when embeddings are unsure, or
    # checks which of the best 20 candidates fit
    "whole + model pick": {"need_model": True},
    "whole + model check": {"rerank_model": True},
}


@dataclass(frozen=True)
class Case:
    need: str
    language: Language
    accepts: frozenset[str]
    row: int  # its row in the source, for the development / held-out halves


@dataclass
class Shop:
    name: str
    products: list[Product]
    cases: list[Case]


def demo_cases() -> list[Case]:
    rows = yaml.safe_load(NEEDS.read_text(encoding="utf-8"))["demo_shop"]
    return [
        Case(need, language, frozenset(kinds), n)
        for n, (en, zh, kinds) in enumerate(rows)
        for need, language in ((en, "en"), (zh, "zh"))
    ]


def clothing_shop(needs: int) -> Shop:
    by_item = defaultdict(list)
    for review in clothing_reviews():
        by_item[review.clothing_id].append(review)
    items = {i: rows for i, rows in by_item.items() if len(rows) >= ITEM_REVIEWS}
    per_class = defaultdict(list)
    for item, rows in items.items():
        per_class[rows[0].class_name].append(item)
    products, cases = [], []
    for kind, members in sorted(per_class.items()):
        if len(members) < CLASS_ITEMS or not kind:
            continue
        for item in members:
            rows = items[item]
            listed = "; ".join(r.title for r in rows[:LISTED_REVIEWS] if r.title)
            products.append(
                Product(
                    id=f"item-{item}",
                    title=f"Women's {kind.lower()} (item {item})",
                    description=f"What reviewers say: {listed}.",
                    category=kind,
                    price=None,
                    stock=10,
                    language="en",
                )
            )
            later = [r for r in rows[LISTED_REVIEWS:] if r.title]
            if later:
                review = later[0]
                opening = review.text.split(". ")[0][:160]
                cases.append(Case(f"{review.title}. {opening}", "en", frozenset({kind}), item))
    random.Random(0).shuffle(cases)
    return Shop("clothing shop", products, cases[:needs])


def context(tmp: Path, products: Sequence[Product], options: dict[str, object]) -> Context:
    base = {"use_model": False, "model_path": str(tmp / "none.npz"), **options}
    settings = Settings().model_copy(
        update={"store_path": tmp / "store", "plugin_options": {"recommender": base}}
    )
    ctx = Registry(settings).context()
    jsonl = tmp / "products.jsonl"
    jsonl.write_text("\n".join(p.model_dump_json() for p in products), encoding="utf-8")
    ingest_products(ctx.store, jsonl)
    return ctx


@dataclass
class Scores:
    precision: list[float]
    hits: list[float]
    seconds: list[float]

    def row(self) -> tuple[float, float]:
        return statistics.fmean(self.precision), statistics.fmean(self.hits)


def available(ctx: Context, filters: ProductFilter, kinds: frozenset[str]) -> int:
    """Products of these kinds that pass the request's filters (price, stock)."""
    none = np.zeros((0, ctx.store.embedder.dim), np.float32)
    ids, _ = ctx.store.product_similarity(none, filters.model_copy(update={"category": kinds}))
    return len(ids)


def evaluate(ctx: Context, shop: Shop, cases: Sequence[Case]) -> dict[Language, Scores]:
    out: dict[Language, Scores] = {}
    for case in cases:
        started = time.perf_counter()
        result = ctx.call("recommender", {"need": case.need, "k": K, "reasons": False})
        seconds = time.perf_counter() - started
        kinds = [item.category for item in result.items]  # type: ignore[attr-defined]
        possible = min(K, available(ctx, result.filters, case.accepts))  # type: ignore[attr-defined]
        if possible == 0:  # nothing of the kind passes the need's own limits: not scored
            continue
        right = sum(kind in case.accepts for kind in kinds[:possible])
        scores = out.setdefault(case.language, Scores([], [], []))
        scores.precision.append(right / max(1, possible))
        scores.hits.append(float(bool(kinds) and kinds[0] in case.accepts))
        scores.seconds.append(seconds)
    return out


def reader_accuracy(reader: NeedReader, cases: Sequence[Case]) -> tuple[float, float, float]:
    """Share of needs whose first recognised category is accepted; the share read as
    confident, and the accuracy of those."""
    right, sure, sure_right = 0, 0, 0
    for case in cases:
        need = reader.read(case.need)
        ok = bool(need.categories) and need.categories[0] in case.accepts
        right += ok
        sure += need.confident
        sure_right += ok and need.confident
    return right / len(cases), sure / len(cases), sure_right / max(1, sure)


def tune(shops: Sequence[Shop], tmp: Path) -> float:
    """The reader's sure margin (the type is preferred only when one category is this far
    ahead) with the best mean precision@5 over the even rows of every catalogue and language;
    the odd rows' figures at that margin are printed as held out."""
    contexts = []
    for shop in shops:
        folder = tmp / f"tune-{shop.name}"
        folder.mkdir()
        contexts.append((shop, context(folder, shop.products, {})))
    grid = []
    for margin in MARGINS:
        row: list[object] = [margin]
        for half in (0, 1):
            means = []
            for shop, ctx in contexts:
                need_reader(ctx).sure_margin = margin
                cases = [c for c in shop.cases if c.row % 2 == half]
                means += [s.row()[0] for s in evaluate(ctx, shop, cases).values()]
            row.append(statistics.fmean(means))
        grid.append(row)
    print_table(["sure margin", "precision@5, even rows", "odd rows (held out)"], grid)
    best = max(grid, key=lambda r: float(r[1]))  # type: ignore[arg-type]
    print(f"chosen on the even rows: {best[0]}\n")
    return float(best[0])  # type: ignore[arg-type]


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a third of the needs")
    parser.add_argument("--tune", action="store_true", help="choose the reader's margin")
    parser.add_argument(
        "--model", action="store_true", help="also the shared model's pick (a served model)"
    )
    args = parser.parse_args()
    demo = Shop("demo shop", demo_shop.load_products(), demo_cases())
    clothing = clothing_shop(150)
    if args.quick:
        demo.cases, clothing.cases = demo.cases[::3], clothing.cases[::3]
    table, figures, reader_rows = [], {}, []
    with tempfile.TemporaryDirectory() as tmp:
        margin = tune([demo, clothing], Path(tmp)) if args.tune else SURE_MARGIN
        for shop in (demo, clothing):
            methods = {**METHODS, **MODEL_METHODS} if args.model else METHODS
            for method, options in methods.items():
                folder = Path(tmp) / f"{shop.name}-{method}"
                folder.mkdir()
                ctx = context(folder, shop.products, options)
                reader = need_reader(ctx)
                reader.sure_margin = margin
                if method == "whole":
                    for language in ("en", "zh"):
                        cases = [c for c in shop.cases if c.language == language]
                        if cases:
                            accuracy, sure_share, sure_right = reader_accuracy(reader, cases)
                            reader_rows.append(
                                [shop.name, language, len(cases), accuracy, sure_share, sure_right]
                            )
                scores = evaluate(ctx, shop, shop.cases)
                for language, s in sorted(scores.items()):
                    precision, hits = s.row()
                    table.append(
                        [
                            shop.name,
                            method,
                            language,
                            len(s.hits),
                            precision,
                            hits,
                            1000 * statistics.median(s.seconds),
                            1000 * p95(s.seconds),
                        ]
                    )
                    if shop is demo and method == "whole":
                        figures[f"need_precision_at_5_{language}"] = round(precision, 3)
                        figures[f"need_hit_at_1_{language}"] = round(hits, 3)
                        figures[f"need_latency_p95_ms_{language}"] = round(1000 * p95(s.seconds))
        routing, routed = evaluate_routing(Path(tmp) / "routing", [c.need for c in demo.cases])
    print_table(
        ["catalogue", "method", "language", "needs", "precision@5", "hit@1", "p50 ms", "p95 ms"],
        table,
    )
    print()
    print_table(
        ["catalogue", "language", "needs", "first type right", "confident", "right when confident"],
        reader_rows,
    )
    print()
    print_table(
        ["chat messages", "language", "messages", "right plugin before", "right plugin", "by need"],
        routing,
    )
    figures |= routed
    whole = [r for r in table if r[0] == demo.name and r[1] == "whole"]
    figures["need_precision_at_5"] = round(statistics.fmean(r[4] for r in whole), 3)
    figures["need_hit_at_1"] = round(statistics.fmean(r[5] for r in whole), 3)
    print()
    print_json_line(figures)


if __name__ == "__main__":
    main()
