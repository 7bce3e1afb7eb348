"""ModelClient (`ctx.llm`): the one way plugins reach the shared model."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel

from pitchcraft.llm.landing import XARG
from pitchcraft.llm.structured import Structured, public_schema, soft_limits
from pitchcraft.llm.usage import TokenUsage
from pitchcraft.settings import Settings

T = TypeVar("T", bound=BaseModel)


_engines: dict[tuple[Any, ...], Any] = {}
_engines_lock = threading.Lock()


def shared_engine(cache_dir: Path, adapters: dict[str, Path], max_batch: int) -> Any:
    """One local engine per model cache, adapters and batch size in a process: contexts
    built from equal settings share the weights (about 1 GB) and the batching."""
    from pitchcraft.llm.local import LocalEngine

    key = (cache_dir, tuple(sorted(adapters.items())), max_batch)
    with _engines_lock:
        if key not in _engines:
            _engines[key] = LocalEngine(cache_dir, adapters, max_batch=max_batch)
        return _engines[key]


class ModelClient:
    """Chat models and structured output, per task adapter, on the configured backend."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = settings.llm_backend
        self._lock = threading.Lock()
        self._engine: Any = None
        self._remote: Any = None
        self.usage = TokenUsage()
        if self.backend in ("openai", "auto"):
            from pitchcraft.llm.remote import OpenAIBackend

            self._remote = OpenAIBackend(settings)

    def on_server(self) -> bool:
        """Whether a request now goes to the model server: always with `openai`, never with
        `local`; with `auto` while the server answers (the embedded model until then, and
        whenever it stops answering)."""
        if self._remote is None:
            return False
        return self.backend == "openai" or self._remote.answers()

    def in_use(self) -> str:
        """The engine answering now, in words (the demo's banner)."""
        if self.on_server():
            return f"model server {self.settings.llm_url}"
        waiting = " (the model server does not answer yet)" if self._remote is not None else ""
        return f"embedded model{waiting}"

    def engine(self) -> Any:
        """The local engine, loaded on first use (the model folder is prepared once)."""
        with self._lock:
            if self._engine is None:
                from pitchcraft.llm.local import find_adapters

                self._engine = shared_engine(
                    self.settings.cache_dir,
                    find_adapters(self.settings.adapters_dir),
                    self.settings.local_max_batch,
                )
            return self._engine

    def chat(
        self,
        adapter: str | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> BaseChatModel:
        """A LangChain chat model; `adapter` names a task LoRA (copy, reasons, support, reviews);
        a sampled model (`temperature` > 0) with a `seed` gives the same reply each time."""
        tokens = max_tokens or self.settings.llm_max_tokens
        if not self.settings.llm_adapters:
            adapter = None
        counter = [self.usage.handler(adapter)]
        if self.on_server():
            assert self._remote is not None
            model: BaseChatModel = self._remote.chat(adapter, tokens, temperature, seed)
            model.callbacks = counter
            return model
        from pitchcraft.llm.chat_local import LocalChatModel

        return LocalChatModel(
            engine=self.engine(),
            adapter=adapter,
            max_tokens=tokens,
            temperature=temperature,
            seed=seed,
            callbacks=counter,
        )

    def structured(
        self,
        schema: type[T],
        adapter: str | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Structured[T]:
        """`.invoke(prompt)` returns a validated `schema` instance."""
        from pitchcraft.llm.chat_local import LocalChatModel

        model: Any = self.chat(adapter, max_tokens, temperature, seed)
        json_schema = schema.model_json_schema()
        if self._remote is not None and not isinstance(model, LocalChatModel):
            # the server constrains decoding to the schema (vLLM: xgrammar)
            body: dict[str, Any] = {"structured_outputs": {"json": public_schema(json_schema)}}
            if limits := soft_limits(json_schema):  # a server pitchcraft started lands by them
                body["vllm_xargs"] = {XARG: json.dumps(limits)}
            model = model.bind(extra_body=body)
        else:  # so does the local engine (lm-format-enforcer), landing soft limits
            model = model.bind(json_schema=json_schema)
        return Structured(model, schema, self.settings.structured_retries)

    def serves(self, adapter: str) -> bool:
        """Whether requests for `adapter` get it (else they fall back to the base model)."""
        if not self.settings.llm_adapters:
            return False
        if self.on_server():
            assert self._remote is not None
            return adapter in {m["id"] for m in self._remote.served()}
        from pitchcraft.llm.local import find_adapters

        return adapter in find_adapters(self.settings.adapters_dir)

    def ping(self) -> str:
        """Raises when the model cannot serve; returns what answers."""
        if self.on_server():
            assert self._remote is not None
            return self._remote.base_model()
        self.engine()  # with `auto`: the embedded model serves until the server answers
        return "local"
