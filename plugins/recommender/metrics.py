"""Top-k ranking metrics as Microsoft Recommenders computes them (binary relevance: every
held-out item of a user is relevant), so figures compare with its published tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel


class RankingMetrics(BaseModel):
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float  # share of the catalogue recommended to anyone
    users: int


def ranking_metrics(
    recommended: Mapping[str, Sequence[str]],
    relevant: Mapping[str, set[str]],
    catalogue_size: int,
    k: int = 10,
) -> RankingMetrics:
    """Averages over the users who have held-out items.

    MAP divides each user's sum of precisions at hits by their number of relevant
    items (Recommenders' `map_at_k` as used in its MovieLens table)."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision, recall, ndcg, avg_precision = [], [], [], []
    shown: set[str] = set()
    for user, truth in relevant.items():
        if not truth:
            continue
        top = list(recommended.get(user, ()))[:k]
        shown.update(top)
        hits = np.array([item in truth for item in top], dtype=bool)
        n_hits = int(hits.sum())
        precision.append(n_hits / k)
        recall.append(n_hits / len(truth))
        ideal = discounts[: min(len(truth), k)].sum()
        ndcg.append(float(discounts[: len(top)][hits].sum() / ideal))
        ranks = np.flatnonzero(hits) + 1
        avg_precision.append(float((np.arange(1, n_hits + 1) / ranks).sum() / len(truth)))
    return RankingMetrics(
        precision=float(np.mean(precision)) if precision else 0.0,
        recall=float(np.mean(recall)) if recall else 0.0,
        ndcg=float(np.mean(ndcg)) if ndcg else 0.0,
        map=float(np.mean(avg_precision)) if avg_precision else 0.0,
        coverage=len(shown) / catalogue_size if catalogue_size else 0.0,
        users=len(precision),
    )
