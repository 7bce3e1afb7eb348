"""`pitchcraft chain list|run|show`: the chains in chains/ and the user's chains_dir."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from pitchcraft.batch_cli import BatchJob, ClusterJob, run_batch_with_progress
from pitchcraft.chain.batch import CHAIN_PREFIX, batch_target
from pitchcraft.chain.runner import ChainLibrary, ChainResult
from pitchcraft.cli_common import (
    Engine,
    EngineOption,
    RayAddressOption,
    WorkersOption,
    default_output,
    err,
    friendly_errors,
    labelled,
    load_settings,
    parse_json_object,
    print_json,
    print_skipped,
    read_json_arg,
)
from pitchcraft.errors import PitchcraftError
from pitchcraft.registry import Registry

chain_app = typer.Typer(help="Run chains of plugins declared in YAML.", no_args_is_help=True)


def library() -> ChainLibrary:
    return ChainLibrary(Registry(load_settings()).load()).load()


@chain_app.command("list")
@friendly_errors
def chain_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the chains, and any that failed to load with the reason."""
    lib = library()
    chains = [
        {
            "name": c.name,
            "steps": [f"{s.id}:{s.plugin}" for s in c.spec.steps],
            "description": c.description,
        }
        for c in (lib.chains[n] for n in lib.names())
    ]
    if as_json:
        print_json({"chains": chains, "failures": [f.model_dump() for f in lib.failures]})
        return
    for chain in chains:
        typer.echo(f"{chain['name']:<16} {' -> '.join(chain['steps'])}")
        typer.echo(f"{'':<16} {chain['description']}")
    print_skipped(lib.failures)


@chain_app.command("show")
@friendly_errors
def chain_show(name: Annotated[str, typer.Argument(help="Chain name.")]) -> None:
    """Show a chain's steps and its input JSON schema."""
    chain = library().get(name)
    print_json(
        {
            **chain.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            "input_schema": chain.Input.model_json_schema(),
        }
    )


@chain_app.command("run")
@friendly_errors
def chain_run(
    name: Annotated[str, typer.Argument(help="Chain name (see `pitchcraft chain list`).")],
    json_input: Annotated[
        str | None,
        typer.Option("--json", help="The chain input as JSON, @file.json, or - for stdin."),
    ] = None,
    events: Annotated[
        bool, typer.Option("--events", help="Print each step event as a JSON line as it happens.")
    ] = False,
    input_path: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="Batch: one chain input a row (.jsonl, .csv, .parquet; with --engine ray "
            "also a folder or a URI).",
        ),
    ] = None,
    output_path: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Batch output; rerunning resumes it."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Start the batch afresh instead of resuming.")
    ] = False,
    engine: EngineOption = Engine.local,
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
) -> None:
    """Run a chain on one input (prints the result with each step's trace; exit 1 when a
    step failed, earlier steps' results still printed) or on a file of inputs (--input)."""
    if (json_input is None) == (input_path is None):
        raise PitchcraftError("give exactly one of --json (one input) or --input (a batch)")
    if input_path is not None:
        registry = Registry(load_settings()).load()
        on_ray = engine is Engine.ray
        job = BatchJob(
            source=input_path,
            output=output_path or default_output(input_path, name, "" if on_ray else ".jsonl"),
            overwrite=overwrite,
            defaults={},
            cluster=ClusterJob(address=ray_address, workers=workers) if on_ray else None,
        )
        run_batch_with_progress(registry, batch_target(registry, CHAIN_PREFIX + name), job)
        return
    assert json_input is not None
    chain = library().get(name)
    data = parse_json_object(read_json_arg(json_input))

    async def run() -> ChainResult:
        result: ChainResult | None = None
        async for event in chain.astream(data):
            if event.event == "chain_end":
                result = event.result
            elif events:
                typer.echo(json.dumps(event.model_dump(mode="json"), ensure_ascii=False))
            elif event.trace is not None:
                t = event.trace
                err.print(f"step {t.step} ({t.plugin}): {t.status} in {t.seconds:.1f} s")
        assert result is not None
        return result

    result = asyncio.run(run())
    print_json(result.model_dump(mode="json"))
    if result.status == "failed":
        err.print(labelled("chain failed:", "red", str(result.error)))
        raise typer.Exit(1)
