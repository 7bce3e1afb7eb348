"""The `pitchcraft` command: the one place above the core that wires the demo, the API and
the plugins' own commands. Plugin commands come from the registry, never written per plugin."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from pitchcraft.api.cli import api_key, serve
from pitchcraft.batch_cli import BatchJob, ClusterJob, run_batch_with_progress
from pitchcraft.chain.cli import chain_app
from pitchcraft.cli_common import (
    Engine,
    EngineOption,
    RayAddressOption,
    WorkersOption,
    default_output,
    err,
    friendly_errors,
    load_settings,
    parse_json_object,
    print_json,
    print_skipped,
    read_json_arg,
)
from pitchcraft.errors import PitchcraftError
from pitchcraft.finetune.cli import finetune_command
from pitchcraft.llm.cli import model_app
from pitchcraft.progress import progress_bar
from pitchcraft.registry import Registry
from pitchcraft.settings import config_file
from pitchcraft.store.cli import ingest_app, open_store, store_app

app = typer.Typer(
    name="pitchcraft",
    help="E-commerce marketing toolkit: copy, recommendations, reviews, support, campaign effect.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
plugins_app = typer.Typer(help="Inspect installed plugins.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect settings.", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")
app.add_typer(config_app, name="config")
app.add_typer(ingest_app, name="ingest")
app.add_typer(store_app, name="store")
app.add_typer(model_app, name="model")
app.add_typer(chain_app, name="chain")
app.command("serve")(serve)
app.command("api-key")(api_key)
app.command("finetune")(finetune_command)


@app.command("demo")
@friendly_errors
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
) -> None:
    """Start the Gradio demo: chat, a tab per plugin and per chain. The page opens at once;
    the model loads in the background (the page shows how far)."""
    with err.status("starting the demo ..."):
        try:
            from pitchcraft.demo.app import launch
        except ModuleNotFoundError as missing:
            raise PitchcraftError(
                f"the demo needs the 'demo' extra ({missing.name} is not installed): "
                "bash scripts/setup.sh store model analytics demo"
            ) from None
        unloaded = Registry(load_settings())
    err.print(f"pitchcraft demo on http://{host}:{port} (Ctrl-C stops it)")
    err.print(unloaded.settings.backend_line())
    launch(unloaded, host, port)


@ingest_app.command("demo")
@friendly_errors
def ingest_demo_command() -> None:
    """Load the bundled demo shop (products and policies)."""
    from pitchcraft.data import demo_shop
    from pitchcraft.store.ingest import ingest_knowledge, ingest_products

    store = open_store()
    with progress_bar("demo shop") as update:
        products = ingest_products(store, demo_shop.PRODUCTS, on_progress=update)
        knowledge = ingest_knowledge(store, demo_shop.POLICIES)
    err.print(f"products: {products.summary()}", soft_wrap=True)
    err.print(f"knowledge: {knowledge.summary()}", soft_wrap=True)


def registry() -> Registry:
    return Registry(load_settings()).load()


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
) -> None:
    level = logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


# -- plugins --------------------------------------------------------------------------------


@plugins_app.command("list")
@friendly_errors
def plugins_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List loaded plugins, and any that failed to load with the reason."""
    reg = registry()
    if as_json:
        print_json(
            {
                "plugins": [
                    reg.info(n).model_dump(exclude={"input_schema", "output_schema"})
                    for n in reg.names()
                ],
                "failures": [f.model_dump() for f in reg.failures],
            }
        )
        return
    rows = [("name", "version", "languages", "source", "description")]
    for n in reg.names():
        p = reg.plugins[n]
        rows.append((n, p.version, ",".join(p.languages), reg.sources[n], p.description))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[4]]))
    print_skipped(reg.failures)


@plugins_app.command("info")
@friendly_errors
def plugins_info(name: Annotated[str, typer.Argument(help="Plugin name.")]) -> None:
    """Show a plugin's metadata and its Input/Output JSON schemas."""
    print_json(registry().info(name).model_dump())


# -- config ---------------------------------------------------------------------------------


@config_app.command("show")
@friendly_errors
def config_show() -> None:
    """Print the settings in force and where the config file is."""
    path = config_file()
    print_json(
        {
            "config_file": str(path) if path else None,
            "settings": load_settings().model_dump(mode="json"),
        }
    )


# -- run ------------------------------------------------------------------------------------


@app.command("run")
@friendly_errors
def run(
    plugin: Annotated[str, typer.Argument(help="Plugin name (see `pitchcraft plugins list`).")],
    json_input: Annotated[
        str | None,
        typer.Option("--json", help="One request as JSON, @file.json, or - for stdin."),
    ] = None,
    input_path: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="Batch input: .jsonl, .csv or .parquet, one request a row (with --engine "
            "ray also a folder of them, or a URI such as s3://bucket/reviews/).",
        ),
    ] = None,
    output_path: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Batch output .jsonl (--engine ray: a folder of shards); rerunning resumes it.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Start the batch afresh instead of resuming.")
    ] = False,
    set_values: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="KEY=VALUE for a field every request leaves out (repeatable; JSON values "
            "are parsed, e.g. --set channel=amazon_listing --set variants=2).",
        ),
    ] = None,
    sheet: Annotated[
        Path | None,
        typer.Option("--sheet", help="Also write the batch results as a .csv or .xlsx sheet."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Folder for the batch report (plugins that write one)."),
    ] = None,
    engine: EngineOption = Engine.local,
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
) -> None:
    """Run a plugin on one request (--json) or a whole file (--input/--output)."""
    if (json_input is None) == (input_path is None):
        raise PitchcraftError("give exactly one of --json (one request) or --input (a batch)")
    if (sheet is not None or report is not None) and input_path is None:
        raise PitchcraftError("--sheet and --report need a batch (--input)")
    defaults = parse_set_values(set_values or [])
    reg = registry()
    target = reg.get(plugin)
    ctx = reg.context()
    if json_input is not None:
        request = read_json_arg(json_input)
        if defaults:
            request = {**defaults, **parse_json_object(request)}
        result = target.invoke(request, ctx)
        print_json(result.model_dump(mode="json"))
        return
    assert input_path is not None
    on_ray = engine is Engine.ray
    output = output_path or default_output(input_path, plugin, "" if on_ray else ".jsonl")
    stem = output.name.removesuffix(".jsonl").removesuffix(".out")
    if sheet is None and target.writes_sheet:
        sheet = output.with_name(stem + ".xlsx")
    if report is None and target.writes_report:
        report = output.with_name(stem + ".report")
    batch = BatchJob(
        source=input_path,
        output=output,
        overwrite=overwrite,
        defaults=defaults,
        cluster=ClusterJob(address=ray_address, workers=workers) if on_ray else None,
    )
    run_batch_with_progress(reg, target, batch, sheet, report)


def parse_set_values(values: list[str]) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise PitchcraftError(f"--set {item!r}: expected KEY=VALUE")
        try:
            defaults[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            defaults[key.strip()] = raw
    return defaults


def add_plugin_commands() -> None:
    """`pitchcraft <plugin> ...` for each plugin that brings its own commands; a name the
    core already uses is not taken over."""
    try:
        reg = registry()
    except PitchcraftError:
        return  # bad settings: the command that was run reports them
    taken = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    for name in reg.names():
        commands = reg.plugins[name].commands()
        if commands is not None and name not in taken:
            app.add_typer(commands, name=name)


def main() -> None:
    add_plugin_commands()
    app()
