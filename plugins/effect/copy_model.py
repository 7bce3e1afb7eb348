"""Click rate of new copy variants, learned from a shop's own logged campaign results.

Each logged variant (its text, channel, impressions, clicks) becomes a binomial
observation; a logistic model on the text's multilingual sentence embedding
and the channel learns which wording and channels draw clicks, weighting each
variant by its impressions. The interval comes from refitting on bootstrap
resamples of the logged *variants* (not impressions): the question is how well
wording generalises to a new text, and that uncertainty shrinks with the number
of distinct variants, not with their traffic.

Until enough variants are logged, the estimate is the prior, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_VARIANTS = 5  # fewer logged variants than this: no model, the prior
RESAMPLES = 30


@dataclass(frozen=True)
class Logged:
    embedding: np.ndarray
    channel: str
    shown: int  # impressions (or clicks, for a conversion rate)
    hits: int  # clicks (or conversions)


@dataclass(frozen=True)
class Estimate:
    rate: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _design(
    embeddings: np.ndarray, channels: Sequence[str], shares: dict[str, float]
) -> np.ndarray:
    """[embedding | channel one-hot]; a channel the logs never saw (or none) gets the logged
    channels' shares, i.e. the average channel, instead of an all-zero row."""
    known = sorted(shares)
    onehot = np.array(
        [
            [float(c == k) for k in known] if c in shares else [shares[k] for k in known]
            for c in channels
        ]
    )
    return np.hstack([embeddings, onehot.reshape(len(channels), len(known))])


def _fit(x: np.ndarray, shown: np.ndarray, hits: np.ndarray, strength: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    rows = np.vstack([x, x])
    labels = np.r_[np.ones(len(x)), np.zeros(len(x))]
    weights = np.r_[hits, shown - hits].astype(float)
    keep = weights > 0
    return LogisticRegression(C=strength, max_iter=2000).fit(
        rows[keep], labels[keep], sample_weight=weights[keep]
    )


def prior_interval(prior_rate: float, level: float) -> tuple[float, float]:
    """Credible interval of the prior: one pseudo-click at `prior_rate` (wide, right scale)."""
    from pitchcraft.plugins.effect.bandit import Posterior, one_click_prior

    shape_a, shape_b = one_click_prior(prior_rate)
    low, high = Posterior(np.array([shape_a]), np.array([shape_b])).interval(level)
    return float(low[0]), float(high[0])


def learned(
    history: Sequence[Logged],
    embeddings: np.ndarray,
    channels: Sequence[str],
    level: float,
    strength: float = 1.0,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> Estimate:
    """Rates for new variants from a logistic model on the logged ones (at least MIN_VARIANTS,
    with at least one hit and one miss)."""
    channels_logged = [h.channel for h in history]
    shares = {c: channels_logged.count(c) / len(history) for c in set(channels_logged)}
    x = _design(np.stack([h.embedding for h in history]), channels_logged, shares)
    shown = np.array([h.shown for h in history])
    hits = np.array([h.hits for h in history])
    target = _design(embeddings, channels, shares)
    rate = _fit(x, shown, hits, strength).predict_proba(target)[:, 1]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        pick = rng.integers(0, len(history), len(history))
        if hits[pick].sum() == 0 or (shown[pick] - hits[pick]).sum() == 0:
            continue
        draws.append(_fit(x[pick], shown[pick], hits[pick], strength).predict_proba(target)[:, 1])
    if len(draws) < 2:
        return Estimate(rate, rate.copy(), rate.copy())
    from scipy.special import logit

    from pitchcraft.plugins.effect.ctr import with_interval

    found = with_interval(rate, np.std(logit(np.stack(draws)), axis=0, ddof=1), level)
    return Estimate(found.ctr, found.low, found.high)


def leave_one_out_error(history: Sequence[Logged], strength: float = 1.0) -> tuple[float, float]:
    """Mean absolute error of each logged variant's rate predicted without it, for the model and
    for the pooled rate of the others: is wording learnable from these logs at all?"""
    model_err, pooled_err = [], []
    for i, held in enumerate(history):
        rest = [h for j, h in enumerate(history) if j != i]
        actual = held.hits / held.shown
        fit = learned(rest, held.embedding[None, :], [held.channel], 0.9, strength, resamples=0)
        pooled = sum(h.hits for h in rest) / sum(h.shown for h in rest)
        model_err.append(abs(float(fit.rate[0]) - actual))
        pooled_err.append(abs(pooled - actual))
    return float(np.mean(model_err)), float(np.mean(pooled_err))
