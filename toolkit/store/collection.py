"""One Chroma collection of typed records, searchable by vector, keyword (BM25) and both.

Fusion (hybrid mode) is weighted reciprocal rank fusion:
    score(d) = w_vec / (rrf_k + rank_vec(d)) + w_kw / (rrf_k + rank_kw(d))
over the top `candidates` of each retriever (a retriever that misses d adds 0).
Ranks, not raw scores, are fused because cosine similarities and BM25 scores
live on unrelated scales.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel

from pitchcraft.errors import DependencyUnavailable, PitchcraftError
from pitchcraft.store.embedders import CachedEmbedder
from pitchcraft.store.keyword import KeywordIndex
from pitchcraft.store.mirror import Mirror
from pitchcraft.store.schema import Record

R = TypeVar("R", bound=Record)
SearchMode = Literal["hybrid", "vector", "keyword"]
SCHEMA_VERSION = 1
PAGE = 5000
# Up to this many rows passing a filter, exact numpy search (gathering rows costs ~1 ms per 1k).
EXACT_LIMIT = 8_000
# Over-fetch of unfiltered HNSW results under a broader filter (99.5% agree with exact at 100k).
OVERFETCH = 6.0
FRESHNESS_S = 2.0  # how often to ask Chroma whether another process changed the collection


class StoreError(PitchcraftError):
    pass


class StoreUnavailable(StoreError, DependencyUnavailable):
    """The Chroma server cannot be reached."""

    dependency = "store"


class UpsertCounts(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


@dataclass
class Ranked:
    id: str
    score: float
    vector_rank: int | None = None
    keyword_rank: int | None = None
    similarity: float | None = None


def open_collection(client: Any, name: str, embedder: CachedEmbedder) -> Any:
    """Get or create `name`, refusing a collection built with another embedding model."""
    try:
        col = client.get_collection(name)
    except Exception:  # chromadb raises NotFoundError (or ValueError in older servers)
        try:
            col = client.create_collection(
                name,
                metadata={
                    "embedder": embedder.model_id,
                    "dim": embedder.dim,
                    "schema_version": SCHEMA_VERSION,
                },
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        except Exception:  # another process created it in between
            col = client.get_collection(name)
    built_with = (col.metadata or {}).get("embedder")
    if built_with != embedder.model_id:
        raise StoreError(
            f"collection {name!r} was built with embedder {built_with!r} but the settings "
            f"select {embedder.model_id!r}; vectors from different models are not comparable. "
            "Use the same PITCHCRAFT_EMBEDDER, or another PITCHCRAFT_COLLECTION_PREFIX / "
            "store folder and ingest again."
        )
    return col


class IndexedCollection(Generic[R]):
    def __init__(
        self,
        client: Any,
        name: str,
        record_type: type[R],
        embedder: CachedEmbedder,
        rrf_k: int = 60,
        weights: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        self.name = name
        self.record_type = record_type
        self.embedder = embedder
        self.rrf_k = rrf_k
        self.vector_weight, self.keyword_weight = weights
        self._col = open_collection(client, name, embedder)
        self._lock = threading.RLock()
        self._mirror: Mirror | None = None
        self._checked_at = 0.0  # monotonic time the mirror was last compared with Chroma
        self._keyword: tuple[int, KeywordIndex] | None = None  # (mirror version, index)

    # -- writes ----------------------------------------------------------------------------

    def upsert(self, records: Sequence[R]) -> UpsertCounts:
        """Insert or update by id. Records whose content is unchanged are not re-embedded."""
        counts = UpsertCounts()
        if not records:
            return counts
        with self._lock:
            stored = self._stored_hashes([r.id for r in records])
            changed = [r for r in records if stored.get(r.id) != r.content_hash()]
            counts.unchanged = len(records) - len(changed)
            counts.updated = sum(1 for r in changed if r.id in stored)
            counts.added = len(changed) - counts.updated
            if changed:
                texts = [r.search_text() for r in changed]
                vectors = self.embedder.embed(texts)
                ids = [r.id for r in changed]
                metadatas = [self._metadata(r) for r in changed]
                self._col.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=metadatas)
                if self._mirror is not None:
                    fields = [r.filter_fields() for r in changed]
                    payloads = [m["record"] for m in metadatas]
                    self._mirror.put(ids, vectors, texts, fields, payloads)
        return counts

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            with self._lock:
                self._col.delete(ids=list(ids))
                if self._mirror is not None:
                    self._mirror.remove(ids)

    def delete_where(self, where: dict[str, Any], keep: Sequence[str] = ()) -> int:
        """Delete records matching `where` except ids in `keep`; returns how many went."""
        kept = set(keep)
        with self._lock:
            ids = [i for i in self._col.get(where=where, include=[])["ids"] if i not in kept]
            self.delete(ids)
        return len(ids)

    @staticmethod
    def _metadata(record: Record) -> dict[str, Any]:
        return {
            **record.filter_fields(),
            "content_sha": record.content_hash(),
            "record": record.model_dump_json(),
        }

    def _stored_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        got = self._col.get(ids=list(ids), include=["metadatas"])
        return {
            i: m.get("content_sha", "") for i, m in zip(got["ids"], got["metadatas"], strict=True)
        }

    # -- reads -----------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._col.count())

    def pages(self, include: list[str], total: int | None = None) -> Iterator[dict[str, Any]]:
        """The whole collection, PAGE records at a time (Chroma `get` results)."""
        for offset in range(0, self.count() if total is None else total, PAGE):
            yield self._col.get(include=include, limit=PAGE, offset=offset)  # type: ignore[arg-type]

    def get(self, ids: Sequence[str]) -> list[R]:
        """Records for `ids`, in the order asked; unknown ids are left out."""
        if not ids:
            return []
        got = self._col.get(ids=list(ids), include=["metadatas"])
        by_id = {
            i: self.record_type.model_validate_json(m["record"])
            for i, m in zip(got["ids"], got["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    def similarity(
        self, queries: np.ndarray, where: dict[str, Any] | None = None
    ) -> tuple[list[str], np.ndarray]:
        """Cosine of every live record satisfying `where` to each query vector (rows x queries)."""
        with self._lock:
            mirror = self.mirror()
            rows = np.flatnonzero(mirror.mask(where))
            scores = mirror.vectors @ queries.T.astype(np.float32)  # no copy of the vectors
            return [mirror.ids[r] for r in rows], scores[rows]

    def revision(self) -> tuple[int, int]:
        """Changes on every write or reload: what derived indexes compare to know they are stale."""
        with self._lock:
            mirror = self.mirror()
            return id(mirror), mirror.version

    def groups(self, field: str) -> dict[str, tuple[int, np.ndarray]]:
        """Each value of a metadata text field: its record count and mean vector."""
        with self._lock:
            return self.mirror().groups(field)

    def vectors_of(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vector of each id that is present."""
        with self._lock:
            mirror = self.mirror()
            rows = {i: mirror.row[i] for i in ids if i in mirror.row}
            return {i: mirror.vectors[r].copy() for i, r in rows.items() if mirror.alive[r]}

    def search(
        self,
        query: str,
        k: int = 10,
        where: dict[str, Any] | None = None,
        mode: SearchMode = "hybrid",
        candidates: int | None = None,
    ) -> list[tuple[R, Ranked]]:
        """Top-k records for `query` satisfying `where`, best first."""
        if not query.strip():
            raise StoreError("the search query is empty")
        if len(self.mirror()) == 0:
            return []
        # Fusion needs a deeper pool from each side than a single-method search does.
        pool = candidates or (max(4 * k, 50) if mode == "hybrid" else k)
        vector = self._vector(query, pool, where) if mode != "keyword" else []
        keyword = self._keyword_search(query, pool, where) if mode != "vector" else []
        if mode == "vector":
            ranked = vector[:k]
        elif mode == "keyword":
            ranked = keyword[:k]
        else:
            ranked = self._fuse(vector, keyword)[:k]
        with self._lock:  # the records of the same snapshot that ranked them
            mirror = self.mirror()
            payloads = [(x, mirror.record_json(x.id)) for x in ranked]
        return [(self.record_type.model_validate_json(p), x) for x, p in payloads if p is not None]

    def _vector(self, query: str, n: int, where: dict[str, Any] | None) -> list[Ranked]:
        vec = self.embedder.embed_query(query)[None, :]
        if where is None:
            found = self._hnsw(vec, n)
        else:
            with self._lock:  # writers may be growing the mirror's arrays
                found = self._filtered_nearest(vec, n, where)
        return [
            Ranked(id=i, score=sim, vector_rank=rank, similarity=sim)
            for rank, (i, sim) in enumerate(found, 1)
        ]

    def _filtered_nearest(self, vec: Any, n: int, where: dict[str, Any]) -> list[tuple[str, float]]:
        mirror = self.mirror()
        mask = mirror.mask(where)
        passing = int(mask.sum())
        if passing <= EXACT_LIMIT:
            found = mirror.nearest(vec[0], n, mask)
        else:  # most rows pass: the unfiltered HNSW neighbours, masked, are enough
            fetch = min(len(mirror), int(n * len(mirror) / passing * OVERFETCH) + n)
            rows = mirror.row
            found = [(i, s) for i, s in self._hnsw(vec, fetch) if i in rows and mask[rows[i]]][:n]
            if len(found) < n:
                found = mirror.nearest(vec[0], n, mask)
        return found

    def _hnsw(self, vec: Any, n: int) -> list[tuple[str, float]]:
        res = self._col.query(query_embeddings=vec, n_results=n, include=["distances"])
        return [(i, 1.0 - d) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def _keyword_search(self, query: str, n: int, where: dict[str, Any] | None) -> list[Ranked]:
        with self._lock:
            index = self.keyword_index()
            mask = self.mirror().mask(where)[: len(index.ids)]
        hits = index.search(query, n, mask)
        return [Ranked(id=i, score=s, keyword_rank=rank) for rank, (i, s) in enumerate(hits, 1)]

    def mirror(self) -> Mirror:
        """The in-process copy (see mirror.py). Local writes keep it current; every
        FRESHNESS_S it is compared with Chroma's count and rebuilt if another process
        (a replica sharing a Chroma server) changed the collection."""
        with self._lock:
            mirror = self._mirror
            now = time.monotonic()
            if mirror is not None and now - self._checked_at < FRESHNESS_S:
                return mirror  # counting costs ~6 ms at 100k rows: not on every query
            self._checked_at = now
            total = self.count()
            if mirror is None or len(mirror) != total:
                mirror = Mirror(self.embedder.dim)
                for page in self.pages(["embeddings", "documents", "metadatas"], total):
                    fields = [
                        {k: v for k, v in m.items() if k not in ("content_sha", "record")}
                        for m in page["metadatas"]
                    ]
                    payloads = [m["record"] for m in page["metadatas"]]
                    mirror.put(page["ids"], page["embeddings"], page["documents"], fields, payloads)
                self._mirror = mirror
            return mirror

    def keyword_index(self) -> KeywordIndex:
        """BM25 over the mirror's rows (same order, so filter masks apply as they are)."""
        with self._lock:
            mirror = self.mirror()
            if self._keyword is None or self._keyword[0] != mirror.version:
                self._keyword = (mirror.version, KeywordIndex(mirror.ids, mirror.tokens()))
            return self._keyword[1]

    def _fuse(self, vector: list[Ranked], keyword: list[Ranked]) -> list[Ranked]:
        fused: dict[str, Ranked] = {}
        for hit in vector:
            fused[hit.id] = Ranked(
                id=hit.id,
                score=self.vector_weight / (self.rrf_k + (hit.vector_rank or 0)),
                vector_rank=hit.vector_rank,
                similarity=hit.similarity,
            )
        for hit in keyword:
            entry = fused.setdefault(hit.id, Ranked(id=hit.id, score=0.0))
            entry.keyword_rank = hit.keyword_rank
            entry.score += self.keyword_weight / (self.rrf_k + (hit.keyword_rank or 0))
        return sorted(fused.values(), key=lambda h: -h.score)
