"""copy-ctr: the prior until logs exist, then a model that learns wording from logged variants
(real multilingual embedder; the logs are simulated with known click rates)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pitchcraft import Context, InputError, PitchcraftError, Settings
from pitchcraft.plugins.effect import copy_model
from pitchcraft.plugins.effect.copy_plugin import CopyCtrPredictor

FREE_SHIPPING = [
    "Free shipping on every order",
    "包邮到家，今天下单",
    "Free delivery, no minimum spend",
    "全国包邮 次日达",
    "Ships free in two days",
    "免运费，放心买",
]
PLAIN = [
    "Lightweight aluminium frame",
    "轻盈铝合金机身",
    "10-hour battery life",
    "续航十小时",
    "Water resistant to 50 m",
    "防水五十米",
]


def simulated_logs(seed: int = 0) -> list[dict]:
    """Free-shipping wording draws 4.5% CTR, feature wording 2%; conversions 10% of clicks."""
    rng = np.random.default_rng(seed)
    logs = []
    for text in FREE_SHIPPING + PLAIN:
        shown = int(rng.integers(2000, 6000))
        clicks = int(rng.binomial(shown, 0.045 if text in FREE_SHIPPING else 0.02))
        logs.append(
            {
                "text": text,
                "channel": "xiaohongshu_post",
                "impressions": shown,
                "clicks": clicks,
                "conversions": int(rng.binomial(clicks, 0.1)),
            }
        )
    return logs


def test_without_logs_it_returns_the_stated_prior_in_input_order() -> None:
    result = CopyCtrPredictor().invoke(
        {"variants": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}, Context(Settings())
    )
    assert result.basis == "prior" and result.logged_variants == 0
    assert "prior" in result.note and "history_path" in result.note
    assert [f.rank for f in result.forecasts] == [1, 2, 3]
    assert {f.rate for f in result.forecasts} == {0.02}
    assert all(f.rate_low < 0.02 < f.rate_high for f in result.forecasts)


def test_it_learns_which_wording_draws_clicks_across_languages() -> None:
    result = CopyCtrPredictor().invoke(
        {
            "variants": [
                {"text": "Stainless steel body"},
                {"text": "包邮，下单即发"},
                {"text": "Free shipping worldwide"},
            ],
            "channel": "xiaohongshu_post",
            "history": simulated_logs(),
        },
        Context(Settings()),
    )
    assert result.basis == "learned" and result.logged_variants == 12
    ranks = {f.text: f.rank for f in result.forecasts}
    assert ranks["Stainless steel body"] == 3
    for f in result.forecasts:
        assert f.rate_low < f.rate < f.rate_high and f.channel == "xiaohongshu_post"
    steel = next(f for f in result.forecasts if f.rank == 3)
    assert 0.015 < steel.rate < 0.035
    assert all(0.035 < f.rate < 0.06 for f in result.forecasts if f.rank < 3)


def test_leave_one_out_beats_the_pooled_rate_when_wording_matters() -> None:
    from pitchcraft.store.embedders import shared_use_encoder

    logs = simulated_logs(seed=1)
    vectors = shared_use_encoder().embed([row["text"] for row in logs])
    history = [
        copy_model.Logged(v, row["channel"], row["impressions"], row["clicks"])
        for v, row in zip(vectors, logs, strict=True)
    ]
    model_error, pooled_error = copy_model.leave_one_out_error(history)
    assert model_error < 0.6 * pooled_error


def test_conversion_rate_uses_conversions_per_click() -> None:
    result = CopyCtrPredictor().invoke(
        {"variants": [{"text": "包邮"}], "history": simulated_logs(), "metric": "conversion_rate"},
        Context(Settings()),
    )
    assert result.basis == "learned"
    assert 0.03 < result.forecasts[0].rate < 0.2
    assert "clicks" in result.note


def test_history_file_from_settings_and_its_bad_rows(tmp_path: Path) -> None:
    good = tmp_path / "campaigns.csv"
    rows = simulated_logs()
    good.write_text(
        "text,channel,impressions,clicks\n"
        + "".join(f'"{r["text"]}",{r["channel"]},{r["impressions"]},{r["clicks"]}\n' for r in rows),
        encoding="utf-8",
    )
    settings = Settings(plugin_options={"copy-ctr": {"history_path": str(good)}})
    result = CopyCtrPredictor().invoke({"variants": [{"text": "Free shipping"}]}, Context(settings))
    assert result.basis == "learned" and result.logged_variants == 12
    bad = tmp_path / "bad.csv"
    bad.write_text("text,impressions,clicks\nok,100,3\noops,10,30\n", encoding="utf-8")
    settings = Settings(plugin_options={"copy-ctr": {"history_path": str(bad)}})
    with pytest.raises(
        PitchcraftError, match=r"bad.csv line 3: clicks: clicks \(30\) cannot exceed"
    ):
        CopyCtrPredictor().run(
            CopyCtrPredictor.Input.model_validate({"variants": [{"text": "x"}]}), Context(settings)
        )


@pytest.mark.parametrize(
    ("history", "field"),
    [
        ([{"text": "a", "impressions": 10, "clicks": 11}], "history.0.clicks"),
        (
            [{"text": "a", "impressions": 10, "clicks": 2, "conversions": 3}],
            "history.0.conversions",
        ),
        ([{"text": "a", "impressions": 0, "clicks": 0}], "history.0.impressions"),
        ([{"text": "", "impressions": 5, "clicks": 0}], "history.0.text"),
    ],
)
def test_impossible_logs_name_the_field(history: list, field: str) -> None:
    with pytest.raises(InputError) as caught:
        CopyCtrPredictor().invoke(
            {"variants": [{"text": "x"}], "history": history}, Context(Settings())
        )
    assert field in caught.value.fields


def test_no_variants_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        CopyCtrPredictor().invoke({"variants": []}, Context(Settings()))
    assert "variants" in caught.value.fields
