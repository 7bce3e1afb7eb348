"""The real embedded model, shared by the model tests, and LoRA adapters made for them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pitchcraft import Settings
from pitchcraft.finetune.data import Example
from pitchcraft.finetune.train import TrainReport
from pitchcraft.llm import ModelClient
from pitchcraft.llm.base_model import base_model_dir

MODEL_CACHE = Path.home() / ".cache" / "pitchcraft"  # prepared once per machine, ~1 min
SHIPPED_ADAPTERS = Path(__file__).resolve().parent.parent / "adapters"


CODES = ["teal", "amber", "crimson", "olive", "navy", "coral", "ivory", "maroon", "violet"]
CODES += ["jade", "ochre", "plum", "sage", "rust"]


@dataclass
class TunedRun:
    """`pitchcraft finetune`'s loop run for 8 CPU steps, then resumed to 16, on a tiny slice:
    each product's answer is its code, e.g. `PITCHCRAFT-TEAL`."""

    examples: list[Example]
    first: TrainReport
    second: TrainReport
    progress: list[tuple[int, int, str]]
    adapter: Path


@pytest.fixture(scope="session")
def tuned_run(tmp_path_factory: pytest.TempPathFactory) -> TunedRun:
    from pitchcraft.finetune.train import TrainSettings, finetune

    examples = [
        Example.model_validate(
            {
                "messages": [
                    {"role": "user", "content": f"Product {i}: its code?"},
                    {"role": "assistant", "content": f"PITCHCRAFT-{code.upper()}"},
                ]
            }
        )
        for i, code in enumerate(CODES)
    ]
    folder = tmp_path_factory.mktemp("tuned")
    fast = {"learning_rate": 1e-3, "batch_size": 4, "accumulate": 1, "eval_every": 4}
    model_dir, adapter, work = base_model_dir(MODEL_CACHE), folder / "codes", folder / "work"
    seen: list[tuple[int, int, str]] = []

    def run(steps: int, progress: Any = None) -> TrainReport:
        settings = TrainSettings(max_steps=steps, warmup_steps=0, **fast)
        return finetune("codes", examples, model_dir, adapter, work, settings, progress)

    first = run(8, lambda *update: seen.append(update))
    return TunedRun(examples, first, run(16), seen, adapter)


@pytest.fixture(scope="session")
def adapters_dir(tmp_path_factory: pytest.TempPathFactory, tuned_run: TunedRun) -> Path:
    """A rank-8 LoRA named `scrambled`, randomly initialised so that it visibly changes outputs,
    the fine-tuned `codes` adapter, and the shipped task adapters."""
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
    get_peft_model(base, config).save_pretrained(folder / "scrambled")
    shutil.copytree(tuned_run.adapter, folder / "codes")
    for shipped in shipped_adapters():
        shutil.copytree(shipped, folder / shipped.name)
    return folder


def shipped_adapters() -> list[Path]:
    """The trained task adapters in the repository's adapters/ folder."""
    return sorted(p.parent for p in SHIPPED_ADAPTERS.glob("*/adapter_config.json"))


@pytest.fixture(scope="session")
def local_llm(adapters_dir: Path) -> ModelClient:
    return ModelClient(Settings(cache_dir=MODEL_CACHE, adapters_dir=adapters_dir))


@pytest.fixture(scope="session")
def vllm_url(adapters_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real vLLM server (CPU wheel in its own cached virtualenv) serving the base model
    and the test adapters on 127.0.0.1; stopped when the session ends."""
    from pitchcraft.llm import serve
    from tests.store_fixtures import free_port

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


def server_settings(folder: Path, adapters_dir: Path, llm_url: str, **extra: Any) -> Settings:
    """Settings of a store in `folder` whose model calls go to the server(s) at `llm_url`."""
    return Settings(
        store_path=folder / "chroma",
        cache_dir=MODEL_CACHE,
        adapters_dir=adapters_dir,
        llm_backend="openai",
        llm_url=llm_url,
        **extra,
    )
