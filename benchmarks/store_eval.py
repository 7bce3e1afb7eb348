"""Retrieval quality of the product store: recall@10 by vector, keyword and hybrid search.

Queries come from the real catalog (demo shop electronics and their Chinese listings):
- title_prefix:      the first half of a product title must retrieve the product;
- held_out_feature:  one feature bullet, removed from the indexed description, must
                     retrieve its product (nothing in the index contains it verbatim);
- cross_lingual:     a Chinese title must retrieve the English original listing.
Vector search runs with each embedding backend; keyword is BM25 (jieba); hybrid
fuses USE vectors and BM25 by reciprocal rank (toolkit/store/collection.py).

    python -m benchmarks.store_eval [--quick]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_json_line, print_table
from pitchcraft import Settings
from pitchcraft.data import demo_shop
from pitchcraft.store import Product, ProductStore

K = 10


def build_queries(products: list[Product], quick: bool) -> tuple[list[Product], dict]:
    """Index documents (with held-out bullets removed) and {set: [(query, target id)]}."""
    rng = random.Random(13)
    english = [p for p in products if p.id.startswith("elec-")]
    chinese = [p for p in products if p.language == "zh"]
    held: dict[str, str] = {}
    indexed = []
    for p in english:
        bullets = [b for b in p.description.split(". ") if len(b.split()) >= 4]
        if len(bullets) >= 3 and rng.random() < 0.5:
            out = rng.choice(bullets[1:])
            held[p.id] = out
            p = p.model_copy(
                update={"description": ". ".join(b for b in p.description.split(". ") if b != out)}
            )
        indexed.append(p)
    sample = rng.sample(english, 60 if quick else len(english))
    queries = {
        "title_prefix": [
            (" ".join(p.title.split()[: max(3, len(p.title.split()) // 2)]), p.id) for p in sample
        ],
        "held_out_feature": [(text, pid) for pid, text in held.items()][: 60 if quick else None],
        "cross_lingual": [(p.title, str(p.attributes["translation_of"])) for p in chinese],
    }
    return indexed + chinese, queries


def recall(store: ProductStore, queries: list[tuple[str, str]], mode: str) -> tuple[float, float]:
    found = 0
    start = time.perf_counter()
    for text, target in queries:
        found += target in {h.id for h in store.search_products(text, k=K, mode=mode)}
    return found / len(queries), (time.perf_counter() - start) / len(queries) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 queries per set")
    args = parser.parse_args()

    documents, query_sets = build_queries(demo_shop.load_products(), args.quick)
    backends = {"use": "use-multilingual", "minilm": "sentence-transformers:all-MiniLM-L6-v2"}
    methods = [
        ("vector", "use", "vector"),
        ("vector", "minilm", "vector"),
        ("keyword", "use", "keyword"),
        ("hybrid", "use", "hybrid"),
    ]
    results: dict[tuple[str, str, str], tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {}
        for name, spec in backends.items():
            settings = Settings(
                store_path=Path(tmp) / name, cache_dir=Path(tmp) / "cache", embedder=spec
            )
            stores[name] = ProductStore.from_settings(settings)
            stores[name].upsert_products(documents)
        for set_name, queries in query_sets.items():
            for method, backend, mode in methods:
                results[(set_name, method, backend)] = recall(stores[backend], queries, mode)

    rows = []
    for method, backend, _ in methods:
        label = f"{method} ({backend})" if method == "vector" else f"{method}"
        per_set = [results[(s, method, backend)][0] for s in query_sets]
        latency = sum(results[(s, method, backend)][1] for s in query_sets) / len(query_sets)
        overall = sum(
            results[(s, method, backend)][0] * len(q) for s, q in query_sets.items()
        ) / sum(len(q) for q in query_sets.values())
        rows.append([label, *per_set, overall, latency])
    print(
        f"recall@{K} over {len(documents)} products "
        f"({', '.join(f'{s}: {len(q)} queries' for s, q in query_sets.items())})\n"
    )
    print_table(["method", *query_sets, "all", "ms/query"], rows)
    overall = {r[0]: r[-2] for r in rows}
    figures: dict[str, object] = {
        "recall_at_10_vector": round(overall["vector (use)"], 4),
        "recall_at_10_vector_minilm": round(overall["vector (minilm)"], 4),
        "recall_at_10_keyword": round(overall["keyword"], 4),
        "recall_at_10_hybrid": round(overall["hybrid"], 4),
    }
    for (set_name, method, backend), (value, _) in results.items():
        suffix = f"{method}_{backend}" if method == "vector" else method
        figures[f"recall_at_10_{set_name}_{suffix}"] = round(value, 4)
    print()
    print_json_line(figures)


if __name__ == "__main__":
    main()
