"""Batch inputs for Ray: a file or a folder of files, on local disk or any URI pyarrow reads
(s3://, gs://, hdfs://, ...), parsed by the local runner's own reader so lines, hashes and
row errors are the same."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from pitchcraft.batch import INPUT_FORMATS, Row, check_columns, input_kind, parse_rows
from pitchcraft.errors import PitchcraftError

Key = tuple[str, int]  # (file within the input, line): a row's identity across runs
EXTENSIONS = [suffix.lstrip(".") for suffix in INPUT_FORMATS]


@dataclass(frozen=True)
class Source:
    uri: str  # as the user gave it: what Ray reads
    root: str  # the path Ray reports files under, without a scheme
    single: bool  # one file: records carry no `file`, exactly as the local runner's

    def relative(self, path: str) -> str:
        return "" if self.single else path.removeprefix(self.root).lstrip("/")


def describe_source(uri: str) -> Source:
    """What `uri` names, refusing one that is missing or of an unknown format."""
    if "://" not in uri:
        path = Path(uri).expanduser().resolve()
        if path.is_file():
            input_kind(path.name)
            return Source(str(path), str(path), single=True)
        if path.is_dir():
            return Source(str(path), str(path), single=False)
        raise PitchcraftError(f"{uri}: no such file or folder")
    from pyarrow import fs

    try:
        filesystem, root = fs.FileSystem.from_uri(uri)
        info = filesystem.get_file_info(root)
    except (OSError, ValueError) as err:
        raise PitchcraftError(f"{uri}: cannot be read: {err}") from None
    if info.type == fs.FileType.File:
        input_kind(root)
        return Source(uri, root, single=True)
    if info.type == fs.FileType.Directory:
        return Source(uri, root, single=False)
    raise PitchcraftError(f"{uri}: no such file or folder")


def parse_file(
    record: dict[str, Any],
    *,
    source: Source,
    model: type[BaseModel],
    defaults: dict[str, Any],
    done: dict[Key, str],
) -> list[dict[str, Any]]:
    """One file (Ray's `bytes`, `path`) as rows: the file within the input, line, hash of
    the row (after defaults), its JSON, why it could not be read, and whether an earlier
    run already finished it."""
    name = str(record["path"])
    file = source.relative(name)
    rows = parse_rows(bytes(record["bytes"]), input_kind(name), name)
    check_columns(rows, model, Path(name))
    parsed = []
    for row in rows:
        if row.data is not None and defaults:
            row.data = {**defaults, **row.data}
        sha = row.fingerprint if row.data is not None else ""
        parsed.append(
            {
                "file": file,
                "line": row.line,
                "sha": sha,
                "data": "" if row.data is None else json.dumps(row.data, ensure_ascii=False),
                "problem": row.problem or "",
                "done": bool(sha) and done.get((file, row.line)) == sha,
            }
        )
    return parsed


def row_of(columns: dict[str, Any], index: int) -> Row:
    """The Row at `index` of a batch of parse_file's columns."""
    data = str(columns["data"][index])
    problem = str(columns["problem"][index])
    return Row(int(columns["line"][index]), json.loads(data) if data else None, problem or None)
