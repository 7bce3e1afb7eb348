"""The core's shared text helpers: numbers and prices in text, specification terms, and the
grounding check the copywriter and the recommender's reasons both use."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitchcraft import Settings
from pitchcraft.store import Product
from pitchcraft.text.grounding import (
    Facts,
    amounts,
    chinese_number,
    grounding_problems,
    numbers_in,
    price_words,
)
from pitchcraft.text.terms import compile_terms, load_lexicon

LEXICON = load_lexicon(Settings())
SPEAKER = Product(
    id="s1",
    title="JBL Flip 6 Waterproof Bluetooth Speaker",
    description="12 hours of playtime.",
    category="Speakers",
    brand="JBL",
    price=129.95,
)


def test_numbers_in_text_digits_and_chinese_numerals() -> None:
    found = {(n.token, tuple(n.values), n.chinese) for n in numbers_in("续航十二小时, 1,200 mAh")}
    assert found == {("十二", (12.0,), True), ("1,200", (1200.0,), False)}
    assert chinese_number("三百五十") == 350
    assert chinese_number("两万") == 20000


def test_terms_match_whole_latin_words_and_chinese_anywhere() -> None:
    pattern = compile_terms(["AA", "防水"])
    assert pattern.search("4 AA cells") and pattern.search("超强防水")
    assert not pattern.search("AAA cells")
    assert LEXICON.mentioned("防水蓝牙音箱").keys() >= {"waterproof", "bluetooth"}


def test_grounding_accepts_the_facts_in_either_language() -> None:
    facts = Facts(SPEAKER)
    assert grounding_problems("Waterproof, 12 hours, only $129.95", facts, LEXICON) == []
    assert grounding_problems("防水蓝牙音箱，续航十二小时", facts, LEXICON) == []
    assert grounding_problems("Battery life: 12 hours", facts, LEXICON) == []


def test_a_battery_is_a_claim_only_facts_that_speak_of_one_support() -> None:
    blouse = Product(id="c1", title="Women's Blouses", description="Rated 4.1 by 139 reviewers.")
    problems = grounding_problems("Battery life is 139 reviews", Facts(blouse), LEXICON)
    assert [span for span, _ in problems] == ["Battery"]


def test_grounding_names_each_unsupported_claim() -> None:
    problems = grounding_problems("Rechargeable, 20 hours, only $99", Facts(SPEAKER), LEXICON)
    spans = [span for span, _ in problems]
    assert spans == ["$99", "20", "Rechargeable"]
    assert "price is 129.95 USD" in problems[0][1]
    yuan = grounding_problems("仅需129.95元", Facts(SPEAKER), LEXICON)
    assert [why for _, why in yuan] == ["price '129.95元': the product is priced in USD, not CNY"]


def test_links_must_come_from_the_facts() -> None:
    invented = grounding_problems(
        "Shop now at https://www.example.com/your-ad", Facts(SPEAKER), LEXICON
    )
    assert [span for span, _ in invented] == ["https://www.example.com/your-ad"]
    shop = SPEAKER.model_copy(update={"description": "Order at jbl.com."})
    assert grounding_problems("Order at jbl.com.", Facts(shop), LEXICON) == []


def test_users_extend_the_spec_terms(tmp_path: Path) -> None:
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "spec_terms.yaml").write_text("glow: [glow-in-the-dark, 夜光]\n")
    lexicon = load_lexicon(Settings(tables_dir=tmp_path))
    assert "glow" in lexicon.mentioned("夜光表盘")
    assert grounding_problems("夜光", Facts(SPEAKER), lexicon)[0][0] == "夜光"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("含 2 块电池", []),  # a measure word: two batteries (a reason was refused for it)
        ("只要99块", [(99.0, "CNY")]),
        ("只要99块钱", [(99.0, "CNY")]),
        ("只要 89.99美元", [(89.99, "USD")]),
        ("$5 off", [(5.0, "USD")]),
    ],
)
def test_sums_of_money_and_their_currency(text: str, found: list[tuple[float, str]]) -> None:
    assert amounts(text) == found


def test_a_price_in_the_words_of_each_language() -> None:
    assert price_words(89.99, "USD", "zh") == "89.99美元"
    assert price_words(89.99, "USD", "en") == "89.99 USD"
    assert price_words(5, "JPY", "zh") == "5 JPY"  # no Chinese name known: the code


def test_a_sum_copied_from_the_facts_is_grounded_whatever_its_currency_reads_as() -> None:
    # "2 块" here counts batteries; a reason quoting the description was refused as a CNY price
    camera = Product(
        id="gopro", title="GoPro HERO11", description="附赠备用电池（共 2 块）", price=289.99
    )
    lexicon = load_lexicon(Settings())
    quoting = "推荐 GoPro HERO11（289.99美元），附赠备用电池（共 2 块）。"
    assert grounding_problems(quoting, Facts(camera, []), lexicon) == []
    inventing = "推荐 GoPro HERO11，只要 3 块）。"
    assert grounding_problems(inventing, Facts(camera, []), lexicon) != []
