"""Resumable batch runs: JSONL/CSV rows in, one JSONL record per finished row out.

Each result is appended (and flushed) as its chunk completes. A rerun with the
same output file skips rows already done, recognised by line number and a hash
of the row, so an interrupted run loses nothing and duplicates nothing. Bad
rows are written to `<output>.errors.jsonl` with their line number and field;
they never stop the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel

from pitchcraft.context import Context
from pitchcraft.errors import DependencyUnavailable, InputError, PitchcraftError, PluginRunError
from pitchcraft.plugin import Plugin

UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)
NOT_UTF8 = "not UTF-8 text: save the file as UTF-8"
INPUT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
# Python's csv module refuses cells over 128 KiB and stops the whole file there; cells up to
# this size are read, so the schema can reject an oversized one by name and keep the rest.
CSV_CELL_LIMIT = 64 * 1024 * 1024
CSV_DELIMITERS = (",", ";", "\t", "|")
SHARD_PATTERN = "part-*.jsonl"  # result shards of a batch on Ray (pitchcraft.scale)


@dataclass
class Row:
    line: int
    data: dict[str, Any] | None = None
    problem: str | None = None  # why the row could not even be read

    @property
    def fingerprint(self) -> str:
        canonical = json.dumps(self.data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass
class BatchReport:
    total: int = 0
    already_done: int = 0
    succeeded: int = 0
    invalid: int = 0
    failed: int = 0
    output: Path | None = None
    errors: Path | None = None
    stale: list[int] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return self.invalid + self.failed


@contextmanager
def prompt_interrupts() -> Iterator[None]:
    """Ctrl-C raises at once, even inside asyncio.run: asyncio's own handler only cancels
    the main task, and a task that finishes before it sees the cancel swallows the
    interrupt, so a batch would run on."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def errors_path(output: Path) -> Path:
    return output.with_name(output.name + ".errors.jsonl")


def input_kind(name: str) -> str:
    """jsonl, csv or parquet, from a file name's suffix."""
    kind = INPUT_FORMATS.get(Path(name).suffix.lower())
    if kind is None:
        known = ", ".join(sorted(INPUT_FORMATS))
        raise PitchcraftError(f"{name}: unsupported input format (use one of: {known})")
    return kind


def read_rows(path: Path) -> list[Row]:
    """Rows of a JSONL, CSV or Parquet file, numbered by their line in the file
    (CSV: the header is line 1; Parquet: row index + 1)."""
    kind = input_kind(str(path))
    if not path.is_file():
        raise PitchcraftError(f"{path}: no such file")
    return parse_rows(path.read_bytes(), kind, str(path))


def parse_rows(raw: bytes, kind: str, name: str) -> list[Row]:
    """Rows of a whole file's bytes (`kind` from input_kind); `name` is for messages."""
    if kind == "parquet":
        return _parquet_rows(raw, name)
    lines = io.StringIO(decode_text(raw), newline="")
    return list(_jsonl_rows(lines) if kind == "jsonl" else _csv_rows(lines))


