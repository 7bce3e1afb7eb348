"""The `ab-metric` plugin: an A/B(/n) test on a per-user number such as revenue or order value.

Welch's t-test per variant against the control (unequal variances, the usual
case for revenue), with CUPED when every user has a pre-experiment value of
the same metric, an always-valid interval for monitoring, the
multiple-comparison correction and the sample-ratio check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pitchcraft.charts import Chart
from pitchcraft.context import Context
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.effect import GROUP
from pitchcraft.plugins.effect.plugin import SRM_THRESHOLD


class Observation(BaseModel):
    variant: str = Field(min_length=1, max_length=100)
    value: float = Field(allow_inf_nan=False, description="The user's metric, e.g. revenue.")
    pre_value: float | None = Field(
        default=None, allow_inf_nan=False, description="Same metric before the test (CUPED)."
    )


class MetricRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "observations": [
                        {"variant": "control", "value": 0.0, "pre_value": 12.5},
                        {"variant": "control", "value": 35.0, "pre_value": 40.0},
                        {"variant": "control", "value": 12.0, "pre_value": 10.0},
                        {"variant": "control", "value": 0.0, "pre_value": 0.0},
                        {"variant": "free-shipping", "value": 42.0, "pre_value": 38.0},
                        {"variant": "free-shipping", "value": 18.0, "pre_value": 9.5},
                        {"variant": "free-shipping", "value": 0.0, "pre_value": 3.0},
                        {"variant": "free-shipping", "value": 25.0, "pre_value": 20.0},
                    ]
                }
            ]
        }
    )

    observations: list[Observation] = Field(
        min_length=4, max_length=500_000, description="One row per user."
    )
    control: str | None = Field(default=None, description="Control variant; default: the first.")
    alpha: float = Field(default=0.05, ge=1e-6, lt=0.5, description="Significance level.")
    correction: Literal["holm", "bonferroni", "none"] = "holm"
    expected_split: dict[str, float] | None = Field(
        default=None, description="Planned traffic share per variant (default equal)."
    )
    planned_users_per_variant: int | None = Field(
        default=None, gt=0, description="Tunes the always-valid interval (default: current size)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> MetricRequest:
        counts: dict[str, int] = {}
        for o in self.observations:
            counts[o.variant] = counts.get(o.variant, 0) + 1
        if len(counts) < 2:
            raise ValueError("observations: need at least two variants")
        small = [name for name, n in counts.items() if n < 2]
        if small:
            raise ValueError(f"observations: variants {small} have fewer than 2 users")
        if self.control is not None and self.control not in counts:
            raise ValueError(f"control {self.control!r} is not a variant in observations")
        with_pre = sum(o.pre_value is not None for o in self.observations)
        if 0 < with_pre < len(self.observations):
            raise ValueError(
                f"observations: pre_value is set on {with_pre} of {len(self.observations)} rows; "
                "give it for every user or for none"
            )
        if self.expected_split is not None:
            if set(self.expected_split) != set(counts):
                raise ValueError("expected_split needs one share per variant, by name")
            if any(s <= 0 for s in self.expected_split.values()):
                raise ValueError("expected_split shares must be positive")
        return self


class VariantSummary(BaseModel):
    name: str
    users: int
    mean: float
    sd: float
    adjusted_mean: float | None = Field(description="CUPED-adjusted mean (None without pre_value).")


class MetricComparison(BaseModel):
    variant: str
    diff: float = Field(description="mean(variant) - mean(control), CUPED-adjusted if available.")
    relative_diff: float | None
    ci_low: float
    ci_high: float
    t: float
    df: float
    p_value: float
    p_value_adjusted: float
    significant: bool
    raw_diff: float = Field(description="Unadjusted difference of means.")
    raw_p_value: float
    always_valid_ci_low: float
    always_valid_ci_high: float


class MetricResult(BaseModel):
    control: str
    variants: list[VariantSummary]
    comparisons: list[MetricComparison]
    cuped_theta: float | None
    variance_reduction: float | None = Field(description="Share of variance CUPED removed.")
    srm_p_value: float
    sample_ratio_mismatch: bool
    verdict: str


class MetricTest(Plugin[MetricRequest, MetricResult]):
    name = "ab-metric"
    version = "0.1.0"
    description = (
        "A/B test on a per-user metric such as revenue: Welch's t-test, CUPED variance "
        "reduction from pre-experiment data, always-valid intervals, corrections, SRM check."
    )
    languages = ("zh", "en")
    group = GROUP
    Input = MetricRequest
    Output = MetricResult

    def run(self, req: MetricRequest, ctx: Context) -> MetricResult:
        import numpy as np

        from pitchcraft.plugins.effect import abtest, means, sequential

        names = list(dict.fromkeys(o.variant for o in req.observations))
        control = req.control or names[0]
        names.remove(control)
        names.insert(0, control)
        labels = np.array([o.variant for o in req.observations])
        raw = np.array([o.value for o in req.observations])
        cuped = None
        values = raw
        if req.observations[0].pre_value is not None:
            cuped = means.cuped(raw, np.array([o.pre_value for o in req.observations]))
            values = cuped.adjusted
        groups = {n: values[labels == n] for n in names}
        raw_groups = {n: raw[labels == n] for n in names}
        tests = [means.welch(groups[control], groups[n], req.alpha) for n in names[1:]]
        raw_tests = (
            [means.welch(raw_groups[control], raw_groups[n], req.alpha) for n in names[1:]]
            if cuped
            else tests  # no adjustment: the raw test is the test
        )
        adjusted = abtest.adjust_p_values([t.p_value for t in tests], req.correction)
        base = groups[control]
        control_mean = raw_groups[control].mean()
        comparisons = []
        for name, test, raw_test, p_adj in zip(names[1:], tests, raw_tests, adjusted, strict=True):
            arm = groups[name]
            planned = req.planned_users_per_variant or min(len(base), len(arm))
            watched = sequential.difference_of_means(
                base.mean(),
                base.var(ddof=1),
                len(base),
                arm.mean(),
                arm.var(ddof=1),
                len(arm),
                req.alpha,
                planned,
            )
            comparisons.append(
                MetricComparison(
                    variant=name,
                    diff=test.diff,
                    relative_diff=test.diff / control_mean if control_mean else None,
                    ci_low=test.ci_low,
                    ci_high=test.ci_high,
                    t=test.t,
                    df=test.df,
                    p_value=test.p_value,
                    p_value_adjusted=p_adj,
                    significant=p_adj < req.alpha,
                    raw_diff=raw_test.diff,
                    raw_p_value=raw_test.p_value,
                    always_valid_ci_low=watched.ci_low,
                    always_valid_ci_high=watched.ci_high,
                )
            )
        split = [req.expected_split[n] for n in names] if req.expected_split else [1.0] * len(names)
        srm_p = abtest.srm_test([len(groups[n]) for n in names], split)
        summaries = [
            VariantSummary(
                name=n,
                users=len(raw_groups[n]),
                mean=float(raw_groups[n].mean()),
                sd=float(raw_groups[n].std(ddof=1)),
                adjusted_mean=float(groups[n].mean()) if cuped else None,
            )
            for n in names
        ]
        return MetricResult(
            control=control,
            variants=summaries,
            comparisons=comparisons,
            cuped_theta=cuped.theta if cuped else None,
            variance_reduction=cuped.variance_reduction if cuped else None,
            srm_p_value=srm_p,
            sample_ratio_mismatch=srm_p < SRM_THRESHOLD,
            verdict=_verdict(comparisons, srm_p < SRM_THRESHOLD, cuped is not None),
        )

    def chat_reply(self, result: MetricResult) -> str:
        rows = [
            "| variant | users | mean | diff (CI) | p (adj.) |",
            "| --- | ---: | ---: | --- | ---: |",
        ]
        found = {c.variant: c for c in result.comparisons}
        for v in result.variants:
            c = found.get(v.name)
            diff = f"{c.diff:+.3g} ({c.ci_low:+.3g} to {c.ci_high:+.3g})" if c else "control"
            p = f"{c.p_value_adjusted:.3g}" if c else ""
            rows.append(f"| {v.name} | {v.users} | {v.mean:.3g} | {diff} | {p} |")
        return f"**{result.verdict}**\n\n" + "\n".join(rows)

    def charts(self, results: Sequence[MetricResult], ctx: Context) -> list[Chart]:
        if not results:
            return []
        result = results[0]
        rows = []
        for c in result.comparisons:
            for end, value in (("low", c.ci_low), ("estimate", c.diff), ("high", c.ci_high)):
                rows.append({"variant": c.variant, "difference": round(value, 6), "point": end})
        return [
            Chart(
                kind="bar",
                title="Difference from the control with its confidence interval",
                x="variant",
                y="difference",
                color="point",
                rows=rows,
            )
        ]


def _verdict(comparisons: list[MetricComparison], mismatch: bool, adjusted: bool) -> str:
    if mismatch:
        return "Sample ratio mismatch: the traffic split is broken; do not trust these results."
    how = " (CUPED-adjusted)" if adjusted else ""
    winners = [c for c in comparisons if c.significant and c.diff > 0]
    if winners:
        best = max(winners, key=lambda c: c.diff)
        p = best.p_value_adjusted
        return f"{best.variant} raises the mean by {best.diff:+.3g}{how}, p={p:.3g}."
    losers = [c for c in comparisons if c.significant and c.diff < 0]
    if losers:
        worst = min(losers, key=lambda c: c.diff)
        p = worst.p_value_adjusted
        return f"{worst.variant} lowers the mean by {worst.diff:+.3g}{how}, p={p:.3g}."
    return f"No significant difference from the control{how} at this sample size."
