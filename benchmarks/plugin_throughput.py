"""Throughput of real plugin batches against the engine's ceiling, in one run on this machine.

For each engine (vLLM from `pitchcraft model serve`, reused when one runs, else started here;
the embedded engine):
- ceiling: short generations (up to 64 tokens) with SERVER_IN_FLIGHT requests in flight, the
  bare OpenAI client straight to vLLM; on the embedded engine, its own batched chat model
  with as many in flight as its batch (nothing sits under it to call barer);
- each plugin: `run_batch`, what `pitchcraft run PLUGIN --input FILE` does, over a JSONL of
  real rows with the engine's default requests in flight (settings.concurrency):
  copywriter (held-out demo products, one variant each), support (the evaluation's policy
  questions), recommender (needs of benchmarks/data/needs.yaml, 3 products with reasons),
  sentiment (real Chinese and English reviews at full depth).

tokens/s counts the completion tokens the toolkit's client reported; "of ceiling" is that
over the ceiling's tokens/s in the same run. Latency is per row, p50 / p95.

    python -m benchmarks.plugin_throughput [--quick] [--engines vllm,local] [--rows N]
        [--plugins copywriter,recommender]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import print_json_line, print_table
from benchmarks.eval_copywriter import pick_products
from benchmarks.eval_needs import demo_cases
from benchmarks.eval_sentiment import test_sets
from benchmarks.eval_support import policy_cases
from benchmarks.llm_throughput import MAX_TOKENS, bare_client, concurrent, prompts
from pitchcraft import Context, Registry, Settings
from pitchcraft.batch import run_batch
from pitchcraft.data import demo_shop
from pitchcraft.llm import ModelClient
from pitchcraft.settings import SERVER_IN_FLIGHT
from pitchcraft.store.ingest import ingest_knowledge, ingest_products

ENGINES = ("vllm", "local")
PLUGINS = ("copywriter", "support", "recommender", "sentiment")


def plugin_rows(n: int) -> dict[str, list[dict[str, Any]]]:
    """n real rows a plugin (half Chinese where the data has both languages)."""
    needs = demo_cases()
    reviews = test_sets(n // 2 + 1)  # the sentiment evaluation's held-out reviews
    return {
        "copywriter": [
            {"product": p.model_dump(mode="json"), "variants": 1} for p in pick_products(n)
        ],
        "support": [{"message": c.question} for c in policy_cases()[:: max(1, 80 // n)][:n]],
        "recommender": [
            {"need": c.need, "k": 3, "reasons": True} for c in needs[:: len(needs) // n][:n]
        ],
        "sentiment": [
            {"text": r.text, "depth": "full"}
            for pair in zip(reviews["zh"], reviews["en"], strict=True)
            for r in pair
        ][:n],
    }


def timed(run: Callable[..., Any], seconds: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return run(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - started)

    return wrapper


def completion_tokens(ctx: Context) -> int:
    return sum(n for (_, kind), n in ctx.llm.usage.totals().items() if kind == "completion")


def measure_plugin(
    registry: Registry, name: str, rows: list[dict[str, Any]], folder: Path
) -> dict[str, Any]:
    ctx = registry.context()
    plugin = registry.get(name)
    source = folder / f"{name}.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    seconds: list[float] = []
    plugin.run = timed(plugin.run, seconds)  # type: ignore[method-assign]
    tokens = completion_tokens(ctx)
    started = time.perf_counter()
    report = run_batch(plugin, ctx, source, folder / f"{name}.out.jsonl", overwrite=True)
    wall = time.perf_counter() - started
    tokens = completion_tokens(ctx) - tokens
    ordered = sorted(seconds)
    return {
        "rows": len(rows),
        "ok": report.succeeded,
        "tokens": tokens,
        "seconds": wall,
        "tokens_per_s": tokens / wall,
        "requests_per_min": 60 * len(rows) / wall,
        # a plugin that batches its rows itself (sentiment) has no time per row
        "p50_s": statistics.median(ordered) if ordered else None,
        "p95_s": ordered[round(0.95 * (len(ordered) - 1))] if ordered else None,
    }


@contextmanager
def vllm_url(settings: Settings, merge: str) -> Iterator[str]:
    """The URL (a pool with merged adapters) of the servers `model serve` runs, or of
    servers started here as `model serve --merge MERGE` would."""
    from pitchcraft.llm import serve

    running = serve.recorded_states(settings) if serve.status(settings).get("running") else []
    states = running
    if not running:
        merged = serve.adapters_to_merge(settings, merge)
        states = serve.start_replicas(settings, "127.0.0.1", 8100, 1, merge=merged)
    try:
        yield serve.pool_url(states)
    finally:
        if not running:
            serve.stop(settings)


def engine_settings(engine: str, url: str | None, folder: Path) -> Settings:
    """Settings for one engine; requests in flight and batch sizes are its defaults."""
    backend: dict[str, Any] = (
        {"llm_backend": "openai", "llm_url": url} if engine == "vllm" else {"llm_backend": "local"}
    )
    return Settings(
        store_path=folder / "store",
        plugin_options={
            "recommender": {"model_path": str(folder / "none.npz")},
            "support": {
                "sessions_path": str(folder / "sessions.sqlite"),
                "orders_path": str(folder / "orders.sqlite"),
            },
        },
        **backend,
    )


def run_engine(
    engine: str, url: str | None, rows: dict[str, list[dict[str, Any]]], tmp: Path
) -> tuple[list[list[object]], dict[str, float | None]]:
    folder = tmp / engine
    folder.mkdir()
    settings = engine_settings(engine, url, folder)
    registry = Registry(settings).load()
    ctx = registry.context()
    ingest_products(ctx.store, demo_shop.PRODUCTS)
    ingest_knowledge(ctx.store, demo_shop.POLICIES)
    texts = prompts(SERVER_IN_FLIGHT if engine == "vllm" else settings.local_max_batch)
    if engine == "vllm":
        assert url is not None
        base_url = url.split(",")[0]  # the base model's server
        bare_client(base_url, texts[:2])  # warm up
        tokens, secs = bare_client(base_url, texts)
    else:
        client: ModelClient = ctx.llm
        client.engine()  # load before timing
        tokens, secs = asyncio.run(concurrent(client, texts))
    ceiling = tokens / secs
    table: list[list[object]] = [
        [engine, "ceiling (bare, all in flight)", len(texts), ceiling, "-", 1.0, "-", "-"]
    ]
    figures: dict[str, float | None] = {f"{engine}_ceiling_tokens_per_s": round(ceiling, 2)}
    for name, plugin_input in rows.items():
        m = measure_plugin(registry, name, plugin_input, folder)
        share = m["tokens_per_s"] / ceiling
        table.append(
            [
                engine,
                f"{name} ({int(m['ok'])}/{int(m['rows'])} ok)",
                int(m["rows"]),
                m["tokens_per_s"],
                m["requests_per_min"],
                share,
                "-" if m["p50_s"] is None else m["p50_s"],
                "-" if m["p95_s"] is None else m["p95_s"],
            ]
        )
        figures |= {
            f"{engine}_{name}_tokens_per_s": round(m["tokens_per_s"], 2),
            f"{engine}_{name}_requests_per_min": round(m["requests_per_min"], 2),
            f"{engine}_{name}_of_ceiling": round(share, 3),
            f"{engine}_{name}_p50_s": m["p50_s"] and round(m["p50_s"], 2),
            f"{engine}_{name}_p95_s": m["p95_s"] and round(m["p95_s"], 2),
        }
    figures[f"{engine}_concurrency"] = settings.concurrency
    if engine == "vllm":
        figures["vllm_servers"] = len(settings.llm_urls)
    return table, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 rows a plugin")
    parser.add_argument("--rows", type=int, default=None, help="rows a plugin (default 32)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="vllm, local or both")
    parser.add_argument(
        "--plugins", default=",".join(PLUGINS), help="which of " + ", ".join(PLUGINS)
    )
    parser.add_argument(
        "--merge", default="auto", help="adapters vLLM serves merged (as `model serve --merge`)"
    )
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if unknown := set(engines) - set(ENGINES):
        parser.error(f"--engines: unknown {', '.join(sorted(unknown))} (known: vllm, local)")
    plugins = [p.strip() for p in args.plugins.split(",") if p.strip()]
    if unknown := set(plugins) - set(PLUGINS):
        parser.error(
            f"--plugins: unknown {', '.join(sorted(unknown))} (known: {', '.join(PLUGINS)})"
        )
    found_rows = plugin_rows(args.rows or (4 if args.quick else 32))
    rows = {name: found_rows[name] for name in plugins}
    table: list[list[object]] = []
    figures: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            if engine == "vllm":
                with vllm_url(Settings(), args.merge) as url:
                    part, found = run_engine(engine, url, rows, Path(tmp))
            else:
                part, found = run_engine(engine, None, rows, Path(tmp))
            table += part
            figures |= found
    most = max(len(r) for r in rows.values())
    print(f"{most} rows a plugin; ceiling: up to {MAX_TOKENS} new tokens a request\n")
    print_table(
        ["engine", "run", "rows", "tokens/s", "requests/min", "of ceiling", "p50 s", "p95 s"],
        table,
    )
    print()
    print_json_line(figures)


if __name__ == "__main__":
    main()
