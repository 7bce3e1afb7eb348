"""Adapters served merged into the base weights (`pitchcraft model serve --merge`): which
adapters are merged, what each server is given, the memory check, and a real merged server
answering as the adapter does through vLLM's LoRA path."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from pitchcraft import Settings
from pitchcraft.errors import PitchcraftError
from pitchcraft.llm import ModelClient, serve
from pitchcraft.llm.base_model import MODEL_NAME
from pitchcraft.llm.merge import adapter_version, merged_model_dir
from tests.llm_fixtures import MODEL_CACHE
from tests.store_fixtures import free_port

ADAPTERS = {name: Path(name) for name in ("copy", "reasons", "reviews", "support")}
QUESTIONS = [f"Product {i}: its code?" for i in range(4)]


def first_tokens(url: str, question: str, count: int = 4) -> list[tuple[str, float]]:
    """The greedy reply's first tokens of the `codes` model with their log-probabilities."""
    from openai import OpenAI

    reply = OpenAI(base_url=url, api_key="none").chat.completions.create(
        model="codes",
        messages=[{"role": "user", "content": question}],
        max_tokens=count,
        temperature=0,
        logprobs=True,
    )
    content = reply.choices[0].logprobs.content or []  # type: ignore[union-attr]
    return [(t.token, t.logprob) for t in content]


def test_merge_choice_names_all_none_and_unknown() -> None:
    assert serve.merge_choice("support, copy,support", ADAPTERS, cuda=False) == ["support", "copy"]
    assert serve.merge_choice("all", ADAPTERS, cuda=True) == list(ADAPTERS)
    assert serve.merge_choice("none", ADAPTERS, cuda=False) == []
    with pytest.raises(PitchcraftError, match=r"no adapter named sales \(adapters: copy, "):
        serve.merge_choice("sales", ADAPTERS, cuda=False)


@pytest.mark.parametrize(
    ("free_gib", "merged", "beside_two_replicas"), [(100.0, 4, 4), (18.2, 2, 1), (8.0, 0, 0)]
)
def test_auto_merges_as_many_adapters_as_fit_in_free_memory(
    monkeypatch: pytest.MonkeyPatch, free_gib: float, merged: int, beside_two_replicas: int
) -> None:
    monkeypatch.setattr(serve, "memory_available_gib", lambda: free_gib)
    assert serve.merge_choice("auto", ADAPTERS, cuda=False) == list(ADAPTERS)[:merged]
    assert serve.merge_choice("auto", ADAPTERS, cuda=True) == []  # LoRA is fast on GPUs
    beside_two = serve.merge_choice("auto", ADAPTERS, cuda=False, replicas=2)
    assert beside_two == list(ADAPTERS)[:beside_two_replicas]


def test_a_server_gets_the_smaller_cache_unless_memory_is_plentiful(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serve, "memory_available_gib", lambda: 100.0)
    assert serve.kv_cache_gib(1) == serve.KV_CACHE_GIB and serve.kv_cache_gib(3) == 1
    # the suite's second server on a float32 machine: 5.7+ GiB free at its start, 1.7 later
    monkeypatch.setattr(serve, "memory_available_gib", lambda: 6.0)
    assert serve.kv_cache_gib(1) == serve.KV_CACHE_GIB_SHARED


def test_merged_adapters_are_not_also_lora_modules_of_the_base_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ADAPTERS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "adapter_config.json").write_text("{}")
    monkeypatch.setattr(serve, "base_model_dir", lambda cache: Path("/base"))
    monkeypatch.setattr(serve, "merged_model_dir", lambda cache, name, path: Path(f"/m/{name}"))
    specs = serve.server_specs(Settings(adapters_dir=tmp_path), 2, ["support", "copy"])
    assert [s.served for s in specs] == [MODEL_NAME, MODEL_NAME, "support", "copy"]
    assert list(specs[0].adapters) == ["reasons", "reviews"]
    assert specs[0].model_dir == Path("/base")
    assert specs[2].model_dir == Path("/m/support") and specs[2].adapters == {}
    command = serve.server_command(Path("py"), Path("/m/support"), {}, "h", 1, "support")
    assert command[command.index("--served-model-name") + 1] == "support"
    assert "--enable-lora" not in command


