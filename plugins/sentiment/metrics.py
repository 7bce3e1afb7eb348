"""Polarity metrics shared by training (the model card) and benchmarks/eval_sentiment.py."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pitchcraft.plugins.sentiment.corpus import POLARITIES

ECE_BINS = 10


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return float(np.mean([g == p for g, p in zip(gold, predicted, strict=True)])) if gold else 0.0


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Mean F1 over the classes present in `gold` (zh has no neutral reviews to score)."""
    scores = []
    for label in POLARITIES:
        if label not in gold:
            continue
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def expected_calibration_error(correct: Sequence[bool], confidence: Sequence[float]) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by size."""
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=float)
    if len(conf) == 0:
        return 0.0
    bins = np.minimum((conf * ECE_BINS).astype(int), ECE_BINS - 1)
    total = 0.0
    for b in range(ECE_BINS):
        inside = bins == b
        if inside.any():
            total += inside.mean() * abs(hits[inside].mean() - conf[inside].mean())
    return float(total)


def polarity_metrics(
    gold: Sequence[str], predicted: Sequence[str], confidence: Sequence[float] | None = None
) -> dict[str, float]:
    out = {"accuracy": accuracy(gold, predicted), "macro_f1": macro_f1(gold, predicted)}
    if confidence is not None:
        correct = [g == p for g, p in zip(gold, predicted, strict=True)]
        out["ece"] = expected_calibration_error(correct, confidence)
    return out


def aspect_scores(
    gold: Sequence[dict[str, str]], predicted: Sequence[dict[str, str]]
) -> dict[str, float]:
    """Micro precision/recall/F1 of aspects found (aspect keys), and how often a correctly
    found aspect also has the right polarity. Each item maps aspect -> polarity."""
    found = sum(len(p) for p in predicted)
    wanted = sum(len(g) for g in gold)
    hits = sum(len(g.keys() & p.keys()) for g, p in zip(gold, predicted, strict=True))
    agree = sum(
        sum(g[k] == p[k] for k in g.keys() & p.keys()) for g, p in zip(gold, predicted, strict=True)
    )
    precision = hits / found if found else 0.0
    recall = hits / wanted if wanted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "polarity_accuracy": agree / hits if hits else 0.0,
    }
