"""A/B statistics against scipy/statsmodels reference computations (to 1e-9)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

from pitchcraft import Context, InputError, Settings
from pitchcraft.plugins.effect import abtest
from pitchcraft.plugins.effect.plugin import ABTestAnalyzer

CASES = [
    # conv_a, n_a, conv_b, n_b
    (500, 10_000, 580, 10_050),  # typical
    (3, 40, 9, 41),  # tiny samples
    (0, 1_000, 4, 1_000),  # zero conversions in control
    (120, 9_000, 45, 1_000),  # very unequal split
    (1_000, 1_000, 999, 1_000),  # near 100%
]


@pytest.mark.parametrize(("ca", "na", "cb", "nb"), CASES)
def test_ztest_matches_statsmodels(ca: int, na: int, cb: int, nb: int) -> None:
    ours = abtest.two_proportion_ztest(ca, na, cb, nb, alpha=0.05)
    z, p = proportions_ztest([cb, ca], [nb, na])
    assert ours.z == pytest.approx(z, abs=1e-9)
    assert ours.p_value == pytest.approx(p, abs=1e-9)


def test_ztest_with_no_variance_has_no_evidence() -> None:
    ours = abtest.two_proportion_ztest(0, 100, 0, 120, alpha=0.05)
    assert (ours.z, ours.p_value, ours.diff) == (0.0, 1.0, 0.0)


@pytest.mark.parametrize(("conv", "n"), [(0, 10), (5, 10), (10, 10), (37, 12_345), (1, 3)])
def test_wilson_matches_statsmodels(conv: int, n: int) -> None:
    low, high = abtest.wilson_interval(conv, n, alpha=0.05)
    ref_low, ref_high = proportion_confint(conv, n, alpha=0.05, method="wilson")
    assert low == pytest.approx(ref_low, abs=1e-9)
    assert high == pytest.approx(ref_high, abs=1e-9)


@pytest.mark.parametrize(
    ("observed", "share"),
    [
        ([5000, 5100], [1, 1]),
        ([5000, 5600], [1, 1]),
        ([900, 2100, 7000], [1, 2, 7]),
        ([3, 9], [1, 1]),
    ],
)
def test_srm_matches_scipy(observed: list[int], share: list[float]) -> None:
    expected = np.asarray(share) / sum(share) * sum(observed)
    assert abtest.srm_test(observed, share) == pytest.approx(
        stats.chisquare(observed, expected).pvalue, abs=1e-9
    )


@pytest.mark.parametrize("method", ["holm", "bonferroni"])
def test_corrections_match_statsmodels(method: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        p = rng.uniform(0, 0.2, size=rng.integers(2, 8))
        _, ref, _, _ = multipletests(p, method=method)
        assert abtest.adjust_p_values(p.tolist(), method) == pytest.approx(ref.tolist(), abs=1e-12)


@pytest.mark.parametrize(("base", "mde"), [(0.05, 0.01), (0.2, 0.02), (0.01, 0.002), (0.5, 0.1)])
def test_sample_size_matches_statsmodels(base: float, mde: float) -> None:
    h = abs(proportion_effectsize(base + mde, base))
    ref = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0)
    assert abtest.sample_size_per_variant(base, mde, 0.05, 0.8) == int(np.ceil(ref))


@pytest.mark.parametrize(("ca", "na", "cb", "nb"), [*CASES[:4], (0, 50, 0, 50)])
def test_bayesian_matches_monte_carlo(ca: int, na: int, cb: int, nb: int) -> None:
    rng = np.random.default_rng(0)
    a = rng.beta(1 + ca, 1 + na - ca, size=2_000_000)
    b = rng.beta(1 + cb, 1 + nb - cb, size=2_000_000)
    ours = abtest.beta_binomial(ca, na, cb, nb)
    assert ours.prob_b_beats_a == pytest.approx(np.mean(b > a), abs=2e-3)
    mc_loss = np.mean(np.maximum(a - b, 0))
    assert ours.expected_loss_b == pytest.approx(mc_loss, rel=2e-2, abs=1e-6)


def test_identical_arms_are_a_coin_flip() -> None:
    assert abtest.beta_binomial(40, 1000, 40, 1000).prob_b_beats_a == pytest.approx(0.5, abs=1e-6)


def run(payload: dict) -> dict:
    return ABTestAnalyzer().invoke(payload, Context(Settings())).model_dump()


def test_an_effect_near_one_still_gives_a_sample_size() -> None:
    """Found by the API fuzzer: the largest effect the schema allows broke the arithmetic."""
    variants = [
        {"name": "control", "users": 12000, "conversions": 540},
        {"name": "b", "users": 11950, "conversions": 631},
    ]
    result = run({"variants": variants, "min_detectable_effect": 0.9999999999999999})
    assert result["sample_size_per_variant"] >= 1
    smallest = run({"variants": variants, "min_detectable_effect": 0.0001})
    assert smallest["sample_size_per_variant"] > 10_000_000
    with pytest.raises(InputError, match="min_detectable_effect"):
        run({"variants": variants, "min_detectable_effect": 5e-324})


def test_plugin_finds_the_winner_with_holm_correction() -> None:
    result = run(
        {
            "variants": [
                {"name": "control", "users": 20_000, "conversions": 1_000},
                {"name": "b", "users": 20_000, "conversions": 1_020},
                {"name": "c", "users": 20_000, "conversions": 1_200},
            ]
        }
    )
    by_name = {c["variant"]: c for c in result["comparisons"]}
    assert by_name["c"]["significant"] and not by_name["b"]["significant"]
    raw = [by_name["b"]["p_value"], by_name["c"]["p_value"]]
    _, ref, _, _ = multipletests(raw, method="holm")
    assert [by_name["b"]["p_value_adjusted"], by_name["c"]["p_value_adjusted"]] == pytest.approx(
        ref.tolist(), abs=1e-12
    )
    assert result["verdict"].startswith("c beats the control")
    assert result["sample_ratio_mismatch"] is False


def test_plugin_flags_sample_ratio_mismatch() -> None:
    result = run(
        {
            "variants": [
                {"name": "control", "users": 10_000, "conversions": 500},
                {"name": "b", "users": 10_900, "conversions": 600},
            ]
        }
    )
    assert result["sample_ratio_mismatch"] is True
    assert result["verdict"].startswith("Sample ratio mismatch")


def test_plugin_says_when_more_data_is_needed() -> None:
    result = run(
        {
            "variants": [
                {"name": "control", "users": 300, "conversions": 15},
                {"name": "b", "users": 310, "conversions": 17},
            ]
        }
    )
    assert "users per variant are needed" in result["verdict"]


def test_zero_conversions_everywhere_is_handled() -> None:
    result = run(
        {
            "variants": [
                {"name": "control", "users": 500, "conversions": 0},
                {"name": "b", "users": 500, "conversions": 0},
            ]
        }
    )
    assert result["comparisons"][0]["relative_lift"] is None
    assert result["comparisons"][0]["p_value"] == 1.0


def counts(name: str, users: int, conversions: int) -> dict:
    return {"name": name, "users": users, "conversions": conversions}


@pytest.mark.parametrize(
    ("variants", "extra", "field"),
    [
        ([counts("a", 10, 11), counts("b", 10, 1)], {}, "variants.0.conversions"),
        ([counts("a", 10, -1), counts("b", 10, 1)], {}, "variants.0.conversions"),
        ([counts("a", 0, 0), counts("b", 10, 1)], {}, "variants.0.users"),
        ([counts("a", 10, 1)], {}, "variants"),
        ([counts("a", 10, 1), counts("a", 10, 1)], {}, "(request)"),
        ([counts("a", 10, 1), counts("b", 10, 1)], {"expected_split": [1]}, "(request)"),
    ],
)
def test_impossible_inputs_name_the_field(variants: list, extra: dict, field: str) -> None:
    with pytest.raises(InputError) as caught:
        run({"variants": variants, **extra})
    assert field in caught.value.fields


def test_charts_show_each_variants_posterior_and_chance_to_beat_control() -> None:
    plugin = ABTestAnalyzer()
    ctx = Context(Settings())
    result = plugin.invoke(
        {
            "variants": [
                {"name": "control", "users": 5_000, "conversions": 250},
                {"name": "b", "users": 5_000, "conversions": 300},
            ]
        },
        ctx,
    )
    posterior, beats = plugin.charts([result], ctx)
    for name, conv, users in (("control", 250, 5_000), ("b", 300, 5_000)):
        rows = [r for r in posterior.rows if r["variant"] == name]
        x = np.array([r["conversion rate"] for r in rows], dtype=float)
        density = np.array([r["density"] for r in rows], dtype=float)
        assert np.trapezoid(density, x) == pytest.approx(1.0, abs=0.01)  # a whole density
        mode = x[density.argmax()]
        assert mode == pytest.approx(conv / users, abs=float(x[1] - x[0]))
    chance = round(result.comparisons[0].prob_beats_control, 4)
    assert beats.rows == [{"variant": "b", "probability": chance}]
    assert beats.y_range == (0.0, 1.0)
