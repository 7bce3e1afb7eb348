"""The `policy-eval` plugin: a recommendation policy's click rate, estimated from logs before
it ships (off-policy evaluation on the Open Bandit uniform-random logs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from pitchcraft.charts import Chart
from pitchcraft.context import Context
from pitchcraft.errors import InputError
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.effect import GROUP
from pitchcraft.plugins.effect.inputs import UserFeatures, check_item_ids

if TYPE_CHECKING:  # numpy/pandas load on first run, not at plugin discovery
    import numpy as np
    import pandas as pd

NAME = "policy-eval"
FEW_IMPRESSIONS = 100  # effective sample size under which estimates are flagged as fragile


class Rule(BaseModel):
    item_id: int = Field(ge=0, description="Item to show.")
    position: Literal[1, 2, 3] = Field(description="Slot to show it in (1 = top).")
    share: float = Field(default=1.0, gt=0, le=1, description="Of that slot's impressions.")
    segment: UserFeatures = Field(
        default_factory=dict,
        description="Only for visitors with these hashed user_feature_0..3 values; empty = all.",
    )


class PolicyRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "campaign": "all",
                    "policy": "rules",
                    "rules": [{"item_id": 0, "position": 1, "share": 0.5}],
                },
                {"campaign": "men", "policy": "thompson"},
            ]
        }
    )

    campaign: Literal["all", "men", "women"] = "all"
    policy: Literal["thompson", "most-popular", "rules"] = Field(
        default="thompson",
        description="thompson: the shop's production Thompson sampler; most-popular: the three "
        "historically best items in slots 1-3; rules: `rules` below, the rest of each slot "
        "uniform.",
    )
    rules: list[Rule] = Field(default_factory=list, max_length=200, validate_default=True)
    level: float = Field(default=0.95, gt=0.5, lt=1, description="Interval coverage.")

    @field_validator("rules")
    @classmethod
    def _rules_fit(cls, rules: list[Rule], info: ValidationInfo) -> list[Rule]:
        if info.data.get("policy") == "rules" and not rules:
            raise ValueError("give at least one rule when policy is 'rules'")
        for n, rule in enumerate(rules):
            check_item_ids(info.data.get("campaign", "all"), [rule.item_id], f"rule {n}: ")
        for rule in rules:  # visitors in a rule's segment also get every broader rule
            broader = [
                r.share
                for r in rules
                if r.position == rule.position and r.segment.items() <= rule.segment.items()
            ]
            if sum(broader) > 1 + 1e-9:
                raise ValueError(
                    f"shares for position {rule.position} add up to {sum(broader):g} "
                    "for some visitors (at most 1)"
                )
        return rules


class PolicyEstimate(BaseModel):
    estimator: Literal["ipw", "snipw", "dr"]
    ctr: float
    ci_low: float
    ci_high: float


class PolicyResult(BaseModel):
    campaign: str
    policy: str
    estimates: list[PolicyEstimate]
    uniform_ctr: float = Field(description="Click rate of the uniform policy that logged the data.")
    relative_lift: float = Field(description="DR estimate / uniform CTR - 1.")
    effective_sample_size: float = Field(description="How many logged impressions it is worth.")
    logged_ctr: float | None = Field(
        default=None, description="thompson only: the CTR it actually got in its own logs."
    )
    verdict: str


class PolicyEvaluator(Plugin[PolicyRequest, PolicyResult]):
    name = NAME
    version = "0.1.0"
    description = (
        "Estimate a recommendation policy's click rate from logged data before shipping it: "
        "inverse propensity, self-normalised and doubly-robust estimates with intervals."
    )
    languages = ("zh", "en")
    group = GROUP
    Input = PolicyRequest
    Output = PolicyResult

    def run(self, req: PolicyRequest, ctx: Context) -> PolicyResult:
        from pitchcraft.plugins.effect import obd, offline

        logs = ctx.shared(f"{NAME}.logs.{req.campaign}", lambda: offline.uniform_logs(req.campaign))
        grid = ctx.shared(
            f"{NAME}.grid.{req.campaign}", lambda: offline.click_model_grid(req.campaign)
        )
        if req.policy == "thompson":
            slots = ctx.shared(
                f"{NAME}.thompson.{req.campaign}", lambda: offline.thompson_policy(req.campaign)
            )
            rows = offline.slot_rows(slots, logs)
        elif req.policy == "most-popular":
            rows = _most_popular(obd.item_table(req.campaign), logs)
        else:
            rows = _rule_probabilities(req.rules, len(obd.item_table(req.campaign)), logs)
        value = offline.evaluate_rows(req.campaign, rows, click_grid=grid, level=req.level)
        estimates = [
            PolicyEstimate(estimator=e.estimator, ctr=e.value, ci_low=e.ci_low, ci_high=e.ci_high)  # type: ignore[arg-type]
            for e in value.estimates
        ]
        dr = next(e for e in estimates if e.estimator == "dr")
        lift = dr.ctr / value.logged_ctr - 1 if value.logged_ctr > 0 else 0.0
        logged = offline.on_policy_ctr(req.campaign) if req.policy == "thompson" else None
        return PolicyResult(
            campaign=req.campaign,
            policy=req.policy,
            estimates=estimates,
            uniform_ctr=value.logged_ctr,
            relative_lift=lift,
            effective_sample_size=value.effective_sample_size,
            logged_ctr=logged,
            verdict=_verdict(dr, value.logged_ctr, value.effective_sample_size),
        )

    def chat_reply(self, result: PolicyResult) -> str:
        rows = ["| estimator | CTR | interval |", "| --- | ---: | --- |"]
        for e in result.estimates:
            rows.append(f"| {e.estimator.upper()} | {e.ctr:.3%} | {e.ci_low:.3%}–{e.ci_high:.3%} |")
        if result.logged_ctr is not None:
            rows.append(f"| actually logged | {result.logged_ctr:.3%} | |")
        return f"**{result.verdict}**\n\n" + "\n".join(rows)

    def charts(self, results: Sequence[PolicyResult], ctx: Context) -> list[Chart]:
        if not results:
            return []
        result = results[0]
        rows = [
            {"estimate": e.estimator.upper(), "CTR": round(e.ctr, 6), "kind": "estimate"}
            for e in result.estimates
        ]
        rows.append({"estimate": "uniform (logged)", "CTR": result.uniform_ctr, "kind": "logged"})
        if result.logged_ctr is not None:
            rows.append({"estimate": "policy (logged)", "CTR": result.logged_ctr, "kind": "logged"})
        return [
            Chart(
                kind="bar",
                title=f"Estimated CTR of the {result.policy} policy",
                x="estimate",
                y="CTR",
                color="kind",
                rows=rows,
            )
        ]


def _most_popular(items: pd.DataFrame, logs: pd.DataFrame) -> np.ndarray:
    """Slots 1-3 always show the three items with the best click history."""
    import numpy as np

    best = items.sort_values("prior_ctr", ascending=False)["item_id"].to_numpy()[:3]
    rows = np.zeros((len(logs), len(items)))
    rows[np.arange(len(logs)), best[logs["position"].to_numpy() - 1]] = 1.0
    return rows


def _rule_probabilities(rules: Sequence[Rule], n_items: int, logs: pd.DataFrame) -> np.ndarray:
    """Per logged impression: each rule that matches its slot and visitor takes its share;
    the slot's remaining probability is spread uniformly over every item."""
    import numpy as np

    taken = np.zeros(len(logs))
    rows = np.zeros((len(logs), n_items))
    for rule in rules:
        match = logs["position"].to_numpy() == rule.position
        for feature, value in rule.segment.items():
            match &= logs[feature].to_numpy() == value
        rows[match, rule.item_id] += rule.share
        taken[match] += rule.share
    if (taken > 1 + 1e-9).any():
        raise InputError(
            NAME, {"rules": "shares for one slot add up to more than 1 for some visitors"}
        )
    rows += ((1 - taken) / n_items)[:, None]
    return rows


def _verdict(dr: PolicyEstimate, uniform: float, ess: float) -> str:
    if ess < FEW_IMPRESSIONS:
        return (
            f"Too little evidence: the logs are worth about {ess:.0f} impressions for this "
            "policy, so the estimate is fragile. Log more data with exploration first."
        )
    if dr.ci_low > uniform:
        return f"Likely better than the current uniform policy: {dr.ctr:.3%} vs {uniform:.3%}."
    if dr.ci_high < uniform:
        return f"Likely worse than the current uniform policy: {dr.ctr:.3%} vs {uniform:.3%}."
    return (
        f"Estimated CTR {dr.ctr:.3%} (interval {dr.ci_low:.3%}–{dr.ci_high:.3%}); not "
        f"distinguishable from the uniform policy's {uniform:.3%} with these logs."
    )
