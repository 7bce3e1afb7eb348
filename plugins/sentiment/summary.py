"""The `review-summary` plugin: from analysed reviews (the sentiment plugin's results), what
customers like, what they complain about, and what to improve first.

Complaints are ranked by how many reviews criticise the aspect; each suggestion is
the aspect's `action` from the aspect table (data/aspects.yaml, overridable per
shop), with the customers' own words quoted as evidence. It runs no model: a
digest of thousands of reviews takes milliseconds, and every line in it traces
back to reviews.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pitchcraft.charts import Chart
from pitchcraft.context import Context
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.sentiment.models import ReviewResult
from pitchcraft.plugins.sentiment.report import QUOTES_PER_ASPECT, main_language, summarise
from pitchcraft.plugins.sentiment.shared import aspect_table

EXAMPLE_REVIEW = {
    "text": "音质很好，但是物流太慢了，等了一个星期。",
    "language": "zh",
    "polarity": "negative",
    "confidence": 0.7,
    "score": -0.4,
    "probabilities": {"negative": 0.7, "neutral": 0.0, "positive": 0.3},
    "polarity_source": "classifier",
    "mixed": True,
    "unsupported_evidence": 0,
    "aspects": [
        {
            "aspect": "performance",
            "polarity": "positive",
            "evidence": "音质很好",
            "start": 0,
            "source": "lexicon",
        },
        {
            "aspect": "logistics",
            "polarity": "negative",
            "evidence": "物流太慢了",
            "start": 5,
            "source": "lexicon",
        },
    ],
    "depth": "fast",
}


class SummaryRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reviews": [EXAMPLE_REVIEW]}]})

    reviews: list[ReviewResult] = Field(
        min_length=1, max_length=100_000, description="Results of the sentiment plugin."
    )
    language: Literal["zh", "en"] | None = Field(
        default=None, description="Language of labels and suggestions; default: the reviews'."
    )
    top: int = Field(default=3, ge=1, le=20, description="How many suggestions and praises.")


class Suggestion(BaseModel):
    aspect: str
    label: str
    negative_reviews: int = Field(description="Reviews that criticise this aspect.")
    share: float = Field(description="negative_reviews / all reviews.")
    action: str = Field(description="What to improve (from the aspect table).")
    quotes: list[str] = Field(description="Customers' own words, as evidence.")


class Praise(BaseModel):
    aspect: str
    label: str
    positive_reviews: int
    quotes: list[str]


class SummaryResult(BaseModel):
    language: Literal["zh", "en"]
    reviews: int
    polarity: dict[str, int]
    negative_share: float
    mixed: int
    suggestions: list[Suggestion] = Field(description="Most complained-about aspects first.")
    praised: list[Praise]


class ReviewSummary(Plugin[SummaryRequest, SummaryResult]):
    name = "review-summary"
    version = "0.1.0"
    description = (
        "Digest analysed reviews: polarity counts, what customers praise, and improvement "
        "suggestions ranked by how many reviews complain, with quotes as evidence."
    )
    Input = SummaryRequest
    Output = SummaryResult

    def run(self, req: SummaryRequest, ctx: Context) -> SummaryResult:
        table = aspect_table(ctx)
        language = req.language or main_language(req.reviews)
        group = summarise(req.reviews, table, language)
        complaints = sorted(
            (a for a in group.aspects if a.negative), key=lambda a: (-a.negative, a.aspect)
        )
        suggestions = []
        for a in complaints[: req.top]:
            spec = table.specs.get(a.aspect)
            action = spec.action.get(language, "") if spec else ""
            suggestions.append(
                Suggestion(
                    aspect=a.aspect,
                    label=a.label,
                    negative_reviews=a.negative,
                    share=round(a.negative / group.reviews, 4),
                    action=action or default_action(a.label, language),
                    quotes=a.quotes.get("negative", [])[:QUOTES_PER_ASPECT],
                )
            )
        praised = [
            Praise(
                aspect=a.aspect,
                label=a.label,
                positive_reviews=a.positive,
                quotes=a.quotes.get("positive", [])[:QUOTES_PER_ASPECT],
            )
            for a in sorted(group.aspects, key=lambda a: (-a.positive, a.aspect))[: req.top]
            if a.positive
        ]
        return SummaryResult(
            language=language,
            reviews=group.reviews,
            polarity=group.polarity,
            negative_share=group.share["negative"],
            mixed=group.mixed,
            suggestions=suggestions,
            praised=praised,
        )

    def chat_reply(self, result: SummaryResult) -> str:
        zh = result.language == "zh"
        head = (
            f"**{result.reviews} 条评价，差评占 {result.negative_share:.0%}**"
            if zh
            else f"**{result.reviews} reviews, {result.negative_share:.0%} negative**"
        )
        lines = [head, "改进建议：" if zh else "What to improve:"]
        for i, s in enumerate(result.suggestions, 1):
            quotes = " / ".join(f"“{q}”" for q in s.quotes[:2])
            lines.append(f"{i}. **{s.label}** ({s.negative_reviews}): {s.action} {quotes}")
        if not result.suggestions:
            lines.append("- " + ("没有集中的抱怨。" if zh else "no recurring complaint."))
        if result.praised:
            liked = ", ".join(f"{p.label} ({p.positive_reviews})" for p in result.praised)
            lines.append(("好评集中在：" if zh else "Customers like: ") + liked)
        return "\n".join(lines)

    def charts(self, results: Sequence[SummaryResult], ctx: Context) -> list[Chart]:
        rows = [
            {"aspect": s.label, "negative reviews": s.negative_reviews}
            for r in results[:1]
            for s in r.suggestions
        ]
        if not rows:
            return []
        return [
            Chart(
                kind="bar",
                title="What customers complain about most",
                x="aspect",
                y="negative reviews",
                rows=rows,
            )
        ]


def default_action(label: str, language: str) -> str:
    """For an aspect a shop added without an `action`."""
    if language == "zh":
        return f"查看关于“{label}”的差评原文，找出共同原因并改进。"
    return f"Read the complaints about {label}, find the common cause and fix it."
