"""The recommender on the real store (Chroma, multilingual embeddings) holding the demo
shop, a model fitted by the real CLI, and the real embedded language model for reasons."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pitchcraft import Context, Settings
from pitchcraft.data import demo_shop
from pitchcraft.plugins.recommender.plugin import Recommender
from pitchcraft.plugins.recommender.reasons import ReasonFacts, reason_problems
from pitchcraft.text.terms import load_lexicon
from tests.llm_fixtures import MODEL_CACHE
from tests.test_cli import PITCHCRAFT

pytestmark = pytest.mark.slow  # the embedded model or a server

PLUGIN = Recommender()
AA, AAA, COIN = "elec-a93a56c596", "elec-ea8e77f5e8", "elec-ba8f7f723e"
GOPRO = "elec-ec37c589f7"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store folder with the demo shop, and an interaction log over its products."""
    tmp = tmp_path_factory.mktemp("recommender")
    settings = Settings(store_path=tmp / "chroma", cache_dir=MODEL_CACHE)
    Context(settings).store.upsert_products(demo_shop.load_products())
    rows = ["user_id,item_id,timestamp"]
    for n in range(6):  # AA buyers also buy coin cells; GoPro buyers too
        rows += [f"u{n},{AA},2026-01-0{n + 1}", f"u{n},{COIN},2026-01-0{n + 1}"]
    rows += [f"g{n},{GOPRO},2026-02-01" for n in range(3)]
    rows += [f"g{n},{COIN},2026-02-02" for n in range(3)]
    (tmp / "log.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp


def context(shop: Path, use_model: bool = False, **extra: object) -> Context:
    options = {"model_path": str(shop / "model.npz"), "use_model": use_model, **extra}
    return Context(
        Settings(
            store_path=shop / "chroma",
            cache_dir=MODEL_CACHE,
            plugin_options={"recommender": options},
        )
    )


def cli(shop: Path, cli_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **cli_env,
        "PITCHCRAFT_STORE_PATH": str(shop / "chroma"),
        "PITCHCRAFT_CACHE_DIR": str(MODEL_CACHE),
        "PITCHCRAFT_PLUGIN_OPTIONS": json.dumps(
            {"recommender": {"model_path": str(shop / "model.npz"), "use_model": False}}
        ),
    }
    return subprocess.run(
        [PITCHCRAFT, *args], capture_output=True, text=True, env=env, cwd=shop, timeout=300
    )


def test_chinese_need_finds_relevant_products(shop: Path) -> None:
    result = PLUGIN.invoke({"need": "运动相机", "k": 3}, context(shop))
    assert result.language == "zh"
    assert all(item.category == "Cameras & Camcorders" for item in result.items)
    titles = " ".join(item.title for item in result.items)
    assert "GoPro" in titles or "Insta360" in titles
    assert all("need" in item.signals and item.reason_by == "template" for item in result.items)
    assert all("运动相机" in item.reason for item in result.items)


def test_the_products_are_shown_before_their_reasons(shop: Path) -> None:
    from pitchcraft import early

    shown: list[str] = []
    with early.listening(shown.append):
        result = PLUGIN.invoke({"need": "运动相机", "k": 3}, context(shop, use_model=True))
    assert len(shown) == 1  # once, as soon as the ranking is known
    for rank, item in enumerate(result.items, 1):
        assert f"{rank}. **{item.title}**" in shown[0]
        assert item.reason and item.reason not in shown[0]
    with early.listening(shown.append):  # nothing to wait for: no preview
        PLUGIN.invoke({"need": "运动相机", "k": 3, "reasons": False}, context(shop))
        PLUGIN.invoke({"need": "运动相机", "k": 3}, context(shop))  # template reasons
    assert len(shown) == 1


def test_warm_up_builds_what_a_first_request_would_wait_for(shop: Path) -> None:
    ctx = context(shop)
    assert ctx.store.products._keyword is None
    PLUGIN.warm_up(ctx)  # the demo and the API call it before they report ready
    assert ctx.store.products._keyword is not None  # the keyword index (jieba loaded)


def test_price_in_the_need_becomes_a_filter(shop: Path) -> None:
    ctx = context(shop)
    result = PLUGIN.invoke({"need": "wireless headphones under $100", "k": 4}, ctx)
    assert result.filters.max_price == 100
    assert result.items and all(i.price is not None and i.price <= 100 for i in result.items)
    products = {p.id: p for p in ctx.store.get_products([i.product_id for i in result.items])}
    assert all((products[i.product_id].stock or 0) > 0 for i in result.items)  # in stock only
    yuan = PLUGIN.invoke({"need": "耳机，300元以内", "k": 2}, ctx)
    assert yuan.filters.max_price is None and "not applied" in " ".join(yuan.notes)


def test_category_filter_and_no_match(shop: Path) -> None:
    ctx = context(shop)
    result = PLUGIN.invoke({"need": "something nice", "category": ["Batteries"], "k": 3}, ctx)
    assert result.items and {i.category for i in result.items} == {"Batteries"}
    none = PLUGIN.invoke({"need": "tv", "category": ["No Such Category"]}, ctx)
    assert none.items == [] and "no product passes the filters" in none.notes


def test_history_without_a_model_uses_content_similarity(shop: Path) -> None:
    result = PLUGIN.invoke({"history": [AA], "k": 3, "reasons": False}, context(shop))
    assert AA not in [i.product_id for i in result.items]  # bought already
    assert AAA in [i.product_id for i in result.items]  # the same batteries, AAA
    assert result.fitted_model == "none" and result.history_used == [AA]
    assert all(i.because_of == [AA] and i.reason == "" for i in result.items)


def test_fitted_model_drives_collaborative_signal(shop: Path, cli_env: dict[str, str]) -> None:
    fitted = cli(shop, cli_env, "recommender", "fit", "--interactions", "log.csv")
    assert fitted.returncode == 0, fitted.stderr
    assert "ease on 9 users x 3 items" in " ".join(fitted.stderr.split())
    result = PLUGIN.invoke({"user_id": "g0", "k": 3}, context(shop))
    assert result.known_user and result.history_used[0] in (GOPRO, COIN)
    ids = [i.product_id for i in result.items]
    assert AA in ids  # only the log links a GoPro-and-coin-cell buyer to AA batteries
    top = result.items[ids.index(AA)]
    assert top.signals["cf"] > 0 and top.signals["popularity"] > 0
    unknown = PLUGIN.invoke({"user_id": "nobody", "need": "tv"}, context(shop))
    assert not unknown.known_user and "not in the fitted model" in unknown.notes[0]


def test_chinese_listing_replaces_its_english_original_for_chinese_shoppers(shop: Path) -> None:
    result = PLUGIN.invoke({"need": "金霸王电池", "k": 5, "reasons": False}, context(shop))
    roots = [i.product_id.removeprefix("zh-").removeprefix("elec-") for i in result.items]
    assert len(roots) == len(set(roots))  # never the same product twice
    assert any(i.product_id.startswith("zh-") for i in result.items)


def test_cli_errors_name_the_field(shop: Path, cli_env: dict[str, str]) -> None:
    bad = cli(shop, cli_env, "run", "recommender", "--json", '{"k": 0, "need": "tv"}')
    assert bad.returncode == 2 and "k:" in bad.stderr
    empty = cli(shop, cli_env, "run", "recommender", "--json", "{}")
    assert empty.returncode == 2 and "give a user_id" in empty.stderr
    missing = cli(shop, cli_env, "recommender", "fit", "--interactions", "nope.csv")
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_model_reasons_are_checked_or_replaced(shop: Path) -> None:
    ctx = context(shop, use_model=True)
    result = PLUGIN.invoke({"history": [GOPRO], "k": 2, "language": "en"}, ctx)
    lexicon = load_lexicon(ctx.settings)
    products = {p.id: p for p in ctx.store.get_products([GOPRO])}
    for item in result.items:
        assert item.reason_by in ("model", "template") and item.reason
        if item.reason_by == "model":  # a shown model reason passes the check again
            product = ctx.store.get_products([item.product_id])[0]
            facts = ReasonFacts(product, [products[h] for h in item.because_of])
            assert reason_problems(item.reason, facts, "en", lexicon) == []
        else:
            assert item.reason_problems  # the model was asked, and why it was refused is said


def test_the_embedded_model_checks_the_best_candidates_against_a_need(shop: Path) -> None:
    result = PLUGIN.invoke(
        {"need": "运动相机", "k": 5, "reasons": False}, context(shop, rerank_model=True)
    )
    marks = [item.signals.get("model") for item in result.items]
    assert all(mark in (0.0, 1.0) for mark in marks), marks  # the model answered (a valid list)
