"""Joining (or starting) a Ray cluster, and Ray's errors as pitchcraft's."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pitchcraft.errors import PitchcraftError

if TYPE_CHECKING:
    from pitchcraft.scale.source import Source

NO_RAY = "--engine ray needs Ray: pip install 'pitchcraft[scale]'"
# Reading and parsing files is light; the plugin workers take whole CPUs. Reads ask for none,
# so re-reading the blocks of a node that died never waits behind a full actor pool.
READ_CPUS = 0.0


def ray_module() -> Any:
    try:
        import ray
        import ray.data  # the batch engine
    except ImportError:
        raise PitchcraftError(NO_RAY) from None
    return ray


def connect(address: str | None) -> Any:
    """Ray, connected: to `address` (or RAY_ADDRESS) when given, else a local instance
    started on this machine for the job."""
    ray = ray_module()
    if ray.is_initialized():
        return ray
    # "local" starts a fresh instance; None would join whatever cluster /tmp/ray last
    # recorded, even one that has since died (and wait on it).
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    # Ray's own notices (token auth, actor restarts) on the user's terminal read as errors;
    # failures still reach pitchcraft as exceptions. RAY_BACKEND_LOG_LEVEL set wins.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        ray.init(
            address=address,
            ignore_reinit_error=True,
            log_to_driver=False,
            include_dashboard=False,
            logging_level=logging.ERROR,
        )
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise PitchcraftError(f"cannot join the Ray cluster at {address}: {err}") from None
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # a line per dataset otherwise
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # pitchcraft draws its own
    context.print_on_execution_start = False
    return ray


def cluster_cpus() -> int:
    ray = ray_module()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


@contextmanager
def ray_errors() -> Iterator[None]:
    """A pitchcraft error raised inside a Ray task reaches the user as itself, not wrapped
    in Ray's traceback."""
    try:
        yield
    except PitchcraftError:
        raise
    except Exception as err:
        cause: BaseException | None = err
        while cause is not None:
            if isinstance(cause, PitchcraftError):
                raise cause from None
            inner = getattr(cause, "cause", None)
            cause = inner if isinstance(inner, BaseException) else cause.__cause__
        raise


def parsed_dataset(
    ray: Any,
    source: Source,
    parse: Callable[..., list[dict[str, Any]]],
    options: dict[str, Any],
    rows_per_block: int,
) -> Any:
    """The rows of every file of `source`, parsed by `parse(record, **options)`, streamed in
    blocks of `rows_per_block` so that one large file spreads over every worker. Nothing is
    held back: workers start while files are still being read, and the input never has to
    fit in the object store (so the total is known only at the end)."""
    from pitchcraft.scale.source import EXTENSIONS

    files = ray.data.read_binary_files(
        source.uri,
        include_paths=True,
        file_extensions=EXTENSIONS,
        num_cpus=READ_CPUS,
        # They take no CPU: bound how many files are read at once.
        concurrency=None if source.single else max(2, cluster_cpus()),
    )
    parsed = files.flat_map(parse, fn_kwargs=options, num_cpus=READ_CPUS)
    return parsed.repartition(target_num_rows_per_block=rows_per_block)


def actor_pool(ray: Any, workers: int | None, worker_cpus: float) -> Any:
    """Up to `workers` actors (default: one per cluster CPU), at least one."""
    size = workers or max(1, int(cluster_cpus() // worker_cpus))
    return ray.data.ActorPoolStrategy(min_size=1, max_size=size)
