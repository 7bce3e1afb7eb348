"""`pitchcraft ingest` and `pitchcraft store`, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import cli


@pytest.fixture
def store_env(cli_env: dict[str, str], tmp_path: Path, embedding_cache: Path) -> dict[str, str]:
    return {
        **cli_env,
        "PITCHCRAFT_STORE_PATH": str(tmp_path / "chroma"),
        "PITCHCRAFT_CACHE_DIR": str(embedding_cache),
    }


def test_ingest_demo_then_search_with_filters(store_env: dict[str, str]) -> None:
    proc = cli(store_env, "ingest", "demo")
    assert "products: 649 rows: 649 added" in proc.stderr
    stats = json.loads(cli(store_env, "store", "stats").stdout)
    assert stats["products"] == 649 and stats["knowledge"] >= 10
    found = cli(
        store_env,
        "store",
        "search",
        "降噪耳机",
        "-k",
        "5",
        "--json",
        "-f",
        "max_price=200",
        "-f",
        "category=Headphones & Earbuds",
    )
    hits = json.loads(found.stdout)
    assert hits and all(h["product"]["price"] <= 200 for h in hits)
    kb = cli(store_env, "store", "search", "refund", "-c", "knowledge", "-k", "1")
    assert "returns.en.md#" in kb.stdout


def test_ingest_reports_rejects_and_exits_1(store_env: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "cat.csv"
    src.write_text("id,title,price\np1,Desk lamp,19.9\np2,,5\np3,Kettle,abc\n")
    rejects = tmp_path / "rej.jsonl"
    proc = cli(store_env, "ingest", "products", str(src), "--rejects", str(rejects), check=False)
    assert proc.returncode == 1
    assert "3 rows: 1 added, 0 updated, 0 unchanged, 2 rejected" in proc.stderr
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["line"] for r in lines] == [3, 4]
    assert "price" in lines[1]["fields"]


def test_one_oversized_csv_cell_costs_only_its_row(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "catalog.csv"
    src.write_text(
        "id,title,description,price\n"
        "p1,Desk lamp,Warm light,19.9\n"
        f"p2,Kettle,{'x' * 200_000},25\n"  # over the csv module's 131,072-character limit
        "p3,Mug,Stoneware,8\n"
    )
    rejects = tmp_path / "rejects.jsonl"
    proc = cli(store_env, "ingest", "products", str(src), "--rejects", str(rejects), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "3 rows: 2 added, 0 updated, 0 unchanged, 1 rejected" in proc.stderr
    (rejected,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert rejected["line"] == 3
    assert rejected["fields"] == {"description": "String should have at most 20000 characters"}


def test_a_spreadsheet_csv_with_bom_and_semicolons_is_read(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "excel.csv"
    src.write_bytes("\ufeffid;title;price\np1;Desk lamp;19,9 EUR\np2;Kettle;25\n".encode())
    proc = cli(store_env, "ingest", "products", str(src), check=False)
    assert "2 rows: 1 added, 0 updated, 0 unchanged, 1 rejected" in proc.stderr
    unknown = tmp_path / "other.csv"
    unknown.write_text("sku,name,cost\nA1,Lamp,3\nA2,Mug,4\n")
    proc = cli(store_env, "ingest", "products", str(unknown), check=False)
    assert proc.returncode == 2 and proc.stderr.count("error:") == 1
    assert "no column is one pitchcraft knows (found: cost, name, sku;" in proc.stderr


def test_product_text_prints_as_written_never_as_terminal_markup(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "cat.jsonl"
    rows = [
        {"id": "c1", "title": "USB-C cable [/b] 2m", "category": "cables", "price": 9.5},
        {"id": "c2", "title": "[bold red]Lamp[/]", "category": "lighting", "price": 20},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli(store_env, "ingest", "products", str(src))
    found = cli(store_env, "store", "search", "USB-C cable", "-k", "2").stdout
    assert "USB-C cable [/b] 2m  [cables, 9.50 USD]" in found
    assert "[bold red]Lamp[/]  [lighting, 20.00 USD]" in found
    bad = cli(store_env, "store", "search", "x", "-f", "colour[/b]=red", check=False)
    assert "colour[/b]" in bad.stderr  # the error quotes the user's words as typed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["store", "search", "tv", "-f", "colour=red"], "colour: Extra inputs are not permitted"),
        (["store", "search", "tv", "-f", "max_price"], "expected key=value"),
        (["store", "search", "tv", "--mode", "fuzzy"], "use hybrid, vector or keyword"),
        (["ingest", "products", "nowhere.jsonl"], "nowhere.jsonl: no such file"),
        (["ingest", "knowledge", "nowhere"], "no such file or folder"),
    ],
)
def test_store_usage_errors(store_env: dict[str, str], args: list[str], message: str) -> None:
    proc = cli(store_env, *args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
