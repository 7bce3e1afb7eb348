"""The shop's own categories, read from the store, as points in the embedding space: each is
the mean vector of its products, so it speaks both languages the embedder does and follows
the catalogue as it changes. Nothing here knows any shop's category names."""

from __future__ import annotations

import threading
from typing import NamedTuple, Protocol

import numpy as np


class CategorySource(Protocol):
    def product_groups(self, field: str) -> dict[str, tuple[int, np.ndarray]]: ...
    def product_revision(self) -> tuple[int, int]: ...


class CategoryScore(NamedTuple):
    name: str
    score: float  # cosine of the need to the category's mean product vector


class CategoryIndex:
    def __init__(self, groups: dict[str, tuple[int, np.ndarray]]) -> None:
        self.names = sorted(groups)
        self.counts = {name: groups[name][0] for name in self.names}
        means = np.stack([groups[n][1] for n in self.names]) if self.names else np.zeros((0, 1))
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        self.centroids = means / np.where(norms == 0, 1, norms)

    def rank(self, vector: np.ndarray) -> list[CategoryScore]:
        """Every category, closest to `vector` first."""
        if not self.names:
            return []
        scores = self.centroids @ vector
        return [CategoryScore(self.names[i], float(scores[i])) for i in np.argsort(-scores)]


class LiveCategoryIndex:
    """A CategoryIndex rebuilt when the store's products change (thread-safe)."""

    def __init__(self, store: CategorySource, field: str = "category") -> None:
        self.store = store
        self.field = field
        self._lock = threading.Lock()
        self._built: tuple[tuple[int, int], CategoryIndex] | None = None

    def current(self) -> CategoryIndex:
        revision = self.store.product_revision()
        with self._lock:
            if self._built is None or self._built[0] != revision:
                groups = {k: v for k, v in self.store.product_groups(self.field).items() if k}
                self._built = (revision, CategoryIndex(groups))
            return self._built[1]
