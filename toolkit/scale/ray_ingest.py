"""`pitchcraft ingest products FILE --engine ray`: a catalog into a Chroma server from a
Ray cluster.

Workers validate rows, embed the products that changed and upsert them in batches (the
store skips unchanged products by content hash, so a rerun embeds nothing new and a
retried batch writes the same records again). Rejected rows come back to this process,
which writes them as the local ingest does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pitchcraft.errors import PitchcraftError
from pitchcraft.scale.cluster import actor_pool, connect, parsed_dataset, ray_errors
from pitchcraft.scale.source import Source, describe_source, parse_file, row_of
from pitchcraft.settings import Settings
from pitchcraft.store.collection import UpsertCounts
from pitchcraft.store.ingest import (
    IngestReport,
    RejectList,
    Rejects,
    default_rejects_path,
    duplicate_id,
    validate_row,
)
from pitchcraft.store.schema import Product

NEEDS_SERVER = (
    "--engine ray writes to a Chroma server that every worker reaches: set chroma_url "
    "(PITCHCRAFT_CHROMA_URL), e.g. to a `chroma run --path FOLDER` server"
)


def parse_catalog(record: dict[str, Any], *, source: Source) -> list[dict[str, Any]]:
    """parse_file for products; a repeated id within a file is refused as locally."""
    rows = parse_file(record, source=source, model=Product, defaults={}, done={})
    first_line: dict[str, int] = {}
    for row in rows:
        product_id = json.loads(row["data"]).get("id") if row["data"] else None
        row["duplicate"] = False
        if product_id is None:
            continue
        key = str(product_id)
        if key in first_line:
            row.update(data="", problem=duplicate_id(key, first_line), duplicate=True)
        else:
            first_line[key] = row["line"]
    return rows


class IngestWorker:
    """A Ray actor holding one store client (and its embedder) for all its batches."""

    def __init__(self, settings: Settings) -> None:
        from pitchcraft.store.store import ProductStore

        self.store = ProductStore.from_settings(settings)

    def __call__(self, columns: dict[str, Any]) -> dict[str, list[Any]]:
        products: list[Product] = []
        rejected: list[dict[str, Any]] = []
        for i in range(len(columns["line"])):
            rejects = RejectList()
            if columns["duplicate"][i]:
                rejects.add(
                    int(columns["line"][i]), str(columns["problem"][i]), {"id": "duplicate"}
                )
            elif (product := validate_row(row_of(columns, i), Product, rejects)) is not None:
                products.append(product)
            rejected += [{**r, "file": str(columns["file"][i])} for r in rejects.records]
        counts = self.store.upsert_products(products)
        return {
            "rows": [len(columns["line"])],
            "counts": [counts.model_dump_json()],
            "rejects": [json.dumps(rejected, ensure_ascii=False)],
        }


def ingest_products_on_ray(
    settings: Settings,
    source_uri: str,
    rejects_path: Path | None = None,
    batch_size: int = 256,
    *,
    address: str | None = None,
    workers: int | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> IngestReport:
    if settings.chroma_url is None:
        raise PitchcraftError(NEEDS_SERVER)
    start = time.perf_counter()
    source = describe_source(source_uri)
    ray = connect(address)
    rejects = Rejects(rejects_path or default_rejects_path(Path(source.root)))
    report = IngestReport()
    try:
        with ray_errors():
            rows = parsed_dataset(ray, source, parse_catalog, {"source": source}, batch_size)
            results = rows.map_batches(
                IngestWorker,
                fn_constructor_kwargs={"settings": settings},
                batch_size=batch_size,
                compute=actor_pool(ray, workers, 1.0),
                num_cpus=1.0,
                batch_format="numpy",
            )
            settled = 0
            for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
                for i in range(len(batch["rows"])):
                    settled += int(batch["rows"][i])
                    report.counts += UpsertCounts.model_validate_json(batch["counts"][i])
                    for record in json.loads(batch["rejects"][i]):
                        rejects.add(**record)
                if on_progress:
                    on_progress(settled, None)
            report.rows = settled
    finally:
        report.rejected = rejects.count
        report.rejects_file = rejects.close()
        report.seconds = time.perf_counter() - start
    return report
