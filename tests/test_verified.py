"""Verified multi-draft generation (pure logic: a scripted client stands in for the model),
and the local engine's per-row temperatures."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pydantic import BaseModel

from pitchcraft.llm.structured import StructuredOutputError
from pitchcraft.llm.verified import first_passing


class Reply(BaseModel):
    text: str


class Scripted:
    """structured() hands out the next scripted outcome per call, greedy and sampled apart."""

    def __init__(self, greedy: Reply | str, sampled: list[Reply | str]) -> None:
        self.greedy, self.sampled = greedy, list(sampled)
        self.temperatures: list[float] = []
        self.lock = threading.Lock()

    def structured(self, schema: Any, adapter: Any, max_tokens: Any, temperature: float = 0.0):
        client = self

        class Model:
            def invoke(self, prompt: str) -> Reply:
                with client.lock:
                    client.temperatures.append(temperature)
                    outcome = client.greedy if temperature == 0 else client.sampled.pop(0)
                if isinstance(outcome, str):
                    raise StructuredOutputError("Reply", outcome, "not JSON")
                return outcome

        return Model()


def problems(reply: Reply) -> list[str]:
    return [] if reply.text.startswith("ok") else [f"bad: {reply.text}"]


def test_the_first_passing_draft_is_used_with_the_refusals_of_the_others() -> None:
    client = Scripted(Reply(text="wrong"), ["{broken", Reply(text="ok 3"), Reply(text="ok 4")])
    found = first_passing(
        client, Reply, "q", problems, adapter=None, max_tokens=10, drafts=4, temperature=0.7
    )
    assert found.value == Reply(text="ok 3") and found.draft == 3
    assert found.refusals == [["bad: wrong"], ["unusable reply: not JSON"]]
    assert sorted(client.temperatures) == [0.0, 0.7, 0.7, 0.7]  # asked for together


def test_one_draft_is_the_greedy_call_alone() -> None:
    client = Scripted(Reply(text="ok"), [])
    found = first_passing(client, Reply, "q", problems, adapter=None, max_tokens=10)
    assert (found.value, found.draft, client.temperatures) == (Reply(text="ok"), 1, [0.0])


def test_none_passing_says_why_for_each() -> None:
    client = Scripted(Reply(text="a"), [Reply(text="b")])
    found = first_passing(client, Reply, "q", problems, adapter=None, max_tokens=10, drafts=2)
    assert found.value is None and found.draft is None
    assert found.refusals == [["bad: a"], ["bad: b"]] and found.tried == 2


def test_a_greedy_row_stays_greedy_in_a_sampled_batch() -> None:
    torch = pytest.importorskip("torch")
    from pitchcraft.llm.local import RowTemperature

    scores = torch.tensor([[1.0, 3.0, 2.0], [1.0, 3.0, 2.0]])
    out = RowTemperature([0.0, 0.5])(None, scores.clone())
    assert out[0].tolist() == [float("-inf"), 3.0, float("-inf")]
    assert out[1].tolist() == [2.0, 6.0, 4.0]
