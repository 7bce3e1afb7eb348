"""Training sets that plugins offer for their adapters (`pitchcraft finetune prepare TASK`).

A plugin builds examples with the same prompt code it runs with, so an adapter learns
exactly the view it will be asked in; `origin` says where inputs and targets come from.
A set may also offer its inputs alone (`inputs`), each with the plugin's own check: then
`prepare TASK --from-model` has the model draft the targets and keeps those the check
accepts (rejection-sampling fine-tuning, pitchcraft.finetune.sampled).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pitchcraft.finetune.data import Example, Message
from pitchcraft.store.schema import sha

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from pitchcraft.context import Context
    from pitchcraft.llm.structured import Prompt

ROLES = {"system": "system", "human": "user", "ai": "assistant"}


@dataclass(frozen=True)
class DraftInput:
    """A training-split input for the model to draft a reply to, and what accepts a reply."""

    schema: type[BaseModel]
    prompt: Prompt
    check: Callable[[Any], Sequence[str]]  # a draft's problems; empty when it is accepted
    max_tokens: int
    # a refused draft made acceptable by a small repair, else None (the plugin decides "small")
    fix: Callable[[Any], BaseModel | None] | None = None


@dataclass(frozen=True)
class TrainingSet:
    task: str  # the adapter it trains
    origin: str  # where the inputs and the targets come from, for the model card
    build: Callable[[Context, int, int], Iterator[Example]] | None  # (ctx, examples, seed)
    # for --from-model: (ctx, inputs, seed) -> inputs, and what the check accepts (for the card)
    inputs: Callable[[Context, int, int], Iterator[DraftInput]] | None = None
    accepts: str = ""


def in_training_split(key: str, salt: str) -> bool:
    """Whether an input (a product id, a question) may be trained on; the other half stays
    held out for evaluation. Salted per task so each adapter has its own split."""
    return int(sha(f"{salt}:{key}")[:8], 16) % 2 == 0


def structured_example(schema: type[BaseModel], prompt: Prompt, answer: BaseModel) -> Example:
    """The chat a structured request sends, answered with `answer` as compact JSON (what
    constrained decoding produces)."""
    from pitchcraft.llm.structured import chat_messages

    schema.model_validate(answer.model_dump())  # a target must fit the reply schema
    return chat_example(chat_messages(schema, prompt), answer.model_dump_json())


def chat_example(messages: Sequence[BaseMessage], answer: str) -> Example:
    turns = [Message(role=ROLES[m.type], content=str(m.content)) for m in messages]
    return Example(messages=[*turns, Message(role="assistant", content=answer)])


class SampledFigures(BaseModel):
    """How the model's drafts fared in `prepare --from-model`."""

    model: str  # the adapter drafted with, or "base"
    drafts_per_input: int
    temperature: float
    inputs: int
    inputs_accepted: int  # inputs with at least one accepted draft
    drafts: int
    drafts_accepted: int
    drafts_repaired: int = 0  # refused drafts kept after a small repair (counted in accepted)
    inputs_failed: int = 0  # inputs whose requests failed (timed out): left out, not refused
    failures: dict[str, int] = {}  # why those requests failed, counted by message
    refusals: dict[str, int]  # the checks' reasons, counted by their first words


class PreparedData(BaseModel):
    task: str
    examples: int
    seed: int
    origin: str
    path: str
    sampled: SampledFigures | None = None  # --from-model: how the drafts fared
    command: str = ""  # the command that wrote it, for the model card


def write_prepared(path: Path, examples: Sequence[Example], meta: PreparedData) -> None:
    """The JSONL, and next to it `<name>.json` with its origin (read by the model card)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (e.model_dump_json() + "\n" for e in examples)
    path.write_text("".join(lines), encoding="utf-8")
    path.with_suffix(".json").write_text(
        json.dumps(meta.model_dump(), ensure_ascii=False, indent=2) + "\n"
    )
