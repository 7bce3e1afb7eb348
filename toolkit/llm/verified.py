"""Verified multi-draft generation: several drafts of one structured reply, each checked with
the caller's own checker; the first that passes is used.

Draft 1 is the greedy reply (exactly what a single call gives); drafts 2..K are sampled at
`temperature`. They are asked for together, so the local engine batches them and a vLLM
server computes the shared prompt once (prefix caching). Only draft 1 is streamed to a
draft listener: the others would interleave with it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import BaseModel, Field

from pitchcraft.llm.drafts import quiet
from pitchcraft.llm.structured import Prompt, StructuredOutputError

if TYPE_CHECKING:
    from pitchcraft.llm.client import ModelClient

T = TypeVar("T", bound=BaseModel)
Check = Callable[[T], Sequence[str]]  # the problems of a draft; empty when it passes


class DraftOptions(BaseModel):
    """Plugin options of a plugin that asks for several drafts (inherit them)."""

    drafts: int = Field(
        default=1,
        ge=1,
        le=8,
        description="Drafts asked for together: the greedy one, then sampled ones; the first "
        "that passes the plugin's checks is used.",
    )
    draft_temperature: float = Field(
        default=0.7, gt=0, le=2, description="Sampling temperature of drafts after the first."
    )


@dataclass
class Drafted(Generic[T]):
    value: T | None  # the first draft that passed; None when none did
    draft: int | None  # its number: 1 is the greedy draft
    refusals: list[list[str]] = field(default_factory=list)  # each refused draft's problems
    # every draft asked for, in order (None: its reply did not fit the schema), for callers
    # that repair a refused draft rather than drop it
    candidates: list[T | None] = field(default_factory=list)

    @property
    def tried(self) -> int:
        return len(self.refusals) + (self.value is not None)


def checked_drafts(
    client: ModelClient,
    schema: type[T],
    prompt: Prompt,
    check: Check[T],
    *,
    adapter: str | None,
    max_tokens: int,
    drafts: int = 1,
    temperature: float = 0.7,
    greedy_first: bool = True,
) -> list[tuple[T | None, list[str]]]:
    """Every draft asked for, in order, with its problems (empty: it passes; a reply that
    does not fit the schema is None with its problem). Draft 1 is greedy when
    `greedy_first`, the others sampled. ModelUnavailable propagates."""
    greedy = client.structured(schema, adapter, max_tokens)
    sampled = client.structured(schema, adapter, max_tokens, temperature=temperature)

    def ask(n: int) -> T | str:
        model = greedy if n == 0 and greedy_first else sampled
        try:
            return model.invoke(prompt)
        except StructuredOutputError as err:
            return f"unusable reply: {err.problem}"

    if drafts <= 1:
        outcomes = [ask(0)]
    else:
        contexts = [contextvars.copy_context() for _ in range(drafts)]
        with ThreadPoolExecutor(max_workers=drafts) as pool:
            futures = [
                pool.submit(contexts[n].run, ask if n == 0 else quiet(ask), n)
                for n in range(drafts)
            ]
            outcomes = [f.result() for f in futures]
    return [
        (None, [o]) if isinstance(o, str) else (o, list(check(o)))  # type: ignore[misc]
        for o in outcomes
    ]


def first_passing(
    client: ModelClient,
    schema: type[T],
    prompt: Prompt,
    check: Check[T],
    *,
    adapter: str | None,
    max_tokens: int,
    drafts: int = 1,
    temperature: float = 0.7,
) -> Drafted[T]:
    """Up to `drafts` drafts of `schema` for `prompt`, checked in order. ModelUnavailable
    propagates; a reply that does not fit the schema is a refused draft."""
    checked = checked_drafts(
        client,
        schema,
        prompt,
        check,
        adapter=adapter,
        max_tokens=max_tokens,
        drafts=drafts,
        temperature=temperature,
    )
    result: Drafted[T] = Drafted(None, None)
    result.candidates = [value for value, _ in checked]
    for n, (value, problems) in enumerate(checked, 1):
        if not problems:
            result.value, result.draft = value, n
            return result
        result.refusals.append(problems)
    return result
