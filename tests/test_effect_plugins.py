"""The effect plugins on the real Open Bandit logs, and their input errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from pitchcraft import Context, InputError, Settings
from pitchcraft.plugins.effect import ctr, obd
from pitchcraft.plugins.effect.bandit_plugin import VariantBandit
from pitchcraft.plugins.effect.click_plugin import ClickPredictor
from pitchcraft.plugins.effect.metric_plugin import MetricTest
from pitchcraft.plugins.effect.plugin import ABTestAnalyzer
from pitchcraft.plugins.effect.policy_plugin import PolicyEvaluator


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    """A fresh cache folder: the click model is fitted here once for the module."""
    return Context(Settings(cache_dir=tmp_path_factory.mktemp("cache")))


@pytest.mark.slow
def test_click_model_ranks_items_by_their_click_history_with_intervals(ctx: Context) -> None:
    result = ClickPredictor().invoke({"campaign": "men", "positions": [1], "top": 34}, ctx)
    rows = result.predictions
    assert len(rows) == 34 and {r.position for r in rows} == {1}
    assert [r.ctr for r in rows] == sorted((r.ctr for r in rows), reverse=True)
    for r in rows:
        assert 0 < r.ctr_low < r.ctr < r.ctr_high < 0.05
    # The men campaign's logged click rate is 0.46% (uniform) to 0.69% (Thompson).
    assert 0.003 < result.average_ctr < 0.008
    rho = stats.spearmanr([r.ctr for r in rows], [r.historical_ctr for r in rows]).statistic
    assert rho > 0.25  # history is one feature among several; with 34 items, p < 0.05 at 0.35
    assert "60,000 impressions" in result.trained_on


@pytest.mark.slow
def test_click_model_is_cached_and_reloads_identically(ctx: Context) -> None:
    request = {"campaign": "women", "item_ids": [3, 7], "top": 6}
    first = ClickPredictor().invoke(request, ctx)
    cached = list((ctx.settings.cache_dir / "effect").glob("click-model-*.pkl"))
    assert len(cached) == 1
    reloaded = ctr.cached_click_model(ctx.settings.cache_dir)
    items = obd.item_table("women").loc[[3, 7]]
    users, weights = ctr.frequent_users("women", 60)
    again = reloaded.predict(ctr.candidate_rows("women", items, [1, 2, 3], users), 0.9, weights)
    assert sorted(again.ctr.round(12)) == sorted(round(r.ctr, 12) for r in first.predictions)


@pytest.mark.slow
def test_a_visitors_past_interactions_raise_the_items_they_know(ctx: Context) -> None:
    plugin = ClickPredictor()
    user = {"user_feature_0": "81ce123cbb5bd8ce818f60fb3586bba5"}
    request = {"campaign": "men", "user": user, "positions": [1], "top": 34}
    new = {r.item_id: r.ctr for r in plugin.invoke(request, ctx).predictions}
    known = {
        r.item_id: r.ctr
        for r in plugin.invoke({**request, "past_interactions": {5: 2}}, ctx).predictions
    }
    assert max(known, key=known.__getitem__) == 5  # the item they came back for leads
    assert known[5] > 3 * new[5]
    assert all(known[i] > new[i] for i in new)  # an active visitor clicks more anywhere


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"campaign": "men", "item_ids": [34]}, "item_ids"),
        ({"campaign": "men", "past_interactions": {40: 1}}, "past_interactions"),
        ({"past_interactions": {3: -1}}, "past_interactions.3"),
        ({"user": {"age": "30"}}, "user"),
        ({"positions": [4]}, "positions.0"),
        ({"campaign": "kids"}, "campaign"),
    ],
)
def test_click_model_names_the_bad_field(request_body: dict, field: str, ctx: Context) -> None:
    with pytest.raises(InputError) as caught:
        ClickPredictor().invoke(request_body, ctx)
    assert field in caught.value.fields


@pytest.mark.slow
def test_policy_eval_brackets_the_thompson_samplers_logged_click_rate(ctx: Context) -> None:
    result = PolicyEvaluator().invoke({"campaign": "all", "policy": "thompson"}, ctx)
    assert result.logged_ctr == pytest.approx(0.0042)
    for e in result.estimates:
        assert e.ci_low < result.logged_ctr < e.ci_high
        assert abs(e.ctr - result.logged_ctr) / result.logged_ctr < 0.3
    assert 500 < result.effective_sample_size < 10_000
    narrower = PolicyEvaluator().invoke({"campaign": "all", "level": 0.8}, ctx)
    for wide, narrow in zip(result.estimates, narrower.estimates, strict=True):
        assert wide.ctr == narrow.ctr
        assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high


@pytest.mark.slow
def test_policy_eval_of_rules_and_of_a_deterministic_policy(ctx: Context) -> None:
    plugin = PolicyEvaluator()
    half = plugin.invoke(
        {
            "campaign": "all",
            "policy": "rules",
            "rules": [{"item_id": 0, "position": 1, "share": 0.5}],
        },
        ctx,
    )
    greedy = plugin.invoke({"campaign": "all", "policy": "most-popular"}, ctx)
    # Half of slot 1 to one item keeps many impressions usable; a deterministic top-3 keeps 1/80.
    assert half.effective_sample_size > 1_000
    assert greedy.effective_sample_size < 300
    assert half.uniform_ctr == greedy.uniform_ctr == pytest.approx(0.0038)


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"policy": "rules"}, "rules"),
        ({"policy": "rules", "rules": [{"item_id": 80, "position": 1}]}, "rules"),
        (
            {
                "policy": "rules",
                "rules": [
                    {"item_id": 1, "position": 2, "share": 0.7},
                    {"item_id": 2, "position": 2, "share": 0.6},
                ],
            },
            "rules",
        ),
        (
            {"policy": "rules", "rules": [{"item_id": 1, "position": 1, "share": 0}]},
            "rules.0.share",
        ),
    ],
)
def test_policy_eval_names_the_bad_field(request_body: dict, field: str, ctx: Context) -> None:
    with pytest.raises(InputError) as caught:
        PolicyEvaluator().invoke(request_body, ctx)
    assert field in caught.value.fields


def test_bandit_shifts_traffic_to_the_leader_and_ships_a_clear_winner() -> None:
    plugin, ctx = VariantBandit(), Context(Settings())
    early = plugin.invoke(
        {
            "variants": [
                {"name": "a", "impressions": 400, "clicks": 8},
                {"name": "b", "impressions": 400, "clicks": 14},
                {"name": "new", "impressions": 0, "clicks": 0},
            ]
        },
        ctx,
    )
    shares = {v.name: v.traffic_share for v in early.variants}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["b"] > shares["a"] and shares["new"] > 0.05  # the untried variant is explored
    assert not early.ship and "Keep learning" in early.advice
    late = plugin.invoke(
        {
            "variants": [
                {"name": "a", "impressions": 60_000, "clicks": 1200},
                {"name": "b", "impressions": 60_000, "clicks": 1800},
            ]
        },
        ctx,
    )
    assert late.ship and late.leader == "b" and late.value_remaining < 0.01
    density, share = plugin.charts([late], ctx)
    assert {r["variant"] for r in density.rows} == {"a", "b"}
    assert [r["share"] for r in share.rows] == pytest.approx([0.0, 1.0])


@pytest.mark.parametrize(
    ("variants", "field"),
    [
        (
            [
                {"name": "a", "impressions": 5, "clicks": 6},
                {"name": "b", "impressions": 5, "clicks": 0},
            ],
            "variants.0.clicks",
        ),
        (
            [
                {"name": "a", "impressions": -1, "clicks": 0},
                {"name": "b", "impressions": 5, "clicks": 0},
            ],
            "variants.0.impressions",
        ),
        ([{"name": "a", "impressions": 5, "clicks": 1}], "variants"),
        ([], "variants"),
    ],
)
def test_bandit_names_the_bad_field(variants: list, field: str) -> None:
    with pytest.raises(InputError) as caught:
        VariantBandit().invoke({"variants": variants}, Context(Settings()))
    assert field in caught.value.fields


def _revenue_rows(seed: int, users: int, lift: float) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for variant, extra in (("control", 0.0), ("treatment", lift)):
        pre = rng.gamma(2.0, 20.0, users)
        post = 0.9 * pre + rng.normal(extra, 12.0, users)
        rows += [
            {"variant": variant, "value": float(v), "pre_value": float(p)}
            for v, p in zip(post, pre, strict=True)
        ]
    return rows


def test_ab_metric_matches_scipy_and_cuped_finds_the_lift_raw_data_misses() -> None:
    rows = _revenue_rows(seed=3, users=400, lift=3.0)
    result = MetricTest().invoke({"observations": rows}, Context(Settings()))
    comparison = result.comparisons[0]
    raw = np.array([r["value"] for r in rows])
    ref = stats.ttest_ind(raw[400:], raw[:400], equal_var=False)
    assert comparison.raw_p_value == pytest.approx(ref.pvalue, abs=1e-9)
    assert result.variance_reduction is not None and result.variance_reduction > 0.5
    assert comparison.p_value < 0.05 < comparison.raw_p_value
    assert comparison.significant and "CUPED" in result.verdict
    assert comparison.always_valid_ci_low < comparison.ci_low
    assert not result.sample_ratio_mismatch


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"observations": [{"variant": "a", "value": 1.0}] * 4}, "two variants"),
        (
            {
                "observations": [{"variant": "a", "value": 1.0}] * 3
                + [{"variant": "b", "value": 2.0}]
            },
            "fewer than 2",
        ),
        (
            {
                "observations": [{"variant": "a", "value": 1.0, "pre_value": 1.0}] * 2
                + [{"variant": "b", "value": 2.0}] * 2
            },
            "pre_value",
        ),
        (
            {"observations": [{"variant": v, "value": 1.0} for v in "aabb"], "control": "c"},
            "control",
        ),
    ],
)
def test_ab_metric_explains_impossible_inputs(body: dict, message: str) -> None:
    with pytest.raises(InputError) as caught:
        MetricTest().invoke(body, Context(Settings()))
    assert message in str(caught.value)


def test_ab_metric_rejects_non_numbers() -> None:
    body = {"observations": [{"variant": v, "value": 1.0} for v in "aabb"]}
    body["observations"][1] = {"variant": "a", "value": float("nan")}
    with pytest.raises(InputError) as caught:
        MetricTest().invoke(body, Context(Settings()))
    assert "observations.1.value" in caught.value.fields


def test_ab_test_always_valid_interval_contains_the_fixed_one() -> None:
    result = ABTestAnalyzer().invoke(
        {
            "variants": [
                {"name": "control", "users": 20_000, "conversions": 1000},
                {"name": "b", "users": 20_000, "conversions": 1150},
            ]
        },
        Context(Settings()),
    )
    c = result.comparisons[0]
    assert c.always_valid_ci_low < c.lift_ci_low < c.lift_ci_high < c.always_valid_ci_high
    assert c.always_valid_p_value >= c.p_value


def test_effect_plugins_run_from_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pitchcraft.cli import app

    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "run",
            "variant-bandit",
            "--json",
            '{"variants":[{"name":"a","impressions":100,"clicks":3},'
            '{"name":"b","impressions":100,"clicks":9}]}',
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert '"leader": "b"' in ok.output
    bad = runner.invoke(
        app,
        [
            "run",
            "variant-bandit",
            "--json",
            '{"variants":[{"name":"a","impressions":1,"clicks":3},'
            '{"name":"b","impressions":100,"clicks":9}]}',
        ],
    )
    assert bad.exit_code == 2
    assert "variants.0.clicks" in bad.output and "Traceback" not in bad.output
