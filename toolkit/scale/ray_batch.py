"""`pitchcraft run PLUGIN --engine ray`: a batch on a Ray cluster with the local runner's
semantics.

Ray Data reads the files (parsed by the local runner's reader), a pool of actors runs the
plugin (each builds its Context once: store client, model client), and this process writes
every result as it arrives, in the local runner's records, into shards of an output folder.
Ray retries the work of a node that dies; a row key seen twice is written once. A rerun
skips rows already done (same line, same input hash) and drops records of rows that
changed or vanished, so an interrupted job resumes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pitchcraft.batch import BatchReport, BatchStopped, JsonlWriter, Row, run_chunk
from pitchcraft.chain.batch import batch_target
from pitchcraft.errors import PitchcraftError
from pitchcraft.plugin import Plugin
from pitchcraft.registry import Registry
from pitchcraft.scale.cluster import actor_pool, connect, parsed_dataset, ray_errors
from pitchcraft.scale.shards import ShardWriter, compact, read_done, shard_files
from pitchcraft.scale.source import Key, Source, describe_source, parse_file, row_of
from pitchcraft.settings import Settings

ERRORS_FILE = "errors.jsonl"


class PluginWorker:
    """A Ray actor running one plugin over batches of parsed rows."""

    def __init__(self, target: str, settings: Settings) -> None:
        registry = Registry(settings).load()
        self.plugin = batch_target(registry, target)
        self.ctx = registry.context()

    def __call__(self, columns: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"file": [], "line": [], "sha": [], "status": [], "record": []}
        origin: dict[int, tuple[str, str]] = {}
        todo: list[Row] = []
        for i in range(len(columns["line"])):
            file, sha = str(columns["file"][i]), str(columns["sha"][i])
            if columns["done"][i]:
                _emit(out, file, int(columns["line"][i]), sha, "done", None)
                continue
            row = row_of(columns, i)
            origin[id(row)] = (file, sha)
            todo.append(row)
        for row, record in run_chunk(self.plugin, self.ctx, todo):
            file, sha = origin[id(row)]
            if "unavailable" in record:
                down = {"error": str(record["unavailable"])}
                _emit(out, file, row.line, sha, "unavailable", down)
            elif "output" in record:
                _emit(out, file, row.line, sha, "ok", record)
            else:
                _emit(out, file, row.line, sha, str(record["kind"]), record)
        return out


def _emit(
    out: dict[str, list[Any]], file: str, line: int, sha: str, status: str, record: Any
) -> None:
    out["file"].append(file)
    out["line"].append(line)
    out["sha"].append(sha)
    out["status"].append(status)
    out["record"].append("" if record is None else json.dumps(record, ensure_ascii=False))


def run_batch_on_ray(
    plugin: Plugin[Any, Any],
    settings: Settings,
    source_uri: str,
    output: Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    worker_cpus: float = 1.0,
    overwrite: bool = False,
    defaults: dict[str, Any] | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> BatchReport:
    """Run `plugin` over every row of `source_uri` (a file or folder) into the folder
    `output`; see the module docstring. `workers` defaults to one per CPU of the cluster."""
    source = describe_source(source_uri)
    if output.is_file():
        raise PitchcraftError(f"{output} is a file; a batch on Ray writes a folder of shards")
    if overwrite:  # only what a batch writes: the folder may hold other files
        for written in [*shard_files(output), output / ERRORS_FILE]:
            written.unlink(missing_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    ray = connect(address)
    done = read_done(output)
    report = BatchReport(output=output, errors=output / ERRORS_FILE)
    with ray_errors():
        rows = _parsed_rows(ray, source, plugin, defaults or {}, done, settings.batch_size)
        results = rows.map_batches(
            PluginWorker,
            fn_constructor_kwargs={"target": plugin.name, "settings": settings},
            batch_size=settings.batch_size,
            compute=actor_pool(ray, workers, worker_cpus),
            num_cpus=worker_cpus,
            batch_format="numpy",
        )
        current = _write_results(results, source, output, report, on_progress)
    report.stale = sorted(line for _, line in _stale(done, current))
    compact(output, current)
    if report.error_count == 0:
        report.errors.unlink(missing_ok=True)  # type: ignore[union-attr]
        report.errors = None
    return report


def _parsed_rows(
    ray: Any,
    source: Source,
    plugin: Plugin[Any, Any],
    defaults: dict[str, Any],
    done: dict[Key, str],
    rows_per_block: int,
) -> Any:
    options = {"source": source, "model": plugin.Input, "defaults": defaults, "done": done}
    return parsed_dataset(ray, source, parse_file, options, rows_per_block)


def _write_results(
    results: Any,
    source: Source,
    output: Path,
    report: BatchReport,
    on_progress: Callable[[int, int | None], None] | None,
) -> dict[Key, str]:
    """Writes each result as it arrives; returns every row's current input hash."""
    current: dict[Key, str] = {}
    shards = ShardWriter(output, run=time.strftime("%Y%m%d-%H%M%S"))
    errors = JsonlWriter(output / ERRORS_FILE, "w")  # failed rows are retried: errors restart
    down: str | None = None
    try:
        for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
            for i in range(len(batch["line"])):
                key = (str(batch["file"][i]), int(batch["line"][i]))
                if key in current:  # a retried task's second copy
                    continue
                current[key] = str(batch["sha"][i])
                status = str(batch["status"][i])
                place = {"file": key[0]} if not source.single else {}
                if status == "done":
                    report.already_done += 1
                elif status == "unavailable":
                    del current[key]  # left for the rerun
                    down = down or json.loads(batch["record"][i])["error"]
                    continue
                elif status == "ok":
                    report.succeeded += 1
                    record = json.loads(batch["record"][i])
                    shards.write({**place, "line": key[1], "input_sha": current[key], **record})
                else:
                    report.invalid += status == "invalid"
                    report.failed += status == "failed"
                    errors.write({**place, "line": key[1], **json.loads(batch["record"][i])})
            if on_progress:
                on_progress(len(current), None)
            if down is not None:
                raise BatchStopped(
                    f"{down}; stopped after {len(current)} rows "
                    f"({report.succeeded} done now, kept in {output}): rerun the same "
                    "command once it is back"
                )
    finally:
        shards.close()
        errors.close()
    report.total = len(current)
    if on_progress:
        on_progress(report.total, report.total)
    return current


def _stale(done: dict[Key, str], current: dict[Key, str]) -> list[Key]:
    """Rows finished by an earlier run whose input has changed since."""
    return [key for key, sha in done.items() if key in current and current[key] != sha]
