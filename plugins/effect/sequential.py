"""Always-valid inference for A/B tests that are looked at while they run.

A fixed-sample test checked after every batch of users finds "significant"
differences between identical variants far more often than alpha. A
confidence sequence holds at every look at once: with probability 1 - alpha
it contains the true difference at all sample sizes simultaneously, so the
test may be stopped as soon as it excludes zero.

This is the normal-mixture (Robbins) boundary on the difference of two means
in information time (information = 1 / variance of the estimate), as in the
asymptotic confidence sequences of Waudby-Smith et al. (2021); the mixture
width tau^2 is set so the sequence is tightest at the planned sample size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def mixture_width(alpha: float, planned_information: float) -> float:
    """tau^2 that makes the boundary tightest when the information reaches the plan."""
    log_term = -2 * math.log(alpha)
    return (log_term + math.log(log_term + 1)) / planned_information


def radius(information: np.ndarray | float, alpha: float, tau2: float) -> np.ndarray | float:
    """Half-width of the confidence sequence for a difference estimated with this information."""
    i = np.asarray(information, dtype=float)
    spread = 1 + tau2 * i
    return np.sqrt(spread * (2 * math.log(1 / alpha) + np.log(spread)) / (tau2 * i * i))


def always_valid_p(estimate: float, information: float, tau2: float) -> float:
    """1 / mixture likelihood ratio of 'difference = 0' (capped at 1)."""
    spread = 1 + tau2 * information
    score = estimate * information
    log_ratio = -0.5 * math.log(spread) + tau2 * score * score / (2 * spread)
    return float(min(1.0, math.exp(-log_ratio)))


@dataclass(frozen=True)
class Sequential:
    ci_low: float
    ci_high: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


def difference_of_means(
    mean_a: float,
    var_a: float,
    n_a: int,
    mean_b: float,
    var_b: float,
    n_b: int,
    alpha: float,
    planned_per_variant: int,
) -> Sequential:
    """Confidence sequence for mean_b - mean_a; variances are per-unit (not of the mean)."""
    variance = var_a / n_a + var_b / n_b
    diff = mean_b - mean_a
    if variance <= 0:  # both arms constant, as the Wald and Welch intervals treat it
        return Sequential(diff, diff, 1.0 if diff == 0 else 0.0)
    pooled_unit = (var_a + var_b) / 2 or variance * min(n_a, n_b)
    tau2 = mixture_width(alpha, planned_per_variant / (2 * pooled_unit))
    half = float(radius(1 / variance, alpha, tau2))
    return Sequential(diff - half, diff + half, always_valid_p(diff, 1 / variance, tau2))


def difference_of_rates(
    conv_a: int, n_a: int, conv_b: int, n_b: int, alpha: float, planned_per_variant: int
) -> Sequential:
    rate_a, rate_b = conv_a / n_a, conv_b / n_b
    return difference_of_means(
        rate_a,
        rate_a * (1 - rate_a),
        n_a,
        rate_b,
        rate_b * (1 - rate_b),
        n_b,
        alpha,
        planned_per_variant,
    )
