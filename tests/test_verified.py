"""Verified multi-draft generation (pure logic: a scripted client stands in for the model),
the drafts asked for by default, and the local engine's per-row sampling."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pydantic import BaseModel

from pitchcraft.llm.structured import StructuredOutputError
from pitchcraft.llm.verified import SERVER_DRAFTS, DraftOptions, DraftPlan, first_passing


class Reply(BaseModel):
    text: str


class Scripted:
    """structured() hands out the next scripted outcome per call, greedy and sampled apart."""

    def __init__(self, greedy: Reply | str, sampled: list[Reply | str]) -> None:
        self.greedy, self.sampled = greedy, list(sampled)
        self.temperatures: list[float] = []
        self.seeds: list[int | None] = []
        self.lock = threading.Lock()

    def structured(
        self,
        schema: Any,
        adapter: Any,
        max_tokens: Any,
        temperature: float = 0.0,
        seed: int | None = None,
    ):
        client = self

        class Model:
            def invoke(self, prompt: str) -> Reply:
                with client.lock:
                    client.temperatures.append(temperature)
                    client.seeds.append(seed)
                    outcome = client.greedy if temperature == 0 else client.sampled.pop(0)
                if isinstance(outcome, str):
                    raise StructuredOutputError("Reply", outcome, "not JSON")
                return outcome

        return Model()


def problems(reply: Reply) -> list[str]:
    return [] if reply.text.startswith("ok") else [f"bad: {reply.text}"]


def test_the_first_passing_draft_is_used_with_the_refusals_of_the_others() -> None:
    client = Scripted(Reply(text="wrong"), ["{broken", Reply(text="ok 3"), Reply(text="ok 4")])
    plan = DraftPlan(drafts=4, temperature=0.7, seed=10)
    found = first_passing(client, Reply, "q", problems, adapter=None, max_tokens=10, plan=plan)
    assert found.value == Reply(text="ok 3") and found.draft == 3
    assert found.refusals == [["bad: wrong"], ["unusable reply: not JSON"]]
    assert sorted(client.temperatures) == [0.0, 0.7, 0.7, 0.7]  # asked for together
    assert sorted(client.seeds, key=str) == [12, 13, 14, None]  # draft n samples with seed + n


def test_one_draft_is_the_greedy_call_alone() -> None:
    client = Scripted(Reply(text="ok"), [])
    found = first_passing(client, Reply, "q", problems, adapter=None, max_tokens=10)
    assert (found.value, found.draft, client.temperatures) == (Reply(text="ok"), 1, [0.0])


def test_none_passing_says_why_for_each() -> None:
    client = Scripted(Reply(text="a"), [Reply(text="b")])
    plan = DraftPlan(drafts=2)
    found = first_passing(client, Reply, "q", problems, adapter=None, max_tokens=10, plan=plan)
    assert found.value is None and found.draft is None
    assert found.refusals == [["bad: a"], ["bad: b"]] and found.tried == 2


class Where:
    def __init__(self, server: bool) -> None:
        self.server = server

    def on_server(self) -> bool:
        return self.server


def test_drafts_default_to_several_on_a_model_server_and_one_on_the_embedded_engine() -> None:
    options = DraftOptions()
    assert options.plan(Where(server=True)).drafts == SERVER_DRAFTS  # type: ignore[arg-type]
    assert options.plan(Where(server=False)).drafts == 1  # type: ignore[arg-type]
    chosen = DraftOptions(drafts=2, draft_seed=None).plan(Where(server=False))  # type: ignore[arg-type]
    assert (chosen.drafts, chosen.seed) == (2, None)


def test_a_greedy_row_stays_greedy_in_a_sampled_batch() -> None:
    torch = pytest.importorskip("torch")
    from pitchcraft.llm.local import RowSampler

    scores = torch.tensor([[1.0, 3.0, 2.0], [1.0, 3.0, 2.0]]).repeat(1, 20)  # 60 tokens
    for _ in range(5):
        out = RowSampler([0.0, 1.0], [None, None])(None, scores.clone())
        assert int(torch.argmax(out[0])) == 1 and torch.isinf(out[0]).sum() == 59
        assert torch.isinf(out[1]).sum() == 59  # one token drawn for the sampled row


def test_a_seeded_row_draws_the_same_tokens_whatever_shares_its_batch() -> None:
    torch = pytest.importorskip("torch")
    from pitchcraft.llm.local import RowSampler

    scores = torch.zeros(3, 100)  # every token as likely: the draws are the seed's alone

    def draws(temperatures: list[float], seeds: list[int | None], row: int) -> list[int]:
        sampler = RowSampler(temperatures, seeds)
        return [int(torch.argmax(sampler(None, scores.clone())[row])) for _ in range(8)]

    alone = draws([1.0, 0.0, 0.0], [7, None, None], 0)
    beside_others = draws([0.0, 1.0, 1.0], [None, 3, 7], 2)
    assert alone == beside_others
    assert alone != draws([1.0, 0.0, 0.0], [8, None, None], 0)
