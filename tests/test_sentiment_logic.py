"""Sentiment logic that needs no model: quotes, clauses, aspects, replies, metrics, report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import ValidationError

from pitchcraft import Context, Settings
from pitchcraft.plugins.sentiment.aspects import (
    NEUTRAL_BELOW,
    AspectSpec,
    AspectTable,
    aspect_mentions,
    clauses,
    is_mixed,
    lexicon_aspects,
    locate,
    model_aspects,
    reading_model,
    with_lexicon,
)
from pitchcraft.plugins.sentiment.metrics import aspect_scores, expected_calibration_error, macro_f1
from pitchcraft.plugins.sentiment.models import (
    MAX_REVIEW_CHARS,
    Aspect,
    ReviewRequest,
    ReviewResult,
)
from pitchcraft.plugins.sentiment.replies import reply_problems, template_reply
from pitchcraft.plugins.sentiment.report import build_report, trend
from pitchcraft.plugins.sentiment.shared import DATA, aspect_table, reply_rules
from pitchcraft.tables import load_entries

REVIEW = "质量很好，但是物流太慢了，等了一个星期。"

RELABELS = Path(__file__).parent / "data" / "sentiment_relabels.jsonl"
POLARITY_ORDER = ("negative", "neutral", "positive")


@pytest.fixture(scope="module")
def table() -> AspectTable:
    return AspectTable(
        load_entries(DATA / "aspects.yaml", "sentiment", Settings(), AspectSpec, "x")
    )


def test_clauses_are_exact_slices_with_offsets() -> None:
    text = "Love the color, but it runs small. Shipping was fast!"
    found = clauses(text)
    assert [c.text for c in found] == ["Love the color", "but it runs small", "Shipping was fast"]
    for c in found:
        assert text[c.start : c.start + len(c.text)] == c.text
    assert [c.text for c in clauses("nice but small")] == ["nice", "but small"]


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        ("物流太慢了", "物流太慢了"),  # exact
        ("“物流太慢了”", "物流太慢了"),  # quoted by the model
        ("物流 太慢了", "物流太慢了"),  # spacing differs
        ("物流太慢", "物流太慢"),
    ],
)
def test_locate_returns_the_reviews_own_text(quote: str, expected: str) -> None:
    found = locate(quote, REVIEW)
    assert found is not None
    text, start = found
    assert text == expected and REVIEW[start : start + len(text)] == text


def test_locate_folds_case_and_width_but_quotes_the_original() -> None:
    review = "The FABRIC is soft, but it runs small."
    text, start = locate("the fabric is soft", review) or ("", -1)
    assert text == "The FABRIC is soft" and start == 0
    zh = "屏幕ＯＫ，电池不耐用"
    assert locate("屏幕OK", zh) == ("屏幕ＯＫ", 0)


def test_locate_falls_back_to_the_clause_holding_most_of_a_paraphrase() -> None:
    assert locate("物流太慢", "质量很好，但是物流太慢了啊") == ("物流太慢", 7)
    assert locate("但物流太慢了", REVIEW) == ("但是物流太慢了", 5)  # one character dropped


def test_locate_refuses_what_the_review_does_not_say() -> None:
    assert locate("包装破损严重", REVIEW) is None
    assert locate("great battery life", "The fabric is soft.") is None
    assert locate("  ", REVIEW) is None


def test_model_aspects_keep_located_quotes_and_count_the_rest() -> None:
    schema = reading_model(["quality", "logistics", "packaging"])
    reading = schema.model_validate(
        {
            "overall": "negative",
            "sarcastic": False,
            "aspects": [
                {"aspect": "quality", "polarity": "positive", "evidence": "质量很好"},
                {"aspect": "packaging", "polarity": "negative", "evidence": "包装破了"},
                {"aspect": "logistics", "polarity": "negative", "evidence": "物流 太慢了"},
            ],
        }
    )
    aspects, dropped, refused = model_aspects(REVIEW, reading)
    assert (dropped, refused) == (1, 0)
    assert [(a.aspect, a.polarity, a.evidence) for a in aspects] == [
        ("quality", "positive", "质量很好"),
        ("logistics", "negative", "物流太慢了"),
    ]
    assert all(REVIEW[a.start :].startswith(a.evidence) for a in aspects)
    assert is_mixed(aspects)


def test_a_model_aspect_whose_quote_does_not_name_it_is_refused_and_the_lexicon_fills_in() -> None:
    table = aspect_table(Context(Settings()))
    review = "Love the color! Runs small, size up."
    schema = reading_model(list(table.specs))
    reading = schema.model_validate(
        {
            "overall": "positive",
            "sarcastic": False,
            "aspects": [  # the first is filed under the wrong aspect: its quote is colour
                {"aspect": "size_fit", "polarity": "positive", "evidence": "Love the color"},
                {"aspect": "appearance", "polarity": "positive", "evidence": "Love the color"},
            ],
        }
    )
    named, dropped, refused = model_aspects(
        review, reading, lambda key, quote: table.supports(key, quote, "en")
    )
    assert (dropped, refused) == (0, 1)
    assert [(a.aspect, a.source) for a in named] == [("appearance", "model")]
    lexicon = [
        Aspect(aspect=key, polarity="negative", evidence=c.text, start=c.start, source="lexicon")
        for key, c in aspect_mentions(review, "en", table)
    ]
    merged = with_lexicon(named, lexicon)
    assert table.supports("size_fit", "runs small", "en")
    assert AspectTable({}).supports("anything", "no words to judge by", "en")
    assert {(a.aspect, a.source) for a in merged} == {
        ("appearance", "model"),
        ("size_fit", "lexicon"),
    }


def test_reading_model_accepts_only_aspects_of_the_table() -> None:
    schema = reading_model(["quality"])
    with pytest.raises(ValidationError):
        schema.model_validate(
            {
                "overall": "positive",
                "sarcastic": False,
                "aspects": [{"aspect": "smell", "polarity": "positive", "evidence": "x"}],
            }
        )


def test_lexicon_aspects_take_the_most_confident_clause(table: AspectTable) -> None:
    mentions = aspect_mentions(REVIEW, "zh", table)
    assert {k for k, _ in mentions} == {"quality", "logistics"}
    by_clause = {"质量很好": ("positive", 0.9), "但是物流太慢了": ("negative", NEUTRAL_BELOW - 0.1)}
    preds = [
        SimpleNamespace(label=by_clause[c.text][0], confidence=by_clause[c.text][1])
        for _, c in mentions
    ]
    aspects = lexicon_aspects(mentions, preds)
    assert [(a.aspect, a.polarity) for a in aspects] == [
        ("quality", "positive"),
        ("logistics", "neutral"),  # too unsure to call
    ]
    assert not is_mixed(aspects)


def test_english_aspect_words_match_whole_words_only(table: AspectTable) -> None:
    assert table.mentioned("the fit is great", "en") == ["size_fit"]
    assert table.mentioned("a fitting tribute", "en") == []


def test_user_tables_add_aspects(tmp_path: Path) -> None:
    (tmp_path / "sentiment").mkdir()
    (tmp_path / "sentiment" / "aspects.yaml").write_text(
        "scent:\n  label: {zh: 气味, en: scent}\n  description: {zh: 气味, en: smell}\n"
        "  words: {zh: [味道, 气味], en: [smell, scent]}\n",
        encoding="utf-8",
    )
    ctx = Context(Settings(tables_dir=tmp_path))
    table = aspect_table(ctx)
    assert "scent" in table.specs and "quality" in table.specs
    assert table.mentioned("房间的味道很难闻", "zh") == ["scent"]


def test_reply_rules_refuse_liability_wrong_language_and_cut_off_drafts() -> None:
    rules = reply_rules(Context(Settings()))
    assert reply_problems("We are sorry; please contact our service team.", "en", rules["en"]) == []
    assert reply_problems("This was our fault, we will refund you.", "en", rules["en"])
    assert reply_problems("很抱歉，我们会全额退款。", "zh", rules["zh"])
    assert "not written in zh" in reply_problems("Sorry to hear that.", "zh", rules["zh"])
    assert reply_problems("感谢", "zh", rules["zh"]) == ["shorter than 15 characters"]
    text = template_reply(["物流", "包装"], rules["zh"])
    assert "物流、包装" in text and reply_problems(text, "zh", rules["zh"]) == []
    assert reply_problems(template_reply([], rules["en"]), "en", rules["en"]) == []


def test_request_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match="text"):
        ReviewRequest(text="   ")
    with pytest.raises(ValidationError, match="text"):
        ReviewRequest(text="x" * (MAX_REVIEW_CHARS + 1))
    with pytest.raises(ValidationError, match="rating"):
        ReviewRequest(text="ok", rating=6)
    req = ReviewRequest.model_validate({"评论": " 很好 ", "date": "2024-03-05T10:22:00"})
    assert req.text == "很好" and req.date == dt.date(2024, 3, 5)


def test_metrics() -> None:
    assert macro_f1(["positive", "negative"], ["positive", "negative"]) == 1.0
    # zh has no neutral reviews: neutral is not averaged in, but a neutral guess is a miss
    assert macro_f1(["positive", "negative"], ["positive", "neutral"]) == 0.5
    assert expected_calibration_error([True, False], [0.5, 0.5]) == 0.0
    assert expected_calibration_error([True, True], [0.55, 0.55]) == pytest.approx(0.45)
    scores = aspect_scores(
        [{"quality": "positive", "logistics": "negative"}],
        [{"quality": "negative", "service": "positive"}],
    )
    assert scores == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "polarity_accuracy": 0.0}


def result(polarity: str, day: dt.date | None, product: str, aspects: list[Aspect]) -> ReviewResult:
    score = {"positive": 0.8, "neutral": 0.0, "negative": -0.8}[polarity]
    return ReviewResult(
        product_id=product,
        date=day,
        text="x",
        language="en",
        polarity=polarity,  # type: ignore[arg-type]
        confidence=0.9,
        score=score,
        probabilities={},
        polarity_source="classifier",
        mixed=False,
        aspects=aspects,
        depth="fast",
    )


def test_report_counts_aspects_and_products(table: AspectTable) -> None:
    fit_bad = Aspect(
        aspect="size_fit", polarity="negative", evidence="runs small", start=0, source="lexicon"
    )
    color_good = Aspect(
        aspect="appearance",
        polarity="positive",
        evidence="love the color",
        start=0,
        source="lexicon",
    )
    results = [
        result("negative", None, "A", [fit_bad]),
        result("negative", None, "A", [fit_bad, color_good]),
        result("positive", None, "B", [color_good]),
    ]
    report = build_report(results, table)
    assert report.overall.polarity == {"negative": 2, "neutral": 0, "positive": 1}
    assert report.overall.disliked == ["size_fit"] and report.overall.liked == ["appearance"]
    assert report.overall.aspects[0].quotes["negative"] == ["runs small"]
    assert list(report.products) == ["A", "B"] and report.products["A"].reviews == 2
    assert report.trend == []


def test_trend_is_weekly_for_short_spans_and_monthly_for_long_ones() -> None:
    short = [result("negative", dt.date(2024, 1, d), "A", []) for d in (1, 2, 9)]
    assert [(t.period, t.reviews) for t in trend(short)] == [("2024-W01", 2), ("2024-W02", 1)]
    long = [
        result("negative", dt.date(2024, 1, 5), "A", []),
        result("positive", dt.date(2024, 1, 20), "A", []),
        result("positive", dt.date(2024, 6, 1), "A", []),
    ]
    points = trend(long)
    assert [(t.period, t.negative_share) for t in points] == [("2024-01", 0.5), ("2024-06", 0.0)]


def test_relabels_are_test_reviews_with_a_label_each() -> None:
    """The hand relabels (eval_sentiment's ceiling) are 200 test-split reviews a language."""
    from collections import Counter

    from pitchcraft.plugins.sentiment.corpus import (
        POLARITIES,
        chinese_examples,
        english_examples,
        is_test,
    )

    rows = [json.loads(line) for line in RELABELS.read_text(encoding="utf-8").splitlines()]
    assert Counter(r["language"] for r in rows) == {"zh": 200, "en": 200}
    known = {e.text: e.language for e in chinese_examples() + english_examples()}
    for row in rows:
        assert known[row["text"]] == row["language"] and is_test(row["text"])
        assert row["relabel"] in POLARITIES
    assert len({r["text"] for r in rows}) == len(rows)


def test_a_lexicons_cut_offs_are_chosen_for_accuracy() -> None:
    from benchmarks.sentiment_peers import cut_offs

    scores = np.array([-0.9, -0.5, -0.1, 0.0, 0.1, 0.6, 0.9, 0.95])
    gold = [
        "negative",
        "negative",
        "neutral",
        "neutral",
        "neutral",
        "positive",
        "positive",
        "positive",
    ]
    label = cut_offs(scores, gold, three_way=True)
    assert [label(s) for s in scores] == gold
    two_way = cut_offs(scores, ["negative"] * 4 + ["positive"] * 4, three_way=False)
    assert [two_way(s) for s in scores] == ["negative"] * 4 + ["positive"] * 4


def test_artefacts_of_another_format_or_pairing_are_refused(tmp_path: Path) -> None:
    from pitchcraft.errors import PitchcraftError
    from pitchcraft.plugins.sentiment.classifier import LANGUAGES, PolarityClassifier
    from pitchcraft.plugins.sentiment.strong import (
        Head,
        StrongClassifier,
        fingerprint,
        load_heads,
    )
    from pitchcraft.store.embedders import shared_use_encoder

    old = tmp_path / "old.npz"
    np.savez_compressed(old, card=np.array(json.dumps({"embedding_model": "x"})))
    with pytest.raises(PitchcraftError, match="older format"):
        PolarityClassifier.load(shared_use_encoder(), old)

    fast = PolarityClassifier.load(shared_use_encoder())  # the shipped artefact
    states = {lang: SimpleNamespace(model_id=f"base:states:{lang}", dim=4) for lang in LANGUAGES}
    read = {lang: f"base:states:{lang}" for lang in sorted(LANGUAGES)}
    head = Head(np.zeros(4), np.ones(4), np.zeros((4, 3)), np.zeros(3), np.eye(6, 3), np.zeros(3))
    heads = dict.fromkeys(LANGUAGES, head)
    for card, refusal in (
        ({"states_models": read, "fast_classifier": "another"}, "another fast"),
        (
            {"states_models": read | {"zh": "other"}, "fast_classifier": fingerprint(fast.card)},
            "reads",
        ),
        ({"states_model": "base:states", "fast_classifier": fingerprint(fast.card)}, "reads"),
    ):
        StrongClassifier(fast, states, heads, card).save(tmp_path / "head.npz")  # type: ignore[arg-type]
        with pytest.raises(PitchcraftError, match=refusal):
            StrongClassifier.load(fast, states, tmp_path / "head.npz")  # type: ignore[arg-type]
        kept, kept_card = load_heads(tmp_path / "head.npz")  # what `--tier blend` refits
        assert kept_card == card and np.array_equal(kept["en"].scale, np.ones(4))
    card = {"states_models": read, "fast_classifier": fingerprint(fast.card)}
    StrongClassifier(fast, states, heads, card).save(tmp_path / "head.npz")  # type: ignore[arg-type]
    loaded = StrongClassifier.load(fast, states, tmp_path / "head.npz")  # type: ignore[arg-type]
    assert set(loaded.heads) == set(LANGUAGES)
    assert np.array_equal(loaded.heads["zh"].blend, np.eye(6, 3))


def test_a_lexicon_peer_labels_every_text_three_ways_and_two_ways() -> None:
    from benchmarks.sentiment_peers import lexicon_peer
    from pitchcraft.plugins.sentiment.corpus import Example

    words = {"bad": -1.0, "ok": 0.0, "good": 1.0}
    train = [Example(w, label, "en") for w, label in zip(words, POLARITY_ORDER, strict=True)] * 5
    peer = lexicon_peer("toy", "en", lambda text: words[text], train, "a toy lexicon")
    assert peer.predict(["bad", "ok", "good"]) == ["negative", "neutral", "positive"]
    assert peer.predict_binary(["bad", "good"]) == ["negative", "positive"]
    assert peer.note == "a toy lexicon" and not peer.seen_test
