"""Generation throughput of the shared model, three ways, in one run on this machine:

(a) one request at a time with plain transformers `generate` (the baseline),
(b) the same requests sent concurrently to the local backend, which batches them, and
    (b') again with replies constrained to a JSON schema (`local_structured_vs_plain`),
(c) the same requests sent concurrently to vLLM (`pitchcraft model serve`, started
    here if it is not running),
plus the structured-output parse rate on a fixed set of prompts for both backends, and on
vLLM the ceiling: the bare OpenAI client (no toolkit) with 16, 32, 64 and 128 requests in
flight (`ceiling_tokens_per_s`: the best; `ceiling_speedup`: it ÷ (a)), the toolkit's client
with its default requests in flight to a server (`speedup_vllm`: it ÷ (a); `toolkit_overhead`:
its shortfall against the bare client at equal concurrency), and the toolkit's
client at 64 on one adapter and spread over the base model and every served adapter, first
with the adapters as LoRA modules of one server, then merged into servers of their own
(`model serve --merge auto`; `multi_adapter_ratio` = the spread ÷ one adapter there).

    python -m benchmarks.llm_throughput [--quick] [--no-vllm] [--no-merged]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from benchmarks.common import print_json_line, print_table
from pitchcraft import Settings
from pitchcraft.data import demo_shop
from pitchcraft.llm import ModelClient, StructuredOutputError
from pitchcraft.llm.base_model import base_model_dir
from pitchcraft.settings import SERVER_IN_FLIGHT

MAX_TOKENS = 64
IN_FLIGHT = (16, 32, 64, 128)  # requests in flight for the ceiling on vLLM


class AdLine(BaseModel):
    headline: str = Field(max_length=60, description="Ad headline, at most 60 characters.")
    selling_points: list[str] = Field(max_length=3, description="Up to three short points.")


def prompts(n: int) -> list[str]:
    products = demo_shop.load_products()
    step = max(1, len(products) // n)
    return [f"Write a one-line ad for: {p.title}" for p in products[::step][:n]]


def sequential_transformers(cache_dir: Path, texts: list[str]) -> tuple[int, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = base_model_dir(cache_dir)
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).eval()
    tokens, start = 0, time.perf_counter()
    for text in texts:
        chat = tok.apply_chat_template(
            [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False
        )
        inputs = tok(chat, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=MAX_TOKENS, do_sample=False)
        new = out[0, inputs["input_ids"].shape[1] :].tolist()
        tokens += next((i for i, t in enumerate(new) if t == tok.eos_token_id), len(new))
    return tokens, time.perf_counter() - start


async def concurrent(
    client: ModelClient, texts: list[str], adapters: Sequence[str | None] = (None,)
) -> tuple[int, float]:
    """All of `texts` in flight at once through the toolkit's client, spread in turn over
    `adapters` (None: the base model)."""
    chats = [client.chat(adapter=a, max_tokens=MAX_TOKENS) for a in adapters]
    start = time.perf_counter()
    replies = await asyncio.gather(*(chats[n % len(chats)].ainvoke(t) for n, t in enumerate(texts)))
    elapsed = time.perf_counter() - start
    return sum(r.usage_metadata["output_tokens"] for r in replies), elapsed


def bare_client(url: str, texts: list[str]) -> tuple[int, float]:
    """The OpenAI client straight to the server (no toolkit), every request in flight at
    once: the engine's ceiling at that many in flight."""
    from openai import AsyncOpenAI

    async def run() -> tuple[int, float]:
        # closed inside the loop: left to the garbage collector it closes its connections
        # after the loop has ended ("Event loop is closed")
        async with AsyncOpenAI(base_url=url, api_key="none") as client:
            model = (await client.models.list()).data[0].id
            start = time.perf_counter()
            replies = await asyncio.gather(
                *(
                    client.chat.completions.create(
                        model=model,
                        messages=[{"role": "user", "content": t}],
                        max_tokens=MAX_TOKENS,
                        temperature=0,
                    )
                    for t in texts
                )
            )
            elapsed = time.perf_counter() - start
        return sum(r.usage.completion_tokens for r in replies if r.usage), elapsed

    return asyncio.run(run())


