"""An in-process copy of one collection: ids, vectors, documents, records and filter columns.

Chroma's metadata pre-filter costs tens of milliseconds once a filter passes
many rows, so filtered search is answered here instead: filters become numpy
masks, and the nearest rows among the few that pass are found exactly, or,
when most rows pass, Chroma's unfiltered HNSW result is over-fetched and
masked. The BM25 index is built over the same rows, so the same mask applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Scalar = str | int | float | bool


class Mirror:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.ids: list[str] = []
        self.documents: list[str] = []
        self.records: list[str] = []  # each row's record as JSON, so hits need no Chroma read
        self._tokens: list[list[str] | None] = []  # BM25 tokens per row, made on first need
        self.row: dict[str, int] = {}
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self._numeric: dict[str, np.ndarray] = {}  # float64, NaN = field absent
        self._codes: dict[str, np.ndarray] = {}  # int32 codes of string fields, -1 = absent
        self._vocab: dict[str, dict[str, int]] = {}
        self.version = 0  # bumped on every change, so derived indexes know to rebuild

    # -- size --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._alive.sum())

    @property
    def rows(self) -> int:
        return len(self.ids)

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors[: self.rows]

    @property
    def alive(self) -> np.ndarray:
        return self._alive[: self.rows]

    def _grow(self, needed: int) -> None:
        capacity = len(self._alive)
        if needed <= capacity:
            return
        new = max(needed, 2 * capacity, 1024)
        self._vectors = np.resize(self._vectors, (new, self.dim))
        self._alive = np.concatenate([self._alive, np.zeros(new - capacity, dtype=bool)])
        for name, col in self._numeric.items():
            self._numeric[name] = np.concatenate([col, np.full(new - capacity, np.nan)])
        for name, col in self._codes.items():
            pad = np.full(new - capacity, -1, dtype=np.int32)
            self._codes[name] = np.concatenate([col, pad])

    # -- writes ------------------------------------------------------------------------------

    def put(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        documents: Sequence[str],
        fields: Sequence[dict[str, Scalar]],
        records: Sequence[str],
    ) -> None:
        """Insert or overwrite rows by id."""
        self._grow(self.rows + len(ids))
        capacity = len(self._alive)
        rows = zip(ids, vectors, documents, fields, records, strict=True)
        for doc_id, vector, document, record, payload in rows:
            at = self.row.get(doc_id)
            if at is None:
                at = self.rows
                self.row[doc_id] = at
                self.ids.append(doc_id)
                self.documents.append(document)
                self.records.append(payload)
                self._tokens.append(None)
            else:
                self.documents[at] = document
                self.records[at] = payload
                self._tokens[at] = None
            self._vectors[at] = vector
            self._alive[at] = True
            for name in set(self._numeric) | set(self._codes) | set(record):
                self._set(name, at, record.get(name), capacity)
        self.version += 1

    def _set(self, name: str, at: int, value: Scalar | None, capacity: int) -> None:
        if isinstance(value, str) or name in self._codes:
            col = self._codes.setdefault(name, np.full(capacity, -1, dtype=np.int32))
            if value is None:
                col[at] = -1
            else:
                vocab = self._vocab.setdefault(name, {})
                col[at] = vocab.setdefault(str(value), len(vocab))
        else:
            col = self._numeric.setdefault(name, np.full(capacity, np.nan))
            col[at] = np.nan if value is None else float(value)

    def record_json(self, doc_id: str) -> str | None:
        at = self.row.get(doc_id)
        return self.records[at] if at is not None and self._alive[at] else None

    def remove(self, ids: Sequence[str]) -> None:
        for doc_id in ids:
            at = self.row.get(doc_id)
            if at is not None:
                self._alive[at] = False
        self.version += 1

    def tokens(self) -> list[list[str]]:
        """BM25 tokens of every row; only rows new or changed since the last call are
        tokenized (jieba is the slow part of rebuilding a keyword index)."""
        from pitchcraft.store.keyword import tokenize

        for at, cached in enumerate(self._tokens):
            if cached is None:
                self._tokens[at] = tokenize(self.documents[at])
        return self._tokens  # type: ignore[return-value]

    def groups(self, field: str) -> dict[str, tuple[int, np.ndarray]]:
        """Each value of a text field among live rows: how many rows, and their mean vector."""
        codes = self._codes.get(field)
        if codes is None:
            return {}
        vocab = self._vocab.get(field, {})
        live = self.alive & (codes[: self.rows] >= 0)
        present = codes[: self.rows][live]
        counts = np.bincount(present, minlength=len(vocab))
        sums = np.zeros((len(vocab), self.dim), dtype=np.float64)
        np.add.at(sums, present, self.vectors[live])  # one pass over the rows, not one a value
        return {
            value: (int(counts[code]), (sums[code] / counts[code]).astype(np.float32))
            for value, code in vocab.items()
            if counts[code]
        }

    # -- filters -----------------------------------------------------------------------------

    def mask(self, where: dict[str, Any] | None) -> np.ndarray:
        """Rows that are alive and satisfy `where` (the subset of Chroma's syntax the
        store emits: $and, equality, $in, $gte, $lte)."""
        alive = self.alive.copy()
        return alive if where is None else alive & self._eval(where)

    def _eval(self, where: dict[str, Any]) -> np.ndarray:
        if "$and" in where:
            out = np.ones(self.rows, dtype=bool)
            for clause in where["$and"]:
                out &= self._eval(clause)
            return out
        ((name, cond),) = where.items()
        if not isinstance(cond, dict):
            cond = {"$eq": cond}
        ((op, value),) = cond.items()
        if name in self._codes:
            codes = self._codes[name][: self.rows]
            vocab = self._vocab.get(name, {})
            wanted = [vocab[str(v)] for v in (value if op == "$in" else [value]) if str(v) in vocab]
            if op not in ("$eq", "$in"):
                raise ValueError(f"operator {op} is not supported on text field {name!r}")
            return np.isin(codes, wanted)
        col = self._numeric.get(name)
        if col is None:
            return np.zeros(self.rows, dtype=bool)  # nobody has the field
        col = col[: self.rows]
        with np.errstate(invalid="ignore"):  # NaN (absent) never matches, as in Chroma
            if op == "$eq":
                return col == float(value)
            if op == "$in":
                return np.isin(col, [float(v) for v in value])
            if op == "$gte":
                return col >= float(value)
            if op == "$lte":
                return col <= float(value)
        raise ValueError(f"unsupported filter operator {op}")

    # -- search ------------------------------------------------------------------------------

    def nearest(self, query: np.ndarray, k: int, mask: np.ndarray) -> list[tuple[str, float]]:
        """Exact top-k cosine similarity among rows in `mask` (vectors are unit length)."""
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            return []
        scores = self._vectors[rows] @ query
        top = np.argpartition(-scores, min(k, len(rows)) - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[rows[i]], float(scores[i])) for i in top]
