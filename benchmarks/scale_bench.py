"""Scale-out on this machine: the local runner against Ray with 1 and 2 workers, and a pool
of 1 and 2 model servers.

  PYTHONPATH=. .venv/bin/python benchmarks/scale_bench.py [--quick] [--no-pool]

(a) Sentiment, fast tier: 20,000 real reviews (2,000 with --quick) through `run_batch` (local) and
    `run_batch_on_ray` (a local Ray instance started once; each job's actor start-up is
    counted, the instance's is not). (b) Ingest with embeddings: the real electronics
    catalogue (553 products) into a Chroma server, every run into a fresh collection with
    an empty embedding cache. (c) The model-server pool: the same requests, all in flight,
    through the toolkit's client with llm_url naming 1 and then 2 vLLM servers.

On 2 cores, two workers or two servers share the same cores: the figures show correctness
and overhead, not a speed-up. `ray_overhead` = local rows/s / Ray-1-worker rows/s (target
<= 1.2, sentiment).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import print_json_line, print_table
from benchmarks.llm_throughput import concurrent, prompts
from pitchcraft import Registry, Settings
from pitchcraft.batch import run_batch
from pitchcraft.data.datasets import electronics_catalog
from pitchcraft.llm import ModelClient, serve
from pitchcraft.plugins.sentiment.corpus import chinese_examples, english_examples
from pitchcraft.store.ingest import ingest_products
from pitchcraft.store.store import ProductStore
from tests.store_fixtures import free_port, start_chroma

FAST = {"depth": "fast"}


def review_file(folder: Path, per_language: int) -> Path:
    """Real reviews of both languages (every split: this measures speed, not accuracy)."""
    rng = random.Random(5)
    texts = [e.text for e in rng.sample(chinese_examples(), per_language)]
    texts += [e.text for e in rng.sample(english_examples(), per_language)]
    path = folder / "reviews.jsonl"
    path.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts),
        encoding="utf-8",
    )
    return path


def catalog_file(folder: Path) -> Path:
    path = folder / "catalog.jsonl"
    path.write_text("".join(p.model_dump_json() + "\n" for p in electronics_catalog()))
    return path


def timed(run: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    rows = run()
    return rows, time.perf_counter() - start


def fresh(folder: Path, **extra: Any) -> Settings:
    """Settings with their own empty caches, so no run reads another's embeddings."""
    cache = Path(tempfile.mkdtemp(dir=folder))
    return Settings(store_path=cache / "chroma", cache_dir=cache, **extra)


FIRST_RESULT: dict[str, float] = {}  # seconds from a Ray job's start to its first result


def sentiment_runs(folder: Path, reviews: Path) -> dict[str, tuple[int, float]]:
    from pitchcraft.scale.ray_batch import run_batch_on_ray

    def local() -> int:
        settings = fresh(folder)
        registry = Registry(settings).load()
        out = Path(tempfile.mkdtemp(dir=folder)) / "out.jsonl"
        plugin, ctx = registry.get("sentiment"), registry.context()
        return run_batch(plugin, ctx, reviews, out, defaults=FAST).succeeded

    def on_ray(workers: int) -> Callable[[], int]:
        def run() -> int:
            settings = fresh(folder)
            plugin = Registry(settings).load().get("sentiment")
            out = Path(tempfile.mkdtemp(dir=folder)) / "out"
            start = time.perf_counter()

            def first(done: int, total: int | None) -> None:
                FIRST_RESULT.setdefault(f"ray_{workers}", time.perf_counter() - start)

            report = run_batch_on_ray(
                plugin,
                settings,
                str(reviews),
                out,
                workers=workers,
                defaults=FAST,
                on_progress=first,
            )
            return report.succeeded

        return run

    return {"local": timed(local), "ray_1": timed(on_ray(1)), "ray_2": timed(on_ray(2))}


def ingest_runs(folder: Path, catalog: Path, chroma_url: str) -> dict[str, tuple[int, float]]:
    from pitchcraft.scale.ray_ingest import ingest_products_on_ray

    def settings() -> Settings:
        return fresh(folder, chroma_url=chroma_url, collection_prefix=f"b{uuid.uuid4().hex[:8]}_")

    def local() -> int:
        store = ProductStore.from_settings(settings())
        return ingest_products(store, catalog, folder / "rejects.jsonl").counts.added

    def on_ray(workers: int) -> Callable[[], int]:
        def run() -> int:
            report = ingest_products_on_ray(
                settings(), str(catalog), folder / "rejects.jsonl", workers=workers
            )
            return report.counts.added

        return run

    return {"local": timed(local), "ray_1": timed(on_ray(1)), "ray_2": timed(on_ray(2))}


def pool_runs(folder: Path, requests: int) -> dict[str, tuple[int, float]]:
    """Tokens and seconds for `requests` in flight at once, to 1 and to 2 servers."""
    settings = Settings()
    states = serve.start_replicas(settings, "127.0.0.1", free_port(), 2, run_dir=folder)
    try:
        texts = prompts(requests)
        runs = {}
        for name, urls in (("pool_1", states[:1]), ("pool_2", states)):
            url = ",".join(s.url for s in urls)
            client = ModelClient(Settings(llm_backend="openai", llm_url=url))
            asyncio.run(concurrent(client, texts[:4]))  # warm
            runs[name] = asyncio.run(concurrent(client, texts))
        return runs
    finally:
        serve.stop(settings, run_dir=folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 reviews, 16 requests")
    parser.add_argument("--no-pool", action="store_true", help="skip (c), the vLLM servers")
    args = parser.parse_args()
    per_language, requests = (1000, 16) if args.quick else (10_000, 64)
    from pitchcraft.scale.cluster import connect

    connect(None)  # the local Ray instance, once, outside the timings
    figures: dict[str, Any] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sentiment = sentiment_runs(folder, review_file(folder, per_language))
        proc, chroma_url = start_chroma(folder / "chroma-server")
        try:
            ingest = ingest_runs(folder, catalog_file(folder), chroma_url)
        finally:
            proc.terminate()
        for job, runs in (("sentiment", sentiment), ("ingest", ingest)):
            for engine, (count, seconds) in runs.items():
                rate = count / seconds
                figures[f"{job}_rows_per_s_{engine}"] = round(rate, 1)
                rows.append((job, engine, count, round(seconds, 1), round(rate, 1)))
        figures["ray_overhead"] = round(
            figures["sentiment_rows_per_s_local"] / figures["sentiment_rows_per_s_ray_1"], 3
        )
        figures["ray_first_result_s"] = round(FIRST_RESULT["ray_1"], 1)
        figures["ingest_ray_overhead"] = round(
            figures["ingest_rows_per_s_local"] / figures["ingest_rows_per_s_ray_1"], 3
        )
        if not args.no_pool:
            for name, (tokens, seconds) in pool_runs(folder, requests).items():
                figures[f"{name}_tokens_per_s"] = round(tokens / seconds, 1)
                rows.append(("model pool", name, requests, round(seconds, 1), "-"))
    print_table(("job", "engine", "rows / requests", "seconds", "rows/s"), rows)
    if not args.no_pool:
        print(
            f"model pool: {figures['pool_1_tokens_per_s']} tokens/s with 1 server, "
            f"{figures['pool_2_tokens_per_s']} with 2 (two servers share these 2 cores)"
        )
    print(
        f"ray_overhead (sentiment, local / Ray 1 worker): {figures['ray_overhead']}; "
        f"a Ray job's first result after {figures['ray_first_result_s']} s (worker start-up)"
    )
    print_json_line(figures)


if __name__ == "__main__":
    main()
