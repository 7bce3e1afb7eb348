"""Copywriter quality on real products from the demo shop (catalog data from packages).

Products: of the half held out from the copy adapter's training (plugins/copywriter/
training.py), every Chinese product and English ones (electronics, clothing) up to
--products; each gets copy for three channels of its language (zh: Taobao
title, Xiaohongshu note, WeChat Moments; en: Amazon listing, Google Ads RSA,
email), --variants variants each, with the product's brand as the keyword.
Rates are over every returned variant; "draft" rates are the model's first
drafts before rewrites and repair (with --drafts K, the first of K that passed every
check, else the greedy one), to show what the checks do. model_written_share: variants
sent as the model wrote them or rewrote them itself (`written_by` model or rewritten).

    python -m benchmarks.eval_copywriter [--quick] [--products 100] [--variants 2]

Uses the configured model backend (PITCHCRAFT_LLM_BACKEND / _LLM_URL): the
embedded model by default, or a vLLM server (`pitchcraft model serve`).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections import defaultdict
from pathlib import Path
from tempfile import mkdtemp

from benchmarks.common import print_json_line, print_table
from pitchcraft import Settings
from pitchcraft.data.demo_shop import load_products
from pitchcraft.errors import PluginRunError
from pitchcraft.plugins.copywriter.models import CopyRequest, CopyResult, CopywriterOptions
from pitchcraft.plugins.copywriter.training import in_training_half
from pitchcraft.registry import Registry
from pitchcraft.store.schema import Product

CHANNELS = {
    "zh": ["taobao_title", "xiaohongshu_note", "wechat_moments"],
    "en": ["amazon_listing", "google_ads_rsa", "email"],
}
EN_WORD = re.compile(r"[a-z0-9]+")


def pick_products(total: int, training_half: bool = False) -> list[Product]:
    """Of the half held out from the copy adapter's training (with `training_half`, of the
    other half, for choosing settings): zh products first (up to half), then en electronics
    and clothing alternately."""
    products = [p for p in load_products() if in_training_half(p) == training_half]
    zh = [p for p in products if p.language == "zh"][: total // 2]
    elec = [p for p in products if p.id.startswith("elec-") and p.description]
    cloth = [p for p in products if p.id.startswith("cloth-")]
    en = [p for pair in zip(elec, cloth, strict=False) for p in pair]
    return zh + en[: total - len(zh)]


def keyword(product: Product) -> str:
    """The brand as the shopper sees it: the zh title's first word, else the brand field."""
    if product.language == "zh":
        return product.title.split()[0]
    return product.brand or product.title.split()[0]


def tokens(text: str, language: str) -> list[str]:
    if language == "zh":
        return [c for c in text if not c.isspace()]
    return EN_WORD.findall(text.lower())


def distinct_2(texts: list[str], language: str) -> float:
    bigrams = [
        tuple(seq[i : i + 2])
        for t in texts
        for seq in [tokens(t, language)]
        for i in range(len(seq) - 1)
    ]
    return len(set(bigrams)) / len(bigrams) if bigrams else 0.0


