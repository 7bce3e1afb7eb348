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
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger(__name__)
Listener = Callable[[str], None]  # the result so far, as Markdown
_listener: ContextVar[Listener | None] = ContextVar("pitchcraft_early_listener", default=None)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


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
