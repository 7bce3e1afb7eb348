"""Off-policy evaluation: what a new policy's click rate would be, from another policy's logs.

Each logged impression i shows action a_i at position k_i with the logging
policy's probability p_i and gets click r_i. A new policy shows a_i there with
probability e_i. With weights w_i = e_i / p_i:

- IPW: mean(w r), unbiased when p_i > 0 wherever e_i > 0;
- self-normalised IPW: sum(w r) / sum(w), a little biased, much less variance;
- doubly robust: mean(sum_a e(a) q(a) + w (r - q(a_i))) with a click model q,
  unbiased if either the propensities or q are right.

Intervals are percentile bootstraps over impressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ESTIMATORS = ("ipw", "snipw", "dr")


@dataclass(frozen=True)
class Estimate:
    estimator: str
    value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class LoggedFeedback:
    clicks: np.ndarray  # (n,) 0/1
    logging_prob: np.ndarray  # (n,) p_i of the logged action
    target_prob: np.ndarray  # (n,) e_i: the new policy's probability of the logged action

    @property
    def weights(self) -> np.ndarray:
        return self.target_prob / self.logging_prob

    def effective_sample_size(self) -> float:
        """(sum w)^2 / sum w^2: how many impressions the weighted estimate is worth."""
        w = self.weights
        return float(w.sum() ** 2 / (w**2).sum()) if (w**2).sum() > 0 else 0.0


def estimate(
    data: LoggedFeedback,
    expected_under_target: np.ndarray | None = None,
    predicted_logged: np.ndarray | None = None,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> list[Estimate]:
    """IPW and SNIPW, and DR when the click model's two inputs are given.

    `expected_under_target[i]` = sum over actions of e(a | context i) * q(context i, a);
    `predicted_logged[i]` = q(context i, a_i).
    """
    weights = data.weights
    weighted = weights * data.clicks
    dr = None  # per-impression doubly-robust terms: their mean is the estimate
    if expected_under_target is not None and predicted_logged is not None:
        dr = expected_under_target + weights * (data.clicks - predicted_logged)

    def values(rows: np.ndarray) -> dict[str, np.ndarray]:
        """Each estimator over each row of impression indices (b, n) -> (b,)."""
        w, wr = weights[rows], weighted[rows]
        found = {
            "ipw": wr.mean(axis=1),
            "snipw": wr.sum(axis=1) / np.maximum(w.sum(axis=1), 1e-300),
        }
        if dr is not None:
            found["dr"] = dr[rows].mean(axis=1)
        return found

    n = len(weights)
    point = values(np.arange(n)[None, :])
    rng = np.random.default_rng(seed)
    boot: dict[str, list[np.ndarray]] = {name: [] for name in point}
    for start in range(0, resamples, 100):  # chunks keep the index matrix small
        for name, found in values(rng.integers(0, n, (min(100, resamples - start), n))).items():
            boot[name].append(found)
    tail = (1 - level) / 2 * 100
    out = []
    for name in ESTIMATORS:
        if name in point:
            low, high = np.percentile(np.concatenate(boot[name]), [tail, 100 - tail])
            out.append(Estimate(name, float(point[name][0]), float(low), float(high)))
    return out


def thompson_slot_probabilities(
    alpha: np.ndarray, beta: np.ndarray, slots: int, draws: int = 100_000, seed: int = 0
) -> np.ndarray:
    """(items, slots): how often a Bernoulli Thompson sampler with these Beta parameters puts
    each item in each slot, when it ranks items by one posterior draw each (Monte Carlo)."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((len(alpha), slots))
    for start in range(0, draws, 10_000):
        size = min(10_000, draws - start)
        theta = rng.beta(alpha, beta, size=(size, len(alpha)))
        top = np.argsort(-theta, axis=1)[:, :slots]
        for slot in range(slots):
            counts[:, slot] += np.bincount(top[:, slot], minlength=len(alpha))
    return counts / draws


def relative_error(estimated: float, actual: float) -> float:
    return abs(estimated - actual) / actual
