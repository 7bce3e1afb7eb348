"""Supervised chat data for fine-tuning: JSONL of {"messages": [...]} in, token batches out.

The loss counts only the assistant's tokens: the model learns to answer, not to
repeat prompts. Examples go to the validation split by a hash of their content,
so the split is the same on every run and machine, and resuming cannot mix them.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from pitchcraft.errors import PitchcraftError, describe_fields, field_errors

IGNORE = -100  # label of a token the loss skips


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


class Example(BaseModel):
    messages: list[Message] = Field(min_length=2)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class DataError(PitchcraftError):
    pass


def load_examples(path: Path) -> list[Example]:
    """Every line of a JSONL file as an Example; the first bad line stops it, named."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            example = Example.model_validate_json(line)
        except ValidationError as err:
            raise DataError(f"{path}:{number}: {describe_fields(field_errors(err))}") from None
        if example.messages[-1].role != "assistant":
            raise DataError(f"{path}:{number}: messages: the last message must be the assistant's")
        examples.append(example)
    if not examples:
        raise DataError(f"{path}: no examples")
    return examples


def load_sets(paths: Sequence[Path]) -> list[Example]:
    """The examples of every file in order, each distinct one once (rounds of drafting may
    accept the same answer to the same prompt)."""
    seen: set[str] = set()
    examples = []
    for path in paths:
        for example in load_examples(path):
            key = example.fingerprint()
            if key not in seen:
                seen.add(key)
                examples.append(example)
    return examples


def capped_per_system(examples: Sequence[Example], cap: int) -> list[Example]:
    """At most `cap` examples (0: all) per system message, the first in order: the copywriter's
    system message names the channel, and one channel the model finds easy (Amazon listings:
    half of a drafted set) must not crowd out the others."""
    if cap == 0:
        return list(examples)
    seen: Counter[str] = Counter()
    kept = []
    for example in examples:
        first = example.messages[0]
        key = first.content if first.role == "system" else ""
        seen[key] += 1
        if seen[key] <= cap:
            kept.append(example)
    return kept


def split(examples: Sequence[Example], validation: float) -> tuple[list[Example], list[Example]]:
    """(train, validation), by content hash: stable across runs; at least one of each."""
    if len(examples) < 2:
        raise DataError(f"need at least 2 examples to hold one out, got {len(examples)}")
    ranked = sorted(examples, key=lambda e: e.fingerprint())
    held = [e for e in ranked if int(e.fingerprint()[:8], 16) / 0xFFFFFFFF < validation]
    held = held or ranked[:1]
    if len(held) == len(ranked):
        held = held[:-1]
    chosen = {id(e) for e in held}
    return [e for e in examples if id(e) not in chosen], [e for e in examples if id(e) in chosen]


def fingerprint(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(example.fingerprint().encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]


def encode(tokenizer: Any, example: Example, max_length: int) -> Encoded | None:
    """Token ids of the chat, and labels that keep only the assistant turns' tokens; None
    when it is longer than `max_length` (a chat cut short would teach a cut answer)."""
    ids: list[int] = []
    labels: list[int] = []
    messages: list[dict[str, str]] = []
    for message in example.messages:
        before = len(ids)
        messages.append(message.model_dump())
        whole = tokenizer.apply_chat_template(messages, tokenize=False)
        ids = tokenizer(whole, add_special_tokens=False)["input_ids"]
        new = ids[before:]
        labels += new if message.role == "assistant" else [IGNORE] * len(new)
    return Encoded(ids, labels) if len(ids) <= max_length else None


def batches(
    encoded: Sequence[Encoded], size: int, seed: int, epoch: int
) -> Iterator[list[Encoded]]:
    """Batches of similar length (little padding), in a shuffled order per epoch."""
    rng = random.Random(f"{seed}:{epoch}")
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i].input_ids), rng.random()))
    groups = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(groups)
    for group in groups:
        yield [encoded[i] for i in group]


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """Left-padded tensors: every row ends at the last column, so the assistant's tokens
    all lie in the last `answer_span` columns and only those need the vocabulary layer."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = [[pad_id] * (width - len(e.input_ids)) + e.input_ids for e in batch]
    labels = [[IGNORE] * (width - len(e.labels)) + e.labels for e in batch]
    mask = [[0] * (width - len(e.input_ids)) + [1] * len(e.input_ids) for e in batch]
    positions = [[0] * (width - len(e.input_ids)) + list(range(len(e.input_ids))) for e in batch]
    return {
        "input_ids": torch.tensor(ids),
        "attention_mask": torch.tensor(mask),
        "position_ids": torch.tensor(positions),
        "labels": torch.tensor(labels),
    }


def answer_span(labels: Sequence[int]) -> int:
    """Columns from the first labelled token to the end (0 when none is labelled)."""
    for i, label in enumerate(labels):
        if label != IGNORE:
            return len(labels) - i
    return 0
