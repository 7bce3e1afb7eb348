"""The example third-party plugin, used through the registry like any installed plugin."""

from __future__ import annotations

from tests.conftest import make_registry


def run(payload: dict) -> dict:
    reg = make_registry(plugins=["seo-keywords"])
    return reg.get("seo-keywords").invoke(payload, reg.context()).model_dump()


def test_chinese_titles_give_chinese_keywords_and_hashtags() -> None:
    result = run(
        {
            "titles": [
                "保温杯男女士316不锈钢大容量便携学生水杯",
                "儿童保温杯带吸管不锈钢水杯",
                "车载保温杯大容量不锈钢茶杯",
            ],
            "top_k": 5,
        }
    )
    terms = [k["term"] for k in result["keywords"]]
    assert result["language"] == "zh"
    assert terms[0] == "保温杯"  # in every title, and specific
    assert {"不锈钢", "水杯"} <= set(terms)
    assert result["hashtags"][0] == "#保温杯"
    assert all(k["titles"] >= 1 for k in result["keywords"])


def test_english_titles_drop_stopwords_and_number_noise() -> None:
    result = run(
        {
            "titles": [
                "Stainless Steel Insulated Water Bottle 750ml for Kids",
                "Insulated Water Bottle with Straw, 500 ml",
                "Vacuum Insulated Stainless Steel Tumbler",
            ],
            "top_k": 4,
        }
    )
    terms = [k["term"] for k in result["keywords"]]
    assert result["language"] == "en"
    assert terms[0] == "insulated"
    assert not {"for", "with", "500", "ml"} & set(terms)
    assert "#Insulated" in result["hashtags"]
