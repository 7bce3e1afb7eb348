"""The shared model's check of the best candidates against a free-text need: which of the
top RERANK_TOP products are the kind of thing the shopper asked for. Those get the `model`
signal; the reply is constrained to the candidates' numbers (an enum in the JSON schema)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field, create_model

from pitchcraft.needs.model import answer_or_none
from pitchcraft.store.schema import Language, Product

if TYPE_CHECKING:
    from pitchcraft.context import Context

RERANK_TOP = 20  # candidates the model sees
TITLE_CHARS = 90  # of each title: enough to tell the kind, short enough for 20 in one prompt
FITS_TOKENS = 120


def model_fits(
    ctx: Context, need: str, language: Language, products: Sequence[Product]
) -> set[int] | None:
    """Positions (0-based) of the products the model says fit the need; None when the model
    cannot answer (the ranking stands)."""
    if len(products) < 2:
        return None
    numbers = tuple(range(1, len(products) + 1))
    schema = create_model(
        "FittingProducts",
        fits=(list[Literal[numbers]], Field(max_length=len(numbers))),  # type: ignore[valid-type]
    )
    titles = [p.title[:TITLE_CHARS] for p in products]
    prompt = ctx.prompts.render("recommender", "rerank", language, need=need, titles=titles)
    reply = answer_or_none(ctx, schema, prompt, FITS_TOKENS, "recommender: the model's check")
    return None if reply is None else {int(n) - 1 for n in reply.fits}  # type: ignore[attr-defined]
