"""One progress-bar style for every long CLI job (stderr, so stdout stays data)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

# markup=False: file names, titles and reviews print as they are ("[/b]" is text, not a tag)
stderr = Console(stderr=True, markup=False, highlight=False)
LOG_EVERY_S = 30.0  # off a terminal (a log file, nohup): a plain line this often, not a bar


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[..., None]]:
    """Yields `update(done, total, note="")`; the note (e.g. the loss) follows the bar. Off a
    terminal, where a live bar would show only at the end, it writes a line now and then."""
    if not stderr.is_terminal:
        yield LoggedProgress(label)
        return
    progress = Progress(
        TextColumn(label, markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}", markup=False),
        console=stderr,
    )
    task = progress.add_task(label, total=None, note="")
    with progress:
        yield lambda done, total, note="": progress.update(
            task, completed=done, total=total, note=note
        )


class LoggedProgress:
    """`update(done, total, note="")` writing "label: done/total (share) note" on its first
    call, then at most every LOG_EVERY_S seconds, and once when done reaches total."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.last: float | None = None
        self.finished = False

    def __call__(self, done: int, total: int | None, note: str = "") -> None:
        if self.finished:
            return
        now = time.monotonic()
        self.finished = bool(total) and done >= (total or 0)
        if not self.finished and self.last is not None and now - self.last < LOG_EVERY_S:
            return
        self.last = now
        share = f" ({done / total:.0%})" if total else ""
        took = f", {now - self.started:.0f} s" if self.finished else ""
        stderr.print(f"{self.label}: {done}/{total or '?'}{share}{took} {note}".rstrip())
