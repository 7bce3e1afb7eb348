"""The shared model layer on the real embedded model: in-process (local) and on a real
vLLM server (`llm` runs a test on both backends)."""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from pitchcraft import Settings
from pitchcraft.llm import ModelClient
from pitchcraft.llm.drafts import listening, readable
from pitchcraft.llm.remote import ModelUnavailable
from pitchcraft.llm.serve import server_command
from pitchcraft.llm.structured import SOFT_MAX_LENGTH
from tests.llm_fixtures import MODEL_CACHE, shipped_adapters
from tests.store_fixtures import free_port

pytestmark = pytest.mark.slow  # the embedded model or a server

HAN = re.compile(r"[\u4e00-\u9fff]")


class Tagline(BaseModel):
    tagline: str = Field(max_length=80, description="A short ad tagline.")
    keywords: list[str] = Field(max_length=5, description="Up to five keywords.")


def test_plain_chat_in_english_and_chinese(llm: ModelClient) -> None:
    chat = llm.chat(max_tokens=40)
    en = chat.invoke("Write one sentence praising a stainless steel water bottle.")
    assert len(en.content.split()) >= 4
    assert en.usage_metadata["output_tokens"] > 0
    zh = chat.invoke("用一句话介绍一款不锈钢保温杯。")
    assert len(HAN.findall(zh.content)) >= 5


def test_structured_output_is_a_validated_object(llm: ModelClient) -> None:
    result = llm.structured(Tagline, max_tokens=120).invoke(
        "Product: Bose SoundLink Flex SE Bluetooth Speaker, waterproof IP67, 12 hours battery."
    )
    assert isinstance(result, Tagline)
    assert result.tagline and len(result.keywords) <= 5


class Story(BaseModel):
    story: str = Field(json_schema_extra={SOFT_MAX_LENGTH: 60})
    morals: list[Annotated[str, Field(json_schema_extra={SOFT_MAX_LENGTH: 30})]]


def test_strings_with_soft_limits_land_by_them_on_both_backends(llm: ModelClient) -> None:
    """Asked for a long story, the model still closes each string by its soft limit (the
    embedded engine's mask, a vLLM server's landing processor); without landing it runs on."""
    prompt = (
        "Write a very long story, at least 300 words, about a dragon who sells umbrellas, "
        "and three long morals of the story."
    )
    reply = llm.structured(Story, max_tokens=400).invoke(prompt)
    assert 0 < len(reply.story) <= 60
    assert reply.morals and all(len(moral) <= 30 for moral in reply.morals)
    untied = llm.structured(Untied, max_tokens=80).invoke(prompt)  # cut off, then repaired
    assert len(untied.story) > 60


class Untied(BaseModel):
    story: str


def test_streamed_text_arrives_in_pieces_that_add_up_to_the_whole_reply(llm: ModelClient) -> None:
    prompt = "用一句话介绍一款不锈钢保温杯。"
    whole = llm.chat(max_tokens=40).invoke(prompt)
    before = llm.usage.totals().get(("base", "completion"), 0)
    pieces = [str(chunk.content) for chunk in llm.chat(max_tokens=40).stream(prompt)]
    assert len([p for p in pieces if p]) >= 5  # token by token, not one block
    assert "".join(pieces).strip() == whole.content
    assert (
        llm.usage.totals()[("base", "completion")] - before == whole.usage_metadata["output_tokens"]
    )


def test_a_draft_listener_hears_structured_output_grow(llm: ModelClient) -> None:
    heard: list[str] = []
    with listening(lambda _, raw: heard.append(raw)):
        result = llm.structured(Tagline, max_tokens=120).invoke(
            "Product: Bose SoundLink Flex SE Bluetooth Speaker, waterproof IP67."
        )
    texts = [readable(raw) for raw in heard]
    assert len(heard) >= 5 and all(b.startswith(a) for a, b in itertools.pairwise(heard))
    assert result.tagline in texts[-1]
    assert any(t and result.tagline.startswith(t) and t != result.tagline for t in texts)
    assert llm.structured(Tagline, max_tokens=120).invoke("Product: a desk lamp.")  # no listener


def test_a_streamed_request_shares_its_batch_and_matches_the_plain_reply(
    local_llm: ModelClient,
) -> None:
    engine = local_llm.engine()
    chat = local_llm.chat(max_tokens=16)
    prompts = ["Name a fruit.", "Name a colour.", "Name a city."]
    alone = [chat.invoke(p).content for p in prompts]
    before = engine.batches
    with ThreadPoolExecutor(max_workers=3) as pool:
        streamed = pool.submit(lambda: "".join(str(c.content) for c in chat.stream(prompts[0])))
        plain = list(pool.map(lambda p: chat.invoke(p).content, prompts[1:]))
    assert [streamed.result(), *plain] == alone
    assert engine.batches - before < len(prompts)


def test_clients_with_equal_settings_share_one_engine(local_llm: ModelClient) -> None:
    again = ModelClient(local_llm.settings.model_copy())
    assert again.engine() is local_llm.engine()  # one copy of the weights, one batcher


