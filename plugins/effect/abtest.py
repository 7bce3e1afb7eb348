"""Two-proportion A/B statistics: frequentist tests, Bayesian Beta-Binomial, SRM, corrections.

Pure functions over counts, checked in tests against scipy/statsmodels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import integrate, stats


@dataclass(frozen=True)
class ZTest:
    diff: float  # rate_b - rate_a
    z: float
    p_value: float
    ci_low: float
    ci_high: float


def two_proportion_ztest(conv_a: int, n_a: int, conv_b: int, n_b: int, alpha: float) -> ZTest:
    """Pooled two-sided z-test of rate_b - rate_a, with an unpooled (Wald) CI of the difference.

    Matches statsmodels `proportions_ztest([conv_b, conv_a], [n_b, n_a])`; when both
    rates are 0 or both 1 the pooled variance is 0 and there is no evidence of a
    difference, so z = 0 and p = 1 (statsmodels returns nan there).
    """
    rate_a, rate_b = conv_a / n_a, conv_b / n_b
    diff = rate_b - rate_a
    pooled = (conv_a + conv_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se_pooled == 0:
        z, p = 0.0, 1.0
    else:
        z = diff / se_pooled
        p = float(2 * stats.norm.sf(abs(z)))
    se = math.sqrt(rate_a * (1 - rate_a) / n_a + rate_b * (1 - rate_b) / n_b)
    q = float(stats.norm.ppf(1 - alpha / 2))
    return ZTest(diff=diff, z=z, p_value=p, ci_low=diff - q * se, ci_high=diff + q * se)


def wilson_interval(conv: int, n: int, alpha: float) -> tuple[float, float]:
    """Wilson score interval (statsmodels `proportion_confint(method="wilson")`)."""
    q = float(stats.norm.ppf(1 - alpha / 2))
    rate = conv / n
    denom = 1 + q * q / n
    centre = (rate + q * q / (2 * n)) / denom
    half = q * math.sqrt(rate * (1 - rate) / n + q * q / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def srm_test(observed: Sequence[int], expected_share: Sequence[float]) -> float:
    """Sample-ratio-mismatch chi-square p-value (scipy `chisquare`)."""
    total = sum(observed)
    shares = np.asarray(expected_share, dtype=float)
    expected = shares / shares.sum() * total
    return float(stats.chisquare(np.asarray(observed, dtype=float), expected).pvalue)


def adjust_p_values(p_values: Sequence[float], method: str) -> list[float]:
    """Family-wise correction: 'holm' (step-down), 'bonferroni' or 'none', as statsmodels does."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if method == "none" or m <= 1:
        return p.tolist()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0).tolist()
    if method == "holm":
        order = np.argsort(p)
        stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(stepped, 1.0)
        return adjusted.tolist()
    raise ValueError(f"unknown correction {method!r}")


@dataclass(frozen=True)
class BayesResult:
    prob_b_beats_a: float
    expected_loss_b: float  # E[max(rate_a - rate_b, 0)]: what choosing B costs if it is worse


def beta_binomial(
    conv_a: int, n_a: int, conv_b: int, n_b: int, prior_a: float = 1.0, prior_b: float = 1.0
) -> BayesResult:
    """P(rate_b > rate_a) and the expected loss of choosing B, by numerical integration.

    Posteriors are Beta(prior_a + conversions, prior_b + non-conversions).
    """
    post_a = stats.beta(prior_a + conv_a, prior_b + n_a - conv_a)
    post_b = stats.beta(prior_a + conv_b, prior_b + n_b - conv_b)
    # Integrate over the region where the posteriors have mass; quad misses narrow peaks otherwise.
    lo = min(post_a.ppf(1e-12), post_b.ppf(1e-12))
    hi = max(post_a.isf(1e-12), post_b.isf(1e-12))
    points = [post_a.mean(), post_b.mean()]
    # P(B > A) = ∫ f_B(x) P(A < x) dx
    prob_b_beats_a, _ = integrate.quad(
        lambda x: post_b.pdf(x) * post_a.cdf(x), lo, hi, points=points, limit=200
    )
    # E[max(A - B, 0)] = ∫ f_B(b) * E[(A - b)^+] db, with E[(A - b)^+] = ∫_b^1 (1 - F_A(t)) dt.
    mean_excess = _partial_expectation(post_a)
    loss, _ = integrate.quad(
        lambda b: post_b.pdf(b) * mean_excess(b), lo, hi, points=points, limit=200
    )
    prob_b_beats_a = min(max(prob_b_beats_a, 0.0), 1.0)
    return BayesResult(prob_b_beats_a=float(prob_b_beats_a), expected_loss_b=float(loss))


def _partial_expectation(dist: stats.rv_continuous) -> Callable[[float], float]:
    """b -> E[(X - b)^+] for a Beta X, in closed form: E[X; X > b] - b * P(X > b)."""
    a, b_param = dist.args
    upper_mean = stats.beta(a + 1, b_param)
    mean = a / (a + b_param)

    def excess(b: float) -> float:
        return float(mean * upper_mean.sf(b) - b * dist.sf(b))

    return excess


def sample_size_per_variant(
    baseline_rate: float, min_detectable_effect: float, alpha: float, power: float
) -> int:
    """Users per variant for a two-sided two-proportion test (normal approximation).

    `min_detectable_effect` is absolute (0.01 = one percentage point). Matches
    statsmodels `NormalIndPower` on Cohen's h, rounded up.
    """
    target = baseline_rate + min_detectable_effect
    h = abs(2 * math.asin(math.sqrt(target)) - 2 * math.asin(math.sqrt(baseline_rate)))
    z_alpha = stats.norm.ppf(1 - alpha / 2)
    z_power = stats.norm.ppf(power)
    # Var(h_hat) = 1/n_a + 1/n_b = 2/n with equal groups.
    return math.ceil(2 * ((z_alpha + z_power) / h) ** 2)
