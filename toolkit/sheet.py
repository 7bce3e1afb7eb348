"""Batch results as a spreadsheet a marketer opens: CSV (UTF-8 with BOM, for Excel) or XLSX."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pitchcraft.errors import PitchcraftError

SHEET_FORMATS = (".csv", ".xlsx")
XLSX_CELL_LIMIT = 32_767  # characters Excel keeps in one cell


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted columns; lists of scalars are joined, others kept as JSON."""
    row: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            row.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            if all(not isinstance(v, Mapping | list) for v in value):
                row[name] = "\n".join(map(str, value))
            else:
                row[name] = json.dumps(value, ensure_ascii=False)
        else:
            row[name] = value
    return row


def write_sheet(rows: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write `rows` (columns in first-seen order) to .csv or .xlsx; returns the row count."""
    rows = list(rows)
    suffix = path.suffix.lower()
    if suffix not in SHEET_FORMATS:
        raise PitchcraftError(f"--sheet {path}: use a .csv or .xlsx file name")
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        return len(rows)
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([cell_value(row.get(c)) for c in columns])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    book.save(path)
    return len(rows)


def cell_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:XLSX_CELL_LIMIT]
