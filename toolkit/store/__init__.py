"""The shared product vector store: Chroma + offline embeddings + BM25, behind ProductStore."""

from pitchcraft.store.collection import SearchMode, StoreError, StoreUnavailable, UpsertCounts
from pitchcraft.store.schema import (
    KnowledgeChunk,
    KnowledgeHit,
    Product,
    ProductFilter,
    ProductHit,
)
from pitchcraft.store.store import ProductStore, StoreStats

__all__ = [
    "KnowledgeChunk",
    "KnowledgeHit",
    "Product",
    "ProductFilter",
    "ProductHit",
    "ProductStore",
    "SearchMode",
    "StoreError",
    "StoreStats",
    "StoreUnavailable",
    "UpsertCounts",
]
