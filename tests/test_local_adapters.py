"""The local engine's adapter weights: merged tensors swapped in by reference and back."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pitchcraft.errors import PitchcraftError
from pitchcraft.llm.local import LocalEngine, changed_tensors


def engine_over(model: torch.nn.Module, merged: dict[str, dict[str, torch.Tensor]]) -> LocalEngine:
    """A LocalEngine's weight bookkeeping over a small module (no model folder)."""
    engine = object.__new__(LocalEngine)
    engine.cache_dir = Path("/nonexistent")
    engine.adapters = {name: Path("/nonexistent") / name for name in [*merged, "broken"]}
    engine._parameters = dict(model.named_parameters())
    engine._base = {name: p.data for name, p in engine._parameters.items()}
    engine._merged = dict(merged)
    engine._active = None
    return engine


def test_an_adapters_tensors_swap_in_and_the_base_comes_back() -> None:
    model = torch.nn.Linear(2, 2)
    base_weight, base_bias = model.weight.data_ptr(), model.bias.data_ptr()
    engine = engine_over(model, {"copy": {"weight": torch.ones(2, 2)}})
    engine._use("copy")
    assert torch.equal(model.weight, torch.ones(2, 2)) and model.bias.data_ptr() == base_bias
    engine._use(None)
    assert model.weight.data_ptr() == base_weight  # the same memory: nothing was copied


def test_a_failed_merge_leaves_the_base_weights_known_to_be_in_place() -> None:
    model = torch.nn.Linear(2, 2)
    base_weight = model.weight.data_ptr()
    engine = engine_over(model, {"copy": {"weight": torch.ones(2, 2)}})
    engine._use("copy")
    with pytest.raises(PitchcraftError):  # no such adapter folder to merge
        engine._use("broken")
    assert model.weight.data_ptr() == base_weight and engine._active is None
    engine._use("copy")  # asked again, it is swapped in again
    assert torch.equal(model.weight, torch.ones(2, 2))


def test_only_the_tensors_a_merge_changed_are_kept(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    base = {"a": torch.zeros(2), "b": torch.ones(2)}
    save_file({"a": torch.zeros(2), "b": torch.full((2,), 2.0)}, str(tmp_path / "m.safetensors"))
    changed = changed_tensors(tmp_path, base)
    assert list(changed) == ["b"] and torch.equal(changed["b"], torch.full((2,), 2.0))
