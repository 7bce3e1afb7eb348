"""Understanding what a shopper asks for: see reader.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pitchcraft.needs.reader import Need, NeedReader
from pitchcraft.needs.rules import asks_question

if TYPE_CHECKING:
    from pitchcraft.context import Context

__all__ = ["Need", "NeedReader", "asks_question", "need_reader"]


def need_reader(ctx: Context) -> NeedReader:
    """The process's reader over the shared store (its category index follows the store)."""
    return ctx.shared("needs.reader", lambda: NeedReader(ctx.store, ctx.store.embed_query))
