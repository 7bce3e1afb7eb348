"""The `local` backend: the embedded model in-process, shared by every plugin and thread.

Requests from any number of threads go through one queue; a worker gathers
those that arrive within a short window into one left-padded `generate` call,
so concurrent plugin calls cost little more than one. LoRA adapters load by
name from the adapters folder, merged into the weights they change (the merged folder
`model serve --merge` also serves, made once and cached); a batch runs on one set of
weights at a time, swapped by reference, so every adapter runs at the base model's speed
(peft's unmerged layers ran at about 0.6 of it here, base rows included once one was loaded).
A batch mixing adapters is one generate call per adapter. A request may ask for its text
as it is generated (`on_text`); the rest of its batch is not slowed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pitchcraft.errors import PitchcraftError
from pitchcraft.heap import trim_heap
from pitchcraft.llm.base_model import base_model_dir, compute_dtype_name
from pitchcraft.llm.merge import merged_model_dir

log = logging.getLogger(__name__)


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    adapter: str | None


@dataclass
class _Request:
    messages: list[dict[str, str]]
    max_new_tokens: int
    temperature: float
    adapter: str | None
    json_schema: dict[str, Any] | None = None
    on_text: Callable[[str], None] | None = None
    seed: int | None = None
    future: Future[Generation] = field(default_factory=Future)


def find_adapters(folder: Path) -> dict[str, Path]:
    """{name: path} for each sub-folder holding a peft adapter_config.json."""
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if (p / "adapter_config.json").is_file()}


class RowStreamer:
    """A `generate` streamer for a batch: each row that asked for it hears its new text.

    Text is passed on only once it decodes cleanly (a Chinese character may take several
    tokens), and nothing after a row's end-of-sequence or its own token limit."""

    def __init__(self, tokenizer: Any, group: list[_Request], stop_ids: set[int]) -> None:
        self.tokenizer = tokenizer
        self.stop_ids = stop_ids
        self.rows = {i: r for i, r in enumerate(group) if r.on_text is not None}
        self.tokens: dict[int, list[int]] = {i: [] for i in self.rows}
        self.sent: dict[int, int] = dict.fromkeys(self.rows, 0)
        self.done: set[int] = set()
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate hands over the prompt first
            self.prompt_seen = True
            return
        step = value.reshape(-1).tolist()
        for row, request in self.rows.items():
            tokens = self.tokens[row]
            if row in self.done or step[row] in self.stop_ids:
                self.done.add(row)
                continue
            tokens.append(step[row])
            if len(tokens) >= request.max_new_tokens:
                self.done.add(row)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            if text.endswith("\ufffd"):  # half a character so far
                continue
            if len(text) > self.sent[row]:
                self._send(row, request, text[self.sent[row] :])
                self.sent[row] = len(text)

    def _send(self, row: int, request: _Request, text: str) -> None:
        try:
            if request.on_text is not None:
                request.on_text(text)
        except Exception:  # a listener's fault must not fail the batch
            log.exception("a text listener failed; it hears no more")
            self.done.add(row)

    def end(self) -> None:
        pass


TOP_K, TOP_P = 50, 0.95  # the candidates a sampled token is drawn from


class RowSampler:
    """Logits processor that picks each row's next token itself: the most likely one for a
    row at temperature 0, else one drawn (temperature, top-k, top-p) with the row's own
    generator, seeded when its request has a seed. `generate` then decodes greedily over the
    picks, so a seeded row draws the same tokens whatever rows share its batch."""

    def __init__(self, temperatures: list[float], seeds: list[int | None]) -> None:
        self.temperatures = temperatures
        self.seeds = seeds
        self.generators: list[Any] = []

    def _generator(self, row: int, device: Any) -> Any:
        import torch

        while len(self.generators) <= row:
            generator = torch.Generator(device=device)
            seed = self.seeds[len(self.generators)]
            if seed is None:
                generator.seed()
            else:
                generator.manual_seed(seed)
            self.generators.append(generator)
        return self.generators[row]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        picks = torch.argmax(scores, dim=-1)
        for row, temperature in enumerate(self.temperatures):
            if temperature <= 0:
                continue
            top, ids = torch.topk(scores[row].float() / temperature, TOP_K)
            probs = torch.softmax(top, dim=-1)
            probs[torch.cumsum(probs, dim=-1) - probs >= TOP_P] = 0  # past top-p
            drawn = torch.multinomial(probs, 1, generator=self._generator(row, scores.device))
            picks[row] = ids[drawn[0]]
        chosen = torch.full_like(scores, float("-inf"))
        chosen.scatter_(1, picks.unsqueeze(1), 0.0)
        return chosen


