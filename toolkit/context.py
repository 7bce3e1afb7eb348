"""What a plugin receives: settings, prompts and shared resources, built lazily and once."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from pitchcraft.errors import PitchcraftError, PluginNotFound, describe_fields, field_errors
from pitchcraft.outcomes import OutcomeCounts
from pitchcraft.prompt_loader import SHIPPED_PROMPTS, PromptLoader
from pitchcraft.settings import Settings

if TYPE_CHECKING:
    from pitchcraft.llm import ModelClient
    from pitchcraft.plugin import Plugin
    from pitchcraft.store import ProductStore

T = TypeVar("T")
A = TypeVar("A")
M = TypeVar("M", bound=BaseModel)


class Context:
    """Shared by every plugin and every thread of one process.

    Heavy resources (models, stores, trained artefacts) are built on first use
    through `shared`, which guarantees one build per key even when many
    threads ask at once, without one slow build blocking unrelated keys.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        plugin_prompt_dirs: Iterable[Path] = (),
        plugins: Callable[[str], Plugin[Any, Any]] | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings()
        self.log = logging.getLogger("pitchcraft")
        self._plugin_prompt_dirs = list(plugin_prompt_dirs)
        self._find_plugin = plugins
        self._resources: dict[str, Any] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.outcomes = OutcomeCounts()  # what results said about themselves (Plugin.outcomes)

    def shared(self, key: str, factory: Callable[[], T]) -> T:
        """Return the resource stored under `key`, building it with `factory` the first time."""
        if key in self._resources:
            return cast(T, self._resources[key])
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._resources:
                self._resources[key] = factory()
        return cast(T, self._resources[key])

    def call(self, plugin: str, request: dict[str, Any]) -> BaseModel:
        """Run another plugin by name through its public contract (Input in, Output out), in
        this context; raises PluginNotFound when it is not loaded, its error when it fails.
        Plugins use each other only this way, never through each other's modules."""
        target = self._plugin(plugin)
        outcome = target.run_checked(target.parse_input(request), self)
        if isinstance(outcome, PitchcraftError):
            raise outcome
        return outcome

    def _plugin(self, name: str) -> Plugin[Any, Any]:
        if self._find_plugin is None:
            raise PluginNotFound(
                name, [], load_error="this Context has no registry (use Registry.context())"
            )
        return self._find_plugin(name)

    def options(self, plugin: str, model: type[M]) -> M:
        """The plugin's `plugin_options` from settings, validated as `model` (once)."""

        def build() -> M:
            raw = self.settings.plugin_options.get(plugin, {})
            try:
                return model.model_validate(raw)
            except ValidationError as err:
                bad = describe_fields(field_errors(err))
                raise PitchcraftError(f"settings plugin_options.{plugin}: {bad}") from None

        return self.shared(f"{plugin}.options", build)

    def parallel(self, fn: Callable[[A], T], items: Sequence[A], workers: int = 0) -> list[T]:
        """`fn` over `items` on threads (`workers`, else settings.concurrency), results in
        order; the model batches their calls. Each thread runs in a copy of the caller's
        context variables, so a chat's draft listener hears the model there too."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        contexts = [contextvars.copy_context() for _ in items]
        size = min(len(items), workers or self.settings.concurrency)
        with ThreadPoolExecutor(max_workers=max(1, size)) as pool:
            return list(pool.map(lambda c, item: c.run(fn, item), contexts, items))

    def completed(
        self, fn: Callable[[A], T], items: Sequence[A], workers: int = 0
    ) -> Iterator[tuple[int, T]]:
        """(index, result) of `fn` over `items` as each finishes, `workers` (else
        settings.concurrency) at a time: a slow item holds up no other, unlike a chunk that
        waits for its slowest. Closing the iterator early drops the items not started."""
        contexts = [contextvars.copy_context() for _ in items]
        pool = ThreadPoolExecutor(max_workers=max(1, workers or self.settings.concurrency))
        try:
            futures = {
                pool.submit(context.run, fn, item): n
                for n, (context, item) in enumerate(zip(contexts, items, strict=True))
            }
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def is_built(self, key: str) -> bool:
        return key in self._resources

    @property
    def prompts(self) -> PromptLoader:
        def build() -> PromptLoader:
            roots = [self.settings.prompts_dir] if self.settings.prompts_dir else []
            roots += [SHIPPED_PROMPTS, *self._plugin_prompt_dirs]
            return PromptLoader(roots)

        return self.shared("prompts", build)

    @property
    def store(self) -> ProductStore:
        """The shared product store (Chroma folder or server, per settings)."""

        def build() -> ProductStore:
            from pitchcraft.store import ProductStore  # chromadb/onnxruntime: only when used

            return ProductStore.from_settings(self.settings)

        return self.shared("store", build)

    @property
    def llm(self) -> ModelClient:
        """The shared model (local in-process, or a vLLM server, per settings)."""

        def build() -> ModelClient:
            from pitchcraft.llm import ModelClient

            return ModelClient(self.settings)

        return self.shared("llm", build)
