"""The shared model's pick of a need's product type among the categories closest to it, for
needs the embeddings are unsure of. The choices are the store's own category names, so the
model's reply is constrained to them (an enum in the JSON schema)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import create_model

from pitchcraft.errors import ModelUnavailable
from pitchcraft.llm.structured import StructuredOutputError
from pitchcraft.needs.categories import CategoryScore
from pitchcraft.store.schema import Language

if TYPE_CHECKING:
    from pitchcraft.context import Context

CHOICES = 8  # the closest categories the model chooses among
PICK_TOKENS = 40

Picker = Callable[[str, Language, Sequence[CategoryScore]], str | None]


def model_picker(ctx: Context) -> Picker:
    """A picker on the shared model; None when the model cannot answer (the embeddings' choice
    stands)."""

    def pick(need: str, language: Language, ranking: Sequence[CategoryScore]) -> str | None:
        names = [c.name for c in ranking[:CHOICES]]
        if len(names) < 2:
            return names[0] if names else None
        schema = create_model("CategoryPick", category=(Literal[tuple(names)], ...))
        prompt = ctx.prompts.render("needs", "pick", language, need=need, categories=names)
        try:
            reply = ctx.llm.structured(schema, max_tokens=PICK_TOKENS).invoke(prompt)
        except (StructuredOutputError, ModelUnavailable) as err:
            ctx.log.warning("needs: the model's category pick failed: %s", err)
            return None
        return str(reply.category)  # type: ignore[attr-defined]

    return pick
