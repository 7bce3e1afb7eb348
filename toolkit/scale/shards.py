"""A Ray batch's output folder: shards of the local runner's records (`line`, `input_sha`,
`output`, and `file` when the input was a folder), resumable like the local runner's file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pitchcraft.batch import SHARD_PATTERN, JsonlWriter
from pitchcraft.scale.source import Key

SHARD_ROWS = 100_000


def shard_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(SHARD_PATTERN)) if folder.is_dir() else []


def _records(lines: Iterable[str]) -> Iterator[tuple[Key, str, str]]:
    """(key, input hash, the line as written) of each whole record; a torn last line from an
    interrupted run is skipped."""
    for text in lines:
        try:
            record = json.loads(text)
            key = (str(record.get("file", "")), int(record["line"]))
            sha = str(record["input_sha"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        yield key, sha, text if text.endswith("\n") else text + "\n"


def read_done(folder: Path) -> dict[Key, str]:
    """Rows an earlier run finished, with the hash of the input they were computed from."""
    done: dict[Key, str] = {}
    for shard in shard_files(folder):
        with shard.open(encoding="utf-8") as handle:
            done.update((key, sha) for key, sha, _ in _records(handle))
    return done


def compact(folder: Path, current: dict[Key, str]) -> int:
    """Drop records of rows that changed, vanished or were written twice; returns how many.
    Each shard is read once; only shards that lose something are rewritten."""
    kept: set[Key] = set()
    dropped = 0
    for shard in shard_files(folder):
        lines = shard.read_text(encoding="utf-8").splitlines(keepends=True)
        keep = []
        for key, sha, text in _records(lines):
            if current.get(key) != sha or key in kept:
                continue
            kept.add(key)
            keep.append(text)
        if len(keep) == len(lines):
            continue
        dropped += len(lines) - len(keep)
        if not keep:
            shard.unlink()
            continue
        tmp = shard.with_name(shard.name + ".tmp")
        tmp.write_text("".join(keep), encoding="utf-8")
        os.replace(tmp, shard)
    return dropped


class ShardWriter:
    """Appends records to `part-<run>-<n>.jsonl`, a new shard every `rows` records; each
    record is flushed as written, so an interrupted job keeps what it finished."""

    def __init__(self, folder: Path, run: str, rows: int = SHARD_ROWS) -> None:
        self.folder = folder
        self.run = run
        self.rows = rows
        self._count = 0
        self._writer: JsonlWriter | None = None

    def write(self, record: dict[str, Any]) -> None:
        if self._writer is None or self._count % self.rows == 0:
            self.close()
            name = f"part-{self.run}-{self._count // self.rows:05d}.jsonl"
            self._writer = JsonlWriter(self.folder / name, "a")
        self._writer.write(record)
        self._count += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
