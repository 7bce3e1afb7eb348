"""Sentiment tiers against every offline peer, on the same held-out real reviews.

Shipped tiers: `fast` (the n-gram + embedding classifier), `strong` (the fast tier
blended with a head on the shared model's hidden states), and on a sample the shared
model's own reading, zero-shot (`model`) and with the `reviews` adapter (`adapter`).
Peers (benchmarks/sentiment_peers.py): TF-IDF + logistic regression, snownlp and pysenti
(zh), VADER and TextBlob (en). Test splits (plugins/sentiment/corpus.py): Chinese shopping
reviews (positive/negative) and English clothing reviews (1-2 stars negative, 3 neutral,
4-5 positive); English is also scored positive-vs-negative (neutral reviews left out, each
method choosing between its two). `tests/data/sentiment_relabels.jsonl` holds 200 random
test reviews a language relabelled by hand, blind to their labels: the script reports the
agreement and every method's accuracy on the reviews where both labels agree. Aspects are
scored on the hand-labelled set in tests/data/sentiment_aspects.jsonl.

    python -m benchmarks.eval_sentiment [--quick] [--no-model] [--model-reviews N]

The model tiers need the shared model: set PITCHCRAFT_LLM_BACKEND=openai and
PITCHCRAFT_LLM_URL for a vLLM server (`pitchcraft model serve`), or it runs in-process.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import print_json_line, print_table
from benchmarks.sentiment_peers import Peer, all_peers
from pitchcraft.context import Context
from pitchcraft.errors import ModelUnavailable
from pitchcraft.plugins.sentiment.corpus import Example, chinese_examples, english_examples, split
from pitchcraft.plugins.sentiment.metrics import aspect_scores, polarity_metrics
from pitchcraft.plugins.sentiment.models import ReviewRequest, ReviewResult
from pitchcraft.plugins.sentiment.plugin import ADAPTER, SentimentAnalyzer, read_with_model
from pitchcraft.plugins.sentiment.shared import shared_classifier, shared_strong_classifier
from pitchcraft.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
HAND_LABELLED = DATA / "sentiment_aspects.jsonl"
RELABELLED = DATA / "sentiment_relabels.jsonl"
LANGUAGES = ("zh", "en")
Labeller = Callable[[Sequence[str], str], list[str]]  # (texts, language) -> labels


@dataclass
class Method:
    name: str
    kind: str  # shipped | peer
    label: Labeller
    binary: Labeller | None = None  # positive/negative only; None: its labels, neutral wrong
    languages: tuple[str, ...] = LANGUAGES
    note: str = ""
    seen_test: bool = False
    figures: dict[str, float] = field(default_factory=dict)


def test_sets(per_language: int | None, seed: int = 5) -> dict[str, list[Example]]:
    sets = {"zh": split(chinese_examples())[1], "en": split(english_examples())[1]}
    if per_language is not None:
        rng = random.Random(seed)
        sets = {k: rng.sample(v, min(per_language, len(v))) for k, v in sets.items()}
    return sets


def relabelled() -> dict[str, list[tuple[str, str, str]]]:
    """(text, corpus label, hand label) a language."""
    gold = {e.text: e.label for e in chinese_examples() + english_examples()}
    out: dict[str, list[tuple[str, str, str]]] = {lang: [] for lang in LANGUAGES}
    for line in RELABELLED.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out[row["language"]].append((row["text"], gold[row["text"]], row["relabel"]))
    return out


def probability_labeller(classifier: Any) -> tuple[Labeller, Labeller]:
    def label(texts: Sequence[str], lang: str) -> list[str]:
        return [p.label for p in classifier.predict(list(texts), [lang] * len(texts))]

    def binary(texts: Sequence[str], lang: str) -> list[str]:
        predicted = classifier.predict(list(texts), [lang] * len(texts))
        return [
            "positive" if p.probabilities["positive"] >= p.probabilities["negative"] else "negative"
            for p in predicted
        ]

    return label, binary


UNANSWERED = object()


def model_labeller(ctx: Context, concurrency: int, tally: dict[str, float]) -> Labeller:
    """The shared model's overall reading; no reading counts as neutral (tallied)."""

    def one(text: str, lang: str) -> Any:
        try:
            return read_with_model(text, lang, ctx)
        except ModelUnavailable as err:
            print(f"no reply: {err}")
            return UNANSWERED

    def label(texts: Sequence[str], lang: str) -> list[str]:
        with ThreadPoolExecutor(concurrency) as pool:
            readings = list(pool.map(one, texts, [lang] * len(texts)))
        tally["unanswered"] = tally.get("unanswered", 0) + sum(r is UNANSWERED for r in readings)
        usable = [None if r is UNANSWERED else r for r in readings]
        tally["unusable_replies"] = tally.get("unusable_replies", 0) + sum(
            r is None for r in usable
        )
        return [r.overall if r is not None else "neutral" for r in usable]

    return label


