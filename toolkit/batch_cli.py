"""Batch commands' shared plumbing: where a batch runs, its progress bar, its summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from pitchcraft.batch import BatchStopped, run_batch, write_batch_report, write_results_sheet
from pitchcraft.cli_common import EXIT_UNAVAILABLE, err, labelled
from pitchcraft.plugin import Plugin
from pitchcraft.progress import progress_bar
from pitchcraft.registry import Registry


@dataclass(frozen=True)
class ClusterJob:
    address: str | None
    workers: int | None


@dataclass(frozen=True)
class BatchJob:
    source: str
    output: Path
    overwrite: bool
    defaults: dict[str, Any]
    cluster: ClusterJob | None  # None: this process


def run_batch_with_progress(
    reg: Registry,
    plugin: Plugin[Any, Any],
    job: BatchJob,
    sheet: Path | None = None,
    report_dir: Path | None = None,
) -> None:
    """A batch (`run --input`, `chain run --input`) with a progress bar and a summary on
    stderr; exit 1 when rows failed, 3 when a dependency went away, 130 on Ctrl-C."""
    output = job.output
    try:
        with progress_bar(plugin.name) as update:
            if job.cluster is None:
                report = run_batch(
                    plugin,
                    reg.context(),
                    Path(job.source),
                    output,
                    overwrite=job.overwrite,
                    on_progress=update,
                    defaults=job.defaults,
                )
            else:
                from pitchcraft.scale.ray_batch import run_batch_on_ray

                report = run_batch_on_ray(
                    plugin,
                    reg.settings,
                    job.source,
                    output,
                    address=job.cluster.address,
                    workers=job.cluster.workers,
                    overwrite=job.overwrite,
                    defaults=job.defaults,
                    on_progress=update,
                )
    except KeyboardInterrupt:
        err.print(f"interrupted: finished rows are in {output}; rerun the same command to resume")
        raise typer.Exit(130) from None
    except BatchStopped as stopped:
        err.print(labelled("error:", "red", str(stopped)), soft_wrap=True)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    if report.stale:
        err.print(f"recomputed {len(report.stale)} rows that changed since the last run")
    err.print(
        f"{report.total} rows: {report.succeeded} done now, {report.already_done} already done, "
        f"{report.invalid} invalid, {report.failed} failed -> {output}",
    )
    if sheet is not None:
        count = write_results_sheet(plugin, output, sheet)
        err.print(f"sheet: {count} rows -> {sheet}")
    if report_dir is not None:
        files = write_batch_report(plugin, reg.context(), output, report_dir)
        err.print(f"report: {len(files)} files -> {report_dir}")
    if report.errors is not None:
        err.print(f"row errors (line number, field, reason): {report.errors}")
        raise typer.Exit(1)
