"""Training sets that plugins offer for their adapters (`pitchcraft finetune prepare TASK`).

A plugin builds examples with the same prompt code it runs with, so an adapter learns
exactly the view it will be asked in; `origin` says where inputs and targets come from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from pitchcraft.finetune.data import Example, Message

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from pitchcraft.context import Context
    from pitchcraft.llm.structured import Prompt

ROLES = {"system": "system", "human": "user", "ai": "assistant"}


@dataclass(frozen=True)
class TrainingSet:
    task: str  # the adapter it trains
    origin: str  # where the inputs and the targets come from, for the model card
    build: Callable[[Context, int, int], Iterator[Example]]  # (ctx, examples, seed)


def structured_example(schema: type[BaseModel], prompt: Prompt, answer: BaseModel) -> Example:
    """The chat a structured request sends, answered with `answer` as compact JSON (what
    constrained decoding produces)."""
    from pitchcraft.llm.structured import chat_messages

    schema.model_validate(answer.model_dump())  # a target must fit the reply schema
    return chat_example(chat_messages(schema, prompt), answer.model_dump_json())


def chat_example(messages: Sequence[BaseMessage], answer: str) -> Example:
    turns = [Message(role=ROLES[m.type], content=str(m.content)) for m in messages]
    return Example(messages=[*turns, Message(role="assistant", content=answer)])


class PreparedData(BaseModel):
    task: str
    examples: int
    seed: int
    origin: str
    path: str


def write_prepared(path: Path, examples: Sequence[Example], meta: PreparedData) -> None:
    """The JSONL, and next to it `<name>.json` with its origin (read by the model card)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (e.model_dump_json() + "\n" for e in examples)
    path.write_text("".join(lines), encoding="utf-8")
    path.with_suffix(".json").write_text(
        json.dumps(meta.model_dump(), ensure_ascii=False, indent=2) + "\n"
    )
