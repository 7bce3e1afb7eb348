"""Effect statistics beyond proportions: Welch, CUPED, confidence sequences, bucketing,
Thompson allocation and off-policy estimators (pure logic; references from scipy/statsmodels
or closed forms)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pitchcraft.plugins.effect import abtest, bandit, bucketing, ctr, means, ope, sequential

RNG = np.random.default_rng(7)
WELCH_CASES = [
    (RNG.lognormal(3, 1, 500), RNG.lognormal(3.1, 1, 650)),  # revenue-like, unequal sizes
    (np.array([1.0, 2.0]), np.array([2.0, 4.0, 9.0])),  # tiny samples
    (np.zeros(30), RNG.exponential(2.0, 5)),  # one arm constant (no revenue at all)
    (RNG.normal(0, 1, 20), RNG.normal(0, 25, 2000)),  # very unequal variances and sizes
]


@pytest.mark.parametrize(("a", "b"), WELCH_CASES)
def test_welch_matches_scipy(a: np.ndarray, b: np.ndarray) -> None:
    ours = means.welch(a, b, alpha=0.05)
    ref = stats.ttest_ind(b, a, equal_var=False)
    low, high = ref.confidence_interval(0.95)
    assert ours.t == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    assert ours.df == pytest.approx(ref.df, abs=1e-9)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((low, high), abs=1e-9)


def test_welch_from_summary_stats_matches_scipy() -> None:
    ours = means.welch_from_stats(52.1, 40.3, 1200, 55.8, 44.9, 1100, alpha=0.05)
    ref = stats.ttest_ind_from_stats(55.8, 44.9, 1100, 52.1, 40.3, 1200, equal_var=False)
    assert (ours.t, ours.p_value) == pytest.approx((ref.statistic, ref.pvalue), abs=1e-9)


def test_welch_with_both_arms_constant_reports_the_difference_without_noise() -> None:
    same = means.welch(np.full(5, 3.0), np.full(7, 3.0), alpha=0.05)
    assert (same.diff, same.p_value, same.ci_low, same.ci_high) == (0.0, 1.0, 0.0, 0.0)


def test_cuped_removes_the_squared_correlation_and_keeps_means() -> None:
    pre = RNG.gamma(2.0, 20.0, 4000)
    post = 0.8 * pre + RNG.normal(0, 15, 4000)
    out = means.cuped(post, pre)
    assert out.theta == pytest.approx(np.cov(post, pre)[0, 1] / np.var(pre, ddof=1), abs=1e-9)
    assert out.variance_reduction == pytest.approx(np.corrcoef(post, pre)[0, 1] ** 2, abs=1e-9)
    assert out.adjusted.mean() == pytest.approx(post.mean(), abs=1e-9)
    # Adjusted Welch is scipy's Welch on the adjusted values, with a tighter interval.
    groups = RNG.integers(0, 2, 4000).astype(bool)
    adj = means.welch(out.adjusted[~groups], out.adjusted[groups], 0.05)
    ref = stats.ttest_ind(out.adjusted[groups], out.adjusted[~groups], equal_var=False)
    assert adj.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    raw = means.welch(post[~groups], post[groups], 0.05)
    assert adj.ci_high - adj.ci_low < 0.6 * (raw.ci_high - raw.ci_low)


def test_cuped_without_pre_period_variation_changes_nothing() -> None:
    out = means.cuped(np.array([1.0, 5.0, 2.0]), np.array([4.0, 4.0, 4.0]))
    assert out.theta == 0.0
    assert out.adjusted.tolist() == [1.0, 5.0, 2.0]


def _peeking_false_positives(experiments: int, rate: float, seed: int) -> tuple[float, float]:
    """A/A tests looked at every 500 users up to 20,000 per arm: the share that ever
    'found' a difference, with the confidence sequence and with a naive z-test."""
    rng = np.random.default_rng(seed)
    looks = np.arange(500, 20_001, 500)
    a = np.cumsum(rng.random((experiments, looks[-1])) < rate, axis=1)[:, looks - 1]
    b = np.cumsum(rng.random((experiments, looks[-1])) < rate, axis=1)[:, looks - 1]
    seq = naive = 0
    for e in range(experiments):
        seq += any(
            sequential.difference_of_rates(
                int(a[e, j]), n, int(b[e, j]), n, 0.05, 10_000
            ).significant
            for j, n in enumerate(looks)
        )
        naive += any(
            abtest.two_proportion_ztest(int(a[e, j]), n, int(b[e, j]), n, 0.05).p_value < 0.05
            for j, n in enumerate(looks)
        )
    return seq / experiments, naive / experiments


def test_confidence_sequence_keeps_false_positives_under_5_percent_when_peeking() -> None:
    sequential_fpr, naive_fpr = _peeking_false_positives(400, 0.05, seed=11)
    assert sequential_fpr < 0.05
    assert naive_fpr > 0.15  # the simulation is sensitive: peeking at a fixed test inflates it


def test_confidence_sequence_detects_a_real_lift_and_is_wider_than_a_fixed_interval() -> None:
    found = sequential.difference_of_rates(500, 10_000, 650, 10_000, 0.05, 10_000)
    fixed = abtest.two_proportion_ztest(500, 10_000, 650, 10_000, 0.05)
    assert found.significant and found.p_value < 0.05
    assert found.ci_low < fixed.ci_low < fixed.ci_high < found.ci_high
    none = sequential.difference_of_rates(0, 50, 0, 60, 0.05, 1000)
    assert (none.ci_low, none.ci_high, none.p_value) == (0.0, 0.0, 1.0)


def test_bucketing_is_deterministic_balanced_and_independent_across_experiments() -> None:
    users = [f"user-{i}" for i in range(20_000)]
    first = [bucketing.assign(u, "headline-test", ["a", "b", "c"], [2, 1, 1]) for u in users]
    again = [bucketing.assign(u, "headline-test", ["a", "b", "c"], [2, 1, 1]) for u in users]
    assert first == again
    counts = [first.count(v) for v in "abc"]
    assert abtest.srm_test(counts, [2, 1, 1]) > 0.001
    other = [bucketing.assign(u, "banner-test", ["x", "y"], [1, 1]) for u in users]
    pairs = list(zip(first, other, strict=True))
    table = [[pairs.count((v, w)) for w in "xy"] for v in "abc"]
    assert stats.chi2_contingency(table).pvalue > 0.001
    with pytest.raises(ValueError, match="positive"):
        bucketing.assign("u", "t", ["a", "b"], [1, 0])


def test_thompson_share_of_best_matches_the_exact_two_arm_probability() -> None:
    posterior = bandit.Posterior.from_counts([40, 55], [2000, 2000], (1.0, 1.0))
    allocation = bandit.allocate(posterior, draws=200_000)
    exact = abtest.beta_binomial(40, 2000, 55, 2000).prob_b_beats_a
    assert allocation.prob_best.sum() == pytest.approx(1.0)
    assert allocation.prob_best[1] == pytest.approx(exact, abs=0.005)
    assert allocation.leader == 1
    assert allocation.expected_loss[1] < allocation.expected_loss[0]


def test_thompson_replay_collects_more_clicks_than_uniform_when_arms_differ() -> None:
    outcomes = [(RNG.random(400) < p).astype(float) for p in (0.01, 0.02, 0.08)]
    ts = np.mean([bandit.replay(outcomes, 3000, "thompson", (1, 1), s)[-1] for s in range(5)])
    uniform = np.mean([bandit.replay(outcomes, 3000, "uniform", (1, 1), s)[-1] for s in range(5)])
    assert ts > 1.5 * uniform


def test_ipw_of_the_logging_policy_is_its_own_click_rate() -> None:
    clicks = (RNG.random(5000) < 0.03).astype(float)
    prob = np.full(5000, 0.25)
    data = ope.LoggedFeedback(clicks, prob, prob.copy())
    found = {e.estimator: e for e in ope.estimate(data, resamples=200)}
    assert found["ipw"].value == pytest.approx(clicks.mean(), abs=1e-12)
    assert found["snipw"].value == pytest.approx(clicks.mean(), abs=1e-12)
    assert found["ipw"].ci_low < clicks.mean() < found["ipw"].ci_high
    assert data.effective_sample_size() == pytest.approx(5000)


def test_off_policy_estimators_recover_a_known_policy_value() -> None:
    """Uniform logging over 4 items with known click rates; the target always shows item 3."""
    rates = np.array([0.01, 0.02, 0.03, 0.10])
    n = 40_000
    actions = RNG.integers(0, 4, n)
    clicks = (RNG.random(n) < rates[actions]).astype(float)
    target = (actions == 3).astype(float)
    data = ope.LoggedFeedback(clicks, np.full(n, 0.25), target)
    q = np.tile(rates * 0.5, (n, 1))  # a wrong click model: DR must still be right
    found = {
        e.estimator: e for e in ope.estimate(data, q[:, 3], q[np.arange(n), actions], resamples=300)
    }
    for e in found.values():
        assert e.ci_low < 0.10 < e.ci_high
        assert e.value == pytest.approx(0.10, rel=0.12)
    assert ope.relative_error(0.11, 0.10) == pytest.approx(0.1)


def test_thompson_slot_probabilities_sum_to_one_and_favour_the_strong_item() -> None:
    slots = ope.thompson_slot_probabilities(
        np.array([50.0, 5.0, 5.0]), np.array([950.0, 995.0, 995.0]), 2, draws=20_000
    )
    assert slots.sum(axis=0) == pytest.approx([1.0, 1.0])
    assert slots[0, 0] > 0.99 and slots[0, 1] < 0.01


def test_expected_calibration_error_sees_miscalibration_at_low_rates() -> None:
    predicted = RNG.uniform(0.001, 0.02, 50_000)
    clicks = (RNG.random(50_000) < predicted).astype(float)
    assert ctr.expected_calibration_error(clicks, predicted) < 0.002
    assert ctr.expected_calibration_error(clicks, predicted * 2) > 0.008
