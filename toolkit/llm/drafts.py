"""Drafts: the model's text while it is being written, for callers that show progress.

A caller starts `listening` in its context; every structured generation made in
that context (threads started by `asyncio.to_thread` or `Context.parallel`
inherit it) is then streamed, and the listener hears the generation's number and
its whole reply so far after each new piece. It is a draft: the plugin may still
check, repair or refuse what the model wrote.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from langchain_core.utils.json import parse_partial_json

from pitchcraft.early import scoped

P = ParamSpec("P")
R = TypeVar("R")
Listener = Callable[[int, str], None]  # (generation number, its text so far)
_listener: ContextVar[Listener | None] = ContextVar("pitchcraft_draft_listener", default=None)
_numbers = itertools.count()


def listening(listener: Listener) -> AbstractContextManager[None]:
    return scoped(_listener, listener)


def quiet(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn`, run with nobody listening: its generations are not streamed."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with scoped(_listener, None):
            return fn(*args, **kwargs)

    return run


def new_draft() -> Callable[[str], None] | None:
    """Where one generation's text goes as it grows; None when nobody listens."""
    listener = _listener.get()
    if listener is None:
        return None
    number = next(_numbers)
    return lambda raw: listener(number, raw)


def readable(raw: str) -> str:
    """The text values of a JSON reply that may still be incomplete, one per line."""
    try:
        data = parse_partial_json(raw.strip())
    except ValueError:
        return ""
    return "\n".join(text.strip() for text in _texts(data) if text.strip())


def _texts(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _texts(value)
    elif isinstance(data, list):
        for value in data:
            yield from _texts(value)
