"""The `copywriter` plugin: copy for a product and a channel, checked before it is returned.

Each variant is drafted by the shared model (`copy` adapter, structured output)
from one angle, checked (length/structure, advertising compliance, grounding
in the product facts, keywords), rewritten by the model with the problems
named (bounded), then repaired deterministically; whatever still fails is
returned flagged, never silently passed. Near-duplicate variants are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pitchcraft import early
from pitchcraft.context import Context
from pitchcraft.errors import InputError
from pitchcraft.outcomes import OutcomeLabel
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.copywriter.channels import Channel
from pitchcraft.plugins.copywriter.models import CopyRequest, CopyResult, CopyVariant
from pitchcraft.plugins.copywriter.writer import (
    NAME,
    VariantWriter,
    angle_table,
    channel_table,
    check_context,
)
from pitchcraft.store.schema import Product, detect_language
from pitchcraft.text.grounding import Facts

if TYPE_CHECKING:
    from pitchcraft.finetune.sets import TrainingSet

DEFAULT_CHANNEL = {"zh": "taobao_title", "en": "amazon_listing"}  # by the copy's language
DUPLICATE_SIMILARITY = 0.95  # cosine of variant embeddings above which two read the same


class Copywriter(Plugin[CopyRequest, CopyResult]):
    name = NAME
    version = "0.1.0"
    description = (
        "Ad copy and product descriptions per channel (Taobao, JD, Xiaohongshu, Douyin, WeChat, "
        "SMS, Amazon, Google Ads, Meta, email), checked for length, ad-law compliance and facts."
    )
    Input = CopyRequest
    Output = CopyResult
    chat_keywords = (
        "copy",
        "write",
        "description",
        "slogan",
        "headline",
        "caption",
        "文案",
        "写",
        "描述",
        "标题",
        "广告语",
        "种草",
    )

    def chat_request(self, message: str, ctx: Context) -> dict[str, Any] | None:
        hits = ctx.store.search_products(message, k=1)
        if not hits:
            return None
        return {"product_id": hits[0].product.id, "language": detect_language(message)}

    def outcomes(self, result: CopyResult) -> Iterable[OutcomeLabel]:
        for variant in result.variants:
            yield "written_by", variant.written_by
            if variant.draft is not None and variant.draft > 1:
                yield "later_draft", "used"

    def training_sets(self) -> Sequence[TrainingSet]:
        from pitchcraft.plugins.copywriter.training import CHECKED_COPY

        return (CHECKED_COPY,)

    def chat_reply(self, result: CopyResult) -> str:
        blocks = [f"**{v.angle}** · _{v.written_by}_\n\n{v.text}" for v in result.variants]
        return f"{result.channel} · {result.product_id}\n\n" + "\n\n---\n\n".join(blocks)

    writes_sheet = True

    def run(self, req: CopyRequest, ctx: Context) -> CopyResult:
        product = self._product(req, ctx)
        channel = self._channel(req, product, ctx)
        language = req.language or (
            product.language if product.language in channel.languages else channel.languages[0]
        )
        if language not in channel.languages:
            raise InputError(NAME, {"language": f"{channel.key} is written in {channel.languages}"})
        brand = req.brand_profile
        extra = [*req.keywords, *(brand.do_words if brand else []), brand.name if brand else ""]
        cc = check_context(
            ctx,
            channel,
            language,
            Facts(product, [e for e in extra if e]),
            req.keywords,
            brand.dont_words if brand else [],
        )
        angles = list(angle_table(ctx).items())

        def show_done(done: list[CopyVariant]) -> None:  # each variant as soon as it is written
            partial = {"product_id": product.id, "channel": channel.key, "language": language}
            early.show(
                lambda: self.chat_reply(CopyResult(**partial, variants=done, duplicates_removed=0))
            )

        writer = VariantWriter(req, cc, ctx, on_done=show_done)
        variants = writer.write_many(angles[: req.variants])
        kept, removed = drop_near_duplicates(variants, ctx)
        spare = angles[req.variants :]
        if removed and spare:  # one more round from unused angles to make up the count
            extra_variants = writer.write_many(spare[:removed])
            kept, more = drop_near_duplicates(kept + extra_variants, ctx)
            removed += more
        return CopyResult(
            product_id=product.id,
            channel=channel.key,
            language=language,
            variants=kept[: req.variants],
            duplicates_removed=removed,
        )

    def sheet_rows(self, result: CopyResult) -> list[dict[str, Any]]:
        """One row per variant: the parts as columns, then the verdict and what was fixed."""
        rows = []
        for number, v in enumerate(result.variants, 1):
            parts = {k: "\n".join(p) if isinstance(p, list) else p for k, p in v.parts.items()}
            problems = [p for check in v.checks for p in check.problems]
            rows.append(
                {
                    "product_id": result.product_id,
                    "channel": result.channel,
                    "language": result.language,
                    "variant": number,
                    "angle": v.angle,
                    **parts,
                    "passed": v.passed,
                    "problems": "\n".join(problems),
                    "repairs": "\n".join(v.repairs),
                }
            )
        return rows

    def _channel(self, req: CopyRequest, product: Product, ctx: Context) -> Channel:
        channels = channel_table(ctx)
        key = req.channel or DEFAULT_CHANNEL[req.language or product.language or "en"]
        if key not in channels:
            known = ", ".join(sorted(channels))
            raise InputError(NAME, {"channel": f"unknown channel {key!r} (known: {known})"})
        return channels[key]

    def _product(self, req: CopyRequest, ctx: Context) -> Product:
        if req.product is not None:
            return req.product
        assert req.product_id is not None
        found = ctx.store.get_products([req.product_id])
        if not found:
            raise InputError(
                NAME,
                {
                    "product_id": f"{req.product_id!r} is not in the product store "
                    f"({ctx.store.location}); ingest it first or pass the product inline"
                },
            )
        return found[0]


def drop_near_duplicates(
    variants: list[CopyVariant], ctx: Context
) -> tuple[list[CopyVariant], int]:
    """Keep each variant unless it reads the same as an earlier one (embedding cosine)."""
    if len(variants) < 2:
        return variants, 0
    embedder = ctx.store.embedder  # in-memory only: variant texts are not worth keeping on disk
    vectors = np.stack([embedder.embed_query(v.text) for v in variants]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    kept: list[int] = []
    for i in range(len(variants)):
        if all(float(vectors[i] @ vectors[j]) < DUPLICATE_SIMILARITY for j in kept):
            kept.append(i)
    return [variants[i] for i in kept], len(variants) - len(kept)
