"""The sentiment plugin on its real classifier, real reviews and the real embedded model."""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import random
import subprocess
from pathlib import Path

import pytest

from pitchcraft import Context, Registry, Settings
from pitchcraft.data.demo_shop import load_reviews
from pitchcraft.plugins.sentiment.corpus import chinese_examples, english_examples, split
from pitchcraft.plugins.sentiment.metrics import accuracy, expected_calibration_error
from pitchcraft.plugins.sentiment.plugin import SentimentAnalyzer
from pitchcraft.plugins.sentiment.replies import reply_problems
from pitchcraft.plugins.sentiment.shared import (
    reply_rules,
    shared_classifier,
    shared_strong_classifier,
)
from tests.llm_fixtures import MODEL_CACHE
from tests.test_cli import PITCHCRAFT


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    store = tmp_path_factory.mktemp("sentiment-store") / "chroma"
    return Registry(Settings(store_path=store, cache_dir=MODEL_CACHE)).load().context()


@pytest.mark.parametrize(
    ("language", "examples", "at_least"),
    [("zh", chinese_examples, 0.80), ("en", english_examples, 0.78)],
)
def test_classifier_on_held_out_real_reviews(
    ctx: Context, language: str, examples: object, at_least: float
) -> None:
    test = random.Random(3).sample(split(examples())[1], 400)  # type: ignore[operator]
    predictions = shared_classifier(ctx).predict([e.text for e in test])
    gold = [e.label for e in test]
    assert accuracy(gold, [p.label for p in predictions]) >= at_least
    for p in predictions:
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
        assert p.confidence == max(p.probabilities.values())
    correct = [g == p.label for g, p in zip(gold, predictions, strict=True)]
    assert expected_calibration_error(correct, [p.confidence for p in predictions]) < 0.08


def test_a_reviews_score_does_not_depend_on_the_reviews_beside_it(ctx: Context) -> None:
    """A resumed batch run must reproduce an uninterrupted one, row for row."""
    text = "质量很好，但是物流太慢了"
    others = [r.text for r in load_reviews()[:40]]
    classifier = shared_classifier(ctx)
    alone = classifier.predict([text])[0]
    for batch in ([text, *others[:7]], [*others[7:30], text], [*others, text, *others]):
        inside = classifier.predict(batch)[batch.index(text)]
        assert inside.confidence == alone.confidence and inside.score == alone.score


@pytest.mark.slow
@pytest.mark.parametrize(
    ("language", "examples"), [("zh", chinese_examples), ("en", english_examples)]
)
def test_strong_tier_on_held_out_real_reviews(
    ctx: Context, language: str, examples: object
) -> None:
    """The strong tier reads the real embedded model's hidden states; on the same held-out
    reviews it is not worse than the fast tier by more than noise."""
    test = random.Random(4).sample(split(examples())[1], 120)  # type: ignore[operator]
    texts, gold = [e.text for e in test], [e.label for e in test]
    strong = shared_strong_classifier(ctx).predict(texts, [language] * len(texts))
    fast = shared_classifier(ctx).predict(texts, [language] * len(texts))
    strong_accuracy = accuracy(gold, [p.label for p in strong])
    assert strong_accuracy >= 0.8
    assert strong_accuracy >= accuracy(gold, [p.label for p in fast]) - 0.03
    for p in strong:
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_each_language_reads_a_review_alike_alone_and_among_longer_ones() -> None:
    """Padding must not move what a review is read as (the prompted reading takes the last
    real token of each row)."""
    import numpy as np

    from pitchcraft.plugins.sentiment.states import states_embedders

    reviews = {
        "zh": ["很好", "物流很快，包装完好，很满意，下次还会再来买，推荐给朋友们。"],
        "en": ["Love it", "Runs small and the fabric pills after one wash; sent it back."],
    }
    for lang, states in states_embedders(MODEL_CACHE).items():
        short, long = reviews[lang]
        alone = states.inner.embed([short])[0]
        among = states.inner.embed([long, short, long + " " + long])[1]
        other = states.inner.embed([long])[0]
        assert alone.shape == (states.dim,)
        assert np.linalg.norm(alone - among) < 0.05 * np.linalg.norm(alone - other), lang


@pytest.mark.slow
def test_the_polarity_tier_option_picks_the_strong_tier(tmp_path: Path) -> None:
    settings = Settings(
        store_path=tmp_path / "chroma",
        cache_dir=MODEL_CACHE,
        plugin_options={"sentiment": {"polarity_tier": "strong"}},
    )
    ctx = Registry(settings).load().context()
    result = SentimentAnalyzer().invoke({"text": "物流很快，包装完好，很满意"}, ctx)
    assert result.polarity_tier == "strong" and result.polarity == "positive"


def test_fast_depth_reads_polarity_and_aspects(ctx: Context) -> None:
    plugin = SentimentAnalyzer()
    bad = plugin.invoke({"text": "做工很差，用了两天就坏了，客服也不理人。"}, ctx)
    assert bad.language == "zh" and bad.polarity == "negative" and bad.score < 0
    assert {"quality", "service"} <= {a.aspect for a in bad.aspects}
    good = plugin.invoke({"text": "Gorgeous color and so soft. Fits true to size!"}, ctx)
    assert good.language == "en" and good.polarity == "positive" and good.confidence > 0.6
    assert {"appearance", "size_fit"} <= {a.aspect for a in good.aspects}
    for result in (bad, good):
        assert result.depth == "fast" and result.sarcastic is None
        assert result.polarity_tier == "fast"
        for a in result.aspects:
            assert result.text[a.start : a.start + len(a.evidence)] == a.evidence


