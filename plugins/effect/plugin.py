"""The `ab-test` plugin: from an A/B(/n) test's counts, what happened and how sure we are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pitchcraft.charts import Chart
from pitchcraft.context import Context
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.effect import GROUP
from pitchcraft.plugins.effect.inputs import not_above, posterior_rows, unique_names


class VariantCounts(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="Variant label, e.g. 'control'.")
    users: int = Field(gt=0, description="Users (or impressions) exposed to the variant.")
    conversions: int = Field(ge=0, description="Users who converted (or clicked).")

    @field_validator("conversions")
    @classmethod
    def _at_most_users(cls, value: int, info: ValidationInfo) -> int:
        return not_above(value, info, "users")


class ABTestRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "variants": [
                        {"name": "control", "users": 12000, "conversions": 540},
                        {"name": "new-headline", "users": 11950, "conversions": 631},
                        {"name": "free-shipping-banner", "users": 12080, "conversions": 566},
                    ],
                    "min_detectable_effect": 0.005,
                }
            ]
        }
    )

    variants: list[VariantCounts] = Field(
        min_length=2, max_length=26, description="Counts per variant; the first is the control."
    )
    alpha: float = Field(default=0.05, ge=1e-6, lt=0.5, description="Significance level.")
    expected_split: list[float] | None = Field(
        default=None,
        description="Planned traffic share per variant for the sample-ratio check (default equal).",
    )
    correction: Literal["holm", "bonferroni", "none"] = Field(
        default="holm", description="Multiple-comparison correction when there are 3+ variants."
    )
    min_detectable_effect: float = Field(
        default=0.01,
        ge=0.0001,
        lt=1,
        description="Absolute lift worth detecting (sample-size advice); at least 0.0001 "
        "(0.01 percentage points), below which no test could gather enough users.",
    )
    power: float = Field(default=0.8, gt=0.5, lt=1)
    planned_users_per_variant: int | None = Field(
        default=None,
        gt=0,
        description="Planned users per variant, fixed before the test starts: tunes the "
        "always-valid interval to be tightest there (default: the sample size for the MDE).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ABTestRequest:
        unique_names([v.name for v in self.variants])
        if self.expected_split is not None:
            if len(self.expected_split) != len(self.variants):
                raise ValueError("expected_split needs one share per variant")
            if any(s <= 0 for s in self.expected_split):
                raise ValueError("expected_split shares must be positive")
        return self


class VariantResult(BaseModel):
    name: str
    users: int
    conversions: int
    rate: float
    ci_low: float = Field(description="Wilson interval of the rate.")
    ci_high: float


class Comparison(BaseModel):
    variant: str
    absolute_lift: float = Field(description="rate(variant) - rate(control)")
    relative_lift: float | None = Field(description="absolute lift / control rate; None if 0.")
    lift_ci_low: float
    lift_ci_high: float
    z: float
    p_value: float
    p_value_adjusted: float
    significant: bool
    prob_beats_control: float = Field(description="Bayesian P(variant > control), Beta(1,1) prior.")
    expected_loss: float = Field(description="Expected conversion-rate loss if shipped and worse.")
    always_valid_ci_low: float = Field(
        description="Confidence sequence of the lift: valid however often the test is checked."
    )
    always_valid_ci_high: float
    always_valid_p_value: float = Field(description="Valid under continuous monitoring.")


class ABTestResult(BaseModel):
    control: str
    variants: list[VariantResult]
    comparisons: list[Comparison]
    srm_p_value: float = Field(description="Chi-square p-value of the traffic split.")
    sample_ratio_mismatch: bool = Field(description="True when p < 0.001: the data is suspect.")
    sample_size_per_variant: int = Field(description="Users per variant to detect the MDE.")
    verdict: str


SRM_THRESHOLD = 0.001


class ABTestAnalyzer(Plugin[ABTestRequest, ABTestResult]):
    name = "ab-test"
    version = "0.1.0"
    description = (
        "Analyse an A/B(/n) conversion test: lift with confidence intervals, p-values with "
        "multiple-comparison correction, Bayesian probability to beat control, expected loss, "
        "sample-ratio-mismatch check and the sample size needed."
    )
    languages = ("zh", "en")
    group = GROUP
    Input = ABTestRequest
    Output = ABTestResult

    def run(self, req: ABTestRequest, ctx: Context) -> ABTestResult:
        from pitchcraft.plugins.effect import (  # scipy: on first use, not at discovery
            abtest,
            sequential,
        )

        control, *others = req.variants
        per_variant = []
        for v in req.variants:
            low, high = abtest.wilson_interval(v.conversions, v.users, req.alpha)
            per_variant.append(
                VariantResult(
                    name=v.name,
                    users=v.users,
                    conversions=v.conversions,
                    rate=v.conversions / v.users,
                    ci_low=low,
                    ci_high=high,
                )
            )
        tests = [
            abtest.two_proportion_ztest(
                control.conversions, control.users, v.conversions, v.users, req.alpha
            )
            for v in others
        ]
        adjusted = abtest.adjust_p_values([t.p_value for t in tests], req.correction)
        comparisons = []
        control_rate = control.conversions / control.users
        # The baseline is kept where baseline + effect stays a rate (an effect near 1 leaves
        # no room above any baseline but 0).
        baseline = max(0.0, min(max(control_rate, 1e-6), 1 - req.min_detectable_effect - 1e-6))
        needed = abtest.sample_size_per_variant(
            baseline,
            req.min_detectable_effect,
            req.alpha,
            req.power,
        )
        planned = req.planned_users_per_variant or needed
        for v, test, p_adj in zip(others, tests, adjusted, strict=True):
            bayes = abtest.beta_binomial(control.conversions, control.users, v.conversions, v.users)
            watched = sequential.difference_of_rates(
                control.conversions, control.users, v.conversions, v.users, req.alpha, planned
            )
            comparisons.append(
                Comparison(
                    variant=v.name,
                    absolute_lift=test.diff,
                    relative_lift=test.diff / control_rate if control_rate > 0 else None,
                    lift_ci_low=test.ci_low,
                    lift_ci_high=test.ci_high,
                    z=test.z,
                    p_value=test.p_value,
                    p_value_adjusted=p_adj,
                    significant=p_adj < req.alpha,
                    prob_beats_control=bayes.prob_b_beats_a,
                    expected_loss=bayes.expected_loss_b,
                    always_valid_ci_low=watched.ci_low,
                    always_valid_ci_high=watched.ci_high,
                    always_valid_p_value=watched.p_value,
                )
            )
        split = req.expected_split or [1.0] * len(req.variants)
        srm_p = abtest.srm_test([v.users for v in req.variants], split)
        return ABTestResult(
            control=control.name,
            variants=per_variant,
            comparisons=comparisons,
            srm_p_value=srm_p,
            sample_ratio_mismatch=srm_p < SRM_THRESHOLD,
            sample_size_per_variant=needed,
            verdict=verdict(comparisons, srm_p < SRM_THRESHOLD, req, needed),
        )

    def chat_reply(self, result: ABTestResult) -> str:
        beats = {c.variant: c for c in result.comparisons}
        rows = ["| variant | users | rate (CI) | lift | p (adj.) | P(beats control) |"]
        rows.append("| --- | ---: | --- | ---: | ---: | ---: |")
        for v in result.variants:
            c = beats.get(v.name)
            rate = f"{v.rate:.2%} ({v.ci_low:.2%}–{v.ci_high:.2%})"
            lift = f"{c.absolute_lift:+.2%}" if c else "control"
            p = f"{c.p_value_adjusted:.3g}" if c else ""
            prob = f"{c.prob_beats_control:.1%}" if c else ""
            rows.append(f"| {v.name} | {v.users} | {rate} | {lift} | {p} | {prob} |")
        return f"**{result.verdict}**\n\n" + "\n".join(rows)

    def charts(self, results: Sequence[ABTestResult], ctx: Context) -> list[Chart]:
        charts = []
        for result in results[:1]:  # one test's charts; a batch of tests has no common axis
            charts.append(
                Chart(
                    kind="line",
                    title="Posterior of each variant's conversion rate (Beta(1,1) prior)",
                    x="conversion rate",
                    y="density",
                    color="variant",
                    rows=posterior_rows(
                        [
                            (v.name, 1 + v.conversions, 1 + v.users - v.conversions)
                            for v in result.variants
                        ],
                        "conversion rate",
                    ),
                )
            )
            charts.append(
                Chart(
                    kind="bar",
                    title="P(variant beats the control)",
                    x="variant",
                    y="probability",
                    y_range=(0.0, 1.0),
                    rows=[
                        {"variant": c.variant, "probability": round(c.prob_beats_control, 4)}
                        for c in result.comparisons
                    ],
                )
            )
        return charts


def verdict(comparisons: list[Comparison], mismatch: bool, req: ABTestRequest, needed: int) -> str:
    if mismatch:
        return (
            "Sample ratio mismatch: traffic did not split as planned, so the assignment is "
            "broken and no lift here can be trusted. Fix the bucketing before reading results."
        )
    winners = [c for c in comparisons if c.significant and c.absolute_lift > 0]
    losers = [c for c in comparisons if c.significant and c.absolute_lift < 0]
    if winners:
        best = max(winners, key=lambda c: c.absolute_lift)
        return (
            f"{best.variant} beats the control by {best.absolute_lift:+.2%} "
            f"(p={best.p_value_adjusted:.3g}, P(better)={best.prob_beats_control:.1%})."
        )
    if losers and len(losers) == len(comparisons):
        return "Every variant converts worse than the control; keep the control."
    smallest = min(v.users for v in req.variants)
    if smallest < needed:
        return (
            f"No significant difference yet; about {needed} users per variant are needed to "
            f"detect a {req.min_detectable_effect:.2%} lift (smallest variant has {smallest})."
        )
    return "No significant difference at this sample size; the variants perform alike."
