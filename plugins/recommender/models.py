"""The recommender's request, result and options."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from pitchcraft.llm.verified import DraftOptions
from pitchcraft.needs import Need
from pitchcraft.store.schema import Language, ProductFilter

Signal = Literal["cf", "content", "need", "type", "model", "popularity"]


class RecommenderOptions(DraftOptions):
    """`[plugin_options.recommender]` in settings."""

    model_path: Path = Field(
        default=Path.home() / ".local" / "share" / "pitchcraft" / "recommender" / "model.npz",
        description="The fitted model `pitchcraft recommender fit` writes and the plugin loads.",
    )
    shop_currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="Currency of catalogue prices; a need's price limit in another is not applied.",
    )
    weights: dict[Signal, float] = Field(
        # cf, content and popularity chosen on a validation split of MovieLens-100k's
        # training part (benchmarks/eval_recommender.py --tune); need leads when given.
        # type: the product is of a kind the need asks for (pitchcraft.needs); at 2 it acts
        # as a filter that falls back to other kinds when too few pass.
        # model: the shared model says the product fits the need (only with `rerank_model`).
        default={
            "cf": 1.0,
            "content": 0.1,
            "need": 1.0,
            "type": 2.0,
            "model": 1.0,
            "popularity": 0.05,
        },
        description="Fusion weight of each signal (each is scaled to [0, 1] first).",
    )
    diversity: float = Field(
        default=0.1, ge=0, le=1, description="MMR: 0 = by score only, 1 = as varied as possible."
    )
    pool: int = Field(default=50, ge=1, description="Best-scored candidates MMR chooses among.")
    reason_retries: int = Field(default=1, ge=0, le=3)
    use_model: bool = Field(default=True, description="False: template reasons only.")
    understand_needs: bool = Field(
        default=True,
        description="Read the kind of product a need asks for and prefer it (False: by the "
        "need's words alone).",
    )
    rerank_model: bool = Field(
        default=False,
        description="Ask the shared model which of the best 20 candidates fit a free-text "
        "need (the `model` signal). Off: see eval_needs.py --model for what it does.",
    )
    need_model: bool = Field(
        default=False,
        description="Ask the shared model for the kind when the embeddings are unsure (off: "
        "with the embedded 0.5B model it chose worse than the embeddings, eval_needs.py).",
    )


class RecommendRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"need": "运动相机，500美元以内", "k": 3}]}
    )

    user_id: str | None = Field(
        default=None, max_length=200, description="A user the fitted model knows (their history)."
    )
    history: list[str] = Field(
        default_factory=list,
        max_length=500,
        validation_alias=AliasChoices("history", "purchases", "viewed"),
        description="Product ids the user bought or viewed, most recent first.",
    )
    need: str = Field(
        default="",
        max_length=1000,
        validation_alias=AliasChoices("need", "query", "需求"),
        description='Free text, e.g. "gift for a dad who runs, under 300 yuan".',
    )
    category: list[str] | None = Field(default=None, description="Any of these categories.")
    min_price: float | None = Field(default=None, ge=0)
    max_price: float | None = Field(default=None, ge=0)
    in_stock: bool = Field(default=True, description="Only products in stock.")
    exclude_bought: bool = Field(default=True, description="Leave out the history's products.")
    k: int = Field(default=5, ge=1, le=50)
    reasons: bool = Field(default=True, description="Write a reason for each product.")
    language: Language | None = Field(
        default=None,
        description="Language of the reasons; default: the need's, else zh/en of "
        "the history's products.",
    )

    @model_validator(mode="after")
    def _something_to_go_on(self) -> RecommendRequest:
        if not (self.user_id or self.history or self.need.strip()):
            raise ValueError("give a user_id, a history of product ids, or a need")
        low, high = self.min_price, self.max_price
        if low is not None and high is not None and low > high:
            raise ValueError("min_price is above max_price")
        return self

    def product_filter(self, max_price: float | None) -> ProductFilter:
        return ProductFilter(
            category=self.category,
            min_price=self.min_price,
            max_price=max_price,
            in_stock=True if self.in_stock else None,
        )


class Recommendation(BaseModel):
    product_id: str
    title: str
    category: str = ""
    price: float | None = None
    currency: str = ""
    score: float = Field(description="Fused score, before the diversity re-ranking.")
    signals: dict[Signal, float] = Field(description="Each signal, scaled to [0, 1].")
    because_of: list[str] = Field(
        default_factory=list, description="History products this one is most like."
    )
    reason: str = ""
    reason_by: Literal["model", "template", "none"] = "none"
    reason_draft: int | None = Field(
        default=None, description="With reason_by model: which draft was shown (1: the first)."
    )
    reason_problems: list[str] = Field(
        default_factory=list, description="Why model drafts were refused, if any were."
    )


class RecommendResult(BaseModel):
    items: list[Recommendation]
    language: Language
    known_user: bool = Field(description="The fitted model knows user_id.")
    history_used: list[str] = Field(description="History products found in the catalogue.")
    filters: ProductFilter
    fitted_model: str = Field(description="What the collaborative signal comes from, or 'none'.")
    need: Need | None = Field(
        default=None, description="The need as understood (an explicit category always wins)."
    )
    notes: list[str] = Field(default_factory=list)
