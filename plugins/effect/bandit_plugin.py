"""The `variant-bandit` plugin: how to split the next traffic across copy variants, and when
one of them can ship.

Thompson sampling: each variant's traffic share is its posterior probability of
being the best, so the leader gets most impressions while the others keep
being tried. The posterior is returned whole (Beta parameters per variant) so
a chain or a serving system can draw from it itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pitchcraft.charts import Chart
from pitchcraft.context import Context
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.effect import GROUP
from pitchcraft.plugins.effect.inputs import not_above, posterior_rows, unique_names


class VariantStats(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="Variant label or its copy text.")
    impressions: int = Field(ge=0, description="Times shown so far (0 for a new variant).")
    clicks: int = Field(ge=0, description="Clicks (or conversions) so far.")

    @field_validator("clicks")
    @classmethod
    def _at_most_impressions(cls, value: int, info: ValidationInfo) -> int:
        return not_above(value, info, "impressions")


class BanditRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "variants": [
                        {"name": "轻至 1.2 kg，跑步无负担", "impressions": 1800, "clicks": 41},
                        {"name": "Runs 10 h on one charge", "impressions": 1750, "clicks": 58},
                        {"name": "新品首发 8 折", "impressions": 300, "clicks": 6},
                    ]
                }
            ]
        }
    )

    variants: list[VariantStats] = Field(min_length=2, max_length=50)
    prior_clicks: float | None = Field(
        default=None,
        gt=0,
        description="Beta prior: pseudo-clicks every variant starts with. Default (with "
        "prior_misses unset): one pseudo-click at the variants' pooled click rate.",
    )
    prior_misses: float | None = Field(
        default=None, gt=0, description="Beta prior: pseudo-impressions without a click."
    )
    ship_when_value_remaining_below: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="Ship the leader when another variant is at most this much better "
        "(relative CTR, 95th percentile of the posterior).",
    )
    level: float = Field(default=0.95, gt=0.5, lt=1, description="Credible interval coverage.")

    @model_validator(mode="after")
    def _distinct(self) -> BanditRequest:
        unique_names([v.name for v in self.variants])
        if (self.prior_clicks is None) != (self.prior_misses is None):
            raise ValueError("set both prior_clicks and prior_misses, or neither")
        return self

    def prior(self) -> tuple[float, float]:
        """The given prior, or one pseudo-click at the variants' pooled rate."""
        from pitchcraft.plugins.effect.bandit import one_click_prior

        if self.prior_clicks is not None and self.prior_misses is not None:
            return self.prior_clicks, self.prior_misses
        clicks = sum(v.clicks for v in self.variants)
        shown = sum(v.impressions for v in self.variants)
        return one_click_prior((clicks + 1) / (shown + 2))


class VariantPosterior(BaseModel):
    name: str
    impressions: int
    clicks: int
    alpha: float = Field(description="Posterior Beta alpha (prior + clicks).")
    beta: float = Field(description="Posterior Beta beta (prior + misses).")
    ctr_mean: float
    ctr_low: float
    ctr_high: float
    traffic_share: float = Field(description="P(best): Thompson sampling's share of new traffic.")
    expected_loss: float = Field(description="Expected CTR given up by shipping this variant now.")


class BanditResult(BaseModel):
    variants: list[VariantPosterior]
    leader: str
    value_remaining: float = Field(
        description="95th percentile of how much better (relative) the best variant could be."
    )
    ship: bool = Field(description="True when the leader can ship: value remaining is small.")
    advice: str


class VariantBandit(Plugin[BanditRequest, BanditResult]):
    name = "variant-bandit"
    version = "0.1.0"
    description = (
        "Thompson-sampling allocation across copy variants: each variant's posterior click "
        "rate, its share of the next traffic, expected loss, and whether the leader can ship."
    )
    languages = ("zh", "en")
    group = GROUP
    Input = BanditRequest
    Output = BanditResult

    def run(self, req: BanditRequest, ctx: Context) -> BanditResult:
        from pitchcraft.plugins.effect import bandit

        posterior = bandit.Posterior.from_counts(
            [v.clicks for v in req.variants],
            [v.impressions for v in req.variants],
            req.prior(),
        )
        allocation = bandit.allocate(posterior)
        low, high = posterior.interval(req.level)
        rows = [
            VariantPosterior(
                name=v.name,
                impressions=v.impressions,
                clicks=v.clicks,
                alpha=float(posterior.alpha[i]),
                beta=float(posterior.beta[i]),
                ctr_mean=float(posterior.mean[i]),
                ctr_low=float(low[i]),
                ctr_high=float(high[i]),
                traffic_share=float(allocation.prob_best[i]),
                expected_loss=float(allocation.expected_loss[i]),
            )
            for i, v in enumerate(req.variants)
        ]
        leader = rows[allocation.leader]
        # Never ship what was never shown, however the prior rates it.
        ship = allocation.value_remaining < req.ship_when_value_remaining_below and (
            leader.impressions > 0
        )
        if ship:
            advice = (
                f"Ship {leader.name!r}: no other variant is plausibly more than "
                f"{allocation.value_remaining:.1%} better."
            )
        else:
            shares = ", ".join(f"{r.name!r} {r.traffic_share:.0%}" for r in rows)
            advice = (
                f"Keep learning: {leader.name!r} leads (P(best) {leader.traffic_share:.0%}), but "
                f"another variant could still be up to {allocation.value_remaining:.0%} better. "
                f"Split the next traffic {shares}."
            )
        return BanditResult(
            variants=rows,
            leader=leader.name,
            value_remaining=allocation.value_remaining,
            ship=ship,
            advice=advice,
        )

    def chat_reply(self, result: BanditResult) -> str:
        rows = [
            "| variant | shown | CTR (interval) | next traffic |",
            "| --- | ---: | --- | ---: |",
        ]
        for v in result.variants:
            rows.append(
                f"| {v.name} | {v.impressions} | {v.ctr_mean:.2%} ({v.ctr_low:.2%}–"
                f"{v.ctr_high:.2%}) | {v.traffic_share:.0%} |"
            )
        return f"**{result.advice}**\n\n" + "\n".join(rows)

    def charts(self, results: Sequence[BanditResult], ctx: Context) -> list[Chart]:
        if not results:
            return []
        result = results[0]
        return [
            Chart(
                kind="line",
                title="Posterior click rate of each variant",
                x="CTR",
                y="density",
                color="variant",
                rows=posterior_rows([(v.name, v.alpha, v.beta) for v in result.variants], "CTR"),
            ),
            Chart(
                kind="bar",
                title="Thompson sampling's share of the next traffic",
                x="variant",
                y="share",
                y_range=(0.0, 1.0),
                rows=[
                    {"variant": v.name, "share": round(v.traffic_share, 4)} for v in result.variants
                ],
            ),
        ]