def copy_options(drafts: int, variant_temperature: float | None) -> dict[str, float]:
    options: dict[str, float] = {"drafts": drafts}
    if variant_temperature is not None:
        options["variant_temperature"] = variant_temperature
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 products, a few minutes")
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--variants", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--save", type=Path, help="write every result to this JSONL file")
    parser.add_argument("--drafts", type=int, default=1, help="first drafts per variant (K)")
    parser.add_argument(
        "--training-half",
        action="store_true",
        help="products of the adapter's training half: for choosing settings, not reporting",
    )
    parser.add_argument(
        "--variant-temperature",
        type=float,
        help="sampling temperature of later variants' drafts (default: the plugin's)",
    )
    args = parser.parse_args()
    n_products = 6 if args.quick else args.products

    settings = Settings(
        store_path=Path(mkdtemp()) / "chroma",
        concurrency=args.concurrency,
        plugin_options={"copywriter": copy_options(args.drafts, args.variant_temperature)},
    )
    registry = Registry(settings).load()
    plugin, ctx = registry.get("copywriter"), registry.context()
    products = pick_products(n_products, args.training_half)
    requests = [
        CopyRequest(product=p, channel=c, keywords=[keyword(p)], variants=args.variants)
        for p in products
        for c in CHANNELS[p.language or "en"]
    ]
    print(f"{len(products)} products, {len(requests)} requests, backend {settings.llm_backend}")
    start = time.perf_counter()
    outcomes = asyncio.run(plugin.run_many(requests, ctx))
    minutes = (time.perf_counter() - start) / 60

    if args.save:
        with args.save.open("w", encoding="utf-8") as handle:
            for out in outcomes:
                if isinstance(out, CopyResult):
                    handle.write(out.model_dump_json() + "\n")
    stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    failures = 0
    for req, out in zip(requests, outcomes, strict=True):
        if isinstance(out, PluginRunError):
            failures += 1
            print(f"failed: {req.channel} {req.product.id if req.product else ''}: {out.reason}")
            continue
        assert isinstance(out, CopyResult)
        for group in (out.channel, "all"):
            s = stats[group]
            for v in out.variants:
                checks = {c.name: c for c in v.checks}
                s["length"].append(checks["length"].passed)
                s["violation"].append(not checks["compliance"].passed)
                s["grounded"].append(checks["grounding"].passed)
                s["keywords"].append(1 - len(checks["keywords"].problems) / len(req.keywords))
                s["passed"].append(v.passed)
                s["draft_length"].append(v.draft_passed["length"])
                s["draft_violation"].append(not v.draft_passed["compliance"])
                s["draft_grounded"].append(v.draft_passed["grounding"])
                s["model_written"].append(v.written_by in ("model", "rewritten"))
            if len(out.variants) > 1:
                s["distinct_2"].append(distinct_2([v.text for v in out.variants], out.language))

    def mean(group: str, key: str) -> float:
        values = stats[group][key]
        return sum(values) / len(values) if values else float("nan")

    keys = [
        "length",
        "violation",
        "grounded",
        "keywords",
        "distinct_2",
        "passed",
        "draft_length",
        "draft_violation",
        "draft_grounded",
    ]
    rows = [
        [g, len(stats[g]["length"]), *[mean(g, k) for k in keys]]
        for g in [*CHANNELS["zh"], *CHANNELS["en"], "all"]
        if stats[g]["length"]
    ]
    print_table(["channel", "variants", *keys], rows)
    print(
        f"failed requests: {failures}; {minutes:.1f} min; "
        f"{len(products) / minutes:.1f} products/min"
    )
    print_json_line(
        {
            "length_compliance": round(mean("all", "length"), 4),
            "violation_rate": round(mean("all", "violation"), 4),
            "grounded_rate": round(mean("all", "grounded"), 4),
            "keyword_coverage": round(mean("all", "keywords"), 4),
            "distinct_2": round(mean("all", "distinct_2"), 4),
            "products_per_min": round(len(products) / minutes, 2),
            "all_checks_passed": round(mean("all", "passed"), 4),
            "draft_length_compliance": round(mean("all", "draft_length"), 4),
            "draft_violation_rate": round(mean("all", "draft_violation"), 4),
            "draft_grounded_rate": round(mean("all", "draft_grounded"), 4),
            "model_written_share": round(mean("all", "model_written"), 4),
            "drafts": args.drafts,
            "products_from": "training half" if args.training_half else "held-out half",
            "variant_temperature": ctx.options("copywriter", CopywriterOptions).variant_temperature,
            "failed_requests": failures,
            "products": len(products),
            "requests": len(requests),
            "backend": settings.llm_backend,
        }
    )


if __name__ == "__main__":
    main()
