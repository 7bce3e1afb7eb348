"""Reading a shopper's need: rules (recipient, occasion, what it goes with, what is ruled
out, sizes), category choice, the live category index; then the reader and the recommender
on the real demo shop (real embeddings, real Chroma)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pitchcraft import Context, Registry, Settings
from pitchcraft.needs import NeedReader, need_reader
from pitchcraft.needs.categories import CategoryIndex, CategoryScore, LiveCategoryIndex
from pitchcraft.needs.reader import chosen, named_brands
from pitchcraft.needs.rules import asks_question, need_parts
from tests.llm_fixtures import MODEL_CACHE

# -- rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("need", "wanted", "complements"),
    [
        ("a top to wear with jeans", "a top", ["jeans"]),
        ("配牛仔裤的女士上衣", "女士上衣", ["牛仔裤"]),
        ("a soundbar for my TV", "a soundbar", ["TV"]),
        ("相机用的内存卡", "内存卡", ["相机"]),
    ],
)
def test_what_a_product_goes_with_is_not_what_is_wanted(
    need: str, wanted: str, complements: list[str]
) -> None:
    parts = need_parts(need)
    assert (parts.wanted, parts.complements) == (wanted, complements)


def test_recipient_occasion_and_gift_are_read_in_both_languages() -> None:
    en = need_parts("a birthday gift for my dad")
    assert (en.recipient, en.occasions, en.gift) == ("dad", ["birthday"], True)
    zh = need_parts("送妈妈的生日礼物")
    assert (zh.recipient, zh.occasions, zh.gift) == ("妈妈", ["birthday"], True)
    assert need_parts("a fitness watch for my husband").complements == []  # a person, not a thing


def test_ruled_out_kinds_and_sizes() -> None:
    en = need_parts("headphones, not earbuds, for the office")
    assert en.excluded == ["earbuds"] and en.wanted.startswith("headphones")
    zh = need_parts("普通相机，不要无人机")
    assert zh.excluded == ["无人机"] and zh.wanted == "普通相机"
    assert need_parts("a 65 inch TV").attributes == {"size": "65in"}
    assert need_parts("客厅用的65寸白色电视").attributes == {"size": "65in", "colour": "白色"}
    assert need_parts("1TB external drive").attributes == {"capacity": "1tb"}


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Is the Sony WH-1000XM4 in stock?", True),
        ("How much does gift wrapping cost", True),
        ("退货要几天？", True),
        ("这款耳机有货吗", True),
        ("a 65 inch TV for the living room", False),
        ("上班时想看看家里的狗", False),
        ("Any gift ideas for a dad who runs?", False),  # asks what to buy: a want
        ("What should I get my sister for her birthday?", False),
        ("爸爸爱看球赛，送他什么好", False),
        ("哪款降噪耳机好？", False),
    ],
)
def test_a_question_about_something_is_told_from_a_want(text: str, asks: bool) -> None:
    assert asks_question(text) is asks


# -- choosing categories --------------------------------------------------------------------


def test_one_category_clearly_ahead_is_confident_else_the_close_ones_are_kept() -> None:
    ahead = [CategoryScore("Cameras", 0.40), CategoryScore("Watches", 0.27)]
    assert chosen(ahead, sure_margin=0.05, close=0.03) == (["Cameras"], True)
    near = [CategoryScore("TVs", 0.23), CategoryScore("Streaming", 0.21), CategoryScore("X", 0.1)]
    assert chosen(near, sure_margin=0.05, close=0.03) == (["TVs", "Streaming"], False)
    assert chosen([], 0.05, 0.03) == ([], False)


def test_brands_are_matched_as_whole_words() -> None:
    brands = ["Apple", "LG", "Sonos", "Acme Co"]
    assert named_brands("a sonos arc and an Acme Co cable", brands) == ["Sonos", "Acme Co"]
    assert named_brands("a glowing lamp", brands) == []  # "lg" inside a word is not LG


class FakeStore:
    def __init__(self) -> None:
        self.revision = (1, 1)
        self.groups = {"a": (2, np.array([1.0, 0.0])), "b": (1, np.array([0.0, 2.0]))}
        self.built = 0

    def product_groups(self, field: str) -> dict[str, tuple[int, np.ndarray]]:
        self.built += 1
        return dict(self.groups)

    def product_revision(self) -> tuple[int, int]:
        return self.revision


def test_the_category_index_follows_the_store() -> None:
    store = FakeStore()
    live = LiveCategoryIndex(store)
    assert [c.name for c in live.current().rank(np.array([0.1, 1.0]))] == ["b", "a"]
    live.current()
    assert store.built == 1  # unchanged store: not rebuilt
    store.groups["c"] = (1, np.array([-1.0, 3.0]))
    store.revision = (1, 2)
    assert live.current().names == ["a", "b", "c"] and store.built == 2
    assert CategoryIndex({}).rank(np.array([1.0, 0.0])) == []


def test_the_model_is_asked_only_when_no_category_is_clearly_ahead() -> None:
    asked: list[list[str]] = []

    def pick(need: str, language: str, ranking: list[CategoryScore]) -> str:
        asked.append([c.name for c in ranking])
        return "b"

    unsure = NeedReader(FakeStore(), lambda text: np.array([1.0, 0.8]), sure_margin=0.5)
    need = unsure.read("a thing", pick=pick)
    assert (need.categories, need.categories_by, asked) == (["b"], "model", [["a", "b"]])
    sure = NeedReader(FakeStore(), lambda text: np.array([1.0, 0.0]), sure_margin=0.5)
    need = sure.read("a thing", pick=pick)
    assert (need.categories, need.categories_by, len(asked)) == (["a"], "embedding", 1)


# -- on the demo shop ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Context:
    work = tmp_path_factory.mktemp("needs")
    options = {"model_path": str(work / "none.npz"), "use_model": False}
    settings = Settings(
        store_path=demo_store, cache_dir=MODEL_CACHE, plugin_options={"recommender": options}
    )
    return Registry(settings).context()


def test_an_action_camera_under_500_dollars_is_a_camera_not_a_sport_watch(shop: Context) -> None:
    need = need_reader(shop).read("推荐一款运动相机，500美元以内")
    assert need.categories == ["Cameras & Camcorders"] and need.confident
    assert (need.max_price, need.currency, need.language) == (500, "USD", "zh")
    result = shop.call("recommender", {"need": need.search_text, "reasons": False})
    assert result.need.categories == ["Cameras & Camcorders"]  # type: ignore[attr-defined]
    kinds = [item.category for item in result.items]  # type: ignore[attr-defined]
    assert kinds[:2] == ["Cameras & Camcorders"] * 2
    assert all(item.signals["type"] == 1.0 for item in result.items[:2])  # type: ignore[attr-defined]


def test_a_ruled_out_kind_is_left_out_and_an_explicit_category_wins(shop: Context) -> None:
    result = shop.call("recommender", {"need": "a camera that is not a drone", "reasons": False})
    titles = [item.title for item in result.items]  # type: ignore[attr-defined]
    assert titles and not any("Drone" in t or "DJI" in t for t in titles)
    given = shop.call(
        "recommender", {"need": "配牛仔裤的女士上衣", "category": ["TVs"], "reasons": False}
    )
    assert {item.category for item in given.items} == {"TVs"}  # type: ignore[attr-defined]


def test_the_recognised_need_leads_the_chat_reply(shop: Context) -> None:
    from pitchcraft.plugins.recommender.plugin import Recommender

    result = shop.call("recommender", {"need": "noise cancelling headphones", "reasons": False})
    reply = Recommender().chat_reply(result)  # type: ignore[arg-type]
    assert reply.startswith("_Looking for: Headphones & Earbuds_")


def test_a_chinese_chat_reply_names_the_currency_in_chinese(shop: Context) -> None:
    from pitchcraft.plugins.recommender.plugin import Recommender

    result = shop.call("recommender", {"need": "推荐一款运动相机，500美元以内", "reasons": False})
    reply = Recommender().chat_reply(result)  # type: ignore[arg-type]
    assert "–500美元" in reply.splitlines()[0]
    assert "USD" not in reply and reply.count("美元") == len(result.items) + 1  # type: ignore[attr-defined]


def test_support_also_retrieves_products_of_the_kind_a_question_asks_about(shop: Context) -> None:
    from pitchcraft.plugins.support import evidence

    question = "有没有适合跑步戴的手表"
    kinds = evidence.asked_kinds(shop, question)
    assert kinds == ["Smart Watches"]
    found = evidence.candidates(shop.store, question, "zh", kinds)
    products = {s.source_id for s in found if s.kind == "product"}
    plain = {
        s.source_id for s in evidence.candidates(shop.store, question, "zh") if s.kind == "product"
    }
    watches = {p.id for p in shop.store.get_products(list(products)) if p.category in kinds}
    assert plain < products and len(watches) > len(plain & watches)


def test_the_same_code_reads_needs_in_a_shop_with_other_categories(tmp_path: Path) -> None:
    from benchmarks.eval_needs import clothing_shop
    from pitchcraft.store.ingest import ingest_products

    shop = clothing_shop(needs=0)  # real clothing items grouped by their finer class
    ctx = Context(Settings(store_path=tmp_path / "chroma", cache_dir=MODEL_CACHE))
    listing = tmp_path / "products.jsonl"
    listing.write_text("\n".join(p.model_dump_json() for p in shop.products), encoding="utf-8")
    ingest_products(ctx.store, listing)
    reader = need_reader(ctx)
    assert "Jeans" in reader.categories.current().names
    assert "TVs" not in reader.categories.current().names
    for need, kind in [("skinny jeans in dark denim", "Jeans"), ("一件连衣裙", "Dresses")]:
        read = reader.read(need)
        assert read.categories == [kind] and read.confident, need


def test_the_mirror_groups_live_rows_by_a_text_field() -> None:
    from pitchcraft.store.mirror import Mirror

    mirror = Mirror(2)
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [3.0, 3.0]], dtype=np.float32)
    fields = [{"category": "a"}, {"category": "a"}, {"category": "b"}, {"category": "c"}]
    mirror.put(["1", "2", "3", "4"], vectors, ["", "", "", ""], fields, ["", "", "", ""])
    mirror.remove(["4"])  # a removed row counts for nothing; its value disappears
    groups = mirror.groups("category")
    assert sorted(groups) == ["a", "b"]
    assert groups["a"][0] == 2 and np.allclose(groups["a"][1], [0.5, 0.5])
    assert groups["b"][0] == 1 and np.allclose(groups["b"][1], [1.0, 1.0])
    assert mirror.groups("brand") == {}


def test_the_chat_sends_stated_wants_to_the_recommender_and_the_rest_by_its_rules(
    shop: Context,
) -> None:
    from pitchcraft.chain.router import ChatRouter, Turn

    registry = Registry(shop.settings.model_copy(update={"plugins": ["recommender", "support"]}))
    registry._context = shop  # the demo store
    router = ChatRouter(registry)
    want = router.route("a 65 inch 4K TV for the living room", "s1")
    assert (want.name, want.by) == ("recommender", "need")
    assert want.need is not None and want.need.categories == ["TVs"]
    assert want.request == {"need": "a 65 inch 4K TV for the living room"}
    zh = router.route("卧室放的小尺寸电视", "s2")
    assert (zh.name, zh.by) == ("recommender", "need")
    for message in ("Is the 65 inch Samsung TV in stock?", "yes please", "hello"):
        assert router.route(message, "s3").name == "support", message
    # a safety issue is support's whatever else it names; a question about gifts is no want
    claimed = router.route("The charger gave me an electric shock", "s4")
    assert (claimed.name, claimed.by) == ("support", "claim")
    assert router.route("How much does gift wrapping cost?", "s5").name == "support"
    # a stated want leaves a support conversation; a reply that is no want follows it
    router.sessions.add("s6", Turn(role="user", text="退货要几天？", target="support"))
    assert router.route("a 27 inch 4K monitor", "s6").name == "recommender"
    assert router.route("ok thanks", "s6").by == "memory"


class FittingModel:
    """A stand-in for the shared model's structured reply: marks the products whose title
    holds `word` (the prompt lists them numbered)."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.prompts: list[str] = []

    def structured(self, schema: Any, **kwargs: Any) -> FittingModel:
        self.schema = schema
        return self

    def invoke(self, prompt: str) -> Any:
        self.prompts.append(prompt)
        lines = re.findall(r"^(\d+)\. (.*)$", prompt, re.MULTILINE)
        return self.schema(fits=[int(n) for n, title in lines if self.word in title])


def test_the_models_check_of_the_best_candidates_puts_what_fits_first(
    demo_store: Path, tmp_path: Path
) -> None:
    options = {"model_path": str(tmp_path / "none.npz"), "use_model": False, "rerank_model": True}
    ctx = Registry(
        Settings(
            store_path=demo_store, cache_dir=MODEL_CACHE, plugin_options={"recommender": options}
        )
    ).context()
    model = FittingModel("Drone")  # ranked third to fifth without the check
    ctx.shared("llm", lambda: model)
    result = ctx.call("recommender", {"need": "an action camera", "k": 3, "reasons": False})
    items = result.items  # type: ignore[attr-defined]
    assert len(model.prompts) == 1 and model.prompts[0].count("\n1. ") == 1
    assert "Drone" in items[0].title and items[0].signals["model"] == 1.0
    assert all(item.signals["model"] == float("Drone" in item.title) for item in items)
