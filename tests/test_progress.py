"""Progress of long jobs written to a log (not a terminal): lines now and then, not a bar."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from pitchcraft import progress


def test_off_a_terminal_progress_is_a_line_at_the_start_and_one_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = io.StringIO()
    monkeypatch.setattr(progress, "stderr", Console(file=log, force_terminal=False))
    with progress.progress_bar("reading reviews") as update:
        for done in range(1, 101):
            update(done, 100, note=f"loss {done}")
        update(100, 100)  # a repeated last call writes nothing more
    lines = log.getvalue().splitlines()
    assert lines[0] == "reading reviews: 1/100 (1%) loss 1"
    assert lines[1].startswith("reading reviews: 100/100 (100%), ") and len(lines) == 2


def test_a_long_job_off_a_terminal_writes_a_line_every_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = io.StringIO()
    monkeypatch.setattr(progress, "stderr", Console(file=log, force_terminal=False))
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    with progress.progress_bar("steps") as update:
        for done in range(1, 4):
            update(done, None)
    assert log.getvalue().splitlines() == ["steps: 1/?", "steps: 2/?", "steps: 3/?"]
