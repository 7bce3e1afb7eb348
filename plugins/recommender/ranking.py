"""Fusion of the scoring signals and MMR diversity re-ranking.

Fusion: each signal is scaled to [0, 1] over the candidates (divided by its largest
positive value; negatives become 0), then the weighted sum is taken. A signal that
is absent for a request (no history, no need, no fitted model) is simply left out,
so e.g. a new user is ranked by need and popularity alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def scaled(scores: np.ndarray) -> np.ndarray:
    """Scores divided by their maximum, negatives as 0; all zeros when nothing is positive."""
    positive = np.clip(np.nan_to_num(scores.astype(np.float32), nan=0.0), 0.0, None)
    top = positive.max(axis=-1, keepdims=True) if positive.size else 0.0
    return np.divide(positive, top, out=np.zeros_like(positive), where=top > 0)


def fuse(signals: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted sum of the scaled signals (each an array over the same candidates)."""
    total: np.ndarray | None = None
    for name, scores in signals.items():
        part = weights.get(name, 0.0) * scaled(scores)
        total = part if total is None else total + part
    if total is None:
        raise ValueError("no signal to rank by")
    return total


def mmr(
    relevance: np.ndarray,
    vectors: np.ndarray,
    k: int,
    diversity: float,
    pool: int = 50,
) -> list[int]:
    """Maximal marginal relevance: indices of k candidates, each maximising
    (1 - diversity) * relevance - diversity * (highest cosine to those already chosen),
    among the `pool` most relevant. Relevance here is the rank (1 for the best, falling
    evenly to 0), so diversity trades a few places, however flat the scores' tail is.
    diversity 0 = plain top-k."""
    order = np.argsort(-relevance, kind="stable")[: max(pool, k)]
    order = order[np.isfinite(relevance[order])]
    if diversity <= 0 or len(order) <= 1:
        return [int(i) for i in order[:k]]
    rel = 1.0 - np.arange(len(order), dtype=np.float32) / len(order)
    unit = vectors[order] / np.maximum(np.linalg.norm(vectors[order], axis=1, keepdims=True), 1e-12)
    chosen = [0]
    closest = unit @ unit[0]
    while len(chosen) < min(k, len(order)):
        value = (1 - diversity) * rel - diversity * closest
        value[chosen] = -np.inf
        pick = int(np.argmax(value))
        chosen.append(pick)
        closest = np.maximum(closest, unit @ unit[pick])
    return [int(order[i]) for i in chosen]
