"""Off-policy evaluation on the Open Bandit logs: a policy's click rate before it ships.

The uniform-random logs are the evidence (every item had the same chance in
every slot, so every policy is covered). The doubly-robust estimator's click
model is cross-fitted: each half of the logs is scored by a model fitted on
the other half, so it never predicts clicks it learned from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pitchcraft.plugins.effect import ctr, obd, ope

CROSS_FIT_C = 1e-3  # a fixed strength: the DR model is refit per fold and must be quick


@dataclass(frozen=True)
class PolicyValue:
    campaign: str
    estimates: list[ope.Estimate]
    logged_ctr: float  # the uniform logging policy's own click rate
    impressions: int
    effective_sample_size: float


def click_model_grid(campaign: obd.Campaign, seed: int = 0) -> np.ndarray:
    """(impressions, items): cross-fitted click probability of every item in each uniform-log
    impression's context and position."""
    from sklearn.model_selection import KFold

    logs = uniform_logs(campaign)
    interactions = obd.affinities("random", campaign)
    items = obd.item_table(campaign)
    grid = np.zeros((len(logs), len(items)))
    clicks = logs["click"].to_numpy()
    for train, test in KFold(2, shuffle=True, random_state=seed).split(logs):
        model = ctr.chosen_model(CROSS_FIT_C).fit(
            logs.iloc[train][ctr.CATEGORICAL + ctr.NUMERIC], clicks[train]
        )
        context = logs.iloc[test].drop(columns=[*ctr.ITEM_COLUMNS, "item_affinity"])
        # Context-major: each test context with every item's features, then its affinity.
        candidates = context.reset_index(drop=True).merge(
            items[ctr.ITEM_COLUMNS].reset_index(drop=True), how="cross"
        )
        candidates["item_affinity"] = obd.item_affinity(interactions[test].reshape(-1))
        probs = model.predict_proba(candidates[ctr.CATEGORICAL + ctr.NUMERIC])[:, 1]
        grid[test] = probs.reshape(len(test), len(items))
    return grid


def uniform_logs(campaign: obd.Campaign) -> pd.DataFrame:
    """The evidence: impressions logged by the uniform-random policy."""
    return obd.impressions(("random",), (campaign,))


def slot_rows(slot_probabilities: np.ndarray, logs: pd.DataFrame) -> np.ndarray:
    """A context-free policy, P(item in slot) as (items, 3), as each logged impression's
    item probabilities for its slot: (impressions, items)."""
    return slot_probabilities[:, logs["position"].to_numpy() - 1].T


def evaluate(
    campaign: obd.Campaign, slot_probabilities: np.ndarray, resamples: int = 1000, seed: int = 0
) -> PolicyValue:
    """Estimate the click rate of a context-free policy given as P(item in slot):
    an (items, 3) array whose columns each sum to 1."""
    rows = slot_rows(slot_probabilities, uniform_logs(campaign))
    return evaluate_rows(campaign, rows, resamples, seed)


def evaluate_rows(
    campaign: obd.Campaign,
    row_probabilities: np.ndarray,
    resamples: int = 1000,
    seed: int = 0,
    click_grid: np.ndarray | None = None,
    level: float = 0.95,
) -> PolicyValue:
    """Estimate the click rate of a policy given, for each uniform-log impression, as the
    probability of each item in that impression's context and slot: (impressions, items).
    `click_grid`: `click_model_grid(campaign, seed)`, if at hand."""
    logs = uniform_logs(campaign)
    items = logs["item_id"].to_numpy()
    rows = np.arange(len(logs))
    data = ope.LoggedFeedback(
        clicks=logs["click"].to_numpy(dtype=float),
        logging_prob=logs["propensity"].to_numpy(),
        target_prob=row_probabilities[rows, items],
    )
    grid = click_model_grid(campaign, seed) if click_grid is None else click_grid
    return PolicyValue(
        campaign=campaign,
        estimates=ope.estimate(
            data,
            (row_probabilities * grid).sum(axis=1),
            grid[rows, items],
            level=level,
            resamples=resamples,
            seed=seed,
        ),
        logged_ctr=float(data.clicks.mean()),
        impressions=len(logs),
        effective_sample_size=data.effective_sample_size(),
    )


def thompson_policy(campaign: obd.Campaign, draws: int = 100_000) -> np.ndarray:
    """The production Bernoulli Thompson sampler (its shipped Beta parameters) as slot
    probabilities."""
    alpha, beta = obd.bts_prior(campaign)
    return ope.thompson_slot_probabilities(alpha, beta, len(obd.POSITIONS), draws)


def on_policy_ctr(campaign: obd.Campaign) -> float:
    """The Thompson sampler's actual click rate in its own logs."""
    return float(obd.impressions(("bts",), (campaign,))["click"].mean())