async def structured_concurrent(client: ModelClient, texts: list[str]) -> tuple[int, float]:
    """`concurrent`, with every reply constrained to `AdLine`'s JSON schema (the local
    engine's structured generation, as plugins use it)."""
    chat = client.chat(max_tokens=MAX_TOKENS).bind(json_schema=AdLine.model_json_schema())
    start = time.perf_counter()
    replies = await asyncio.gather(*(chat.ainvoke(t) for t in texts))
    elapsed = time.perf_counter() - start
    return sum(r.usage_metadata["output_tokens"] for r in replies), elapsed


async def parse_rate(client: ModelClient, texts: list[str]) -> float:
    structured = client.structured(AdLine, max_tokens=120)

    async def one(text: str) -> bool:
        try:
            await structured.ainvoke(text)
            return True
        except StructuredOutputError:
            return False

    results = await asyncio.gather(*(one(t) for t in texts))
    return sum(results) / len(results)


def adapter_mixes(
    client: ModelClient,
    models: Sequence[str | None],
    baseline: float,
    figures: dict[str, float],
    kind: str,
) -> list[list[object]]:
    """64 in flight on one adapter, then 64 spread over `models` (None: the base)."""
    rows: list[list[object]] = []
    one = next(m for m in models if m is not None)
    for label, spread in ((f"one adapter ({one})", [one]), (f"{len(models)} models", models)):
        tokens, secs = asyncio.run(concurrent(client, prompts(64), spread))
        key = "one_adapter" if len(spread) == 1 else "mixed"
        figures[f"{kind}_{key}_tokens_per_s"] = round(tokens / secs, 2)
        rows.append([f"{kind}: 64 in flight, {label}", 64, tokens, secs, tokens / secs,
                     tokens / secs / baseline])  # fmt: skip
    return rows


