"""Rejection-sampling data (`prepare --from-model`), pure logic: a scripted client stands in
for the model; the real model drafts in tests/test_finetune_prepare.py."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pydantic import BaseModel

from pitchcraft import Settings
from pitchcraft.errors import ModelUnavailable
from pitchcraft.finetune.sampled import refusal_kind, sample_examples
from pitchcraft.finetune.sets import DraftInput, in_training_split
from pitchcraft.llm.structured import StructuredOutputError
from pitchcraft.llm.verified import DraftPlan


class Reply(BaseModel):
    text: str


class PerPrompt:
    """Each prompt's scripted drafts, handed out in turn (greedy or sampled alike)."""

    def __init__(self, script: dict[str, list[str]]) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.adapters: set[Any] = set()
        self.lock = threading.Lock()

    def structured(self, schema: Any, adapter: Any, *_: Any) -> Any:
        client = self
        self.adapters.add(adapter)

        class Model:
            def invoke(self, prompt: str) -> Reply:
                with client.lock:
                    text = client.script[prompt].pop(0)
                if text == "{":
                    raise StructuredOutputError("Reply", text, "not JSON")
                if text == "timeout":
                    raise ModelUnavailable("model server unreachable: Request timed out.")
                return Reply(text=text)

        return Model()


class FakeContext:
    def __init__(self, llm: PerPrompt) -> None:
        self.llm = llm
        self.settings = Settings(concurrency=4)

    def completed(self, fn: Any, items: Any, workers: int = 0) -> Any:
        return ((n, fn(item)) for n, item in enumerate(items))


def accepts_ok(reply: Reply) -> list[str]:
    return [] if reply.text.startswith("ok") else [f"refused: {reply.text!r}"]


def item(prompt: str) -> DraftInput:
    return DraftInput(schema=Reply, prompt=prompt, check=accepts_ok, max_tokens=10)


def test_accepted_drafts_become_examples_at_most_keep_distinct_ones_an_input() -> None:
    client = PerPrompt(
        {
            "a": ["ok 1", "ok 1", "ok 2", "ok 3"],  # a repeat is kept once; keep=2 caps it
            "b": ["no", "{", "no", "no"],  # nothing accepted: no example
            "c": ["no", "no", "ok c", "no"],
        }
    )
    examples, figures = sample_examples(
        FakeContext(client),  # type: ignore[arg-type]
        [item("a"), item("b"), item("c")],
        adapter="support",
        plan=DraftPlan(drafts=4, temperature=0.9),
        keep=2,
    )
    answers = [e.messages[-1].content for e in examples]
    assert answers == ['{"text":"ok 1"}', '{"text":"ok 2"}', '{"text":"ok c"}']
    assert all(e.messages[-2].content.endswith(p) for e, p in zip(examples, "aac", strict=True))
    assert (figures.inputs, figures.inputs_accepted) == (3, 2)
    assert (figures.drafts, figures.drafts_accepted) == (12, 5)
    assert figures.refusals == {"refused": 6, "unusable reply": 1}
    assert client.adapters == {"support"}


def test_a_failed_input_is_left_out_with_why_and_a_dead_server_stops_the_run() -> None:
    client = PerPrompt({"a": ["ok a"], "slow": ["timeout"], "c": ["ok c"]})
    examples, figures = sample_examples(
        FakeContext(client),  # type: ignore[arg-type]
        [item("a"), item("slow"), item("c")],
        adapter=None,
        plan=DraftPlan(),
    )
    assert [e.messages[-1].content for e in examples] == ['{"text":"ok a"}', '{"text":"ok c"}']
    assert (figures.inputs_failed, figures.drafts, figures.inputs_accepted) == (1, 2, 2)
    assert figures.failures == {"model server unreachable: Request timed out.": 1}
    down = PerPrompt({"a": ["timeout"], "b": ["timeout"]})
    with pytest.raises(ModelUnavailable):
        sample_examples(
            FakeContext(down),  # type: ignore[arg-type]
            [item("a"), item("b")],
            adapter=None,
            plan=DraftPlan(),
        )


def test_progress_is_reported_up_to_the_last_input() -> None:
    client = PerPrompt({str(n): ["ok"] for n in range(11)})
    seen: list[tuple[int, int]] = []
    sample_examples(
        FakeContext(client),  # type: ignore[arg-type]
        [item(str(n)) for n in range(11)],
        adapter=None,
        plan=DraftPlan(),
        on_progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(n, 11) for n in range(1, 12)]


def test_refusals_are_counted_by_their_first_words() -> None:
    assert refusal_kind("unsupported: 'It costs $5.'") == "unsupported"
    assert refusal_kind("cites no valid source") == "cites no valid source"


def test_the_training_split_is_half_and_differs_per_task() -> None:
    keys = [f"item-{n}" for n in range(2000)]
    support = {k for k in keys if in_training_split(k, "support")}
    reasons = {k for k in keys if in_training_split(k, "reasons")}
    assert 900 < len(support) < 1100
    assert support != reasons
    assert all(in_training_split(k, "support") for k in support)  # stable


def test_results_come_as_they_finish_and_a_slow_input_holds_up_no_other() -> None:
    import time

    from pitchcraft import Context

    def nap(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    ctx = Context(Settings(concurrency=2))
    order = [n for n, _ in ctx.completed(nap, [0.6, 0.05, 0.05, 0.05], workers=2)]
    assert order[-1] == 0 and sorted(order) == [0, 1, 2, 3]