def test_charts_of_one_review_and_of_a_batch(ctx: Context) -> None:
    plugin = SentimentAnalyzer()
    texts = [
        "做工很差，用了两天就坏了。",
        "质量很好，物流也快！",
        "Lovely fabric, fits true to size.",
    ]
    results = [plugin.invoke({"text": t}, ctx) for t in texts]
    (one,) = plugin.charts(results[:1], ctx)
    assert sum(r["probability"] for r in one.rows) == pytest.approx(1.0, abs=1e-3)
    distribution, aspects = plugin.charts(results, ctx)[:2]
    counts = {r["polarity"]: r["reviews"] for r in distribution.rows}
    assert sum(counts.values()) == 3 and counts["negative"] == 1 and counts["positive"] == 2
    mentioned = sum(len(r.aspects) for r in results)
    assert sum(int(r["mentions"]) for r in aspects.rows) == mentioned > 0


def test_batch_report_from_a_review_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    reviews = load_reviews()[:80]
    start = dt.date(2024, 1, 1)
    src = tmp_path / "reviews.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["review_id", "product_id", "rating", "date", "review"])
        for i, r in enumerate(reviews):
            day = start + dt.timedelta(days=2 * i)
            writer.writerow([f"r{i}", r.product_id, r.rating, day.isoformat(), r.text])
        writer.writerow(["empty", "p1", 5, "2024-02-01", "   "])
        writer.writerow(["huge", "p1", 5, "2024-02-01", "好" * 150_000])  # over csv's 128 KiB
        writer.writerow(["stars", "p1", 9, "2024-02-01", "fine"])
    env = {**cli_env, "PITCHCRAFT_CACHE_DIR": str(MODEL_CACHE)}
    proc = subprocess.run(
        [PITCHCRAFT, "run", "sentiment", "--input", str(src)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr  # the bad rows, reported; nothing else lost
    assert "Traceback" not in proc.stderr
    done = [json.loads(line) for line in (tmp_path / "reviews.sentiment.out.jsonl").open()]
    assert len(done) == len(reviews)
    errors = [
        json.loads(line) for line in (tmp_path / "reviews.sentiment.out.jsonl.errors.jsonl").open()
    ]
    # named by the file's own column; numbered by line in the file (some reviews span lines)
    assert [list(e["fields"]) for e in sorted(errors, key=lambda e: e["line"])] == [
        ["review"],
        ["review"],
        ["rating"],
    ]
    assert min(e["line"] for e in errors) > len(reviews)

    folder = tmp_path / "reviews.sentiment.report"
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["overall"]["reviews"] == len(reviews)
    assert sum(report["overall"]["polarity"].values()) == len(reviews)
    assert report["overall"]["liked"] and report["overall"]["disliked"]
    assert len(report["trend"]) >= 4 and len(report["products"]) > 1
    for chart in ("polarity", "aspects", "products", "trend"):
        png = (folder / f"{chart}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 4
    by_key = {a["aspect"]: a for a in report["overall"]["aspects"]}
    liked, disliked = (
        by_key[report["overall"]["liked"][0]],
        by_key[report["overall"]["disliked"][0]],
    )
    for aspect, polarity in ((liked, "positive"), (disliked, "negative")):
        assert html.escape(aspect["quotes"][polarity][0]) in page
    assert (tmp_path / "reviews.sentiment.xlsx").is_file()


@pytest.mark.slow
def test_full_depth_on_the_real_model(ctx: Context) -> None:
    text = "颜色很好看，但是质量太差了，穿了一次就开线，客服也不回消息。"
    result = SentimentAnalyzer().invoke({"text": text, "depth": "full", "reply": True}, ctx)
    assert result.depth == "full" and result.sarcastic is not None
    assert result.polarity == "negative" and result.polarity_tier == "strong"
    assert result.aspects, "the model named no aspect of a review with three"
    for a in result.aspects:
        assert text[a.start : a.start + len(a.evidence)] == a.evidence
    assert result.reply and result.reply_source in ("model", "template")
    assert reply_problems(result.reply, "zh", reply_rules(ctx)["zh"]) == []


def test_review_summary_ranks_complaints_with_quotes_and_actions(ctx: Context) -> None:
    from pitchcraft.plugins.sentiment.summary import ReviewSummary

    texts = [
        "物流太慢了，等了一个星期。",
        "快递很慢，包装也破了。",
        "包装破损严重，盒子都压扁了，物流也慢。",
        "质量很好，做工结实。",
    ]
    reviews = [SentimentAnalyzer().invoke({"text": t}, ctx) for t in texts]
    summary = ReviewSummary().invoke({"reviews": [r.model_dump() for r in reviews]}, ctx)
    assert summary.language == "zh" and summary.reviews == 4
    assert [s.aspect for s in summary.suggestions[:2]] == ["logistics", "packaging"]
    first = summary.suggestions[0]
    assert first.negative_reviews == 3 and first.share == 0.75
    assert first.action.startswith("检查发货时效")  # the aspect table's zh action
    assert first.quotes and all(any(q in t for t in texts) for q in first.quotes)
    assert [p.aspect for p in summary.praised] == ["quality"]
    assert "物流/配送" in ReviewSummary().chat_reply(summary)
    english = ReviewSummary().invoke(
        {"reviews": [r.model_dump() for r in reviews], "language": "en", "top": 1}, ctx
    )
    assert len(english.suggestions) == 1 and english.suggestions[0].action.startswith("Review")


def test_review_summary_refuses_an_empty_list(ctx: Context) -> None:
    from pitchcraft import InputError
    from pitchcraft.plugins.sentiment.summary import ReviewSummary

    with pytest.raises(InputError, match="reviews: List should have at least 1 item"):
        ReviewSummary().invoke({"reviews": []}, ctx)
