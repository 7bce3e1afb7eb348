"""Review features from the shared model's hidden states: the strong tier's input.

One forward pass of the embedded base model (no generation) over the review alone; the
token states of two middle layers are mean-pooled and each pooled vector is scaled to unit
length. Middle layers, not the last: on held-out Chinese reviews a linear head on layers
14 and 18 (of 24) beat every single layer, and the last layers were the weakest, so the
layers above the deepest one used are not run at all. Vectors are cached by text hash
like the store's embeddings, so a review is read once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pitchcraft.store.embedders import CachedEmbedder

LAYERS = (14, 18)
MAX_TOKENS = 160  # a review's opening carries its verdict; longer reads cost time, not accuracy
BATCH = 16


class ModelStates:
    """An Embedder (pitchcraft.store.embedders.Embedder) over the base model's hidden states."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.model_id = f"{model_dir.name}:states:{'+'.join(map(str, LAYERS))}:mean"
        self._parts: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> tuple[Any, Any]:
        with self._lock:
            if self._parts is None:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer

                from pitchcraft.llm.base_model import compute_dtype_name

                tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
                tokenizer.padding_side = "right"
                dtype = getattr(torch, compute_dtype_name(cuda=False))
                model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=dtype).model
                model.layers = model.layers[: max(LAYERS)]  # deeper layers are never read
                self._parts = (tokenizer, model.eval())
            return self._parts

    @property
    def dim(self) -> int:
        return 896 * len(LAYERS)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        tokenizer, model = self._loaded()
        order = np.argsort([len(t) for t in texts])  # similar lengths batch with less padding
        with torch.inference_mode():
            for start in range(0, len(texts), BATCH):
                rows = order[start : start + BATCH]
                batch = tokenizer(
                    [texts[i] for i in rows],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                )
                states = _layer_outputs(model, batch)
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = [(states[layer].float() * mask).sum(1) / mask.sum(1) for layer in LAYERS]
                blocks = [p / p.norm(dim=1, keepdim=True).clamp_min(1e-12) for p in pooled]
                out[rows] = torch.cat(blocks, dim=1).numpy()
        return out


def _layer_outputs(model: Any, batch: Any) -> dict[int, Any]:
    """The raw outputs of the LAYERS (hooks: the model's own hidden_states give its last
    layer after the final norm, which would change the deepest one once the rest is cut)."""
    seen: dict[int, Any] = {}
    hooks = [
        model.layers[layer - 1].register_forward_hook(
            lambda _m, _i, out, layer=layer: seen.__setitem__(
                layer, out[0] if isinstance(out, tuple) else out
            )
        )
        for layer in LAYERS
    ]
    try:
        model(**batch)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def states_embedder(cache_dir: Path) -> CachedEmbedder:
    """The hidden-state features of the prepared base model, cached under `cache_dir`."""
    from pitchcraft.llm.base_model import base_model_dir

    return CachedEmbedder(
        ModelStates(base_model_dir(cache_dir)), cache_dir / "review-states.sqlite"
    )
