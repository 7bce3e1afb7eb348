"""Product store speed: ingest throughput (with embeddings) and filtered top-10 query latency.

Catalogs of 10k and 100k products are scaled up from the demo shop's real
products (each copy gets its own lot number, price jitter and stock, so every
text is embedded afresh). Queries are title fragments of real products with a
category + price + in-stock filter. The baseline in the same run is an exact
brute-force scan (numpy dot products over the filtered rows); the ratio says how
much faster the store's filtered HNSW search is end to end (embedding the
query, searching, fetching records).

    python -m benchmarks.store_bench [--quick]      # --quick: 10k only
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import print_json_line, print_table
from pitchcraft import Settings
from pitchcraft.data import demo_shop
from pitchcraft.store import Product, ProductFilter, ProductStore

BATCH = 512
QUERIES = 200


def scaled_catalog(n: int, seed: int = 7) -> list[Product]:
    rng = random.Random(seed)
    base = demo_shop.load_products()
    out = []
    for i in range(n):
        src = base[i % len(base)]
        lot = i // len(base)
        out.append(
            src.model_copy(
                update={
                    "id": f"bench-{i}",
                    "title": f"{src.title} (lot {lot})",
                    "price": round((src.price or 50.0) * rng.uniform(0.7, 1.3), 2),
                    "stock": rng.choice([0, 0, 3, 10, 25, 80]),
                }
            )
        )
    return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def query_plan(products: list[Product], seed: int = 11) -> list[tuple[str, ProductFilter]]:
    rng = random.Random(seed)
    categories = sorted({p.category for p in products})
    plan = []
    for _ in range(QUERIES):
        p = rng.choice(products)
        words = p.title.split()
        plan.append(
            (
                " ".join(words[: max(2, len(words) // 3)]),
                ProductFilter(
                    category=[p.category, rng.choice(categories)],
                    max_price=(p.price or 100) * 1.5,
                    in_stock=True,
                ),
            )
        )
    return plan


def brute_force_ms(
    store: ProductStore, vectors: np.ndarray, products: list[Product], plan: list
) -> list[float]:
    """Exact filtered top-10 with numpy: the baseline."""
    category = np.array([p.category for p in products])
    price = np.array([p.price or 0.0 for p in products])
    stock = np.array([p.stock or 0 for p in products])
    times = []
    for text, flt in plan:
        start = time.perf_counter()
        q = store.embedder.inner.embed([text])[0]
        mask = np.isin(category, flt.category) & (price <= flt.max_price) & (stock > 0)
        rows = np.flatnonzero(mask)
        scores = vectors[rows] @ q
        top = rows[np.argsort(-scores)[:10]]
        _ = [products[i] for i in top]
        times.append((time.perf_counter() - start) * 1000)
    return times


def run_size(n: int, tmp: Path) -> dict[str, float]:
    products = scaled_catalog(n)
    settings = Settings(store_path=tmp / f"s{n}", cache_dir=tmp / f"cache{n}")
    store = ProductStore.from_settings(settings)
    start = time.perf_counter()
    for i in range(0, n, BATCH):
        store.upsert_products(products[i : i + BATCH])
    ingest_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(0, n, BATCH):
        store.upsert_products(products[i : i + BATCH])
    reingest_s = time.perf_counter() - start

    plan = query_plan(products)
    for text, flt in plan[:5]:  # warm caches
        store.search_products(text, k=10, filters=flt, mode="vector")
    vector_ms = []
    for text, flt in plan:
        start = time.perf_counter()
        store.search_products(text, k=10, filters=flt, mode="vector")
        vector_ms.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    store.products.keyword_index()
    bm25_build_s = time.perf_counter() - start
    hybrid_ms = []
    for text, flt in plan[:50]:
        start = time.perf_counter()
        store.search_products(text, k=10, filters=flt, mode="hybrid")
        hybrid_ms.append((time.perf_counter() - start) * 1000)

    vectors = store.embedder.embed([p.search_text() for p in products])  # all cached
    baseline_ms = brute_force_ms(store, vectors, products, plan)
    return {
        "ingest_per_s": n / ingest_s,
        "reingest_per_s": n / reingest_s,
        "p50_ms": statistics.median(vector_ms),
        "p95_ms": percentile(vector_ms, 95),
        "hybrid_p50_ms": statistics.median(hybrid_ms),
        "hybrid_p95_ms": percentile(hybrid_ms, 95),
        "bm25_build_s": bm25_build_s,
        "baseline_p50_ms": statistics.median(baseline_ms),
        "baseline_p95_ms": percentile(baseline_ms, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k products only")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            results[n] = run_size(n, Path(tmp))
    headers = [
        "products",
        "ingest/s",
        "re-ingest/s",
        "p50 ms",
        "p95 ms",
        "hybrid p50",
        "hybrid p95",
        "BM25 build s",
        "brute p50",
        "brute p95",
        "speedup p95",
    ]
    rows = [
        [
            f"{n:,}",
            r["ingest_per_s"],
            r["reingest_per_s"],
            r["p50_ms"],
            r["p95_ms"],
            r["hybrid_p50_ms"],
            r["hybrid_p95_ms"],
            r["bm25_build_s"],
            r["baseline_p50_ms"],
            r["baseline_p95_ms"],
            r["baseline_p95_ms"] / r["p95_ms"],
        ]
        for n, r in results.items()
    ]
    print("filtered top-10 (category + max price + in stock), end to end, 200 queries\n")
    print_table(headers, rows)
    figures: dict[str, object] = {}
    for n, r in results.items():
        tag = f"{n // 1000}k"
        for key, value in r.items():
            figures[f"{key}_{tag}"] = round(value, 3)
        figures[f"speedup_p95_vs_brute_force_{tag}"] = round(r["baseline_p95_ms"] / r["p95_ms"], 3)
    figures["ingest_products_per_s"] = figures[f"ingest_per_s_{sizes[0] // 1000}k"]
    print()
    print_json_line(figures)


if __name__ == "__main__":
    main()
