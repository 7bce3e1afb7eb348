"""The `ctr-predict` plugin: click probability of showing an item at a position, with intervals.

Trained on the Open Bandit logs (ZOZOTOWN), so the items are that shop's
recommendation slots; it is the worked example of the click model a shop
would train on its own logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from pitchcraft.charts import Chart
from pitchcraft.context import Context
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.effect import GROUP
from pitchcraft.plugins.effect.inputs import UserFeatures, check_item_ids

if TYPE_CHECKING:  # numpy/pandas/scikit-learn load on first run, not at plugin discovery
    import numpy as np
    import pandas as pd

    from pitchcraft.plugins.effect.ctr import ClickModel

NAME = "ctr-predict"
VISITOR_CONTEXTS = 60  # most frequent logged user contexts (86-93% of visitors) averaged over


class ClickRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"campaign": "men", "positions": [1], "top": 5}]}
    )

    campaign: Literal["all", "men", "women"] = Field(
        default="all", description="Open Bandit campaign: all (80 items), men (34) or women (46)."
    )
    item_ids: list[int] = Field(
        default_factory=list, max_length=100, description="Items to score; empty = all."
    )
    positions: list[Literal[1, 2, 3]] = Field(
        default_factory=lambda: [1, 2, 3], min_length=1, description="Slots to score (1 = top)."
    )
    user: UserFeatures = Field(
        default_factory=dict,
        description="A visitor's hashed user_feature_0..3 values; empty (and no "
        "past_interactions) = the average logged visitor.",
    )
    past_interactions: dict[int, Annotated[int, Field(ge=0, le=10_000)]] = Field(
        default_factory=dict,
        max_length=100,
        description="The visitor's past interactions per item id (the logs' user-item "
        "affinity): active visitors and items they know click more. Empty = none.",
    )
    top: int = Field(default=10, ge=1, le=240, description="How many (item, position) rows.")
    level: float = Field(default=0.9, gt=0.5, lt=1, description="Interval coverage.")

    @field_validator("item_ids")
    @classmethod
    def _items_in_campaign(cls, value: list[int], info: ValidationInfo) -> list[int]:
        check_item_ids(info.data.get("campaign", "all"), value)
        return value

    @field_validator("past_interactions")
    @classmethod
    def _known_items(cls, value: dict[int, int], info: ValidationInfo) -> dict[int, int]:
        check_item_ids(info.data.get("campaign", "all"), list(value), "item ids ")
        return value


class ClickPrediction(BaseModel):
    item_id: int
    position: int
    ctr: float = Field(description="Predicted click probability.")
    ctr_low: float = Field(description="Lower end of the interval (bootstrap refits).")
    ctr_high: float
    historical_ctr: float = Field(description="The item's click rate before these logs.")


class ClickResult(BaseModel):
    campaign: str
    predictions: list[ClickPrediction] = Field(description="Best first.")
    average_ctr: float = Field(description="Mean predicted CTR over every scored row.")
    trained_on: str = Field(description="The logs the model learned from.")


class ClickPredictor(Plugin[ClickRequest, ClickResult]):
    name = NAME
    version = "0.1.0"
    description = (
        "Predict the click probability of showing an item in a recommendation slot, with an "
        "uncertainty interval (calibrated logistic model on the Open Bandit click logs)."
    )
    languages = ("zh", "en")
    group = GROUP
    Input = ClickRequest
    Output = ClickResult

    def warm_up(self, ctx: Context) -> None:
        _model(ctx)  # fitted once per machine (about 30 s), then loaded from the cache

    def run(self, req: ClickRequest, ctx: Context) -> ClickResult:
        import numpy as np
        import pandas as pd

        from pitchcraft.plugins.effect import ctr, obd

        model = _model(ctx)
        if req.user or req.past_interactions:
            counts = np.zeros((1, obd.ITEM_COUNTS[req.campaign]))
            for item, times in req.past_interactions.items():
                counts[0, item] = times
            users = pd.DataFrame([{f: req.user.get(f, "") for f in obd.USER_FEATURES}])
            users["user_activity"] = obd.user_activity(counts)
            table = _scored_pairs(model, req.campaign, users, np.ones(1), counts)
        else:  # the average visitor: the same for every request, so scored once
            table = ctx.shared(
                f"{NAME}.visitors.{req.campaign}",
                lambda: _scored_pairs(
                    model, req.campaign, *ctr.frequent_users(req.campaign, VISITOR_CONTEXTS)
                ),
            )
        chosen = table["position"].isin(req.positions)
        if req.item_ids:
            chosen &= table["item_id"].isin(req.item_ids)
        pairs = table[chosen]
        pred = ctr.with_interval(pairs["ctr"].to_numpy(), pairs["spread"].to_numpy(), req.level)
        rows = [
            ClickPrediction(
                item_id=int(item),
                position=int(pos),
                ctr=float(p),
                ctr_low=float(lo),
                ctr_high=float(hi),
                historical_ctr=float(hist),
            )
            for item, pos, hist, p, lo, hi in zip(
                pairs["item_id"],
                pairs["position"],
                pairs["prior_ctr"],
                pred.ctr,
                pred.low,
                pred.high,
                strict=True,
            )
        ]
        rows.sort(key=lambda r: -r.ctr)
        return ClickResult(
            campaign=req.campaign,
            predictions=rows[: req.top],
            average_ctr=float(pred.ctr.mean()),
            trained_on=(
                f"Open Bandit Dataset sample (ZOZOTOWN): {model.impressions:,} impressions, "
                f"{model.clicks} clicks"
            ),
        )

    def chat_reply(self, result: ClickResult) -> str:
        rows = ["| item | position | CTR (interval) | historical |", "| ---: | ---: | --- | ---: |"]
        for r in result.predictions:
            rows.append(
                f"| {r.item_id} | {r.position} | {r.ctr:.3%} ({r.ctr_low:.3%}–{r.ctr_high:.3%}) "
                f"| {r.historical_ctr:.3%} |"
            )
        return (
            f"Average predicted CTR {result.average_ctr:.3%} ({result.trained_on}).\n\n"
            + "\n".join(rows)
        )

    def charts(self, results: Sequence[ClickResult], ctx: Context) -> list[Chart]:
        if not results:
            return []
        return [
            Chart(
                kind="bar",
                title="Predicted CTR by item and position",
                x="item",
                y="CTR",
                color="position",
                rows=[
                    {"item": str(r.item_id), "CTR": round(r.ctr, 6), "position": str(r.position)}
                    for r in results[0].predictions
                ],
            )
        ]


def _model(ctx: Context) -> ClickModel:
    from pitchcraft.plugins.effect import ctr

    return ctx.shared(f"{NAME}.model", lambda: ctr.cached_click_model(ctx.settings.cache_dir))


def _scored_pairs(
    model: ClickModel,
    campaign: str,
    users: pd.DataFrame,
    weights: np.ndarray,
    interactions: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every (item, position) of a campaign with its CTR averaged over the users and the
    logit spread of that average."""
    from pitchcraft.plugins.effect import ctr, obd

    items = obd.item_table(campaign)
    grid = ctr.candidate_rows(campaign, items, obd.POSITIONS, users, interactions)
    probability, spread = model.predict_spread(grid, weights)
    pairs = grid.iloc[:: len(users)][["item_id", "position", "prior_ctr"]].reset_index(drop=True)
    return pairs.assign(ctr=probability, spread=spread)
