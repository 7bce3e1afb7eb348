"""Model tokens counted per adapter, from every chat model ModelClient hands out."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult


class TokenUsage:
    """Running totals {(adapter, "prompt"|"completion"): tokens}; thread-safe."""

    def __init__(self) -> None:
        self._totals: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._lock = threading.Lock()

    def add(self, adapter: str, prompt: int, completion: int) -> None:
        with self._lock:
            self._totals[(adapter, "prompt")] += prompt
            self._totals[(adapter, "completion")] += completion

    def totals(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._totals)

    def handler(self, adapter: str | None) -> BaseCallbackHandler:
        return _Counter(self, adapter or "base")


class _Counter(BaseCallbackHandler):
    def __init__(self, usage: TokenUsage, adapter: str) -> None:
        self.usage = usage
        self.adapter = adapter

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generations in response.generations:
            for generation in generations:
                meta = getattr(getattr(generation, "message", None), "usage_metadata", None)
                if meta:
                    self.usage.add(self.adapter, meta["input_tokens"], meta["output_tokens"])
