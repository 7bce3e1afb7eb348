from __future__ import annotations

import os
from pathlib import Path

import pytest

from pitchcraft import Context, Registry, Settings

REPO = Path(__file__).resolve().parent.parent
SAMPLES = "tests.sample_plugins"
# A test that uses one of these starts the embedded model, a server (Chroma, vLLM, the API)
# or the `pitchcraft` command in a subprocess: it is `slow`, left out by -m "not slow".
SLOW_FIXTURES = frozenset(
    {
        "adapters_dir",
        "api_server",
        "chroma_server",
        "cli_env",
        "demo_store",
        "llm",
        "local_llm",
        "tuned_run",
        "vllm_url",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_server = callspec is not None and callspec.params.get("store_settings") == "server"
        if on_server or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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
