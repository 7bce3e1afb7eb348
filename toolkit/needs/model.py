"""The shared model's pick of a need's product type among the categories closest to it, for
needs the embeddings are unsure of. The choices are the store's own category names, so the
model's reply is constrained to them (an enum in the JSON schema)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel, create_model

from pitchcraft.errors import ModelUnavailable
from pitchcraft.llm.structured import StructuredOutputError
from pitchcraft.needs.categories import CategoryScore
from pitchcraft.store.schema import Language

if TYPE_CHECKING:
    from pitchcraft.context import Context

CHOICES = 8  # the closest categories the model chooses among
PICK_TOKENS = 40

T = TypeVar("T", bound=BaseModel)
Picker = Callable[[str, Language, Sequence[CategoryScore]], str | None]


def answer_or_none(
    ctx: Context, schema: type[T], prompt: str, max_tokens: int, what: str
) -> T | None:
    """The shared model's structured answer, or None (logged) when it cannot give one: the
    step it serves is optional, so what stood before it stands."""
    try:
        return ctx.llm.structured(schema, max_tokens=max_tokens).invoke(prompt)
    except (StructuredOutputError, ModelUnavailable) as err:
        ctx.log.warning("%s failed: %s", what, err)
        return None


def model_picker(ctx: Context) -> Picker:
    """A picker on the shared model; None when the model cannot answer (the embeddings' choice
    stands)."""

    def pick(need: str, language: Language, ranking: Sequence[CategoryScore]) -> str | None:
        names = [c.name for c in ranking[:CHOICES]]
        if len(names) < 2:
            return names[0] if names else None
        schema = create_model("CategoryPick", category=(Literal[tuple(names)], ...))
        prompt = ctx.prompts.render("needs", "pick", language, need=need, categories=names)
        reply = answer_or_none(ctx, schema, prompt, PICK_TOKENS, "needs: the model's pick")
        return None if reply is None else str(reply.category)  # type: ignore[attr-defined]

    return pick