def merged_servers(
    settings: Settings, baseline: float, figures: dict[str, float]
) -> list[list[object]]:
    """The adapters merged into servers of their own (`model serve --merge auto`: as many as
    fit in memory; the rest stay LoRA on the base model's server and are left out of the
    spread, whose time they would set)."""
    from pitchcraft.llm import serve

    merged = serve.adapters_to_merge(settings, "auto")
    if not merged:
        print("merged servers skipped: no adapter server fits in free memory")
        return []
    states = serve.start_replicas(settings, "127.0.0.1", 8100, 1, merge=merged)
    try:
        pooled = settings.model_copy(
            update={"llm_backend": "openai", "llm_url": serve.pool_url(states)}
        )
        client = ModelClient(pooled)
        asyncio.run(concurrent(client, prompts(len(merged) + 1), [None, *merged]))  # warm up
        rows = adapter_mixes(client, [None, *merged], baseline, figures, "merged")
    finally:
        serve.stop(settings)
    figures["merged_adapters"] = len(merged)
    figures["adapters_left_on_lora"] = len(states[0].adapters)
    figures["multi_adapter_ratio"] = round(
        figures["merged_mixed_tokens_per_s"] / figures["merged_one_adapter_tokens_per_s"], 3
    )
    if "lora_one_adapter_tokens_per_s" in figures:
        figures["merged_vs_lora"] = round(
            figures["merged_one_adapter_tokens_per_s"] / figures["lora_one_adapter_tokens_per_s"],
            3,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 requests, 16 parse prompts")
    parser.add_argument("--no-vllm", action="store_true", help="skip (c) and everything on vLLM")
    parser.add_argument("--no-merged", action="store_true", help="skip the merged adapter servers")
    args = parser.parse_args()
    n, n_parse = (8, 16) if args.quick else (32, 100)
    settings = Settings()
    texts = prompts(n)
    parse_texts = [t.replace("one-line ad", "an ad headline") for t in prompts(n_parse)]

    rows, figures = [], {}
    tokens, secs = sequential_transformers(settings.cache_dir, texts)
    baseline = tokens / secs
    rows.append(["(a) transformers, one by one", n, tokens, secs, baseline, 1.0])

    local = ModelClient(settings.model_copy(update={"llm_backend": "local"}))
    local.engine()  # load before timing
    tokens, secs = asyncio.run(concurrent(local, texts))
    rows.append(
        ["(b) local backend, batched", n, tokens, secs, tokens / secs, tokens / secs / baseline]
    )
    figures["speedup_local_batched"] = round(tokens / secs / baseline, 3)
    plain = tokens / secs
    # warm up: the schema mask's vocabulary tables are built once a process (seconds)
    asyncio.run(structured_concurrent(local, texts[:1]))
    tokens, secs = asyncio.run(structured_concurrent(local, texts))
    rows.append(["(b') local backend, batched, JSON schema", n, tokens, secs, tokens / secs,
                 tokens / secs / baseline])  # fmt: skip
    figures["local_structured_vs_plain"] = round(tokens / secs / plain, 3)
    figures["parse_rate_local"] = asyncio.run(parse_rate(local, parse_texts))

    if not args.no_vllm:
        from pitchcraft.llm import serve

        state = serve.read_state(settings) if serve.status(settings).get("running") else None
        started = state is None
        if started:
            state = serve.start(settings, "127.0.0.1", 8100)
        try:
            remote = ModelClient(
                settings.model_copy(update={"llm_backend": "openai", "llm_url": state.url})
            )
            asyncio.run(concurrent(remote, texts[:2]))  # warm up
            tokens, secs = asyncio.run(concurrent(remote, texts))
            rows.append(
                ["(c) vLLM, concurrent", n, tokens, secs, tokens / secs, tokens / secs / baseline]
            )
            figures["speedup_vllm_same_requests"] = round(tokens / secs / baseline, 3)
            figures["parse_rate_vllm"] = asyncio.run(parse_rate(remote, parse_texts))
            for in_flight in IN_FLIGHT:
                many = prompts(in_flight)
                tokens, secs = bare_client(state.url, many)
                rows.append([f"(d) bare client, {in_flight} in flight", in_flight, tokens,
                             secs, tokens / secs, tokens / secs / baseline])  # fmt: skip
                figures[f"bare_tokens_per_s_{in_flight}"] = round(tokens / secs, 2)
            ceiling = max(figures[f"bare_tokens_per_s_{k}"] for k in IN_FLIGHT)
            figures["ceiling_tokens_per_s"] = ceiling
            figures["ceiling_speedup"] = round(ceiling / baseline, 3)
            # the toolkit as plugins drive a server: its default requests in flight
            in_flight = SERVER_IN_FLIGHT
            tokens, secs = asyncio.run(concurrent(remote, prompts(in_flight)))
            rows.append([f"(e) toolkit client, {in_flight} in flight (its default)", in_flight,
                         tokens, secs, tokens / secs, tokens / secs / baseline])  # fmt: skip
            figures["toolkit_tokens_per_s_default"] = round(tokens / secs, 2)
            figures["speedup_vllm"] = round(tokens / secs / baseline, 3)
            figures["speedup_vllm_vs_ceiling"] = round(
                figures["speedup_vllm"] / figures["ceiling_speedup"], 3
            )
            if in_flight in IN_FLIGHT:  # equal concurrency: the client's own cost
                figures["toolkit_overhead"] = round(
                    1 - (tokens / secs) / figures[f"bare_tokens_per_s_{in_flight}"], 3
                )
            adapters = [None, *state.adapters]
            if len(adapters) > 1:
                rows += adapter_mixes(remote, adapters, baseline, figures, "lora")
                figures["mixed_adapters_vs_base"] = round(
                    figures["lora_mixed_tokens_per_s"] / figures["toolkit_tokens_per_s_default"], 3
                )
                # as a GPU serves them (LoRA); on CPUs the merged servers' ratio replaces it
                figures["multi_adapter_ratio"] = figures["multi_adapter_ratio_lora"] = round(
                    figures["lora_mixed_tokens_per_s"] / figures["lora_one_adapter_tokens_per_s"], 3
                )
        finally:
            if started:
                serve.stop(settings)
        if started and len(adapters) > 1 and not args.no_merged:
            rows += merged_servers(settings, baseline, figures)
        elif len(adapters) > 1:
            print(
                "merged servers skipped: a server was already running (stop it to measure merging)"
            )

    print(f"{n} requests, up to {MAX_TOKENS} new tokens each, greedy\n")
    print_table(["method", "requests", "tokens", "seconds", "tokens/s", "vs (a)"], rows)
    print(
        f"\nstructured-output parse rate on {n_parse} prompts: "
        + ", ".join(
            f"{k.removeprefix('parse_rate_')} {v:.0%}"
            for k, v in figures.items()
            if k.startswith("parse")
        )
    )
    figures["baseline_tokens_per_s"] = round(baseline, 3)
    print()
    print_json_line(figures)


if __name__ == "__main__":
    main()
