"""Scoring signals over an interaction log: popularity with recency decay, SAR-style
item-item collaborative filtering, and content similarity from item embeddings.

All are plain numpy/scipy over a users x items matrix, so the same code serves the
plugin (one user at a time) and the offline evaluation (every user at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Event:
    user_id: str
    item_id: str
    weight: float  # a rating, a quantity, or 1 for a purchase / view
    timestamp: float  # seconds; only differences matter


@dataclass
class Interactions:
    """Users x items matrices built from an event log."""

    user_ids: list[str]
    item_ids: list[str]
    affinity: sparse.csr_matrix  # time-decayed sum of event weights
    seen: sparse.csr_matrix  # 1 where the user interacted with the item
    popularity: np.ndarray  # per item: users who had it, each decayed by recency; max 1

    @property
    def user_index(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.user_ids)}

    @property
    def item_index(self) -> dict[str, int]:
        return {item: i for i, item in enumerate(self.item_ids)}


def decay(age_s: np.ndarray, half_life_days: float | None) -> np.ndarray:
    """2^(-age / half-life); 1 everywhere when there is no half-life."""
    if not half_life_days:
        return np.ones_like(age_s, dtype=np.float64)
    return np.power(2.0, -age_s / (half_life_days * DAY_S))


def build_interactions(
    events: Iterable[Event],
    half_life_days: float | None = 30.0,
    popularity_half_life_days: float | None = None,
    item_ids: Sequence[str] | None = None,
) -> Interactions:
    """Affinity = sum over a user's events on an item of weight * decay(now - time), with
    `now` the log's latest event (SAR's time-decayed affinity). Popularity counts each
    user once per item, decayed by the age of their latest event on it."""
    rows = list(events)
    users = sorted({e.user_id for e in rows})
    items = list(item_ids) if item_ids is not None else sorted({e.item_id for e in rows})
    u_index = {u: i for i, u in enumerate(users)}
    i_index = {item: i for i, item in enumerate(items)}
    kept = [e for e in rows if e.item_id in i_index]
    if not kept:
        raise ValueError("the interaction log has no events on known items")
    r = np.fromiter((u_index[e.user_id] for e in kept), dtype=np.int64, count=len(kept))
    c = np.fromiter((i_index[e.item_id] for e in kept), dtype=np.int64, count=len(kept))
    t = np.fromiter((e.timestamp for e in kept), dtype=np.float64, count=len(kept))
    w = np.fromiter((e.weight for e in kept), dtype=np.float64, count=len(kept))
    now = t.max() if len(t) else 0.0
    values = w * decay(now - t, half_life_days)
    shape = (len(users), len(items))
    affinity = sparse.csr_matrix((values, (r, c)), shape=shape)  # duplicates are summed
    affinity.sum_duplicates()
    seen = affinity.copy()
    seen.data = np.ones_like(seen.data)
    pair = r * len(items) + c
    order = np.lexsort((t, pair))  # by pair, then time: each pair's newest event comes last
    last = np.r_[pair[order][1:] != pair[order][:-1], True]
    newest = order[last]
    votes = np.zeros(len(items), dtype=np.float64)
    np.add.at(votes, c[newest], decay(now - t[newest], popularity_half_life_days))
    top = votes.max() if votes.size else 0.0
    pop = (votes / top if top > 0 else votes).astype(np.float32)
    return Interactions(users, items, affinity.astype(np.float32), seen.astype(np.float32), pop)


def item_similarity(
    seen: sparse.csr_matrix, kind: str = "jaccard", neighbours: int | None = 200
) -> sparse.csr_matrix:
    """SAR's item-item matrix from co-occurrence counts: jaccard c_ij / (c_ii + c_jj - c_ij),
    lift c_ij / (c_ii c_jj), or raw counts; self-similarity kept (SAR keeps it), each row
    cut to its `neighbours` largest entries so the saved model stays small."""
    binary = sparse.csr_matrix(seen, dtype=np.float32)
    cooc = (binary.T @ binary).tocsr()
    diag = cooc.diagonal().astype(np.float64)
    coo = cooc.tocoo()
    counts = coo.data.astype(np.float64)
    if kind == "jaccard":
        values = counts / (diag[coo.row] + diag[coo.col] - counts)
    elif kind == "lift":
        values = counts / (diag[coo.row] * diag[coo.col])
    elif kind == "cooccurrence":
        values = counts
    else:
        raise ValueError(f"unknown similarity {kind!r}: jaccard, lift or cooccurrence")
    sim = sparse.csr_matrix((values.astype(np.float32), (coo.row, coo.col)), shape=cooc.shape)
    return top_per_row(sim, neighbours) if neighbours else sim


def top_per_row(matrix: sparse.csr_matrix, n: int) -> sparse.csr_matrix:
    """Keep each row's n largest stored values."""
    matrix = matrix.tocsr()
    indptr, indices, data = [0], [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        values, cols = matrix.data[start:end], matrix.indices[start:end]
        if len(values) > n:
            keep = np.argpartition(-values, n - 1)[:n]
            values, cols = values[keep], cols[keep]
        indices.append(cols)
        data.append(values)
        indptr.append(indptr[-1] + len(values))
    return sparse.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=matrix.shape
    )


def cf_scores(affinity: sparse.csr_matrix, similarity: sparse.csr_matrix) -> np.ndarray:
    """Each user's affinity row times the item-item weights, as dense rows (SAR's scoring;
    EASE's with 0/1 rows)."""
    return np.asarray((affinity @ similarity).todense(), dtype=np.float32)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def content_scores(affinity: sparse.csr_matrix, item_vectors: np.ndarray) -> np.ndarray:
    """Cosine between each item and the user's profile (affinity-weighted mean of the
    vectors of the items in their history)."""
    items = unit_rows(item_vectors.astype(np.float32))
    profiles = unit_rows(np.asarray(affinity @ items, dtype=np.float32))
    return profiles @ items.T


def ease_weights(
    seen: sparse.csr_matrix, l2: float = 300.0, neighbours: int | None = 300
) -> sparse.csr_matrix:
    """EASE (Steck 2019), the closed-form item-item model: B = I - P / diag(P) with
    P = (X'X + l2 I)^-1 and a zero diagonal. One dense items x items inverse, so it is
    for catalogues up to some ten thousand interacted items; each row is then cut to
    its `neighbours` largest weights by magnitude (negative weights matter too)."""
    binary = sparse.csr_matrix(seen, dtype=np.float64)
    gram = np.asarray((binary.T @ binary).todense())
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    matrix = sparse.csr_matrix(weights.astype(np.float32))
    if not neighbours:
        return matrix
    magnitude = matrix.copy()
    magnitude.data = np.abs(magnitude.data)
    kept = top_per_row(magnitude, neighbours)
    kept.data = np.asarray(matrix[kept.nonzero()]).ravel()  # restore the signs
    return kept.tocsr()
