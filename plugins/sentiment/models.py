"""Request and result of the sentiment plugin."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from pitchcraft.plugins.sentiment.corpus import Polarity

MAX_REVIEW_CHARS = 5000  # longer texts are not reviews; refuse rather than truncate silently
Depth = Literal["fast", "full"]
Tier = Literal["fast", "strong"]


class SentimentOptions(BaseModel):
    """Plugin options (settings `plugin_options.sentiment`)."""

    polarity_tier: Literal["auto", "fast", "strong"] = Field(
        default="auto",
        description="Which classifier gives a review's polarity. fast: n-grams and sentence "
        "embeddings (hundreds a second); strong: the fast tier blended with a head on the "
        "shared model's hidden states (more accurate, tens a second, loads the embedded "
        "model in this process); auto: strong at full depth, fast otherwise.",
    )


class ReviewRequest(BaseModel):
    """One review. CSV columns named review/content/评论 are read as `text`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "text": "耳机音质很好，降噪也不错，就是物流太慢了，等了一个星期。",
                    "depth": "fast",
                }
            ]
        }
    )

    text: str = Field(
        min_length=1,
        max_length=MAX_REVIEW_CHARS,
        validation_alias=AliasChoices("text", "review", "review_text", "content", "评论", "内容"),
        description="The review text (zh or en).",
    )
    review_id: str | None = Field(default=None, max_length=256)
    product_id: str | None = Field(
        default=None, max_length=256, description="Groups the report per product."
    )
    rating: int | None = Field(
        default=None, ge=1, le=5, description="Stars, when the shop has them."
    )
    date: dt.date | None = Field(default=None, description="When posted; enables the trend plot.")
    language: Literal["zh", "en"] | None = Field(default=None, description="Detected if omitted.")
    depth: Depth = Field(
        default="fast",
        description="fast: classifier + aspect lexicon (hundreds/s); full: aspects, sarcasm and "
        "evidence from the shared model (seconds each).",
    )
    reply: bool = Field(default=False, description="Draft a reply when the review is negative.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the review text is empty")
        return value

    @field_validator("date", mode="before")
    @classmethod
    def _date_only(cls, value: object) -> object:
        if isinstance(value, str) and len(value) > 10 and value[10] in "T ":
            return value[:10]  # a timestamp: its day is enough for trends
        return value


class Aspect(BaseModel):
    aspect: str
    polarity: Polarity
    evidence: str = Field(description="Quoted from the review: always a substring of it.")
    start: int = Field(description="Character offset of the evidence in the review text.")
    source: Literal["lexicon", "model"]


class ReviewResult(BaseModel):
    review_id: str | None = None
    product_id: str | None = None
    rating: int | None = None
    date: dt.date | None = None
    text: str
    language: Literal["zh", "en"]
    polarity: Polarity
    confidence: float = Field(description="Calibrated probability of the classifier's polarity.")
    score: float = Field(description="P(positive) - P(negative), from -1 to 1.")
    probabilities: dict[str, float]
    polarity_source: Literal["classifier", "model"] = Field(
        description="classifier, or model when the shared model read the review as sarcastic."
    )
    polarity_tier: Tier = Field(
        default="fast", description="The classifier tier that scored the review (see options)."
    )
    mixed: bool = Field(description="Praises some aspects and criticises others.")
    sarcastic: bool | None = Field(
        default=None, description="The shared model's reading (full depth only)."
    )
    aspects: list[Aspect] = Field(default_factory=list)
    unsupported_evidence: int = Field(
        default=0, description="Aspects dropped because their quote was not in the review."
    )
    refused_aspects: int = Field(
        default=0,
        description="The model's aspects dropped because their quote has none of the aspect's "
        "words (full depth); the lexicon's aspects stand for the aspects the model missed.",
    )
    reply: str | None = None
    reply_source: Literal["model", "template"] | None = None
    depth: Depth
