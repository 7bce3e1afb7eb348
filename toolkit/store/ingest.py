"""Load catalogs and knowledge into the store: validated, batched, resumable, reported.

Resuming needs no bookkeeping: upserts are keyed by id and records whose
content hash is unchanged are skipped without embedding, so rerunning an
interrupted ingest commits only what is missing and duplicates nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field, ValidationError

from pitchcraft.batch import INPUT_FORMATS, Row, check_columns, read_rows
from pitchcraft.errors import PitchcraftError, describe_fields, field_errors
from pitchcraft.store.chunking import markdown_sections, slug, split_paragraphs
from pitchcraft.store.collection import UpsertCounts
from pitchcraft.store.schema import KnowledgeChunk, Language, Product, detect_language
from pitchcraft.store.store import ProductStore

Progress = Callable[[int, int], None]
TEXT_SUFFIXES = {".md", ".markdown", ".txt"}


class IngestReport(BaseModel):
    rows: int = 0
    counts: UpsertCounts = Field(default_factory=UpsertCounts)
    rejected: int = 0
    rejects_file: Path | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        c = self.counts
        text = (
            f"{self.rows} rows: {c.added} added, {c.updated} updated, {c.unchanged} unchanged, "
            f"{self.rejected} rejected in {self.seconds:.1f}s"
        )
        if self.rejects_file:
            text += f" (reasons in {self.rejects_file})"
        return text


class Rejects:
    """Writes rejected rows as JSONL, creating the file only if there is something to say."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._fh: Any = None

    def add(
        self, line: int, reason: str, fields: dict[str, str] | None = None, file: str = ""
    ) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", encoding="utf-8")
        record: dict[str, Any] = {"file": file} if file else {}
        record.update(line=line, reason=reason)
        if fields:
            record["fields"] = fields
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()
        self.count += 1

    def close(self) -> Path | None:
        if self._fh is None:
            self.path.unlink(missing_ok=True)  # a stale file from an earlier run would mislead
            return None
        self._fh.close()
        return self.path


def default_rejects_path(source: Path) -> Path:
    return Path.cwd() / f"{source.stem}.rejects.jsonl"


class RejectSink(Protocol):
    def add(self, line: int, reason: str, fields: dict[str, str] | None = None) -> None: ...


