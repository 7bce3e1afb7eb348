"""The real embedded model, shared by the model tests, and a LoRA adapter made for them."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def vllm_url(adapters_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real vLLM server (CPU wheel in its own cached virtualenv) serving the base model
    and the `copy` adapter on 127.0.0.1; stopped when the session ends."""
    from tests.store_fixtures import free_port
    from toolkit.llm import serve

    run_dir = tmp_path_factory.mktemp("vllm")
    settings = Settings(cache_dir=MODEL_CACHE, adapters_dir=adapters_dir)
    state = serve.start(settings, "127.0.0.1", free_port(), wait_s=900, run_dir=run_dir)
    yield state.url
    serve.stop(settings, run_dir=run_dir)


@pytest.fixture(params=["local", "vllm"])
def llm(request: pytest.FixtureRequest, adapters_dir: Path) -> ModelClient:
    """The same client interface on both backends."""
    if request.param == "local":
        return request.getfixturevalue("local_llm")
    url = request.getfixturevalue("vllm_url")
    return ModelClient(
        Settings(
            cache_dir=MODEL_CACHE, adapters_dir=adapters_dir, llm_backend="openai", llm_url=url
        )
    )
