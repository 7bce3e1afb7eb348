"""Sentiment quality and speed on real reviews the classifier never trained on.

Tiers: the fast classifier (polarity), the shared model zero-shot (`model`: the
base model's full-depth reading: polarity, sarcasm, aspects), and the fine-tuned
`reviews` adapter (`adapter`) when adapters_dir has one. Polarity is scored on the
held-out test splits (plugins/sentiment/corpus.py): Chinese shopping reviews (positive/negative) and
English clothing reviews (1-2 stars negative, 3 neutral, 4-5 positive).
Aspects are scored on the hand-labelled set in tests/data/sentiment_aspects.jsonl
(57 real reviews, zh + en); every returned quote is checked against its review.

    python -m benchmarks.eval_sentiment [--quick] [--model-reviews N] [--model-tiers model,adapter]

The model tiers need the shared model: set PITCHCRAFT_LLM_BACKEND=openai and
PITCHCRAFT_LLM_URL for a vLLM server (`pitchcraft model serve`), or it runs in-process.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import print_json_line, print_table
from pitchcraft.context import Context
from pitchcraft.errors import ModelUnavailable
from pitchcraft.plugins.sentiment.corpus import Example, chinese_examples, english_examples, split
from pitchcraft.plugins.sentiment.metrics import aspect_scores, polarity_metrics
from pitchcraft.plugins.sentiment.models import ReviewRequest, ReviewResult
from pitchcraft.plugins.sentiment.plugin import ADAPTER, SentimentAnalyzer, read_with_model
from pitchcraft.plugins.sentiment.shared import shared_classifier
from pitchcraft.settings import Settings

HAND_LABELLED = (
    Path(__file__).resolve().parent.parent / "tests" / "data" / "sentiment_aspects.jsonl"
)


def test_sets(per_language: int | None, seed: int = 5) -> dict[str, list[Example]]:
    sets = {"zh": split(chinese_examples())[1], "en": split(english_examples())[1]}
    if per_language is not None:
        rng = random.Random(seed)
        sets = {k: rng.sample(v, min(per_language, len(v))) for k, v in sets.items()}
    return sets


def classifier_tier(ctx: Context, sets: dict[str, list[Example]]) -> dict[str, float]:
    classifier = shared_classifier(ctx)
    classifier.predict(["warm up"])
    out: dict[str, float] = {}
    total, seconds = 0, 0.0
    for lang, rows in sets.items():
        start = time.perf_counter()
        preds = []
        for i in range(0, len(rows), 256):  # batches, as a batch run scores them
            preds += classifier.predict([e.text for e in rows[i : i + 256]])
        seconds += time.perf_counter() - start
        total += len(rows)
        m = polarity_metrics(
            [e.label for e in rows], [p.label for p in preds], [p.confidence for p in preds]
        )
        out |= {f"{k}_{lang}": v for k, v in m.items()}
    out["reviews_per_s"] = total / seconds
    return out


UNANSWERED = object()


def read_or_none(text: str, lang: str, ctx: Context) -> Any:
    """The model's reading; UNANSWERED when the model gave no reply in time (one slow request
    on a busy CPU must not end a long evaluation)."""
    try:
        return read_with_model(text, lang, ctx)
    except ModelUnavailable as err:
        print(f"no reply: {err}")
        return UNANSWERED


def model_tier(ctx: Context, sets: dict[str, list[Example]], concurrency: int) -> dict[str, float]:
    out: dict[str, float] = {}
    total, seconds, unusable, unanswered = 0, 0.0, 0, 0
    for lang, rows in sets.items():
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            texts = [e.text for e in rows]
            readings = list(pool.map(read_or_none, texts, [lang] * len(rows), [ctx] * len(rows)))
        seconds += time.perf_counter() - start
        total += len(rows)
        unanswered += sum(r is UNANSWERED for r in readings)
        readings = [None if r is UNANSWERED else r for r in readings]
        unusable += sum(r is None for r in readings)
        predicted = [r.overall if r is not None else "neutral" for r in readings]
        m = polarity_metrics([e.label for e in rows], predicted)
        out |= {f"{k}_{lang}": v for k, v in m.items()}
    out["reviews_per_s"] = total / seconds
    out["unusable_replies"] = float(unusable)  # counted as neutral
    out["unanswered"] = float(unanswered)  # of those: no reply within llm_timeout_s
    return out


def aspect_tier(
    run: Callable[[list[ReviewRequest]], list[ReviewResult]], labelled: list[dict[str, Any]]
) -> dict[str, float]:
    results = run([ReviewRequest(text=r["text"], language=r["language"]) for r in labelled])
    gold = [r["aspects"] for r in labelled]
    predicted = [{a.aspect: a.polarity for a in res.aspects} for res in results]
    scores = aspect_scores(gold, predicted)
    quotes = [(a.evidence, res.text) for res in results for a in res.aspects]
    scores["evidence_in_review"] = (
        sum(q in text for q, text in quotes) / len(quotes) if quotes else 1.0
    )
    scores["unsupported_dropped"] = float(sum(res.unsupported_evidence for res in results))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="500 test reviews a language, 20 for the model"
    )
    parser.add_argument(
        "--model-reviews",
        type=int,
        default=None,
        help="test reviews a language for the model tiers (default 150; --quick 20)",
    )
    parser.add_argument("--no-model", action="store_true", help="classifier and lexicon only")
    parser.add_argument(
        "--model-tiers", default="model,adapter", help="comma-separated, of model, adapter"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    wanted = {t.strip() for t in args.model_tiers.split(",") if t.strip()}
    if unknown := sorted(wanted - {"model", "adapter"}):
        parser.error(f"--model-tiers: unknown {', '.join(unknown)} (known: model, adapter)")
    settings = Settings()
    base_ctx = Context(settings.model_copy(update={"llm_adapters": False}))
    plugin = SentimentAnalyzer()
    labelled = [json.loads(line) for line in HAND_LABELLED.read_text(encoding="utf-8").splitlines()]

    def analyze(depth: str, ctx: Context) -> Callable[[list[ReviewRequest]], list[ReviewResult]]:
        def run(reqs: list[ReviewRequest]) -> list[ReviewResult]:
            outs = plugin.analyze([r.model_copy(update={"depth": depth}) for r in reqs], ctx)
            return [o for o in outs if isinstance(o, ReviewResult)]

        return run

    tiers: dict[str, dict[str, float]] = {}
    tiers["classifier"] = classifier_tier(base_ctx, test_sets(500 if args.quick else None))
    tiers["classifier"] |= {
        f"aspect_{k}": v for k, v in aspect_tier(analyze("fast", base_ctx), labelled).items()
    }
    model_tiers = {"model": base_ctx}  # the base model, zero-shot
    if (settings.adapters_dir / ADAPTER).is_dir():
        model_tiers["adapter"] = Context(settings)  # the fine-tuned `reviews` adapter
    for name, ctx in model_tiers.items():
        if args.no_model or name not in wanted:
            continue
        n = args.model_reviews or (20 if args.quick else 150)
        tiers[name] = model_tier(ctx, test_sets(n), args.concurrency)
        tiers[name] |= {
            f"aspect_{k}": v for k, v in aspect_tier(analyze("full", ctx), labelled).items()
        }

    headers = [
        "tier",
        "acc zh",
        "F1 zh",
        "acc en",
        "F1 en",
        "reviews/s",
        "aspect P",
        "aspect R",
        "aspect pol acc",
        "quotes in review",
    ]
    rows = [
        [
            name,
            t["accuracy_zh"],
            t["macro_f1_zh"],
            t["accuracy_en"],
            t["macro_f1_en"],
            t["reviews_per_s"],
            t["aspect_precision"],
            t["aspect_recall"],
            t["aspect_polarity_accuracy"],
            t["aspect_evidence_in_review"],
        ]
        for name, t in tiers.items()
    ]
    print(f"polarity on held-out real reviews; aspects on {len(labelled)} hand-labelled reviews\n")
    print_table(headers, rows)
    best = max(tiers, key=lambda k: tiers[k]["accuracy_zh"] + tiers[k]["accuracy_en"])
    figures: dict[str, object] = {"best_tier": best}
    for key in ("accuracy_zh", "accuracy_en", "macro_f1_zh", "macro_f1_en"):
        figures[key] = round(tiers[best][key], 4)
    for name, t in tiers.items():
        figures |= {f"{name}_{k}": round(v, 4) for k, v in t.items()}
    print()
    print_json_line(figures)


if __name__ == "__main__":
    main()