class RejectList:
    """Rejected rows kept in memory (a Ray worker's, sent back to be written)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(self, line: int, reason: str, fields: dict[str, str] | None = None) -> None:
        self.records.append({"line": line, "reason": reason, "fields": fields})


def validate_row(row: Row, model: type[BaseModel], rejects: RejectSink) -> Any | None:
    if row.problem is not None:
        rejects.add(row.line, row.problem)
        return None
    try:
        return model.model_validate(row.data or {})
    except ValidationError as err:
        fields = field_errors(err)
        rejects.add(row.line, describe_fields(fields), fields)
        return None


def ingest_products(
    store: ProductStore,
    path: Path,
    rejects_path: Path | None = None,
    batch_size: int = 256,
    on_progress: Progress | None = None,
) -> IngestReport:
    """Validate every row as a Product and upsert the valid ones in batches."""
    start = time.perf_counter()
    rows = read_rows(path)
    check_columns(rows, Product, path)
    rejects = Rejects(rejects_path or default_rejects_path(path))
    report = IngestReport(rows=len(rows))
    first_line: dict[str, int] = {}
    try:
        for offset in range(0, len(rows), batch_size):
            batch: list[Product] = []
            for row in rows[offset : offset + batch_size]:
                product = validate_row(row, Product, rejects)
                if product is None:
                    continue
                if product.id in first_line:
                    rejects.add(row.line, duplicate_id(product.id, first_line), {"id": "duplicate"})
                    continue
                first_line[product.id] = row.line
                batch.append(product)
            report.counts += store.upsert_products(batch)
            if on_progress:
                on_progress(min(offset + batch_size, len(rows)), len(rows))
    finally:
        report.rejected = rejects.count
        report.rejects_file = rejects.close()
        report.seconds = time.perf_counter() - start
    return report


def duplicate_id(product_id: str, first_line: dict[str, int]) -> str:
    return f"duplicate id {product_id!r} (first at line {first_line[product_id]})"


class KnowledgeRow(BaseModel):
    source: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1, max_length=200_000)
    section: str = Field(default="", max_length=500)
    language: Language | None = None


def document_chunks(
    source: str, text: str, language: Language | None = None, section: str = ""
) -> list[KnowledgeChunk]:
    """Chunks of one document (Markdown headings become sections), ids `source#section-n`."""
    sections = markdown_sections(text) if not section else [(section, text.strip())]
    chunks = []
    for name, body in sections:
        for n, piece in enumerate(split_paragraphs(body)):
            chunks.append(
                KnowledgeChunk(
                    id=f"{source}#{slug(name)}-{n}",
                    source=source,
                    section=name,
                    text=piece,
                    language=language or detect_language(piece),
                )
            )
    return chunks


def _language_from_name(path: Path) -> Language | None:
    marker = path.suffixes[-2] if len(path.suffixes) >= 2 else ""
    return {".zh": "zh", ".en": "en"}.get(marker)  # type: ignore[return-value]


def ingest_knowledge(
    store: ProductStore,
    path: Path,
    rejects_path: Path | None = None,
    on_progress: Progress | None = None,
) -> IngestReport:
    """Markdown/text files (a file or a folder, recursively) or JSONL/CSV/Parquet rows
    with `source`, `text` (and optional `section`, `language`). Each source's chunks
    replace what the store held for it, so edited documents leave no stale chunks."""
    start = time.perf_counter()
    rejects = Rejects(rejects_path or default_rejects_path(path))
    documents: list[tuple[str, list[KnowledgeChunk]]] = []
    if path.is_dir() or path.suffix.lower() in TEXT_SUFFIXES:
        documents = list(_text_documents(path, rejects))
    elif path.suffix.lower() in INPUT_FORMATS:
        by_source: dict[str, list[KnowledgeChunk]] = {}
        for row in read_rows(path):
            item = validate_row(row, KnowledgeRow, rejects)
            if item is not None:
                by_source.setdefault(item.source, []).extend(
                    document_chunks(item.source, item.text, item.language, item.section)
                )
        documents = list(by_source.items())
    elif not path.exists():
        raise PitchcraftError(f"{path}: no such file or folder")
    else:
        known = ", ".join(sorted(TEXT_SUFFIXES | set(INPUT_FORMATS)))
        raise PitchcraftError(f"{path}: unsupported knowledge format (use a folder or {known})")
    report = IngestReport(rows=len(documents))
    try:
        for done, (source, chunks) in enumerate(documents, start=1):
            report.counts += store.replace_source(source, _unique(chunks))
            if on_progress:
                on_progress(done, len(documents))
    finally:
        report.rejected = rejects.count
        report.rejects_file = rejects.close()
        report.seconds = time.perf_counter() - start
    return report


def _text_documents(path: Path, rejects: Rejects) -> Iterable[tuple[str, list[KnowledgeChunk]]]:
    files = (
        sorted(p for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES)
        if path.is_dir()
        else [path]
    )
    root = path if path.is_dir() else path.parent
    for number, file in enumerate(files, start=1):
        source = file.relative_to(root).as_posix()
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            rejects.add(number, f"{source}: not UTF-8 text ({err.reason} at byte {err.start})")
            continue
        chunks = document_chunks(source, text, _language_from_name(file))
        if not chunks:
            rejects.add(number, f"{source}: no text")
            continue
        yield source, chunks


def _unique(chunks: Sequence[KnowledgeChunk]) -> list[KnowledgeChunk]:
    """Two sections with the same heading would collide on id; number the later ones."""
    seen: dict[str, int] = {}
    out = []
    for chunk in chunks:
        n = seen.get(chunk.id, 0)
        seen[chunk.id] = n + 1
        out.append(chunk if n == 0 else chunk.model_copy(update={"id": f"{chunk.id}.{n}"}))
    return out
