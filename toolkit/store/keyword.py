"""BM25 keyword retrieval (bm25s), with Chinese segmented by jieba and English lower-cased.

Complements embeddings: exact model numbers, brands and rare words that a
sentence embedder blurs are what BM25 finds best.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence

import numpy as np

TOKEN = re.compile(r"\w", re.UNICODE)
_jieba_lock = threading.Lock()


HAN = re.compile(r"[\u4e00-\u9fff]")
WORDS = re.compile(r"[^\W_]+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Search-mode segmentation: '不锈钢保温杯' -> ['不锈', '不锈钢', '保温', '保温杯', ...].

    Text without Chinese takes a regex fast path (20x faster than jieba, same words)."""
    if not HAN.search(text):
        return WORDS.findall(text.lower())
    words = jieba_cut(text.lower(), search=True)
    return [w for w in (w.strip() for w in words) if w and TOKEN.search(w)]


def jieba_cut(text: str, search: bool) -> list[str]:
    """jieba's words: search mode adds the shorter words inside longer ones (for retrieval);
    precise mode cuts each character once."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _jieba_lock:  # jieba loads its dictionary lazily, not thread-safely
        return jieba.lcut_for_search(text) if search else jieba.lcut(text)


class KeywordIndex:
    """An immutable BM25 index over (id, text) pairs; build a new one when the texts change."""

    def __init__(self, ids: Sequence[str], tokens: Sequence[list[str]]) -> None:
        """`tokens[i]` is `tokenize()` of document `ids[i]`."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import
        self.ids = list(ids)
        self._bm25 = bm25s.BM25()
        if self.ids:
            self._bm25.index([t or ["\u2400"] for t in tokens], show_progress=False)
        self._vocab = set(self._bm25.vocab_dict) if self.ids else set()

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Top-k (id, score) with score > 0; `mask` (aligned with `ids`) limits the rows."""
        tokens = [t for t in tokenize(query) if t in self._vocab]
        if not tokens or not self.ids or (mask is not None and not mask.any()):
            return []
        weights = None if mask is None else mask.astype(np.float32)
        docs, scores = self._bm25.retrieve(
            [tokens], k=min(k, len(self.ids)), weight_mask=weights, show_progress=False, n_threads=1
        )
        return [
            (self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]
