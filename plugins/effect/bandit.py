"""Thompson sampling across variants: allocation, the posterior, when to stop, and a replay.

Each variant's click (or conversion) rate has a Beta(prior + clicks, prior +
misses) posterior. Thompson sampling sends each next impression to the variant
whose posterior draw is highest, so a variant's traffic share equals its
probability of being the best: proven variants get most traffic while
uncertain ones keep being tried. The experiment can stop when the "value
remaining" (how much better than the current leader another variant could
plausibly be) is small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def one_click_prior(rate: float) -> tuple[float, float]:
    """Beta(1, 1/rate - 1): one pseudo-click at `rate`. Weak, but on the scale of the data (a
    uniform Beta(1, 1) would rate an untried variant at 50%)."""
    return 1.0, max(1 / rate - 1, 1.0)


@dataclass(frozen=True)
class Posterior:
    alpha: np.ndarray
    beta: np.ndarray

    @classmethod
    def from_counts(
        cls, clicks: Sequence[int], impressions: Sequence[int], prior: tuple[float, float]
    ) -> Posterior:
        c, n = np.asarray(clicks, float), np.asarray(impressions, float)
        return cls(prior[0] + c, prior[1] + n - c)

    @property
    def mean(self) -> np.ndarray:
        return self.alpha / (self.alpha + self.beta)

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        from scipy.stats import beta

        tail = (1 - level) / 2
        return beta.ppf(tail, self.alpha, self.beta), beta.isf(tail, self.alpha, self.beta)

    def draws(self, size: int, rng: np.random.Generator) -> np.ndarray:
        return rng.beta(self.alpha, self.beta, size=(size, len(self.alpha)))


@dataclass(frozen=True)
class Allocation:
    prob_best: np.ndarray  # Thompson sampling's traffic share for each variant
    expected_loss: np.ndarray  # E[max rate - this rate]: the cost of shipping this variant now
    value_remaining: float  # 95th percentile of (max rate - leader's rate) / leader's rate
    leader: int


def allocate(posterior: Posterior, draws: int = 20_000, seed: int = 0) -> Allocation:
    """Monte Carlo over the joint posterior (variants are independent)."""
    rng = np.random.default_rng(seed)
    theta = posterior.draws(draws, rng)
    best = theta.argmax(axis=1)
    prob_best = np.bincount(best, minlength=theta.shape[1]) / draws
    top = theta.max(axis=1)
    loss = (top[:, None] - theta).mean(axis=0)
    leader = int(np.argmax(prob_best))
    regret = (top - theta[:, leader]) / np.maximum(theta[:, leader], 1e-12)
    return Allocation(prob_best, loss, float(np.percentile(regret, 95)), leader)


def replay(
    outcomes: Sequence[np.ndarray], rounds: int, policy: str, prior: tuple[float, float], seed: int
) -> np.ndarray:
    """Cumulative clicks over `rounds` when `policy` ('thompson' or 'uniform') picks an arm each
    round and is paid one click outcome drawn from that arm's logged impressions.

    Drawing from an arm's logged outcomes is the bootstrapped replay of uniformly logged data:
    every arm's logged impressions are a fair sample of what showing it yields.
    """
    rng = np.random.default_rng(seed)
    arms = len(outcomes)
    wins, plays = np.zeros(arms), np.zeros(arms)
    total = np.zeros(rounds)
    clicks = 0.0
    for t in range(rounds):
        if policy == "thompson":
            arm = int(np.argmax(rng.beta(prior[0] + wins, prior[1] + plays - wins)))
        elif policy == "uniform":
            arm = int(rng.integers(arms))
        else:
            raise ValueError(f"unknown policy {policy!r}")
        reward = outcomes[arm][rng.integers(len(outcomes[arm]))]
        wins[arm] += reward
        plays[arm] += 1
        clicks += reward
        total[t] = clicks
    return total
