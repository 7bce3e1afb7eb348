"""ProductStore: the `products` and `knowledge` collections every plugin shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import numpy as np
from pydantic import BaseModel

from pitchcraft.settings import Settings
from pitchcraft.store.collection import (
    IndexedCollection,
    SearchMode,
    StoreError,
    UpsertCounts,
)
from pitchcraft.store.embedders import CachedEmbedder, make_embedder
from pitchcraft.store.remote import Guarded, unavailable
from pitchcraft.store.schema import (
    KnowledgeChunk,
    KnowledgeHit,
    Language,
    Product,
    ProductFilter,
    ProductHit,
)


class StoreStats(BaseModel):
    location: str
    embedder: str
    products: int
    knowledge: int
    categories: dict[str, int]
    languages: dict[str, int]


def chroma_client(settings: Settings) -> Any:
    """PersistentClient on a folder by default; HttpClient when chroma_url is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url is None:
        settings.store_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.store_path), settings=chroma_settings)
    url = urlparse(settings.chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise StoreError(f"chroma_url {settings.chroma_url!r} is not an http(s) URL")
    try:
        client = chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
        client.heartbeat()
    except Exception as err:
        raise unavailable(settings.chroma_url, err) from None
    return Guarded(client, settings.chroma_url)


class ProductStore:
    """Thread-safe; build one per process (the Context does) and share it."""

    def __init__(self, client: Any, embedder: CachedEmbedder, settings: Settings) -> None:
        self.settings = settings
        self.embedder = embedder
        self.location = settings.chroma_url or str(settings.store_path)
        prefix = settings.collection_prefix
        common = {
            "embedder": embedder,
            "rrf_k": settings.rrf_k,
            "weights": (settings.vector_weight, settings.keyword_weight),
        }
        self.products = IndexedCollection(client, f"{prefix}products", Product, **common)
        self.knowledge = IndexedCollection(client, f"{prefix}knowledge", KnowledgeChunk, **common)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProductStore:
        return cls(
            chroma_client(settings), make_embedder(settings.embedder, settings.cache_dir), settings
        )

    # -- products --------------------------------------------------------------------------

    def upsert_products(self, products: Sequence[Product]) -> UpsertCounts:
        return self.products.upsert(products)

    def delete_products(self, ids: Sequence[str]) -> None:
        self.products.delete(ids)

    def get_products(self, ids: Sequence[str]) -> list[Product]:
        return self.products.get(ids)

    def search_products(
        self,
        query: str,
        k: int = 10,
        filters: ProductFilter | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[ProductHit]:
        where = filters.where() if filters else None
        return [
            ProductHit(product=product, **vars(ranked))
            for product, ranked in self.products.search(query, k, where, mode)
        ]

    def product_similarity(
        self, queries: np.ndarray, filters: ProductFilter | None = None
    ) -> tuple[list[str], np.ndarray]:
        """Cosine of every product passing `filters` to each query vector (products x
        queries), for plugins that score the whole filtered catalogue, e.g. against a
        shopper's history."""
        return self.products.similarity(queries, filters.where() if filters else None)

    def product_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored embedding vectors of these products (unknown ids left out)."""
        return self.products.vectors_of(ids)

    def product_groups(self, field: str) -> dict[str, tuple[int, np.ndarray]]:
        """Each value of a product text field (category, brand): how many products have it and
        the mean of their vectors."""
        return self.products.groups(field)

    def product_revision(self) -> tuple[int, int]:
        """Changes whenever the products change, so indexes built from them know to rebuild."""
        return self.products.revision()

    def embed_query(self, text: str) -> np.ndarray:
        return self.embedder.embed_query(text)

    # -- knowledge -------------------------------------------------------------------------

    def replace_source(self, source: str, chunks: Sequence[KnowledgeChunk]) -> UpsertCounts:
        """Make `source`'s chunks exactly `chunks`: upsert them, delete ones no longer there."""
        counts = self.knowledge.upsert(chunks)
        self.knowledge.delete_where({"source": source}, keep=[c.id for c in chunks])
        return counts

    def search_knowledge(
        self,
        query: str,
        k: int = 5,
        language: Language | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[KnowledgeHit]:
        where = {"language": language} if language else None
        return [
            KnowledgeHit(chunk=chunk, **vars(ranked))
            for chunk, ranked in self.knowledge.search(query, k, where, mode)
        ]

    # -- housekeeping ----------------------------------------------------------------------

    def stats(self) -> StoreStats:
        categories: dict[str, int] = {}
        languages: dict[str, int] = {}
        for page in self.products.pages(["metadatas"]):
            for meta in page["metadatas"]:
                cat = str(meta.get("category") or "(none)")
                categories[cat] = categories.get(cat, 0) + 1
                lang = str(meta.get("language"))
                languages[lang] = languages.get(lang, 0) + 1
        return StoreStats(
            location=self.location,
            embedder=self.embedder.model_id,
            products=sum(categories.values()),
            knowledge=self.knowledge.count(),
            categories=dict(sorted(categories.items(), key=lambda kv: -kv[1])),
            languages=languages,
        )
