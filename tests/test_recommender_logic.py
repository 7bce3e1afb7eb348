"""Recommender logic: metrics, signals, fusion, MMR, price limits in needs, interaction
files, the fitted model file, the reason check. Plus the CF models on real MovieLens-100k."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from pitchcraft import Settings
from pitchcraft.errors import PitchcraftError
from pitchcraft.llm.structured import ascii_quotes, json_safe_quotes
from pitchcraft.needs.price import price_limits
from pitchcraft.plugins.recommender.interactions import read_interactions
from pitchcraft.plugins.recommender.metrics import ranking_metrics
from pitchcraft.plugins.recommender.model import FitOptions, FittedModel, fit
from pitchcraft.plugins.recommender.models import RecommendRequest
from pitchcraft.plugins.recommender.ranking import fuse, mmr, scaled
from pitchcraft.plugins.recommender.reasons import (
    ReasonFacts,
    price_text,
    reason_problems,
    template_reason,
)
from pitchcraft.plugins.recommender.signals import (
    DAY_S,
    Event,
    build_interactions,
    ease_weights,
    item_similarity,
)
from pitchcraft.store import Product
from pitchcraft.text.terms import load_lexicon

# -- metrics --------------------------------------------------------------------------------


def test_ranking_metrics_by_hand() -> None:
    recs = {"a": ["1", "2", "3"], "b": ["4", "5", "6"]}
    truth = {"a": {"1", "3", "9"}, "b": {"7"}}
    m = ranking_metrics(recs, truth, catalogue_size=12, k=3)
    assert m.precision == pytest.approx((2 / 3 + 0) / 2)
    assert m.recall == pytest.approx((2 / 3 + 0) / 2)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m.ndcg == pytest.approx((dcg / idcg) / 2)
    assert m.map == pytest.approx(((1 + 2 / 3) / 3) / 2)  # divided by all 3 relevant items
    assert m.coverage == pytest.approx(6 / 12)
    assert m.users == 2


# -- signals --------------------------------------------------------------------------------


def test_affinity_decays_and_popularity_counts_users_once() -> None:
    events = [
        Event("u1", "a", 1.0, 0),
        Event("u1", "a", 1.0, 30 * DAY_S),
        Event("u2", "a", 1.0, 30 * DAY_S),
        Event("u2", "b", 2.0, 30 * DAY_S),
    ]
    data = build_interactions(events, half_life_days=30)
    u1, a = data.user_index["u1"], data.item_index["a"]
    assert data.affinity[u1, a] == pytest.approx(1.5)  # 1 now + 1 a half-life ago
    assert data.seen[u1, a] == 1.0
    assert data.popularity[data.item_index["a"]] == 1.0  # two users
    assert data.popularity[data.item_index["b"]] == 0.5  # one user, whatever the weight


def test_empty_log_is_refused() -> None:
    with pytest.raises(ValueError, match="no events"):
        build_interactions([Event("u", "x", 1, 0)], item_ids=["y"])


def test_jaccard_and_ease_favour_co_bought_items() -> None:
    events = [Event(u, i, 1.0, 0) for u in ("u1", "u2", "u3") for i in ("a", "b")]
    events += [Event("u4", "c", 1.0, 0), Event("u5", "c", 1.0, 0), Event("u5", "a", 1.0, 0)]
    data = build_interactions(events)
    a, b, c = (data.item_index[x] for x in "abc")
    sim = item_similarity(data.seen, "jaccard").toarray()
    assert sim[a, b] == pytest.approx(3 / 4)  # 3 together; a by 4 users, b by 3
    assert sim[a, c] == pytest.approx(1 / 5)
    weights = ease_weights(data.seen, l2=1.0).toarray()
    assert np.allclose(np.diag(weights), 0)
    assert weights[a, b] > weights[c, b]


def test_cf_models_on_movielens_reproduce_the_published_sar_figure() -> None:
    from benchmarks.eval_recommender import movielens, top_k

    data = movielens()
    sar_model = fit(data.train, FitOptions(method="sar", neighbours=100_000))
    ease_model = fit(data.train, FitOptions(method="ease"))
    n_items = len(sar_model.item_ids)
    sar = ranking_metrics(
        top_k(sar_model.cf_scores(sar_model.affinity), sar_model), data.test, n_items
    )
    ease = ranking_metrics(
        top_k(ease_model.cf_scores(ease_model.affinity), ease_model), data.test, n_items
    )
    assert sar.ndcg == pytest.approx(0.382, abs=0.01)  # Microsoft Recommenders' SAR row
    assert sar.precision == pytest.approx(0.330, abs=0.01)
    assert ease.ndcg > 0.45


# -- fusion and diversity -------------------------------------------------------------------


def test_fuse_scales_each_signal_and_skips_absent_ones() -> None:
    signals = {"cf": np.array([2.0, 1.0, -1.0]), "popularity": np.array([0.0, 10.0, 5.0])}
    fused = fuse(signals, {"cf": 1.0, "popularity": 0.5, "content": 3.0})
    assert fused == pytest.approx([1.0, 0.5 + 0.5, 0.25])
    assert scaled(np.zeros(3)) == pytest.approx([0, 0, 0])
    with pytest.raises(ValueError):
        fuse({}, {"cf": 1.0})


def test_mmr_trades_places_for_variety() -> None:
    vectors = np.array([[1, 0], [1, 0.01], [0, 1], [0.9, 0.1]], dtype=np.float32)
    relevance = np.array([1.0, 0.99, 0.5, 0.2])
    assert mmr(relevance, vectors, 2, diversity=0.0) == [0, 1]
    assert mmr(relevance, vectors, 2, diversity=0.5) == [0, 2]
    relevance[3] = -np.inf  # excluded candidates never come back
    assert 3 not in mmr(relevance, vectors, 4, diversity=0.9)


# -- needs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("need", "low", "high", "currency", "rest"),
    [
        ("gift for a dad who runs, under 300 yuan", None, 300, "CNY", "gift for a dad who runs"),
        ("送给喜欢拍照的爸爸的礼物，100美元以内", None, 100, "USD", "送给喜欢拍照的爸爸的礼物"),
        ("headphones $20-50", 20, 50, "USD", "headphones"),
        ("over $100 speakers", 100, None, "USD", "speakers"),
        ("预算500元的耳机", None, 500, "CNY", "的耳机"),
        ("4K TV 55 inch", None, None, None, "4K TV 55 inch"),
    ],
)
def test_price_limits_in_needs(
    need: str, low: float | None, high: float | None, currency: str | None, rest: str
) -> None:
    assert tuple(price_limits(need)) == (low, high, currency, rest)


def test_requests_need_something_to_go_on() -> None:
    with pytest.raises(ValidationError, match="user_id, a history"):
        RecommendRequest.model_validate({"k": 3})
    with pytest.raises(ValidationError, match="min_price"):
        RecommendRequest.model_validate({"need": "tv", "min_price": 5, "max_price": 1})
    assert RecommendRequest.model_validate({"purchases": ["x"]}).history == ["x"]


# -- interaction files and the model file ---------------------------------------------------


def test_interaction_file_rows_are_checked_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        "customer_id,product_id,quantity,date\n"
        "c1,p1,2,2026-01-01\n"
        "c1,,1,2026-01-02\n"
        "c2,p1,-1,2026-01-02\n"
        "c2,p2,,not a date\n"
        "c2,p2,,1767225600\n",
        encoding="utf-8",
    )
    log = read_interactions(path, tmp_path / "rejects.jsonl")
    assert [(e.user_id, e.item_id, e.weight) for e in log.events] == [
        ("c1", "p1", 2.0),
        ("c2", "p2", 1.0),
    ]
    assert log.events[1].timestamp == 1767225600
    rejected = (tmp_path / "rejects.jsonl").read_text(encoding="utf-8")
    assert '"line": 3' in rejected and "item_id" in rejected
    assert '"line": 4' in rejected and "quantity" in rejected
    assert '"line": 5' in rejected and "ISO date" in rejected
    empty = tmp_path / "empty.csv"
    empty.write_text("user_id,item_id\n,\n", encoding="utf-8")
    with pytest.raises(PitchcraftError, match="no usable interactions"):
        read_interactions(empty, tmp_path / "r2.jsonl")


def test_fitted_model_round_trips(tmp_path: Path) -> None:
    events = [Event(u, i, 1.0, 0) for u in ("u1", "u2") for i in ("a", "b")]
    events.append(Event("u3", "a", 1.0, 0))
    model = fit(events, FitOptions(), source="log.csv")
    loaded = FittedModel.load(model.save(tmp_path / "m" / "model.npz"))
    assert loaded.info == model.info and loaded.item_ids == model.item_ids
    row = loaded.history_row([], "u3")
    assert loaded.cf_scores(row)[0] == pytest.approx(model.cf_scores(model.history_row(["a"]))[0])
    assert loaded.user_items("u1") and loaded.user_items("nobody") == []
    scores = dict(zip(loaded.item_ids, loaded.cf_scores(row)[0], strict=True))
    assert scores["b"] > 0  # bought with a by the others


def test_model_files_load_without_pickle_and_old_formats_say_refit(tmp_path: Path) -> None:
    model = fit([Event("u1", "a", 1.0, 0), Event("u2", "b", 1.0, 0)], FitOptions())
    path = model.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as z:  # no object arrays inside
        assert sorted(z["item_ids"].tolist()) == ["a", "b"]
    np.savez(tmp_path / "old.npz", format=np.array(1), item_ids=np.array(["a"], dtype=object))
    with pytest.raises(ValueError, match=r"format 1.*refit it"):
        FittedModel.load(tmp_path / "old.npz")


# -- the reason check -----------------------------------------------------------------------

COIN = Product(
    id="coin",
    title="Duracell 2032 Lithium Coin Batteries, 12-count",
    description="Compatible with Apple AirTag. Guaranteed 10 Years in Storage",
    category="Batteries",
    brand="Duracell",
    price=14.99,
)
CAMERA = Product(id="cam", title="GoPro HERO11 Black Action Camera Bundle", brand="GoPro")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Since you bought the GoPro HERO11, these Duracell coin batteries fit your AirTag.", None),
        ("These Duracell coin batteries last 25 years.", "number '25'"),
        ("These Duracell batteries cost $9.99.", "price"),
        ("Since you bought a Canon camera, these Duracell cells help.", "'Canon'"),
        ("Duracell coin batteries (Bought before: GoPro HERO11) fit your AirTag.", None),
        ("Since you bought the tent, this sleeping bag completes your kit.", "does not mention"),
        ("这款 Duracell 纽扣电池适合您。", "not written in English"),
        ("These waterproof Duracell batteries are great.", "waterproof"),
    ],
)
def test_reason_check(text: str, problem: str | None) -> None:
    lexicon = load_lexicon(Settings())
    problems = reason_problems(text, ReasonFacts(COIN, [CAMERA]), "en", lexicon, ["Sony"])
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("language", ["en", "zh"])
def test_template_reasons_pass_the_check(language: str) -> None:
    lexicon = load_lexicon(Settings())
    for facts in (ReasonFacts(COIN, [CAMERA]), ReasonFacts(COIN, [], "AirTag 电池")):
        text = template_reason(facts, language)  # type: ignore[arg-type]
        assert reason_problems(text, facts, language, lexicon) == []  # type: ignore[arg-type]
        assert COIN.title in text


def test_a_sum_in_the_recommended_products_own_title_is_its_name_not_its_price() -> None:
    # the shipped adapter named this product whole; "$100" was refused as a wrong price
    card = Product(id="xbox", title="Xbox $100 Gift Card Digital Download", price=89.99)
    facts = ReasonFacts(card, [CAMERA])
    lexicon = load_lexicon(Settings())
    named = "Because you bought the GoPro HERO11: Xbox $100 Gift Card Digital Download, 89.99 USD."
    assert reason_problems(named, facts, "en", lexicon) == []
    priced = "Because you bought the GoPro HERO11: this Xbox gift card costs only $100."
    assert any("price '$100'" in p for p in reason_problems(priced, facts, "en", lexicon))


def test_a_bought_title_quoted_verbatim_is_grounded_even_as_the_prompt_showed_it() -> None:
    lexicon = load_lexicon(Settings())
    bought = Product(id="pad", title='Backbone 27" Controller, $25 Credit Included')
    shown = json_safe_quotes(bought.title)
    assert '"' not in shown and "27″" in shown and ascii_quotes(shown) == bought.title
    facts = ReasonFacts(COIN, [bought])
    quoting = f"Since you bought {shown}, these Duracell coin batteries may help."
    assert reason_problems(quoting, facts, "en", lexicon) == []
    paraphrasing = "Since you paid $25 for your controller, these Duracell batteries may help."
    assert any("price '$25'" in p for p in reason_problems(paraphrasing, facts, "en", lexicon))


def test_the_shoppers_budget_quoted_from_their_need_is_not_a_price_claim() -> None:
    # the embedded model's reasons quoted the need; "500美元" was refused as a wrong price
    lexicon = load_lexicon(Settings())
    facts = ReasonFacts(CAMERA.model_copy(update={"price": 289.99}), [], "运动相机，500美元以内")
    for quoting in (
        "您的需求是“运动相机，500美元以内”，推荐「GoPro HERO11 Black Action Camera Bundle」"
        "（289.99美元）。",
        "GoPro HERO11 Black Action Camera Bundle只要289.99美元，在您500美元以内的预算里。",
    ):
        assert reason_problems(quoting, facts, "zh", lexicon) == [], quoting
    priced = "GoPro HERO11 Black Action Camera Bundle 售价500美元，适合运动拍摄。"
    assert any("price '500美元'" in p for p in reason_problems(priced, facts, "zh", lexicon))


def test_a_chinese_reason_is_shown_the_price_in_words_it_can_copy() -> None:
    # shown "14.99 USD", the model wrote "14.99元" for dollars: refused as the wrong currency
    lexicon = load_lexicon(Settings())
    facts = ReasonFacts(COIN, [CAMERA])
    assert price_text(COIN, "zh") == "14.99美元"
    assert price_text(COIN, "en") == "14.99 USD"
    assert price_text(COIN.model_copy(update={"currency": "CNY"}), "zh") == "14.99元"
    copied = f"您买过 GoPro 相机，这款 Duracell 纽扣电池只要{price_text(COIN, 'zh')}。"
    assert reason_problems(copied, facts, "zh", lexicon) == []
    yuan = "您买过 GoPro 相机，这款 Duracell 纽扣电池只要14.99元。"
    assert any("not CNY" in p for p in reason_problems(yuan, facts, "zh", lexicon))
