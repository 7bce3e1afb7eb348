"""The `copy-ctr` plugin: expected click rate of copy variants before they run, ranked.

Learns from the shop's own logged campaign results (in the request, or the
file `plugin_options.copy-ctr.history_path`): text, channel, impressions,
clicks, conversions. Without enough logs it returns the prior and says so:
every variant then gets the same wide estimate, and the ranking is the input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from pitchcraft.charts import Chart
from pitchcraft.context import Context
from pitchcraft.errors import PitchcraftError, describe_fields, field_errors
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.effect import GROUP
from pitchcraft.plugins.effect.inputs import not_above

NAME = "copy-ctr"


class CopyCtrOptions(BaseModel):
    """`[plugin_options.copy-ctr]` in settings."""

    history_path: Path | None = Field(
        default=None,
        description="CSV, JSONL or Parquet of logged variants: text, channel, impressions, "
        "clicks, conversions (optional). Read on every request, so it can grow while serving.",
    )
    prior_ctr: float = Field(
        default=0.02, gt=0, lt=1, description="The prior click rate before any logs exist."
    )
    prior_conversion_rate: float = Field(
        default=0.05, gt=0, lt=1, description="The prior conversions per click."
    )


class CopyVariant(BaseModel):
    text: str = Field(min_length=1, max_length=2000, description="The copy to be shown.")
    channel: str = Field(default="", max_length=50, description="e.g. xiaohongshu_post.")


class LoggedVariant(CopyVariant):
    impressions: int = Field(ge=1, description="Times shown.")
    clicks: int = Field(ge=0)
    conversions: int = Field(default=0, ge=0, description="Orders (or sign-ups) from the clicks.")

    @field_validator("clicks")
    @classmethod
    def _clicks(cls, value: int, info: ValidationInfo) -> int:
        return not_above(value, info, "impressions")

    @field_validator("conversions")
    @classmethod
    def _conversions(cls, value: int, info: ValidationInfo) -> int:
        return not_above(value, info, "clicks")


class CopyCtrRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "variants": [
                        {"text": "轻至 1.2 kg，长跑也不累脚", "channel": "xiaohongshu_post"},
                        {"text": "Runs 10 hours on one charge", "channel": "amazon_listing"},
                    ]
                }
            ]
        }
    )

    variants: list[CopyVariant] = Field(min_length=1, max_length=100)
    channel: str = Field(
        default="", max_length=50, description="Channel of every variant that names none."
    )
    history: list[LoggedVariant] = Field(
        default_factory=list,
        max_length=2_000,
        description="Logged results of earlier variants; added to the settings' history "
        "file (history_path, no size limit: use it for larger logs).",
    )
    metric: Literal["ctr", "conversion_rate"] = Field(
        default="ctr", description="ctr: clicks per impression; conversion_rate: per click."
    )
    level: float = Field(default=0.9, gt=0.5, lt=1, description="Interval coverage.")


class VariantForecast(BaseModel):
    text: str
    channel: str
    rank: int = Field(description="1 = highest expected rate.")
    rate: float
    rate_low: float
    rate_high: float


class CopyCtrResult(BaseModel):
    metric: str
    basis: Literal["prior", "learned"]
    logged_variants: int
    forecasts: list[VariantForecast] = Field(description="In input order.")
    note: str


class CopyCtrPredictor(Plugin[CopyCtrRequest, CopyCtrResult]):
    name = NAME
    version = "0.1.0"
    description = (
        "Expected click (or conversion) rate of copy variants before they run, with intervals "
        "and a ranking, learned from the shop's own logged campaign results; a stated prior "
        "until such logs exist."
    )
    languages = ("zh", "en")
    group = GROUP
    Input = CopyCtrRequest
    Output = CopyCtrResult

    def run(self, req: CopyCtrRequest, ctx: Context) -> CopyCtrResult:
        from pitchcraft.plugins.effect import copy_model
        from pitchcraft.store.embedders import shared_use_encoder

        channels = [v.channel or req.channel for v in req.variants]

        opts = ctx.options(NAME, CopyCtrOptions)
        logged = [*read_history(opts.history_path), *req.history]
        # (variant, trials, successes): impressions and clicks, or clicks and conversions
        counts = [
            (v, v.impressions, v.clicks) if req.metric == "ctr" else (v, v.clicks, v.conversions)
            for v in logged
        ]
        counts = [c for c in counts if c[1] > 0]
        prior = opts.prior_ctr if req.metric == "ctr" else opts.prior_conversion_rate
        usable = (
            len(counts) >= copy_model.MIN_VARIANTS
            and sum(hits for _, _, hits in counts) > 0
            and sum(shown - hits for _, shown, hits in counts) > 0
        )
        if usable:
            encoder = ctx.shared(f"{NAME}.encoder", shared_use_encoder)
            embeddings = encoder.embed([v.text for v, _, _ in counts])
            history = [
                copy_model.Logged(e, v.channel, shown, hits)
                for e, (v, shown, hits) in zip(embeddings, counts, strict=True)
            ]
            found = copy_model.learned(
                history,
                encoder.embed([v.text for v in req.variants]),
                channels,
                req.level,
            )
            rates, lows, highs = found.rate, found.low, found.high
            note = (
                f"Learned from {len(history)} logged variants "
                f"({sum(h.shown for h in history):,} {_unit(req.metric)}); the interval is how "
                "far the estimate moves when the logged variants are resampled."
            )
        else:
            low, high = copy_model.prior_interval(prior, req.level)
            rates = [prior] * len(req.variants)
            lows, highs = [low] * len(req.variants), [high] * len(req.variants)
            note = (
                f"No model yet: {len(counts)} logged variants (at least "
                f"{copy_model.MIN_VARIANTS}, with clicks, are needed). This is the prior "
                f"({prior:.1%}, settings plugin_options.{NAME}), the same for every variant; "
                "the ranking is the input order. Log results (impressions, clicks) and pass "
                f"them as history or in plugin_options.{NAME}.history_path."
            )
        order = sorted(range(len(req.variants)), key=lambda i: -rates[i])
        rank = {i: n + 1 for n, i in enumerate(order)}
        forecasts = [
            VariantForecast(
                text=v.text,
                channel=channels[i],
                rank=rank[i],
                rate=float(rates[i]),
                rate_low=float(lows[i]),
                rate_high=float(highs[i]),
            )
            for i, v in enumerate(req.variants)
        ]
        return CopyCtrResult(
            metric=req.metric,
            basis="learned" if usable else "prior",
            logged_variants=len(counts),
            forecasts=forecasts,
            note=note,
        )

    def chat_reply(self, result: CopyCtrResult) -> str:
        rows = ["| rank | variant | expected rate (interval) |", "| ---: | --- | --- |"]
        for f in sorted(result.forecasts, key=lambda f: f.rank):
            rows.append(
                f"| {f.rank} | {f.text} | {f.rate:.2%} ({f.rate_low:.2%}–{f.rate_high:.2%}) |"
            )
        return f"{result.note}\n\n" + "\n".join(rows)

    def charts(self, results: Sequence[CopyCtrResult], ctx: Context) -> list[Chart]:
        rows = [
            {"variant": f.text[:40], "rate": round(f.rate, 6)}
            for result in results
            for f in result.forecasts
        ]
        if not rows:
            return []
        return [
            Chart(kind="bar", title="Expected rate per variant", x="variant", y="rate", rows=rows)
        ]


def read_history(path: Path | None) -> list[LoggedVariant]:
    """The settings' history file, every row checked; a bad row names its line and field."""
    if path is None:
        return []
    from pitchcraft.batch import read_rows

    logged = []
    for row in read_rows(path):
        if row.problem:
            raise PitchcraftError(f"{path} line {row.line}: {row.problem}")
        try:
            logged.append(LoggedVariant.model_validate(row.data))
        except ValidationError as err:
            raise PitchcraftError(
                f"{path} line {row.line}: {describe_fields(field_errors(err))}"
            ) from None
    return logged


def _unit(metric: str) -> str:
    return "impressions" if metric == "ctr" else "clicks"
