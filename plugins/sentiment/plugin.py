"""The `sentiment` plugin: polarity, aspects with quoted evidence, reply drafts, batch reports.

Polarity comes from the fast classifier (classifier.py), batched across
requests, or from the strong tier (strong.py: the fast tier blended with a head on the
shared model's hidden states), by the `polarity_tier` option. Aspects come from the
aspect lexicon scored clause by clause (fast depth) or from the shared model (`reviews`
adapter, full depth), which also reads sarcasm: a review it reads as sarcastic and
negative takes the model's polarity, since the classifiers see only the literal praise.
Every quote is checked against the review (aspects.locate).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pitchcraft.charts import Chart
from pitchcraft.context import Context
from pitchcraft.errors import PitchcraftError, PluginRunError
from pitchcraft.finetune.sets import TrainingSet
from pitchcraft.llm.structured import StructuredOutputError
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.sentiment.aspects import (
    aspect_mentions,
    is_mixed,
    lexicon_aspects,
    model_aspects,
    with_lexicon,
)
from pitchcraft.plugins.sentiment.classifier import Prediction
from pitchcraft.plugins.sentiment.models import (
    Aspect,
    ReviewRequest,
    ReviewResult,
    SentimentOptions,
    Tier,
)
from pitchcraft.plugins.sentiment.replies import (
    DraftReply,
    reply_problems,
    template_reply,
)
from pitchcraft.plugins.sentiment.report import review_charts, write_report
from pitchcraft.plugins.sentiment.shared import (
    NAME,
    aspect_table,
    reading_request,
    reply_rules,
    shared_classifier,
    shared_strong_classifier,
)
from pitchcraft.store.schema import detect_language

ADAPTER = "reviews"
READ_MAX_TOKENS = 320
REPLY_MAX_TOKENS = 200

log = logging.getLogger(__name__)


class SentimentAnalyzer(Plugin[ReviewRequest, ReviewResult]):
    name = NAME
    version = "0.1.0"
    description = (
        "Review polarity (fast calibrated classifier), aspects with quoted evidence, sarcasm, "
        "reply drafts for negative reviews, and batch reports with charts. zh and en."
    )
    Input = ReviewRequest
    Output = ReviewResult
    chat_keywords = ("review", "feedback", "sentiment", "评价", "评论", "差评", "好评", "情感")

    def chat_request(self, message: str, ctx: Context) -> dict[str, Any]:
        # "analyse this review: <text>" -> the text after the first colon
        _, sep, tail = message.replace("：", ":").partition(":")
        return {"text": tail.strip() if sep and tail.strip() else message, "reply": True}

    def chat_reply(self, result: ReviewResult) -> str:
        lines = [f"**{result.polarity}** (confidence {result.confidence:.2f})"]
        lines += [f"- {a.aspect}: {a.polarity} — “{a.evidence}”" for a in result.aspects]
        if result.reply:
            lines.append(f"Reply draft: {result.reply}")
        return "\n".join(lines)

    writes_sheet = True
    writes_report = True

    def charts(self, results: Sequence[ReviewResult], ctx: Context) -> list[Chart]:
        return review_charts(results, aspect_table(ctx))

    def training_sets(self) -> Sequence[TrainingSet]:
        from pitchcraft.plugins.sentiment.training import READING

        return (READING,)

    def run(self, req: ReviewRequest, ctx: Context) -> ReviewResult:
        (outcome,) = self.analyze([req], ctx)
        if isinstance(outcome, PluginRunError):
            raise outcome
        return outcome

    async def run_many(
        self, reqs: Sequence[ReviewRequest], ctx: Context
    ) -> list[ReviewResult | PluginRunError]:
        """The classifier scores the whole batch at once; model calls run concurrently."""
        try:
            results = await asyncio.to_thread(self.analyze, list(reqs), ctx)
        except PitchcraftError as err:  # e.g. a missing artefact: every row fails the same way
            return [PluginRunError(self.name, str(err), cause=err) for _ in reqs]
        return results

    def analyze(
        self, reqs: list[ReviewRequest], ctx: Context
    ) -> list[ReviewResult | PluginRunError]:
        classifier = shared_classifier(ctx)
        table = aspect_table(ctx)
        languages = [r.language or detect_language(r.text) for r in reqs]
        tiers = [self.tier(r, ctx) for r in reqs]
        polarity = scored_by_tier(reqs, languages, tiers, ctx)
        mentions = [
            aspect_mentions(r.text, lang, table) for r, lang in zip(reqs, languages, strict=True)
        ]
        clauses = [
            (c.text, lang)
            for found, lang in zip(mentions, languages, strict=True)
            for _, c in found
        ]
        clause_scores = iter(
            classifier.predict([t for t, _ in clauses], [lang for _, lang in clauses])
        )
        lexicon = [
            lexicon_aspects(found, [next(clause_scores) for _ in found]) for found in mentions
        ]
        jobs = [
            (req, lang, pred, tier, aspects)
            for req, lang, pred, tier, aspects in zip(
                reqs, languages, polarity, tiers, lexicon, strict=True
            )
        ]

        def finish(job: tuple[Any, ...]) -> ReviewResult | PluginRunError:
            try:
                return self._finish(*job, ctx)
            except PitchcraftError as err:
                return PluginRunError(self.name, str(err), cause=err)

        if len(jobs) == 1 or all(r.depth == "fast" and not r.reply for r in reqs):
            return [finish(job) for job in jobs]
        return ctx.parallel(finish, jobs)

    @staticmethod
    def tier(req: ReviewRequest, ctx: Context) -> Tier:
        chosen = ctx.options(NAME, SentimentOptions).polarity_tier
        if chosen == "auto":
            return "strong" if req.depth == "full" else "fast"
        return chosen

    def _finish(
        self,
        req: ReviewRequest,
        language: str,
        pred: Prediction,
        tier: Tier,
        lexicon: list[Aspect],
        ctx: Context,
    ) -> ReviewResult:
        aspects, dropped, refused, sarcastic, source = lexicon, 0, 0, None, "classifier"
        label = pred.label
        if req.depth == "full":
            reading = read_with_model(req.text, language, ctx)
            if reading is not None:
                table = aspect_table(ctx)
                named, dropped, refused = model_aspects(
                    req.text, reading, lambda key, quote: table.supports(key, quote, language)
                )
                aspects = with_lexicon(named, lexicon)
                sarcastic = bool(reading.sarcastic)
                if sarcastic and reading.overall == "negative" and label != "negative":
                    label, source = "negative", "model"
        result = ReviewResult(
            review_id=req.review_id,
            product_id=req.product_id,
            rating=req.rating,
            date=req.date,
            text=req.text,
            language=language,  # type: ignore[arg-type]
            polarity=label,
            confidence=pred.confidence,
            score=round(pred.score, 4),
            probabilities=dict(pred.probabilities),
            polarity_source=source,  # type: ignore[arg-type]
            polarity_tier=tier,
            mixed=is_mixed(aspects),
            sarcastic=sarcastic,
            aspects=aspects,
            unsupported_evidence=dropped,
            refused_aspects=refused,
            depth=req.depth,
        )
        if req.reply and result.polarity == "negative":
            result.reply, result.reply_source = draft_reply(result, ctx)
        return result

    def sheet_rows(self, result: ReviewResult) -> list[dict[str, Any]]:
        def quoted(polarity: str) -> str:
            return "\n".join(
                f"{a.aspect}: {a.evidence}" for a in result.aspects if a.polarity == polarity
            )

        return [
            {
                "review_id": result.review_id,
                "product_id": result.product_id,
                "date": result.date.isoformat() if result.date else None,
                "rating": result.rating,
                "polarity": result.polarity,
                "confidence": result.confidence,
                "score": result.score,
                "mixed": result.mixed,
                "sarcastic": result.sarcastic,
                "liked": quoted("positive"),
                "disliked": quoted("negative"),
                "text": result.text,
                "reply": result.reply,
            }
        ]

    def write_report(
        self, results: Sequence[ReviewResult], folder: Path, ctx: Context
    ) -> list[Path]:
        return write_report(list(results), aspect_table(ctx), folder)


# -- model calls ---------------------------------------------------------------------------


def read_with_model(review: str, language: str, ctx: Context) -> Any | None:
    """The shared model's reading of a review, or None when it gave no usable answer."""
    schema, prompt = reading_request(review, language, ctx)
    try:
        return ctx.llm.structured(schema, ADAPTER, READ_MAX_TOKENS).invoke(prompt)
    except StructuredOutputError as err:
        log.warning("sentiment: the model's reading was unusable: %s", err)
        return None