def test_weights_are_bfloat16_only_where_computed_natively(local_llm: ModelClient) -> None:
    from pitchcraft.llm.base_model import compute_dtype_name, cpu_has_native_bf16

    assert compute_dtype_name(cuda=True) == "bfloat16"
    expected = "bfloat16" if cpu_has_native_bf16() else "float32"
    assert compute_dtype_name(cuda=False) == expected
    engine = local_llm.engine()
    loaded = compute_dtype_name(cuda=True) if engine.device == "cuda" else expected
    assert str(engine.model.dtype) == f"torch.{loaded}"


def test_concurrent_requests_share_generate_calls(local_llm: ModelClient) -> None:
    engine = local_llm.engine()
    chat = local_llm.chat(max_tokens=12)
    prompts = [f"Name a colour for product number {i}." for i in range(8)]
    before = engine.batches
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda p: chat.invoke(p).content, prompts))
    assert all(replies)
    assert engine.batches - before < len(prompts)  # batched, not one by one


def test_the_engine_hands_freed_memory_back_after_each_batch(
    local_llm: ModelClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without it resident memory climbed with every new batch shape (+0.7-0.8 GB after one
    batch of long prompts): glibc kept the freed attention tensors' pages. What a trim
    returns is measured in test_heap.py."""
    import pitchcraft.llm.local as local

    trims: list[int] = []
    monkeypatch.setattr(local, "trim_heap", lambda: trims.append(1))
    local_llm.engine().generate([{"role": "user", "content": "Hi"}], max_new_tokens=2)
    assert trims


def test_several_drafts_are_one_batch_with_the_greedy_draft_first(
    local_llm: ModelClient,
) -> None:
    from pitchcraft.llm.verified import DraftPlan, first_passing

    class Tagline(BaseModel):
        tagline: str = Field(max_length=80)

    prompt = "Write a short tagline for a steel water bottle."
    greedy = local_llm.structured(Tagline, max_tokens=40).invoke(prompt)
    engine = local_llm.engine()
    before = engine.batches

    def drafts(seed: int) -> list[Tagline | None]:
        return first_passing(
            local_llm,
            Tagline,
            prompt,
            lambda t: ["the greedy one"] if t == greedy else [],
            adapter=None,
            max_tokens=40,
            plan=DraftPlan(drafts=3, temperature=1.0, seed=seed),
        ).candidates

    found = drafts(seed=1)
    assert engine.batches - before == 1  # three rows of one generate call
    assert found[0] == greedy  # the greedy row stayed greedy among sampled ones
    assert found == drafts(seed=1)  # the same seed, the same drafts
    assert found[1:] != drafts(seed=2)[1:]


def test_a_seeded_sampled_reply_is_the_same_each_time(llm: ModelClient) -> None:
    prompt = "Invent a name for a new tea shop and say why in one sentence."
    seeded = ModelClient(llm.settings.model_copy(update={"llm_server_seeds": True}))

    def sampled(seed: int) -> str:
        return str(seeded.chat(max_tokens=24, temperature=1.0, seed=seed).invoke(prompt).content)

    first = sampled(seed=5)
    assert sampled(seed=5) == first
    assert sampled(seed=6) != first


def test_adapter_by_name_changes_the_output(llm: ModelClient) -> None:
    prompt = "Describe a desk lamp in one sentence."
    base = llm.chat(max_tokens=24).invoke(prompt)
    tuned = llm.chat(adapter="scrambled", max_tokens=24).invoke(prompt)
    served_as = tuned.response_metadata.get("adapter") or tuned.response_metadata["model_name"]
    assert served_as == "scrambled"
    assert tuned.content != base.content
    again = llm.chat(max_tokens=24).invoke(prompt)  # base requests stay on the base weights
    assert again.content == base.content


def test_a_fine_tuned_adapter_answers_as_trained_on_both_backends(llm: ModelClient) -> None:
    question = "Product 3: its code?"
    tuned = str(llm.chat(adapter="codes", max_tokens=12).invoke(question).content)
    base = str(llm.chat(max_tokens=12).invoke(question).content)
    assert tuned.startswith("PITCHCRAFT-") and not base.startswith("PITCHCRAFT")


def test_mixed_adapter_batch_matches_separate_calls(local_llm: ModelClient) -> None:
    prompt = "Give one word for 'fast'."
    alone_base = local_llm.chat(max_tokens=8).invoke(prompt).content
    alone_tuned = local_llm.chat(adapter="scrambled", max_tokens=8).invoke(prompt).content
    models = [local_llm.chat(max_tokens=8), local_llm.chat(adapter="scrambled", max_tokens=8)] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        mixed = list(pool.map(lambda m: m.invoke(prompt).content, models))
    assert mixed == [alone_base, alone_tuned] * 2


def test_structured_and_plain_requests_share_a_batch_and_match_separate_calls(
    local_llm: ModelClient,
) -> None:
    engine = local_llm.engine()
    messages = [{"role": "user", "content": "Product: Bose SoundLink Flex SE speaker, IP67."}]
    schema = Tagline.model_json_schema()
    alone = [engine.generate(messages, 60, json_schema=schema).text]
    alone.append(engine.generate(messages, 12).text)
    Tagline.model_validate_json(alone[0])
    before = engine.batches
    futures = [engine.submit(messages, 60, json_schema=schema), engine.submit(messages, 12)]
    assert [f.result().text for f in futures] == alone
    assert engine.batches - before == 1  # one generate call: each row keeps its own schema


def test_unknown_adapter_falls_back_to_base_and_says_so_once(
    llm: ModelClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        a = llm.chat(adapter="no-such-task", max_tokens=8).invoke("Say hi.")
        b = llm.chat(adapter="no-such-task", max_tokens=8).invoke("Say hi.")
    assert a.response_metadata.get("adapter") is None
    assert a.content == b.content == llm.chat(max_tokens=8).invoke("Say hi.").content
    warnings = [r for r in caplog.records if "no-such-task" in r.getMessage()]
    assert len(warnings) == 1


def test_server_down_is_a_clear_error_within_bounded_time() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    client = ModelClient(
        Settings(llm_backend="openai", llm_url=url, llm_retries=1, llm_connect_timeout_s=1)
    )
    start = time.monotonic()
    with pytest.raises(ModelUnavailable, match=re.escape(url)):
        client.chat().invoke("hello")
    with pytest.raises(ModelUnavailable, match="unreachable"):
        client.structured(Tagline).invoke("hello")
    assert time.monotonic() - start < 30


def test_auto_answers_on_the_embedded_model_until_the_server_answers(
    vllm_url: str, adapters_dir: Path
) -> None:
    def auto(url: str) -> ModelClient:
        return ModelClient(
            Settings(
                cache_dir=MODEL_CACHE, adapters_dir=adapters_dir, llm_backend="auto", llm_url=url
            )
        )

    waiting = auto(f"http://127.0.0.1:{free_port()}/v1")
    assert not waiting.on_server() and "does not answer yet" in waiting.in_use()
    assert waiting.ping() == "local"
    assert waiting.structured(Tagline, max_tokens=60).invoke("A tagline for AA batteries.")
    serving = auto(vllm_url)
    assert serving.on_server() and vllm_url in serving.in_use()
    assert serving.ping() != "local" and serving.serves("scrambled")
    assert serving.chat(max_tokens=8).invoke("Say hello.").content


def test_openai_backend_needs_a_url() -> None:
    from pitchcraft import PitchcraftError

    with pytest.raises(PitchcraftError, match="PITCHCRAFT_LLM_URL"):
        ModelClient(Settings(llm_backend="openai"))


def shipped_task_requests() -> dict[str, tuple[type[BaseModel], str]]:
    """A held-out request of each shipped adapter's task, as its plugin words it."""
    from pitchcraft.context import Context
    from pitchcraft.data import demo_shop
    from pitchcraft.plugins.recommender.reasons import DraftReason, ReasonFacts, reason_prompt
    from pitchcraft.plugins.recommender.training import in_training_half
    from pitchcraft.plugins.sentiment.shared import reading_request

    ctx = Context(Settings(cache_dir=MODEL_CACHE))
    review = "质量太差了，用了两天就坏了，客服也不理人，不会再买了。"
    product = next(p for p in demo_shop.load_products() if not in_training_half(p))
    facts = ReasonFacts(product, need="a present for my brother")
    return {
        "reviews": reading_request(review, "zh", ctx),
        "reasons": (DraftReason, reason_prompt(facts, product.language, ctx)),
    }


def test_shipped_adapters_are_small_with_model_cards() -> None:
    shipped = {p.name: p for p in shipped_adapters()}
    assert {"reviews", "reasons"} <= shipped.keys()  # copy, support: not trained yet
    for folder in shipped.values():
        config = json.loads((folder / "adapter_config.json").read_text())
        assert 8 <= config["r"] <= 16
        assert (folder / "README.md").is_file() and (folder / "training.json").is_file()
    command = server_command(Path("python"), Path("model"), shipped, "127.0.0.1", 8100)
    for name, folder in shipped.items():
        assert f"{name}={folder}" in command
    assert "pitchcraft_landing:LandingProcessor" in command


def test_shipped_adapters_change_their_tasks_answers(llm: ModelClient) -> None:
    shipped = {p.name for p in shipped_adapters()}
    base_only = ModelClient(llm.settings.model_copy(update={"llm_adapters": False}))
    for task, (schema, prompt) in shipped_task_requests().items():
        if task not in shipped:
            continue
        tuned = llm.structured(schema, task, 160).invoke(prompt)
        base = base_only.structured(schema, task, 160).invoke(prompt)  # adapters switched off
        assert tuned != base, task
        assert base == llm.structured(schema, None, 160).invoke(prompt), task
