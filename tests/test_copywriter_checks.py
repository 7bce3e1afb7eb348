"""The copywriter's checks on hand-made copy: each rule catches what it should, passes what it
should, and the repair leaves nothing that fails (pure logic: no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitchcraft import Settings
from pitchcraft.errors import PitchcraftError
from pitchcraft.plugins.copywriter.channels import load_channels
from pitchcraft.plugins.copywriter.checks import (
    CheckContext,
    Finding,
    Parts,
    compliance_findings,
    grounding_findings,
    keyword_findings,
    length_findings,
    run_checks,
)
from pitchcraft.plugins.copywriter.models import CopyRequest
from pitchcraft.plugins.copywriter.repair import Repairer, fact_lines
from pitchcraft.plugins.copywriter.rules import load_rulebook
from pitchcraft.plugins.copywriter.textunits import fit, measure
from pitchcraft.plugins.copywriter.writer import facts_text
from pitchcraft.store.schema import Product
from pitchcraft.text.grounding import Facts, chinese_number
from pitchcraft.text.terms import load_lexicon

# Varied Chinese text to cut lengths from (a run of one character reads as a degenerate loop).
EN_TEXT = "Duracell Coppertop alkaline AA batteries for remotes, toys and clocks. " * 3
ZH_TEXT = "金霸王碱性电池持久耐用家庭常备玩具遥控器鼠标适用大容量长效储存便携装" * 3
SETTINGS = Settings()
CHANNELS = load_channels(SETTINGS)
RULES = load_rulebook(SETTINGS)
LEXICON = load_lexicon(SETTINGS)

BATTERY = Product(
    id="elec-1",
    title="Duracell Coppertop AA Batteries, 40-count",
    description="Guaranteed for 12 years in storage. Long lasting performance.",
    category="Batteries",
    brand="Duracell",
    price=20.99,
    currency="USD",
)
BATTERY_ZH = Product(
    id="zh-1",
    title="金霸王 碱性 5号电池 40节装",
    description="存放保质 12 年。持久耐用。",
    category="Batteries",
    brand="Duracell",
    price=20.99,
    currency="USD",
)
SPEAKER = Product(
    id="elec-2",
    title="JBL Flip 6 Portable Bluetooth Speaker, waterproof IP67",
    description="12 hours of playtime.",
    category="Speakers",
    brand="JBL",
    price=129.95,
)


def context(
    channel: str,
    product: Product = BATTERY,
    language: str = "en",
    keywords: list[str] | None = None,
    forbidden: list[str] | None = None,
) -> CheckContext:
    return CheckContext(
        channel=CHANNELS[channel],
        language=language,
        facts=Facts(product, list(keywords or [])),
        rulebook=RULES.with_forbidden(list(forbidden or [])),
        lexicon=LEXICON,
        keywords=list(keywords or []),
    )


def spans(findings: list[Finding]) -> list[str]:
    return [f.span for f in findings]


# -- lengths as platforms count them ---------------------------------------------------------


def test_width_counts_chinese_double() -> None:
    assert measure("金霸王电池", "width") == 10
    assert measure("AA 40", "width") == 5
    assert measure("金霸王电池", "chars") == 5
    assert measure("电", "utf8_bytes") == 3


def test_taobao_title_is_limited_to_60_bytes() -> None:
    cc = context("taobao_title", BATTERY_ZH, "zh")
    assert length_findings({"title": ZH_TEXT[:30]}, cc) == []
    too_long = length_findings({"title": ZH_TEXT[:31]}, cc)
    assert [f.message for f in too_long] == ["title is 62 width long; the limit is 60"]
    sixty = "Duracell Coppertop alkaline AA batteries for remotes, clocks"
    assert length_findings({"title": sixty}, cc) == []  # letters count one


def test_google_ads_counts_and_items() -> None:
    cc = context("google_ads_rsa")
    good: Parts = {
        "headlines": ["Duracell AA, 40-count", "Long lasting AA power", "Stock up on AA"],
        "descriptions": ["Coppertop AA batteries.", "12 years in storage."],
    }
    assert length_findings(good, cc) == []
    few = {**good, "headlines": ["Duracell AA"]}
    assert "headlines has 1 items; needs 3 to 5" in [f.message for f in length_findings(few, cc)]
    long_zh = {**good, "headlines": ["金霸王电池持久耐用十六个汉字刚好超过限制"]}  # 20 chars = 40
    assert any("limit is 30" in f.message for f in length_findings(long_zh, cc))


def test_sms_needs_opt_out_and_segment_length_per_language() -> None:
    zh = context("sms", BATTERY_ZH, "zh")
    assert length_findings({"text": "金霸王5号电池40节装,持久耐用。回T退订"}, zh) == []
    assert [f.message for f in length_findings({"text": "金霸王电池上新"}, zh)] == [
        "must include '回T退订'"
    ]
    assert any(
        "limit is 70" in f.message for f in length_findings({"text": ZH_TEXT[:67] + "回T退订"}, zh)
    )
    en = context("sms")
    assert length_findings({"text": EN_TEXT[:130] + " Reply STOP to opt out"}, en) == []


def test_amazon_forbidden_characters_and_repetition() -> None:
    cc = context("amazon_listing")
    bullets = [f"Fact {i}" for i in range(5)]
    assert length_findings({"title": "Duracell AA Batteries", "bullets": bullets}, cc) == []
    bang = length_findings({"title": "Duracell AA Batteries!", "bullets": bullets}, cc)
    assert [f.span for f in bang] == ["!"]
    loop = length_findings({"title": "Duracell Duracell Duracell Duracell", "bullets": bullets}, cc)
    assert any("repeats 'Duracell'" in f.message for f in loop)


def test_an_item_said_twice_is_found_and_the_repair_replaces_it_with_new_facts() -> None:
    cc = context("amazon_listing")
    bullets = ["Long lasting", "Trusted brand", "long  LASTING", "Made to last", "Trusted brand"]
    parts: Parts = {"title": "Duracell AA Batteries", "bullets": bullets}
    repeats = [f for f in length_findings(parts, cc) if "repeats an earlier item" in f.message]
    assert [(f.item, f.fixable) for f in repeats] == [(2, True), (4, True)]
    repairer = Repairer(cc)
    fixed = repairer.repair(parts, run_checks(parts, cc))
    assert run_checks(fixed, cc) == []
    kept = [" ".join(b.lower().split()) for b in fixed["bullets"]]
    assert len(kept) == 5 and len(set(kept)) == 5
    assert "bullets: dropped 2 repeated item(s)" in repairer.notes


def test_a_product_with_too_few_facts_for_distinct_items_is_flagged_not_padded() -> None:
    bare = BATTERY.model_copy(update={"description": ""})  # title, brand, category: 3 facts
    cc = context("amazon_listing", bare)
    parts: Parts = {"title": "Duracell AA Batteries", "bullets": ["Long lasting performance."]}
    fixed = Repairer(cc).repair(parts, run_checks(parts, cc))
    assert len(fixed["bullets"]) == 5
    assert any("repeats an earlier item" in f.message for f in run_checks(fixed, cc))


def test_fit_cuts_at_a_boundary() -> None:
    assert fit("Long lasting power for every device at home", 20, "chars") == "Long lasting power"
    assert fit("金霸王电池,持久耐用,家中常备", 20, "width") == "金霸王电池,持久耐用"
    assert measure(fit(ZH_TEXT[:40], 60, "width"), "width") == 60
    assert fit("Women's Knits — Tops (item 872)", 30, "chars") == "Women's Knits — Tops"
    assert fit("金霸王电池（40节装，持久耐用）", 16, "width") == "金霸王电池"


def test_items_added_from_facts_are_never_cut_inside_brackets() -> None:
    """A real case: headlines filled from "Women's Knits — Tops (item 872)" read
    "Women's Knits — Tops (item" and the variant failed its own length check."""
    knit = Product(
        id="en-872",
        title="Women's Knits — Tops (item 872)",
        description="Women's knits from the General line, Tops department.",
        category="Tops",
        brand="Lumen & Loom",
        price=39.0,
    )
    cc = context("google_ads_rsa", knit, keywords=["Lumen & Loom"])
    parts: Parts = {"headlines": ["Lumen & Loom Women's Knits"], "descriptions": ["Soft knits."]}
    fixed = Repairer(cc).repair(parts, run_checks(parts, cc))
    assert length_findings(fixed, cc) == [], fixed
    assert all(s.count("(") == s.count(")") for s in fixed["headlines"])


# -- advertising compliance ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        ("全网最低价,金霸王电池", ["全网", "最低价"]),
        ("最好的电池", ["最好"]),
        ("国家级品质,顶级耐用", ["国家级", "顶级"]),
        ("销量第一的电池", ["第一"]),
        ("The best AA batteries", ["best"]),
        ("#1 trusted battery brand", ["#1"]),
        ("Guaranteed to last", ["Guaranteed"]),
        ("100% satisfaction", ["100%"]),
        ("最近上新,第一次购买送电池盒", []),  # 最近 "recently", 第一次 "first time"
        ("Check the best-by date", []),
        ("Ships in 10 days, #10 envelope", []),
    ],
)
def test_absolute_terms(text: str, caught: list[str]) -> None:
    assert spans(compliance_findings({"title": text}, context("email"))) == caught


def test_medical_claims_only_for_non_medical_products() -> None:
    battery = context("email")
    assert spans(compliance_findings({"body": "有效杀菌消炎"}, battery)) == ["杀菌", "消炎"]
    assert spans(compliance_findings({"body": "Cures back pain"}, battery)) == ["Cures"]
    assert spans(compliance_findings({"body": "A secure, healthy grip"}, battery)) == []
    device = Product(id="m1", title="Heating pad", category="Medical devices", price=30)
    assert compliance_findings({"body": "Relieves pain"}, context("email", device)) == []
    massager = Product(id="m2", title="颈椎按摩仪", category="医疗器械", price=299, currency="CNY")
    assert compliance_findings({"body": "缓解疲劳,辅助治疗"}, context("email", massager)) == []
    assert compliance_findings({"body": "缓解疲劳,持久耐用"}, battery) == []


def test_brand_forbidden_words() -> None:
    cc = context("email", forbidden=["cheap", "便宜"])
    assert spans(compliance_findings({"subject": "Cheap AA batteries, 便宜"}, cc)) == [
        "Cheap",
        "便宜",
    ]
    assert compliance_findings({"subject": "Affordable AA batteries"}, cc) == []


def test_the_prompt_shows_facts_without_words_copy_may_not_use() -> None:
    shown = facts_text(BATTERY, RULES.with_forbidden(["lasting"]))
    assert "description: for 12 years in storage. Long performance." in shown
    assert "title: Duracell Coppertop AA Batteries, 40-count" in shown
    assert "Guaranteed" in facts_text(BATTERY)  # the facts themselves are unchanged


# -- grounding in the facts ----------------------------------------------------------------


def test_numbers_must_come_from_the_facts() -> None:
    cc = context("email")
    assert grounding_findings({"subject": "40 AA batteries, 12 years in storage"}, cc) == []
    assert spans(grounding_findings({"subject": "48 AA batteries, 15 years"}, cc)) == ["48", "15"]
    assert grounding_findings({"subject": "Duracell AA 40-count"}, cc) == []


def test_prices_must_match_amount_and_currency() -> None:
    cc = context("email")
    assert grounding_findings({"subject": "Only $20.99 for 40"}, cc) == []
    assert spans(grounding_findings({"subject": "Only $19.99"}, cc)) == ["$19.99"]
    zh = context("sms", BATTERY_ZH, "zh")
    problems = grounding_findings({"text": "仅需20.99元"}, zh)
    assert [f.span for f in problems] == ["20.99元"]
    assert "priced in USD" in problems[0].message


def test_chinese_numerals_are_checked() -> None:
    assert chinese_number("十二") == 12
    assert chinese_number("三百五十") == 350
    zh = context("taobao_title", BATTERY_ZH, "zh")
    assert grounding_findings({"title": "保质十二年"}, zh) == []
    assert spans(grounding_findings({"title": "保质二十年"}, zh)) == ["二十"]
    assert grounding_findings({"title": "一节顶一节"}, zh) == []  # 一 as the article


def test_specification_claims_need_the_facts() -> None:
    speaker = context("email", SPEAKER)
    assert grounding_findings({"subject": "Waterproof Bluetooth sound"}, speaker) == []
    assert grounding_findings({"subject": "防水蓝牙音箱"}, speaker) == []  # zh copy, en facts
    battery = context("email")
    assert spans(grounding_findings({"subject": "Waterproof rechargeable AA"}, battery)) == [
        "Waterproof",
        "rechargeable",
    ]


def test_keywords() -> None:
    cc = context("email", keywords=["Duracell", "AA"])
    assert keyword_findings({"subject": "Duracell AA, 40-count"}, cc) == []
    assert spans(keyword_findings({"subject": "Duracell batteries"}, cc)) == ["AA"]


# -- repair -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "product", "language", "parts"),
    [
        (
            "taobao_title",
            BATTERY_ZH,
            "zh",
            {"title": "金霸王5号电池全网最低价国家级品质保质20年超长续航必买爆款推荐" * 2},
        ),
        ("sms", BATTERY_ZH, "zh", {"text": "最好的电池,仅需9.9元!"}),
        (
            "amazon_listing",
            BATTERY.model_copy(update={"attributes": {"voltage": "1.5 V", "size": "AA"}}),
            "en",
            {
                "title": "The BEST #1 Duracell AA Batteries!!! Guaranteed",
                "bullets": ["Lasts 15 years", "Cures boredom", "Waterproof", "40-count"],
            },
        ),
        ("google_ads_rsa", BATTERY, "en", {"headlines": ["Best batteries ever made by anyone"]}),
        ("xiaohongshu_note", BATTERY_ZH, "zh", {"title": "", "body": "", "hashtags": []}),
    ],
)
def test_repair_leaves_nothing_failing(
    channel: str, product: Product, language: str, parts: Parts
) -> None:
    cc = context(channel, product, language)
    findings = run_checks(parts, cc)
    assert findings
    repairer = Repairer(cc)
    fixed = repairer.repair(parts, findings)
    assert run_checks(fixed, cc) == []
    assert repairer.notes


def test_repair_keeps_good_sentences() -> None:
    cc = context("meta_ad")
    parts: Parts = {
        "primary_text": "Duracell AA in a 40-count pack. Lasts 20 years!",
        "headline": "Duracell AA, 40-count",
        "description": "Long lasting",
    }
    fixed = Repairer(cc).repair(parts, run_checks(parts, cc))
    assert fixed["primary_text"] == "Duracell AA in a 40-count pack."


def test_fact_lines_skip_sentences_longer_than_any_field() -> None:
    # an API fuzzer's product (a description of 19,999 zeros) took minutes of checks
    endless = BATTERY.model_copy(update={"description": "0" * 19_999 + ". Lasts 10 years."})
    cc = context("amazon_listing", endless)
    assert fact_lines(cc) == [
        BATTERY.title,
        "Lasts 10 years.",
        "Brand: Duracell",
        "Category: Batteries",
    ]


# -- tables and requests -------------------------------------------------------------------


def test_every_shipped_channel_has_limits_in_both_prompt_languages() -> None:
    assert len(CHANNELS) >= 10
    for channel in CHANNELS.values():
        for lang in channel.languages:
            assert len(channel.limits_text(lang)) == len(channel.fields)
        assert channel.source


def test_users_add_and_override_channels(tmp_path: Path) -> None:
    folder = tmp_path / "copywriter"
    folder.mkdir()
    (folder / "channels.yaml").write_text(
        "line_post:\n  label: LINE post\n  languages: [en]\n"
        "  fields:\n    body: {max: 100}\n"
        "sms:\n  label: SMS\n  languages: [en]\n  fields:\n    text: {max: 50}\n",
        encoding="utf-8",
    )
    channels = load_channels(Settings(tables_dir=tmp_path))
    assert channels["line_post"].fields["body"].limit("en") == 100
    assert channels["sms"].fields["text"].limit("en") == 50
    assert "taobao_title" in channels


def test_a_malformed_user_channel_is_named(tmp_path: Path) -> None:
    (tmp_path / "copywriter").mkdir()
    (tmp_path / "copywriter" / "channels.yaml").write_text(
        "broken:\n  label: x\n  languages: [fr]\n  fields: {}\n", encoding="utf-8"
    )
    with pytest.raises(PitchcraftError, match="channel 'broken' is malformed"):
        load_channels(Settings(tables_dir=tmp_path))


def test_a_catalog_row_is_read_as_the_product() -> None:
    row = {**BATTERY.model_dump(), "channel": "email", "keywords": "Duracell; AA"}
    req = CopyRequest.model_validate(row)
    assert req.product is not None and req.product.id == "elec-1"
    assert req.keywords == ["Duracell", "AA"]
    with pytest.raises(ValueError, match="exactly one of product_id or product"):
        CopyRequest.model_validate({"channel": "email"})


@pytest.mark.parametrize(
    ("field", "text", "problem"),
    [
        ("bullets", ", A80CL Series", "cut from a sentence"),
        ("bullets", "Key Specifications:", "cut from a sentence"),
        ("bullets", "Supports HDMI connections provided by", "cut from a sentence"),
        ("title", "Outdoor Security System with Chime Pro 2.0 (2nd", "unbalanced ()"),
        ("bullets", "Alkaline", "single word"),
        ("bullets", "Long lasting thưởng power", "letters foreign"),
        ("bullets", "23.8英寸 Touchscreen IPS display", "letters foreign"),
        ("bullets", " .", "no words"),
    ],
)
def test_fragments_are_not_copy(field: str, text: str, problem: str) -> None:
    cc = context("amazon_listing")
    assert any(problem in f.message for f in length_findings({field: text}, cc))


def test_a_short_field_may_be_a_name_and_facts_letters_are_allowed() -> None:
    ads = context("google_ads_rsa")
    headlines = ["Duracell", "AA batteries", "40-count pack"]
    descriptions = ["Duracell AA batteries, 40-count.", "Guaranteed for 12 years in storage."]
    assert not length_findings({"headlines": headlines, "descriptions": descriptions}, ads)
    dot = length_findings({"headlines": [*headlines, "."], "descriptions": descriptions}, ads)
    assert [f.message for f in dot if "no words" in f.message]
    cafe = BATTERY.model_copy(update={"description": "Sold at the Café Olé shop."})
    found = length_findings({"bullets": ["Loved at Café Olé"]}, context("amazon_listing", cafe))
    assert not [f for f in found if "foreign" in f.message]
    assert [
        f
        for f in length_findings({"bullets": ["Loved at Café Olé"]}, context("amazon_listing"))
        if "foreign" in f.message
    ]


def test_prompt_echo_is_caught_and_removed() -> None:
    cc = context("amazon_listing")
    bullets = [
        "Angle: Lead with the main benefit.",
        "40-count pack",
        "AA size",
        "Alkaline batteries",
        "Made by Duracell",
    ]
    parts: Parts = {"title": "Duracell AA Batteries, 40-count", "bullets": bullets}
    findings = length_findings(parts, cc)
    assert [f.item for f in findings] == [0] and "repeats the instructions" in findings[0].message
    fixed = Repairer(cc).repair(parts, findings)
    assert run_checks(fixed, cc) == [] and "Angle" not in str(fixed)


def test_missing_keywords_lead_the_first_field_or_become_hashtags() -> None:
    cc = context("taobao_title", BATTERY_ZH, "zh", keywords=["金霸王"])
    parts: Parts = {
        "title": "碱性5号电池40节装持久耐用家庭常备玩具遥控器鼠标适用大容量长效储存便携装"
    }
    fixed = Repairer(cc).repair(parts, run_checks(parts, cc))
    assert str(fixed["title"]).startswith("金霸王 ") and run_checks(fixed, cc) == []
    note = context("xiaohongshu_note", BATTERY_ZH, "zh", keywords=["金霸王"])
    parts = {"title": "电池囤货", "body": "5号电池40节装,持久耐用。", "hashtags": ["电池", "囤货"]}
    fixed = Repairer(note).repair(parts, run_checks(parts, note))
    assert fixed["hashtags"] == ["电池", "囤货", "金霸王"] and fixed["title"] == "电池囤货"


@pytest.mark.parametrize(
    ("channel", "parts"),
    [
        ("email", {"subject": "AA batteries, 40-count pack", "preview": "Duracell ("}),
        (
            "google_ads_rsa",
            {
                "headlines": ["Duracell (", "AA batteries", "40-count"],
                "descriptions": ["Coppertop AA batteries.", "Long lasting power."],
            },
        ),
    ],
)
def test_a_keyword_lost_with_a_field_refilled_from_facts_is_led_with_again(
    channel: str, parts: Parts
) -> None:
    # The keyword sat only in a broken piece the repair replaced with facts that lack it.
    unbranded = BATTERY.model_copy(update={"title": "Coppertop AA Batteries, 40-count"})
    cc = context(channel, unbranded, keywords=["Duracell"])
    fixed = Repairer(cc).repair(parts, run_checks(parts, cc))
    assert run_checks(fixed, cc) == []
    first = fixed[next(iter(cc.channel.fields))]
    assert (first[0] if isinstance(first, list) else first).startswith("Duracell ")


def test_nested_repetition_collapses() -> None:
    cc = context("google_ads_rsa")
    loop = "Lumen Jeans Bottoms, " * 4 + "Lumen Jeans B"
    parts: Parts = {
        "headlines": ["Duracell AA", "AA batteries", "40-count"],
        "descriptions": ["Coppertop AA batteries.", loop],
    }
    fixed = Repairer(cc).repair(parts, run_checks(parts, cc))
    assert length_findings(fixed, cc) == []


ANGLES = (
    "Lead with the main benefit to the customer.",
    "Lead with a concrete moment of everyday use.",
    "以一个具体的日常使用场景开头。",
    "Speak directly to the audience's need.",
)
BOTTLE = Product(
    id="p-bottle",
    title="Best in the world water bottle 500ml",
    description="Stainless steel, keeps drinks cold for 24 hours.",
    category="Kitchen",
    price=19.0,
)


def test_instruction_text_in_copy_is_caught_and_cut() -> None:
    """A probe's e-mail subject read 'great in the world water bottle 500ml - Lead with the
    main' and passed: the angle's instruction and the title's superlative both got through."""
    cc = context("email", BOTTLE)
    cc.instructions = ANGLES
    parts: Parts = {
        "subject": "Best in the world water bottle 500ml - Lead with the main",
        "body": "Cold drinks for 24 hours in a stainless steel bottle. Order today.",
    }
    found = run_checks(parts, cc)
    assert "Lead with the main" in spans(found)
    assert {"Best", "in the world"} <= set(spans(found))
    repaired = Repairer(cc).repair(parts, found)
    assert run_checks(repaired, cc) == []
    subject = str(repaired["subject"]).lower()
    assert "lead with" not in subject and "in the world" not in subject and "best" not in subject
    assert "water bottle" in subject