def decode_text(raw: bytes) -> str:
    """UTF-8 (with or without BOM); a file that is mostly not UTF-8 but valid GB18030 (as
    Excel saves CSV on Chinese Windows) is read as GB18030. Otherwise bytes that are not
    UTF-8 become lone surrogates, so only the rows holding them are rejected."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    lines = raw.splitlines()
    broken = sum(1 for line in lines if not _is_utf8(line))
    if broken > sum(1 for line in lines if not line.isascii()) / 2:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            pass
    return raw.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _undecodable(text: str) -> bool:
    return UNDECODABLE.search(text) is not None


def _jsonl_rows(lines: Iterator[str]) -> Iterator[Row]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if _undecodable(text):
            yield Row(number, problem=NOT_UTF8)
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            yield Row(number, problem=f"not valid JSON: {err.msg} (column {err.colno})")
            continue
        if not isinstance(value, dict):
            yield Row(number, problem=f"expected a JSON object, got {type(value).__name__}")
            continue
        yield Row(number, data=value)


def csv_delimiter(header: str) -> str:
    """The header line's delimiter: `,` or what spreadsheets save in many locales (`;`), tab
    or `|`, whichever splits the header into the most columns."""
    counts = {d: header.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _csv_rows(lines: io.StringIO) -> Iterator[Row]:
    csv.field_size_limit(max(csv.field_size_limit(), CSV_CELL_LIMIT))
    header = lines.readline()
    lines.seek(0)
    reader = csv.DictReader(lines, delimiter=csv_delimiter(header))
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as err:  # this row only; reading goes on with the next line
            yield Row(reader.line_num, problem=f"not readable as CSV: {err}")
            continue
        if None in record:  # more cells than header columns
            yield Row(reader.line_num, problem="more cells than the header has columns")
            continue
        garbled = [k for k, v in record.items() if _undecodable(f"{k}{v}")]
        if garbled:
            yield Row(reader.line_num, problem=f"{NOT_UTF8} (column {', '.join(garbled)})")
            continue
        # Empty cells mean "not given", so schema defaults apply.
        yield Row(reader.line_num, data={k: v for k, v in record.items() if v not in ("", None)})


def _parquet_rows(raw: bytes, name: str) -> list[Row]:
    try:
        import pandas as pd

        frame = pd.read_parquet(io.BytesIO(raw))
    except ImportError:
        raise PitchcraftError(
            "reading Parquet needs pandas and pyarrow (the store extra)"
        ) from None
    except Exception as err:
        raise PitchcraftError(f"{name}: not a readable Parquet file: {err}") from None
    # Through JSON so every value is a plain Python type; nulls mean "not given".
    records = json.loads(frame.to_json(orient="records", force_ascii=False, date_format="iso"))
    return [
        Row(number, data={k: v for k, v in record.items() if v is not None})
        for number, record in enumerate(records, start=1)
    ]


def accepted_names(model: type[BaseModel]) -> set[str]:
    """Every key a row may use for a field of `model`: names, aliases, alias choices."""
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                names.add(alias)
            elif isinstance(alias, AliasChoices):
                names.update(c for c in alias.choices if isinstance(c, str))
    return names


def check_columns(rows: Sequence[Row], model: type[BaseModel], path: Path) -> None:
    """One clear error when no row uses any column `model` knows (a header saved with an
    unexpected delimiter, another file), instead of 'Field required' on every row."""
    found = {key for row in rows if row.data for key in row.data}
    if not found or found & accepted_names(model):
        return
    shown = ", ".join(sorted(found)[:8]) + (" ..." if len(found) > 8 else "")
    expected = ", ".join(sorted(model.model_fields)[:12])
    raise PitchcraftError(
        f"{path}: no column is one pitchcraft knows (found: {shown}; expected some of: {expected})"
    )


def load_done(output: Path, fingerprints: dict[int, str]) -> tuple[set[int], list[int]]:
    """Lines already finished in `output`; drops records of rows that changed or vanished.

    Returns (done lines, stale lines). A torn last line from an interrupted
    run is dropped too. The file is rewritten only if something was dropped.
    """
    if not output.exists():
        return set(), []
    kept: list[str] = []
    done: set[int] = set()
    stale: list[int] = []
    dirty = False
    with output.open(encoding="utf-8") as fh:
        for text in fh:
            try:
                record = json.loads(text)
                line, sha = int(record["line"]), str(record["input_sha"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                dirty = True  # torn or foreign line
                continue
            if fingerprints.get(line) != sha or line in done:
                stale.append(line)
                dirty = True
                continue
            done.add(line)
            kept.append(text if text.endswith("\n") else text + "\n")
    if dirty:
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, output)
    return done, stale


class BatchStopped(PitchcraftError):
    """The batch cannot go on (a dependency is down, the output cannot be written); rows
    finished so far are kept, and the same command resumes."""


class JsonlWriter:
    def __init__(self, path: Path, mode: str) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open(mode, encoding="utf-8")
        except OSError as err:
            raise self._stopped(err) from None

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._fh.flush()
        except OSError as err:
            raise self._stopped(err) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the write that failed has already said why
            self._fh.close()

    def _stopped(self, err: OSError) -> BatchStopped:
        return BatchStopped(f"cannot write {self.path}: {err.strerror or err}")


def run_batch(
    plugin: Plugin[Any, Any],
    ctx: Context,
    input_path: Path,
    output: Path,
    *,
    overwrite: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    defaults: dict[str, Any] | None = None,
) -> BatchReport:
    """Run `plugin` over every row of `input_path`; see the module docstring.

    `on_progress(done, total)` is called after each row is settled. `defaults`
    fill fields a row leaves out (a row's own value wins).
    """
    rows = read_rows(input_path)
    check_columns(rows, plugin.Input, input_path)
    for row in rows:
        if row.data is not None and defaults:
            row.data = {**defaults, **row.data}
    if overwrite and output.exists():
        output.unlink()
    fingerprints = {r.line: r.fingerprint for r in rows if r.data is not None}
    done, stale = load_done(output, fingerprints)
    report = BatchReport(
        total=len(rows), already_done=len(done), output=output, errors=errors_path(output)
    )
    report.stale = stale
    pending = [r for r in rows if r.line not in done]
    settled = len(done)
    if on_progress:
        on_progress(settled, report.total)

    results = JsonlWriter(output, "a")
    errors = JsonlWriter(errors_path(output), "w")  # failed rows are retried, so errors restart
    try:
        for start in range(0, len(pending), ctx.settings.batch_size):
            chunk = pending[start : start + ctx.settings.batch_size]
            down: DependencyUnavailable | None = None
            for row, record in run_chunk(plugin, ctx, chunk):
                line = row.line
                if "unavailable" in record:  # not the row's fault: it is left for the rerun
                    down = down or record["unavailable"]
                    continue
                if "output" in record:
                    report.succeeded += 1
                    results.write({"line": line, "input_sha": fingerprints[line], **record})
                else:
                    report.invalid += record["kind"] == "invalid"
                    report.failed += record["kind"] == "failed"
                    errors.write({"line": line, **record})
                settled += 1
                if on_progress:
                    on_progress(settled, report.total)
            if down is not None:  # every row after this one would fail the same way
                raise BatchStopped(
                    f"{down}; stopped after {settled} of {report.total} rows "
                    f"({report.succeeded} done now, kept in {output}): rerun the same "
                    "command once it is back"
                ) from None
    finally:
        results.close()
        errors.close()
    if report.error_count == 0:
        errors_path(output).unlink(missing_ok=True)
        report.errors = None
    return report


def run_chunk(
    plugin: Plugin[Any, Any], ctx: Context, chunk: Sequence[Row]
) -> Iterator[tuple[Row, dict[str, Any]]]:
    """Each row of `chunk` with its record: `output`, an error (`kind`, `error`, maybe
    `fields`), or `unavailable` (a dependency is down; not the row's fault)."""
    valid: list[tuple[Row, Any]] = []
    for row in chunk:
        if row.problem is not None:
            yield row, {"kind": "invalid", "error": row.problem}
            continue
        try:
            valid.append((row, plugin.parse_input(row.data or {})))
        except InputError as err:
            yield row, {"kind": "invalid", "error": str(err), "fields": err.fields}
    if not valid:
        return
    with prompt_interrupts():
        outcomes = asyncio.run(plugin.run_many([req for _, req in valid], ctx))
    if len(outcomes) != len(valid):
        raise PitchcraftError(
            f"{plugin.name}.run_many returned {len(outcomes)} outcomes for {len(valid)} requests"
        )
    for (row, _), outcome in zip(valid, outcomes, strict=True):
        try:
            if isinstance(outcome, PluginRunError):
                if isinstance(outcome.cause, DependencyUnavailable):
                    yield row, {"unavailable": outcome.cause}
                    continue
                raise outcome
            yield row, {"output": plugin.check_output(outcome).model_dump(mode="json")}
        except PluginRunError as err:
            yield row, {"kind": "failed", "error": err.reason}


def result_files(output: Path) -> list[Path]:
    """The files holding a batch's results: the local runner's file, or a Ray job's shards."""
    if output.is_dir():
        return sorted(output.glob(SHARD_PATTERN))
    return [output] if output.exists() else []


def done_results(output: Path) -> list[tuple[int, dict[str, Any]]]:
    """(input line, output) of every finished row of a batch, in input order (by file
    within a folder input, then line)."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for path in result_files(output):
        with path.open(encoding="utf-8") as handle:
            for text in handle:
                try:
                    record = json.loads(text)
                    found[(str(record.get("file", "")), int(record["line"]))] = record["output"]
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a torn last line from an interrupted run
    return [(line, output) for (_, line), output in sorted(found.items())]


def write_results_sheet(plugin: Plugin[Any, Any], output: Path, sheet: Path) -> int:
    """A spreadsheet of a batch's results, one or more rows per input line (plugin.sheet_rows)."""
    from pitchcraft.sheet import write_sheet

    rows = [
        {"line": line, **row}
        for line, data in done_results(output)
        for row in plugin.sheet_rows(plugin.Output.model_validate(data))
    ]
    return write_sheet(rows, sheet)


def write_batch_report(
    plugin: Plugin[Any, Any], ctx: Context, output: Path, folder: Path
) -> list[Path]:
    """The plugin's report over every finished row of a batch (plugin.write_report)."""
    results = [plugin.Output.model_validate(data) for _, data in done_results(output)]
    folder.mkdir(parents=True, exist_ok=True)
    return plugin.write_report(results, folder, ctx)
