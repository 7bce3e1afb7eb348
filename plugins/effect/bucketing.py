"""Deterministic assignment of users to variants: the same user always sees the same variant.

sha256 of "experiment:user" picks one of 10,000 buckets; variants own
contiguous bucket ranges in proportion to their planned split. Salting with the
experiment name makes assignments of different experiments independent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

BUCKETS = 10_000


def bucket(user_id: str, experiment: str) -> int:
    digest = hashlib.sha256(f"{experiment}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(user_id: str, experiment: str, variants: Sequence[str], split: Sequence[float]) -> str:
    if len(variants) != len(split) or not variants:
        raise ValueError("need one split share per variant")
    if any(s <= 0 for s in split):
        raise ValueError("split shares must be positive")
    total = sum(split)
    point = bucket(user_id, experiment)
    edge = 0.0
    for name, share in zip(variants, split, strict=True):
        edge += share / total * BUCKETS
        if point < edge:
            return name
    return variants[-1]