def test_servers_that_do_not_fit_in_memory_are_refused_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(serve, "memory_available_gib", lambda: 6.0)
    monkeypatch.setattr(serve, "has_cuda", lambda: False)
    monkeypatch.setattr(serve, "vllm_python", pytest.fail)  # nothing installed or started
    with pytest.raises(PitchcraftError, match=r"3 vLLM servers need about 14 GiB .* 6 GiB"):
        serve.start_replicas(Settings(), "127.0.0.1", 1, 1, run_dir=tmp_path, merge=["a", "b"])


@pytest.mark.slow
def test_a_merged_adapter_folder_keeps_the_base_config_and_is_made_once(
    adapters_dir: Path,
) -> None:
    adapter = adapters_dir / "codes"
    folder = merged_model_dir(MODEL_CACHE, "codes", adapter)
    assert folder.name == f"codes-{adapter_version(adapter)}"
    config = json.loads((folder / "config.json").read_text())
    assert config["rope_theta"] == 1_000_000.0  # what vLLM's transformers reads
    made = (folder / "READY").stat().st_mtime
    assert merged_model_dir(MODEL_CACHE, "codes", adapter) == folder
    assert (folder / "READY").stat().st_mtime == made


@pytest.mark.slow
def test_a_merged_adapter_server_answers_as_the_lora_adapter_does(
    vllm_url: str, adapters_dir: Path, tmp_path: Path
) -> None:
    """Only the merged server is started here; the session's server has the adapter as LoRA."""
    settings = Settings(cache_dir=MODEL_CACHE, adapters_dir=adapters_dir)
    states = serve.start_replicas(
        settings, "127.0.0.1", free_port(), 0, wait_s=900, run_dir=tmp_path, merge=["codes"]
    )
    try:
        (merged,) = states
        assert merged.served == "codes" and merged.adapters == []
        listed = httpx.get(f"{merged.url}/models", timeout=10).json()["data"]
        assert [m["id"] for m in listed] == ["codes"]

        def answers(url: str) -> list[str]:
            client = ModelClient(
                settings.model_copy(update={"llm_backend": "openai", "llm_url": url})
            )
            chat = client.chat(adapter="codes", max_tokens=12)
            return [str(chat.invoke(question).content) for question in QUESTIONS]

        through_merged = answers(merged.url)
        assert all(a.startswith("PITCHCRAFT-") for a in through_merged)
        pooled = answers(serve.pool_url([merged, merged.model_copy(update={"url": vllm_url})]))
        assert all(a.startswith("PITCHCRAFT-") for a in pooled)
        # The same weights up to one rounding: the first tokens and their probabilities agree
        # with the LoRA path (whole replies may part where two tokens are nearly tied).
        for question in QUESTIONS:
            merged_tokens = first_tokens(merged.url, question)
            lora_tokens = first_tokens(vllm_url, question)
            assert [t for t, _ in merged_tokens] == [t for t, _ in lora_tokens]
            pairs = list(zip(merged_tokens, lora_tokens, strict=True))
            assert all(abs(m[1] - lora[1]) < 0.25 for m, lora in pairs), (question, pairs)
    finally:
        serve.stop(settings, run_dir=tmp_path)
    assert serve.recorded_states(settings, tmp_path) == []


def test_model_serve_names_an_unknown_adapter_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from pitchcraft.cli import app

    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "adapter_config.json").write_text("{}")
    monkeypatch.setenv("PITCHCRAFT_ADAPTERS_DIR", str(tmp_path))
    monkeypatch.setattr(serve, "vllm_python", pytest.fail)
    done = CliRunner().invoke(app, ["model", "serve", "--merge", "copy,slogans"])
    assert done.exit_code != 0
    assert "no adapter named slogans (adapters: copy)" in done.output
    assert "Traceback" not in done.output
