"""Results before words: what a plugin knows before the model has written its part.

A chat starts `listening`; a plugin working in that context (threads started by
`asyncio.to_thread` or `Context.parallel` inherit it) calls `show` when part of its result is
known, e.g. the recommended products before their reasons, a support answer's sources before
the model's phrasing, each copy variant as it is done. The listener hears Markdown; the
complete reply replaces it. Nothing is computed when nobody listens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
Listener = Callable[[str], None]  # the result so far, as Markdown
_listener: ContextVar[Listener | None] = ContextVar("pitchcraft_early_listener", default=None)


@contextmanager
def scoped(var: ContextVar[T], value: T) -> Iterator[None]:
    """`var` set to `value` for the block (this context and those copied from it)."""
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def listening(listener: Listener) -> AbstractContextManager[None]:
    return scoped(_listener, listener)


def show(render: Callable[[], str]) -> None:
    """Tell a listener what is known so far; `render` runs only when one listens. A preview
    that fails is logged, never the request's failure."""
    listener = _listener.get()
    if listener is None:
        return
    try:
        listener(render())
    except Exception:
        log.exception("an early result could not be shown")