def changed_tensors(folder: Path, base: dict[str, Any]) -> dict[str, Any]:
    """The tensors of a merged model folder that differ from the base model's `base` (name:
    tensor), in the base's dtype and device: what the merged adapter changed."""
    import torch
    from safetensors import safe_open

    changed = {}
    for file in sorted(folder.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as tensors:
            for name in tensors.keys():  # noqa: SIM118 (safe_open is not a dict)
                if name in base:
                    merged = tensors.get_tensor(name).to(base[name].device, base[name].dtype)
                    if not torch.equal(merged, base[name]):
                        changed[name] = merged
    return changed


class LocalEngine:
    def __init__(
        self,
        cache_dir: Path,
        adapters: dict[str, Path],
        max_batch: int = 16,
        gather_window_s: float = 0.02,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.cache_dir = cache_dir
        self.model_dir = model_dir = base_model_dir(cache_dir)
        self.adapters = dict(adapters)
        self.max_batch = max_batch
        self.gather_window_s = gather_window_s
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.tokenizer.padding_side = "left"
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = getattr(torch, compute_dtype_name(cuda=self.device == "cuda"))
        self.model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
        self.model.to(self.device).eval()
        self._parameters = dict(self.model.named_parameters())
        self._base = {name: p.data for name, p in self._parameters.items()}
        self._merged: dict[str, dict[str, Any]] = {}  # adapter: the tensors it changes
        self._active: str | None = None  # whose weights the model holds now
        self._token_data: Any = None  # for constrained decoding, built on first need
        self._warned: set[str] = set()
        self._queue: queue.Queue[_Request] = queue.Queue()
        self.batches = 0  # generate calls made, for tests and benchmarks
        self._worker = threading.Thread(target=self._loop, name="pitchcraft-local-llm", daemon=True)
        self._worker.start()

    # -- public ------------------------------------------------------------------------------

    def generate(self, *args: Any, **kwargs: Any) -> Generation:
        """`submit`, waiting for the Generation. Blocking; safe from any thread."""
        return self.submit(*args, **kwargs).result()

    def submit(
        self,
        messages: list[dict[str, str]],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        adapter: str | None = None,
        json_schema: dict[str, Any] | None = None,
        on_text: Callable[[str], None] | None = None,
        seed: int | None = None,
    ) -> Future[Generation]:
        """Queue a request; the Generation arrives in the returned future. Concurrent requests
        are batched together. With `json_schema` the reply is constrained to JSON matching
        it; `on_text` is called (on the engine's thread) with each new piece of text. A
        sampled request with a `seed` draws its tokens from its own generator, so the batch
        it shares does not change them."""
        request = _Request(
            messages,
            max_new_tokens,
            temperature,
            self._resolve(adapter),
            json_schema,
            on_text,
            seed,
        )
        self._queue.put(request)
        return request.future

    def _resolve(self, adapter: str | None) -> str | None:
        if adapter is None or adapter in self.adapters:
            return adapter
        if adapter not in self._warned:
            self._warned.add(adapter)
            log.warning("no LoRA adapter %r in the adapters folder; using the base model", adapter)
        return None

    # -- worker ------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            deadline = time.monotonic() + self.gather_window_s
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=remaining))
                except queue.Empty:
                    break
            try:  # each row keeps its adapter, schema, temperature and seed
                for req, result in zip(batch, self._run(batch), strict=True):
                    req.future.set_result(result)
            except Exception as err:  # every waiter hears about it; the worker lives on
                wrapped = PitchcraftError(f"local model failed: {type(err).__name__}: {err}")
                for req in batch:
                    if not req.future.done():
                        req.future.set_exception(wrapped)
            trim_heap()

    def _use(self, adapter: str | None) -> None:
        """Point the model's parameters at `adapter`'s merged tensors (None: the base's)."""
        if adapter == self._active:
            return
        for name in self._merged.get(self._active or "", {}):
            self._parameters[name].data = self._base[name]
        self._active = None  # the base's now, also if the merge below fails
        if adapter is not None:
            if adapter not in self._merged:
                folder = merged_model_dir(self.cache_dir, adapter, self.adapters[adapter])
                self._merged[adapter] = changed_tensors(folder, self._base)
                if not self._merged[adapter]:
                    log.warning("adapter %r changes no weight of the base model", adapter)
            for name, tensor in self._merged[adapter].items():
                self._parameters[name].data = tensor
        self._active = adapter

    def _run(self, batch: list[_Request]) -> list[Generation]:
        """One generate call for each adapter's rows (first seen, first run), in batch order."""
        rows: dict[str | None, list[int]] = {}
        for index, request in enumerate(batch):
            rows.setdefault(request.adapter, []).append(index)
        results: list[Generation] = [None] * len(batch)  # type: ignore[list-item]
        for adapter, indices in rows.items():
            self._use(adapter)
            for index, result in zip(
                indices, self._generate([batch[i] for i in indices]), strict=True
            ):
                results[index] = result
        return results

    def _generate(self, group: list[_Request]) -> list[Generation]:
        import torch

        prompts = [
            self.tokenizer.apply_chat_template(
                r.messages, add_generation_prompt=True, tokenize=False
            )
            for r in group
        ]
        inputs = self.tokenizer(prompts, return_tensors="pt", padding=True).to(self.device)
        extra: dict[str, Any] = {}
        processors: list[Any] = []
        if any(r.json_schema is not None for r in group):
            from pitchcraft.llm.constrained import SchemaMask, tokenizer_data

            if self._token_data is None:
                self._token_data = tokenizer_data(self.tokenizer)
            processors.append(SchemaMask(self._token_data, [r.json_schema for r in group]))
        if any(r.temperature > 0 for r in group):  # greedy rows stay greedy beside them
            temperatures = [r.temperature for r in group]
            processors.append(RowSampler(temperatures, [r.seed for r in group]))
        if processors:  # the schema's mask first: the sampler draws among allowed tokens
            from transformers import LogitsProcessorList

            extra["logits_processor"] = LogitsProcessorList(processors)
        eos = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        if any(r.on_text is not None for r in group):
            extra["streamer"] = RowStreamer(self.tokenizer, group, eos)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=max(r.max_new_tokens for r in group),
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                do_sample=False,
                **extra,
            )
        self.batches += 1
        prompt_len = inputs["input_ids"].shape[1]
        results = []
        for row, req in enumerate(group):
            new = output[row, prompt_len:].tolist()[: req.max_new_tokens]
            cut = next((i for i, tok in enumerate(new) if tok in eos), len(new))
            results.append(
                Generation(
                    text=self.tokenizer.decode(new[:cut], skip_special_tokens=True).strip(),
                    prompt_tokens=int(inputs["attention_mask"][row].sum()),
                    completion_tokens=cut,
                    adapter=req.adapter,
                )
            )
        return results
