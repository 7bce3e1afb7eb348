"""Running counts of what plugins' results say about themselves (who wrote an answer, why a
conversation was handed over, which attack was refused), kept per process for /metrics."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

OutcomeLabel = tuple[str, str]  # (kind, value), e.g. ("refused", "prompt_injection")


class OutcomeCounts:
    """Thread-safe totals by (plugin, kind, value)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, plugin: str, outcomes: Iterable[OutcomeLabel]) -> None:
        with self._lock:
            for kind, value in outcomes:
                self._counts[(plugin, kind, value)] += 1

    def totals(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            return dict(self._counts)
