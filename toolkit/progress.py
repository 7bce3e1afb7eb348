"""One progress-bar style for every long CLI job (stderr, so stdout stays data)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

# markup=False: file names, titles and reviews print as they are ("[/b]" is text, not a tag)
stderr = Console(stderr=True, markup=False, highlight=False)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[..., None]]:
    """Yields `update(done, total, note="")`; the note (e.g. the loss) follows the bar."""
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