@pytest.mark.parametrize(
    ("text", "echoed"),
    [
        ("Bright cold water. 以一个具体的日常使用场景开头", ["以一个具体的日常使用场景开头"]),
        ("Lead with the main benefit: cold water all day", ["Lead with the main benefit"]),
        ("The main benefit to you: cold water all day", []),  # ordinary copy
        ("适合多种日常使用场景", []),
        ("Speak directly to the audience's need, daily", ["Speak directly to the audience's need"]),
    ],
)
def test_echoed_instructions(text: str, echoed: list[str]) -> None:
    from pitchcraft.plugins.copywriter.checks import echoed_instructions

    assert echoed_instructions(text, ANGLES) == echoed


def test_training_keeps_only_drafts_that_say_what_the_facts_say() -> None:
    from pitchcraft.plugins.copywriter.training import invented

    cc = context("sms")
    restated = "Duracell Coppertop AA batteries, 40-count: guaranteed for 12 years in storage."
    assert invented({"text": f"{restated} Reply STOP to opt out"}, cc) == []
    made_up = "Duracell batteries glow at night, taste sweet and calm anxious pets."
    assert invented({"text": f"{made_up} Reply STOP to opt out"}, cc)
    zh = context("wechat_moments", BATTERY_ZH, "zh")
    assert invented({"body": "金霸王碱性5号电池40节装，存放保质12年，持久耐用。"}, zh) == []
    assert invented({"body": "金霸王电池可安全吞食，快速溶解，营养专业品质。"}, zh)


def test_each_string_carries_its_channels_limit_in_characters_of_the_language() -> None:
    from pitchcraft.llm.structured import SOFT_MAX_LENGTH

    taobao = CHANNELS["taobao_title"].reply_model("zh").model_json_schema()
    assert taobao["properties"]["title"][SOFT_MAX_LENGTH] == 30  # 60 width units
    sms = CHANNELS["sms"]
    assert sms.reply_model("zh").model_json_schema()["properties"]["text"][SOFT_MAX_LENGTH] == 70
    assert sms.reply_model("en").model_json_schema()["properties"]["text"][SOFT_MAX_LENGTH] == 160
    rsa = CHANNELS["google_ads_rsa"].reply_model("en").model_json_schema()["properties"]
    assert rsa["headlines"]["items"][SOFT_MAX_LENGTH] == 30
    assert rsa["headlines"]["maxItems"] == CHANNELS["google_ads_rsa"].fields["headlines"].max_items
