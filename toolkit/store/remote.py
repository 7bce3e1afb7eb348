"""A Chroma server that stops answering is the store being unavailable (retry later), not a
fault of the request that happened to need it."""

from __future__ import annotations

from typing import Any

from pitchcraft.store.collection import StoreUnavailable


def unreachable(err: BaseException | None) -> bool:
    """Whether `err`, or an error behind it, is a failed connection."""
    import httpx

    while err is not None:
        if isinstance(err, httpx.TransportError | ConnectionError | TimeoutError):
            return True
        err = err.__cause__ or err.__context__
    return False


def unavailable(url: str, err: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"cannot reach the Chroma server at {url}: {err}")


class Guarded:
    """A Chroma client or collection whose calls raise StoreUnavailable when the server
    cannot be reached; collections it returns are guarded alike."""

    def __init__(self, target: Any, url: str) -> None:
        self._target = target
        self._url = url

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = attr(*args, **kwargs)
            except Exception as err:
                if unreachable(err):
                    raise unavailable(self._url, err) from err
                raise
            if hasattr(result, "upsert") and hasattr(result, "query"):  # a collection
                return Guarded(result, self._url)
            return result

        return call
