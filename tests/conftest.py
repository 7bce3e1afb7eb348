from __future__ import annotations

import os
from pathlib import Path

import pytest

from pitchcraft import Context, Registry, Settings

REPO = Path(__file__).resolve().parent.parent
SAMPLES = "tests.sample_plugins"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PITCHCRAFT_* variable or pitchcraft.toml from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("PITCHCRAFT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for running the real `pitchcraft` command in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITCHCRAFT_")}
    env["PYTHONPATH"] = str(REPO)  # so extra_plugins can name tests.sample_plugins.*
    return env


def make_registry(**settings: object) -> Registry:
    return Registry(Settings(**settings)).load()


@pytest.fixture
def echo_ctx() -> tuple[Registry, Context]:
    reg = make_registry(plugins=["echo"], extra_plugins=[f"{SAMPLES}.good:Echo"])
    return reg, reg.context()


from tests.llm_fixtures import adapters_dir, llm, local_llm, tuned_run, vllm_url  # noqa: E402,F401
from tests.shop_fixtures import api_server, demo_store  # noqa: E402,F401
from tests.store_fixtures import chroma_server, embedding_cache, store, store_settings  # noqa: E402,F401
