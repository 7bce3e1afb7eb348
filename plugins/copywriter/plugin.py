"""The `copywriter` plugin: copy for a product and a channel, checked before it is returned.

Each variant is drafted by the shared model (`copy` adapter, structured output)
from one angle, checked (length/structure, advertising compliance, grounding
in the product facts, keywords), rewritten by the model with the problems
named (bounded), then repaired deterministically; whatever still fails is
returned flagged, never silently passed. Near-duplicate variants are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from pitchcraft.context import Context
from pitchcraft.errors import InputError
from pitchcraft.llm.structured import StructuredOutputError
from pitchcraft.llm.verified import first_passing
from pitchcraft.outcomes import OutcomeLabel
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.copywriter.channels import DATA, Channel, load_channels, localized
from pitchcraft.plugins.copywriter.checks import (
    CHECKS,
    CheckContext,
    Finding,
    Parts,
    render,
    run_checks,
)
from pitchcraft.plugins.copywriter.models import (
    Check,
    CopyRequest,
    CopyResult,
    CopyVariant,
    CopywriterOptions,
    WrittenBy,
)
from pitchcraft.plugins.copywriter.repair import Repairer
from pitchcraft.plugins.copywriter.rules import load_rulebook
from pitchcraft.store.schema import Product, detect_language
from pitchcraft.tables import load_table
from pitchcraft.text.grounding import Facts, fact_attributes
from pitchcraft.text.terms import load_lexicon

NAME = "copywriter"
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
        writer = VariantWriter(req, cc, ctx)
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


# The plugin's tables, loaded once per Context (shipped data merged with the user's).


def channel_table(ctx: Context) -> dict[str, Channel]:
    return ctx.shared("copywriter.channels", lambda: load_channels(ctx.settings))


def angle_table(ctx: Context) -> dict[str, dict[str, str]]:
    return ctx.shared(
        "copywriter.angles", lambda: load_table(DATA / "angles.yaml", NAME, ctx.settings)
    )


def check_context(
    ctx: Context,
    channel: Channel,
    language: str,
    facts: Facts,
    keywords: list[str],
    forbidden: list[str],
) -> CheckContext:
    return CheckContext(
        channel=channel,
        language=language,
        facts=facts,
        rulebook=ctx.shared("copywriter.rules", lambda: load_rulebook(ctx.settings)).with_forbidden(
            forbidden
        ),
        lexicon=ctx.shared("copywriter.lexicon", lambda: load_lexicon(ctx.settings)),
        keywords=keywords,
        instructions=tuple(localized(w, language) for w in angle_table(ctx).values()),
    )


class VariantWriter:
    """Drafts, checks, rewrites and repairs the variants of one request."""

    def __init__(self, req: CopyRequest, cc: CheckContext, ctx: Context) -> None:
        self.req, self.cc, self.ctx = req, cc, ctx
        channel, lang = cc.channel, cc.language
        self.model = ctx.llm.structured(channel.reply_model(), "copy", channel.max_tokens)
        brand = req.brand_profile
        common = {"channel": localized(channel.label, lang)}
        self.system = ctx.prompts.render(
            NAME, "system", lang, **common, dont_words=brand.dont_words if brand else []
        )
        self.task = {
            **common,
            "facts": facts_text(cc.facts.product),
            "audience": req.audience,
            "voice": brand.voice if brand else "",
            "do_words": brand.do_words if brand else [],
            "examples": brand.examples if brand else [],
            "keywords": req.keywords,
            "must_include": cc.must_include,
            "fields": channel.limits_text(lang),
        }

    def write_many(self, angles: list[tuple[str, dict[str, str]]]) -> list[CopyVariant]:
        if not angles:
            return []
        return self.ctx.parallel(self.write, angles, workers=len(angles))

    def write(self, angle: tuple[str, dict[str, str]]) -> CopyVariant:
        key, wording = angle
        lang = self.cc.language
        angle_text = localized(wording, lang)
        prompt = self.ctx.prompts.render(NAME, "write", lang, **self.task, angle=angle_text)
        messages: list[BaseMessage] = [SystemMessage(self.system), HumanMessage(prompt)]
        parts, draft_number = self._first_draft(messages)
        findings = run_checks(parts, self.cc) if parts is not None else []
        draft_checks = {
            c: parts is not None and not any(f.check == c for f in findings) for c in CHECKS
        }
        rewrites = 0
        # Cuts and rewordings the repair does well; the model rewrites only what it cannot.
        while (
            parts is not None
            and not all(f.fixable for f in findings)
            and rewrites < self.req.revisions
        ):
            rewrites += 1
            problems = [f.message for f in findings]
            revise = self.ctx.prompts.render(NAME, "revise", lang, problems=problems)
            messages += [AIMessage(dump(parts)), HumanMessage(revise)]
            parts = self._ask(messages) or parts
            findings = run_checks(parts, self.cc)
        repairer = Repairer(self.cc)
        written_by: WrittenBy = "rewritten" if rewrites else "model"
        if parts is None:
            parts, findings, written_by = {}, [], "template"
            repairer.notes.append("the model's reply was unusable; built from product facts")
        if findings or not parts:
            parts = repairer.repair(parts, findings)
            findings = run_checks(parts, self.cc)
            written_by = "template" if written_by == "template" else "repaired"
        return CopyVariant(
            angle=key,
            parts=parts,
            text=render(parts, self.cc.channel),
            passed=not findings,
            checks=summarise(findings),
            draft_passed=draft_checks,
            rewrites=rewrites,
            repairs=repairer.notes,
            written_by=written_by,
            draft=draft_number,
        )

    def _first_draft(self, messages: list[BaseMessage]) -> tuple[Parts | None, int | None]:
        """The first draft that passes every check among `drafts` asked for together, else
        the greedy one (which rewrites and repair then work on); and its number."""
        options = self.ctx.options(NAME, CopywriterOptions)
        if options.drafts <= 1:
            parts = self._ask(messages)
            return parts, None if parts is None else 1
        found = first_passing(
            self.ctx.llm,
            self.cc.channel.reply_model(),
            messages,
            lambda reply: [f.message for f in run_checks(as_parts(reply), self.cc)],
            adapter="copy",
            max_tokens=self.cc.channel.max_tokens,
            drafts=options.drafts,
            temperature=options.draft_temperature,
        )
        if found.value is not None:
            return as_parts(found.value), found.draft
        greedy = found.candidates[0]
        return (None, None) if greedy is None else (as_parts(greedy), 1)

    def _ask(self, messages: list[BaseMessage]) -> Parts | None:
        try:
            return as_parts(self.model.invoke(messages))
        except StructuredOutputError:
            return None


def as_parts(reply: BaseModel) -> Parts:
    return {
        k: [s.strip() for s in v] if isinstance(v, list) else str(v).strip()
        for k, v in reply.model_dump().items()
        if v is not None
    }


def facts_text(product: Product) -> str:
    lines = [f"title: {product.title}"]
    if product.brand:
        lines.append(f"brand: {product.brand}")
    if product.category:
        lines.append(f"category: {product.category}")
    if product.price is not None:
        lines.append(f"price: {product.price:g} {product.currency}")
    if product.description:
        lines.append(f"description: {product.description[:1500]}")
    lines += [f"{k}: {v}" for k, v in fact_attributes(product).items()]
    return "\n".join(lines)


def dump(parts: Parts) -> str:
    return json.dumps(parts, ensure_ascii=False)


def summarise(findings: list[Finding]) -> list[Check]:
    return [
        Check(
            name=name,
            passed=not (problems := [f.message for f in findings if f.check == name]),
            problems=problems,
        )
        for name in CHECKS
    ]


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
