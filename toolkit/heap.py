"""Handing memory freed by large transient buffers back to the system."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


def trim_heap() -> None:
    """Return freed heap pages to the system (glibc; a no-op elsewhere).

    A generate call allocates and frees hundreds of MB of attention and cache tensors whose
    sizes change with every batch; glibc keeps the freed pages in its arenas, so a long run's
    resident memory climbs with each new batch shape (2.28 -> 2.62 GiB over ten batches of
    the embedded model) although nothing is leaked. Trimming after a batch takes
    milliseconds and keeps it flat (1.46 -> 1.50 GiB)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
