"""`pitchcraft ingest ...` and `pitchcraft store ...`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pitchcraft.cli_common import (
    Engine,
    EngineOption,
    RayAddressOption,
    WorkersOption,
    err,
    friendly_errors,
    load_settings,
    out,
    print_json,
)
from pitchcraft.context import Context
from pitchcraft.errors import InputError, PitchcraftError
from pitchcraft.progress import progress_bar

if TYPE_CHECKING:
    from pitchcraft.store import ProductStore
    from pitchcraft.store.ingest import IngestReport

ingest_app = typer.Typer(help="Load catalogs and knowledge into the store.", no_args_is_help=True)
store_app = typer.Typer(help="Look into the product store.", no_args_is_help=True)

RejectsOption = Annotated[
    Path | None,
    typer.Option(
        "--rejects", help="Where to list rejected rows (default ./<input>.rejects.jsonl)."
    ),
]


def open_store() -> ProductStore:
    return Context(load_settings()).store


def finish(report: IngestReport) -> None:
    err.print(report.summary(), soft_wrap=True)
    if report.rejected:
        raise typer.Exit(1)


def interrupted() -> typer.Exit:
    err.print("interrupted: committed batches are kept; rerun the same command to resume")
    return typer.Exit(130)


@ingest_app.command("products")
@friendly_errors
def ingest_products_command(
    file: Annotated[
        str,
        typer.Argument(
            help="Catalog: .jsonl, .csv or .parquet (with --engine ray also a folder of "
            "them, or a URI such as s3://bucket/catalog/)."
        ),
    ],
    rejects: RejectsOption = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 256,
    engine: EngineOption = Engine.local,
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
) -> None:
    """Validate and upsert products (by id). Rerunning skips unchanged products."""
    try:
        with progress_bar("products") as update:
            if engine is Engine.ray:
                from pitchcraft.scale.ray_ingest import ingest_products_on_ray

                report = ingest_products_on_ray(
                    load_settings(),
                    file,
                    rejects,
                    batch_size,
                    address=ray_address,
                    workers=workers,
                    on_progress=update,
                )
            else:
                from pitchcraft.store.ingest import ingest_products

                report = ingest_products(
                    open_store(), Path(file), rejects, batch_size, on_progress=update
                )
    except KeyboardInterrupt:
        raise interrupted() from None
    finish(report)


@ingest_app.command("knowledge")
@friendly_errors
def ingest_knowledge_command(
    path: Annotated[
        Path, typer.Argument(help="A Markdown/text file or folder, or .jsonl/.csv/.parquet rows.")
    ],
    rejects: RejectsOption = None,
) -> None:
    """Chunk and upsert policy/FAQ documents; an edited document replaces its old chunks."""
    from pitchcraft.store.ingest import ingest_knowledge

    store = open_store()
    try:
        with progress_bar("documents") as update:
            report = ingest_knowledge(store, path, rejects, on_progress=update)
    except KeyboardInterrupt:
        raise interrupted() from None
    finish(report)


@store_app.command("stats")
@friendly_errors
def stats_command() -> None:
    """Counts per collection, category and language."""
    print_json(open_store().stats().model_dump())


def parse_filters(pairs: list[str]) -> dict[str, object]:
    filters: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PitchcraftError(f"--filter {pair!r}: expected key=value, e.g. max_price=500")
        if key in ("category", "brand"):
            filters.setdefault(key, []).append(value)  # type: ignore[union-attr]
        else:
            filters[key] = value
    return filters


@store_app.command("search")
@friendly_errors
def search_command(
    query: Annotated[str, typer.Argument(help="What to look for, in Chinese or English.")],
    collection: Annotated[
        str, typer.Option("--collection", "-c", help="products or knowledge.")
    ] = "products",
    k: Annotated[int, typer.Option("-k", min=1, max=200, help="How many results.")] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, vector or keyword.")] = "hybrid",
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            "-f",
            help="key=value; keys: category, brand (repeatable), min_price, max_price, "
            "in_stock, language.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Full results as JSON.")] = False,
) -> None:
    """Search products or knowledge, as a plugin would."""
    from pydantic import ValidationError

    from pitchcraft.store import ProductFilter

    if mode not in ("hybrid", "vector", "keyword"):
        raise PitchcraftError(f"--mode {mode!r}: use hybrid, vector or keyword")
    if collection not in ("products", "knowledge"):
        raise PitchcraftError(f"--collection {collection!r}: use products or knowledge")
    try:
        product_filter = ProductFilter.model_validate(parse_filters(filters or []))
    except ValidationError as exc:
        raise InputError.from_validation("--filter", exc) from None
    store = open_store()
    if collection == "products":
        hits = store.search_products(query, k, product_filter, mode)  # type: ignore[arg-type]
        rows = [(h, f"{h.product.title}  [{h.product.category}, {price(h.product)}]") for h in hits]
    else:
        if filters:
            raise PitchcraftError("--filter applies to products only")
        found = store.search_knowledge(query, k, mode=mode)  # type: ignore[arg-type]
        rows = [(h, f"{h.chunk.section}: {h.chunk.text[:100]}") for h in found]
    if as_json:
        print_json([hit.model_dump(mode="json") for hit, _ in rows])
        return
    for rank, (hit, text) in enumerate(rows, start=1):
        out.print(f"{rank:>3}. {hit.id}  {text}", soft_wrap=True)


def price(product: object) -> str:
    value = getattr(product, "price", None)
    return "no price" if value is None else f"{value:.2f} {getattr(product, 'currency', '')}"
