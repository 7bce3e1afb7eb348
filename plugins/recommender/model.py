"""The fitted recommender: what `pitchcraft recommender fit` trains from an interaction log
and the plugin loads. One .npz file: ids, the users' affinities, the item-item weights
and popularity, plus the options it was fitted with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel
from scipy import sparse

from pitchcraft.plugins.recommender.signals import (
    Event,
    Interactions,
    build_interactions,
    cf_scores,
    ease_weights,
    item_similarity,
)

CFMethod = Literal["auto", "ease", "sar"]
FORMAT = 2  # 2: ids stored as text (format 1 needed pickle to load)


class FitOptions(BaseModel):
    method: CFMethod = "auto"  # auto: EASE up to ease_max_items interacted items, else SAR
    ease_max_items: int = 12_000  # EASE inverts an items x items matrix
    ease_l2: float = 300.0
    sar_similarity: Literal["jaccard", "lift", "cooccurrence"] = "jaccard"
    neighbours: int = 200  # item-item weights kept per item
    half_life_days: float | None = 30.0  # affinity decay (SAR's default)
    popularity_half_life_days: float | None = None  # None: plain counts of users


class ModelInfo(BaseModel):
    method: Literal["ease", "sar"]
    users: int
    items: int
    events: int
    fitted_at: str
    source: str
    options: FitOptions


@dataclass
class FittedModel:
    info: ModelInfo
    user_ids: list[str]
    item_ids: list[str]
    affinity: sparse.csr_matrix
    weights: sparse.csr_matrix  # item-item: scores = affinity (or seen) @ weights
    popularity: np.ndarray

    def __post_init__(self) -> None:
        self.user_row = {u: i for i, u in enumerate(self.user_ids)}
        self.item_col = {item: i for i, item in enumerate(self.item_ids)}

    def history_row(self, items: Sequence[str], user_id: str | None = None) -> sparse.csr_matrix:
        """The user's affinity row (known user) plus 1 for each given history item."""
        row = (
            self.affinity[self.user_row[user_id]].toarray().ravel()
            if user_id in self.user_row
            else np.zeros(len(self.item_ids), dtype=np.float32)
        )
        for item in items:
            if item in self.item_col:
                row[self.item_col[item]] = max(row[self.item_col[item]], 1.0)
        return sparse.csr_matrix(row[None, :])

    def user_items(self, user_id: str) -> list[str]:
        if user_id not in self.user_row:
            return []
        row = self.affinity[self.user_row[user_id]]
        order = np.argsort(-row.data)  # strongest (most, most recent) first
        return [self.item_ids[row.indices[i]] for i in order]

    def cf_scores(self, history: sparse.csr_matrix) -> np.ndarray:
        """Item scores (dense, one row per history row) for users' affinity rows: EASE
        reads them as 0/1, SAR weighs by affinity."""
        if self.info.method == "ease":
            history = history.copy()
            history.data = np.ones_like(history.data)
        return cf_scores(history, self.weights)

    # -- files -----------------------------------------------------------------------------

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            format=np.array(FORMAT),
            info=np.array(self.info.model_dump_json()),
            user_ids=np.array(self.user_ids, dtype=np.str_),
            item_ids=np.array(self.item_ids, dtype=np.str_),
            popularity=self.popularity,
            **_sparse_parts("affinity", self.affinity),
            **_sparse_parts("weights", self.weights),
        )
        tmp.replace(path)  # a reader never sees half a model
        return path

    @classmethod
    def load(cls, path: Path) -> FittedModel:
        with np.load(path, allow_pickle=False) as z:  # a model file never runs code
            if int(z["format"]) != FORMAT:
                raise ValueError(
                    f"{path} is a model of format {int(z['format'])}, this version reads "
                    f"format {FORMAT}: refit it (pitchcraft recommender fit)"
                )
            return cls(
                info=ModelInfo.model_validate_json(str(z["info"])),
                user_ids=[str(u) for u in z["user_ids"]],
                item_ids=[str(i) for i in z["item_ids"]],
                affinity=_sparse_from(z, "affinity"),
                weights=_sparse_from(z, "weights"),
                popularity=z["popularity"],
            )


def _sparse_parts(name: str, matrix: sparse.csr_matrix) -> dict[str, np.ndarray]:
    m = matrix.tocsr()
    return {
        f"{name}_data": m.data,
        f"{name}_indices": m.indices,
        f"{name}_indptr": m.indptr,
        f"{name}_shape": np.array(m.shape),
    }


def _sparse_from(z: np.lib.npyio.NpzFile, name: str) -> sparse.csr_matrix:
    shape = tuple(int(x) for x in z[f"{name}_shape"])
    return sparse.csr_matrix(
        (z[f"{name}_data"], z[f"{name}_indices"], z[f"{name}_indptr"]), shape=shape
    )


def fit(events: Sequence[Event], options: FitOptions, source: str = "") -> FittedModel:
    """Item-item weights (EASE or SAR) and popularity from an interaction log."""
    data: Interactions = build_interactions(
        events, options.half_life_days, options.popularity_half_life_days
    )
    method = options.method
    if method == "auto":
        method = "ease" if len(data.item_ids) <= options.ease_max_items else "sar"
    if method == "ease":
        weights = ease_weights(data.seen, options.ease_l2, options.neighbours)
    else:
        weights = item_similarity(data.seen, options.sar_similarity, options.neighbours)
    info = ModelInfo(
        method=method,
        users=len(data.user_ids),
        items=len(data.item_ids),
        events=len(events),
        fitted_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        source=source,
        options=options,
    )
    return FittedModel(info, data.user_ids, data.item_ids, data.affinity, weights, data.popularity)