def score(
    method: Method,
    sets: dict[str, list[Example]],
    relabels: dict[str, list[tuple[str, str, str]]] | None,
) -> None:
    figures, total, seconds = method.figures, 0, 0.0
    for lang in method.languages:
        rows = sets[lang]
        start = time.perf_counter()
        predicted = method.label([e.text for e in rows], lang)
        seconds += time.perf_counter() - start
        total += len(rows)
        metrics = polarity_metrics([e.label for e in rows], predicted)
        figures |= {f"{k}_{lang}": v for k, v in metrics.items()}
        if lang == "en":
            polar = [e for e in rows if e.label != "neutral"]
            texts = [e.text for e in polar]
            chosen = method.binary(texts, lang) if method.binary else method.label(texts, lang)
            figures["accuracy_en_binary"] = polarity_metrics([e.label for e in polar], chosen)[
                "accuracy"
            ]
        if relabels is not None:
            agreed = [(t, g) for t, g, hand in relabels[lang] if g == hand]
            labels = method.label([t for t, _ in agreed], lang)
            figures[f"agreed_accuracy_{lang}"] = polarity_metrics([g for _, g in agreed], labels)[
                "accuracy"
            ]
    figures["reviews_per_s"] = total / seconds if seconds else 0.0


def peer_methods(peers: list[Peer]) -> list[Method]:
    """One method a peer name, covering the languages it has."""
    out = []
    for name in dict.fromkeys(p.name for p in peers):
        mine = {p.language: p for p in peers if p.name == name}
        out.append(
            Method(
                name,
                "peer",
                lambda texts, lang, m=mine: m[lang].predict(texts),
                lambda texts, lang, m=mine: m[lang].predict_binary(texts),
                tuple(mine),
                "; ".join(dict.fromkeys(p.note for p in mine.values())),
                any(p.seen_test for p in mine.values()),
            )
        )
    return out


def uncached_rate(strong: Any, sets: dict[str, list[Example]], per_language: int = 100) -> float:
    """Reviews/s of the strong tier on reviews it never read: its hidden states are cached,
    so the scoring pass above mostly read the cache (the fast tier's share timed with it)."""
    seconds, total = 0.0, 0
    for lang in LANGUAGES:
        texts = [e.text for e in sets[lang][:per_language]]
        start = time.perf_counter()
        strong.fast.predict(texts, [lang] * len(texts))
        strong.states[lang].inner.embed(texts)  # the model's forward passes, no cache
        seconds += time.perf_counter() - start
        total += len(texts)
    return total / seconds


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
    scores["refused"] = float(sum(res.refused_aspects for res in results))
    sources = [a.source for res in results for a in res.aspects]
    scores["from_model"] = sources.count("model") / len(sources) if sources else 0.0
    return scores


def agreement(relabels: dict[str, list[tuple[str, str, str]]]) -> dict[str, float]:
    out = {}
    for lang, rows in relabels.items():
        out[f"relabel_agreement_{lang}"] = sum(g == h for _, g, h in rows) / len(rows)
        out[f"relabels_{lang}"] = float(len(rows))
    return out


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
    parser.add_argument("--no-model", action="store_true", help="no generation tiers")
    parser.add_argument("--no-strong", action="store_true", help="skip the strong tier")
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
    relabels = relabelled()
    sets = test_sets(500 if args.quick else None)

    def analyze(depth: str, ctx: Context) -> Callable[[list[ReviewRequest]], list[ReviewResult]]:
        def run(reqs: list[ReviewRequest]) -> list[ReviewResult]:
            outs = plugin.analyze([r.model_copy(update={"depth": depth}) for r in reqs], ctx)
            return [o for o in outs if isinstance(o, ReviewResult)]

        return run

    methods = [Method("fast", "shipped", *probability_labeller(shared_classifier(base_ctx)))]
    strong = None if args.no_strong else shared_strong_classifier(base_ctx)
    if strong is not None:
        strong.predict(["warm up"], ["en"])
        strong_method = Method("strong", "shipped", *probability_labeller(strong))
        methods.append(strong_method)
    peers, missing = all_peers(
        {"zh": split(chinese_examples())[0], "en": split(english_examples())[0]}
    )
    methods += peer_methods(peers)
    for method in methods:
        score(method, sets, relabels)
    if strong is not None:
        strong_method.figures["reviews_per_s"] = uncached_rate(strong, sets)
    methods[0].figures |= {
        f"aspect_{k}": v for k, v in aspect_tier(analyze("fast", base_ctx), labelled).items()
    }

    model_tiers = {"model": base_ctx}  # the base model, zero-shot
    if (settings.adapters_dir / ADAPTER).is_dir():
        model_tiers["adapter"] = Context(settings)  # the fine-tuned `reviews` adapter
    sample = test_sets(args.model_reviews or (20 if args.quick else 150))
    for name, ctx in model_tiers.items():
        if args.no_model or name not in wanted:
            continue
        tally: dict[str, float] = {}
        method = Method(name, "shipped", model_labeller(ctx, args.concurrency, tally))
        score(method, sample, None)
        method.figures |= tally
        method.figures |= {
            f"aspect_{k}": v for k, v in aspect_tier(analyze("full", ctx), labelled).items()
        }
        method.note = f"{len(sample['zh'])} test reviews a language"
        methods.append(method)

    print_tables(methods, relabels, missing, len(labelled))
    print_json_line(figures(methods, relabels))