def draft_reply(result: ReviewResult, ctx: Context) -> tuple[str, str]:
    """(reply, "model"|"template"): the model's draft when it passes the reply rules."""
    lang = result.language
    rules = reply_rules(ctx)[lang]
    table = aspect_table(ctx)
    complaints = [table.label(a.aspect, lang) for a in result.aspects if a.polarity == "negative"]
    prompt = ctx.prompts.render(NAME, "reply", lang, review=result.text, complaints=complaints)
    try:
        draft = ctx.llm.structured(DraftReply, ADAPTER, REPLY_MAX_TOKENS).invoke(prompt)
    except StructuredOutputError as err:
        log.warning("sentiment: the model's reply draft was unusable: %s", err)
    else:
        text = draft.reply.strip()
        problems = reply_problems(text, lang, rules)
        if text and not problems:
            return text, "model"
        log.info("sentiment: reply draft refused (%s)", "; ".join(problems) or "empty")
    return template_reply(complaints, rules), "template"


def scored_by_tier(
    reqs: Sequence[ReviewRequest], languages: Sequence[str], tiers: Sequence[Tier], ctx: Context
) -> list[Prediction]:
    """Each review's polarity from its tier, each tier scoring its reviews in one batch."""
    out: list[Prediction | None] = [None] * len(reqs)
    for tier in ("fast", "strong"):
        rows = [i for i, t in enumerate(tiers) if t == tier]
        if not rows:
            continue
        classifier = shared_strong_classifier(ctx) if tier == "strong" else shared_classifier(ctx)
        scored = classifier.predict([reqs[i].text for i in rows], [languages[i] for i in rows])
        for i, prediction in zip(rows, scored, strict=True):
            out[i] = prediction
    return [p for p in out if p is not None]
