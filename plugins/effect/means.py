"""Tests on a per-user metric such as revenue: Welch's t-test and CUPED variance reduction."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class WelchTest:
    diff: float  # mean_b - mean_a
    t: float
    df: float
    p_value: float
    ci_low: float
    ci_high: float


def welch_from_stats(
    mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float, n_b: int, alpha: float
) -> WelchTest:
    """Welch's unequal-variance t-test of mean_b - mean_a (scipy `ttest_ind_from_stats`)."""
    va, vb = sd_a**2 / n_a, sd_b**2 / n_b
    se = math.sqrt(va + vb)
    diff = mean_b - mean_a
    if se == 0:
        return WelchTest(diff, 0.0, float(n_a + n_b - 2), 1.0 if diff == 0 else 0.0, diff, diff)
    df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    t = diff / se
    q = float(stats.t.ppf(1 - alpha / 2, df))
    p = float(2 * stats.t.sf(abs(t), df))
    return WelchTest(diff, t, df, p, diff - q * se, diff + q * se)


def welch(values_a: np.ndarray, values_b: np.ndarray, alpha: float) -> WelchTest:
    a, b = np.asarray(values_a, float), np.asarray(values_b, float)
    return welch_from_stats(a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b), alpha)


@dataclass(frozen=True)
class Cuped:
    theta: float
    variance_reduction: float  # 1 - Var(adjusted) / Var(raw), over all users
    adjusted: np.ndarray


def cuped(values: np.ndarray, pre_values: np.ndarray) -> Cuped:
    """Subtract the part of each user's metric that their pre-period metric predicts.

    theta = Cov(Y, X) / Var(X), pooled over all variants (so it cannot favour
    one); Y' = Y - theta (X - mean X) keeps every variant's expected mean and
    shrinks the variance by the squared correlation of Y and X.
    """
    y, x = np.asarray(values, float), np.asarray(pre_values, float)
    var_x = x.var(ddof=1)
    theta = float(np.cov(y, x, ddof=1)[0, 1] / var_x) if var_x > 0 else 0.0
    adjusted = y - theta * (x - x.mean())
    var_y = y.var(ddof=1)
    reduction = float(1 - adjusted.var(ddof=1) / var_y) if var_y > 0 else 0.0
    return Cuped(theta, reduction, adjusted)