def print_tables(
    methods: list[Method],
    relabels: dict[str, list[tuple[str, str, str]]],
    missing: list[str],
    aspects: int,
) -> None:
    headers = [
        "method",
        "kind",
        "acc zh",
        "acc en",
        "F1 en",
        "acc en pos/neg",
        "agreed zh",
        "agreed en",
        "reviews/s",
        "note",
    ]
    rows = [
        [
            m.name,
            m.kind,
            m.figures.get("accuracy_zh", "-"),
            m.figures.get("accuracy_en", "-"),
            m.figures.get("macro_f1_en", "-"),
            m.figures.get("accuracy_en_binary", "-"),
            m.figures.get("agreed_accuracy_zh", "-"),
            m.figures.get("agreed_accuracy_en", "-"),
            m.figures.get("reviews_per_s", "-"),
            m.note,
        ]
        for m in methods
    ]
    print("polarity on held-out real reviews (test splits; model tiers on a sample)\n")
    print_table(headers, rows)
    shares = agreement(relabels)
    for m in methods:
        if m.seen_test:
            print(f"\n{m.name} was trained on data holding the test split: not a best peer")
    print(
        f"\nhand relabels agree with the corpus labels on {shares['relabel_agreement_zh']:.3f} "
        f"of {shares['relabels_zh']:.0f} zh and {shares['relabel_agreement_en']:.3f} of "
        f"{shares['relabels_en']:.0f} en reviews; 'agreed' columns score those alone"
    )
    for note in missing:
        print(f"skipped {note}")
    aspect_rows = [
        [
            m.name,
            m.figures["aspect_precision"],
            m.figures["aspect_recall"],
            m.figures["aspect_polarity_accuracy"],
            m.figures["aspect_evidence_in_review"],
            m.figures["aspect_from_model"],
            m.figures["aspect_refused"],
        ]
        for m in methods
        if "aspect_precision" in m.figures
    ]
    print(f"\naspects on {aspects} hand-labelled reviews\n")
    headers = ["tier", "precision", "recall", "polarity acc", "quotes in review", "from the model",
               "model's refused"]  # fmt: skip
    print_table(headers, aspect_rows)
    print()


def figures(
    methods: list[Method], relabels: dict[str, list[tuple[str, str, str]]]
) -> dict[str, object]:
    full = [m for m in methods if m.kind == "shipped" and m.name in ("fast", "strong")]
    best = max(full, key=lambda m: m.figures["accuracy_zh"] + m.figures["accuracy_en"])
    out: dict[str, object] = {"best_tier": best.name}
    for key in ("accuracy_zh", "accuracy_en", "macro_f1_en", "accuracy_en_binary"):
        out[key] = round(best.figures[key], 4)
    fair = [m for m in methods if m.kind == "peer" and not m.seen_test]
    for lang in LANGUAGES:
        top = max(
            (m for m in fair if lang in m.languages), key=lambda m: m.figures[f"accuracy_{lang}"]
        )
        out[f"best_peer_accuracy_{lang}"] = round(top.figures[f"accuracy_{lang}"], 4)
        out[f"best_peer_{lang}"] = top.name
    top_binary = max(
        (m for m in fair if "en" in m.languages), key=lambda m: m.figures["accuracy_en_binary"]
    )
    out["best_peer_accuracy_en_binary"] = round(top_binary.figures["accuracy_en_binary"], 4)
    for key in ("accuracy_zh", "accuracy_en", "accuracy_en_binary"):  # best tier minus peer
        out[f"margin_{key}"] = round(best.figures[key] - out[f"best_peer_{key}"], 4)  # type: ignore[operator]
    out |= {k: round(v, 4) for k, v in agreement(relabels).items()}
    for m in methods:
        out |= {f"{m.name}_{k}": round(v, 4) for k, v in m.figures.items()}
    return out


if __name__ == "__main__":
    main()
