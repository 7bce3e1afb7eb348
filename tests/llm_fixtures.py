"""The real embedded model, shared by the model tests, and a LoRA adapter made for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit import Settings
from toolkit.llm import ModelClient
from toolkit.llm.base_model import base_model_dir

MODEL_CACHE = Path.home() / ".cache" / "pitchcraft"  # prepared once per machine, ~1 min


@pytest.fixture(scope="session")
def adapters_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rank-8 LoRA named `copy`, randomly initialised so that it visibly changes outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("adapters")
    base = AutoModelForCausalLM.from_pretrained(base_model_dir(MODEL_CACHE), dtype=torch.bfloat16)
    torch.manual_seed(0)
    config = LoraConfig(
        r=8,
        lora_alpha=16,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        init_lora_weights=False,
    )
    get_peft_model(base, config).save_pretrained(folder / "copy")
    return folder


@pytest.fixture(scope="session")
def local_llm(adapters_dir: Path) -> ModelClient:
    return ModelClient(Settings(cache_dir=MODEL_CACHE, adapters_dir=adapters_dir))
