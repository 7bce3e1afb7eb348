"""Copywriter requests and results."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from pitchcraft.llm.verified import DraftOptions
from pitchcraft.store.schema import Product

REQUEST_FIELDS = {
    "product_id",
    "product",
    "channel",
    "language",
    "audience",
    "brand",
    "keywords",
    "variants",
    "revisions",
}


def split_words(value: Any) -> Any:
    """CSV cells and CLI values carry word lists as 'a, b; c'."""
    if isinstance(value, str):
        words = value.replace(";", ",").replace("；", ",").replace("，", ",").split(",")
        return [w.strip() for w in words if w.strip()]
    return value


# A list of words, also given as one 'a, b; c' string: the JSON schema says so, so the HTTP
# API (which accepts exactly what its schema documents) takes both forms too.
WordList = Annotated[
    list[str],
    BeforeValidator(split_words),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "string", "description": "Words separated by commas or semicolons."},
            ]
        }
    ),
]


class BrandProfile(BaseModel):
    name: str = Field(default="", max_length=100)
    voice: str = Field(default="", max_length=500, description="e.g. 'warm, plain, no hype'.")
    do_words: WordList = Field(default_factory=list, max_length=30)
    dont_words: WordList = Field(
        default_factory=list, max_length=100, description="Words the copy must never use."
    )
    examples: list[str] = Field(
        default_factory=list, max_length=5, description="Short samples of the brand's style."
    )


class CopyRequest(BaseModel):
    """A product (by store id, or its facts inline), a channel and how to speak.

    A row holding a product's own fields (id, title, ...) is read as the inline
    product, so a catalog file can be the batch input as it is.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"product_id": "zh-ec37c589f7", "channel": "xiaohongshu_note", "variants": 2}
            ]
        }
    )

    product_id: str | None = Field(default=None, description="Id of a product in the store.")
    product: Product | None = Field(default=None, description="The product's facts, inline.")
    channel: str | None = Field(
        default=None,
        min_length=1,
        description="Channel key, e.g. jd_title or google_ads_rsa. Default: taobao_title for "
        "Chinese copy, amazon_listing for English.",
    )
    language: Literal["zh", "en"] | None = Field(
        default=None, description="Default: the product's language if the channel takes it."
    )
    audience: str = Field(default="", max_length=300, description="Who the copy speaks to.")
    brand_profile: BrandProfile | None = Field(
        default=None, description="The brand's voice: do and don't words, style examples."
    )
    keywords: WordList = Field(default_factory=list, max_length=10)
    variants: int = Field(default=3, ge=1, le=5)
    revisions: int = Field(
        default=1, ge=0, le=3, description="Rewrites asked of the model when checks fail."
    )

    @field_validator("keywords")
    @classmethod
    def _short_keywords(cls, value: list[str]) -> list[str]:
        long = [k for k in value if len(k) > 40]
        if long:
            raise ValueError(f"keywords longer than 40 characters: {long}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _product_row(cls, data: Any) -> Any:
        is_product_row = (
            isinstance(data, dict)
            and "title" in data
            and "product" not in data
            and "product_id" not in data
        )
        if not is_product_row:
            return data
        request = {k: v for k, v in data.items() if k in REQUEST_FIELDS}
        request["product"] = {k: v for k, v in data.items() if k not in REQUEST_FIELDS}
        return request

    @model_validator(mode="after")
    def _one_product(self) -> CopyRequest:
        if (self.product_id is None) == (self.product is None):
            raise ValueError("give exactly one of product_id or product")
        return self


class Check(BaseModel):
    name: Literal["length", "compliance", "grounding", "keywords"]
    passed: bool
    problems: list[str] = Field(default_factory=list)


WrittenBy = Literal["model", "rewritten", "repaired", "template"]


class CopywriterOptions(DraftOptions):
    """`[plugin_options.copywriter]` in settings. With several first drafts per variant, the
    first that passes every check is kept, else the greedy one goes on to rewrites and
    repair."""

    model_config = ConfigDict(extra="forbid")

    # Chosen on the training half's products (20, vLLM): 1.0 / 1.15 / 1.25 gave distinct-2
    # 0.597 / 0.654 / 0.675, first drafts fitting 0.714 / 0.706 / 0.647 and breaking ad rules
    # 0.042 / 0.017 / 0.059 (an earlier round: 0 / 0.7 gave 0.546 / 0.563, 1.3 fit 0.592).
    variant_temperature: float = Field(
        default=1.15,
        ge=0,
        le=2,
        description="Sampling temperature of the first drafts of a request's variants after "
        "its first (0: greedy, each variant differing only by its angle; the small model "
        "reads angles alike, so such variants were often dropped as near-duplicates).",
    )


class CopyVariant(BaseModel):
    angle: str
    parts: dict[str, str | list[str]] = Field(description="The channel's fields, filled.")
    text: str = Field(description="The parts as one readable text.")
    passed: bool = Field(description="True when every check passes.")
    checks: list[Check]
    draft_passed: dict[str, bool] = Field(
        description="Which checks the model's first draft passed, before rewrites and repair."
    )
    rewrites: int = Field(description="Times the model was asked to fix its draft.")
    repairs: list[str] = Field(description="Automatic fixes applied after the rewrites.")
    written_by: WrittenBy = Field(
        default="model",
        description="model: the model's draft as it was; rewritten: the model fixed it when "
        "told what failed; repaired: automatic fixes were applied; template: the model's "
        "reply was unusable and the copy was built from the product facts.",
    )
    draft: int | None = Field(
        default=None, description="Which first draft was used (1: the greedy one; see drafts)."
    )


class CopyResult(BaseModel):
    product_id: str
    channel: str
    language: Literal["zh", "en"]
    variants: list[CopyVariant]
    duplicates_removed: int = Field(description="Near-duplicate variants dropped.")
