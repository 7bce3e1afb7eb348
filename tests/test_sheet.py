"""Campaign sheets (`run --sheet`) and defaults for every row (`run --set`)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pitchcraft.errors import PitchcraftError
from pitchcraft.sheet import flatten, write_sheet
from tests.test_cli import cli, with_plugins, write_jsonl


def test_flatten_nests_dots_and_joins_lists() -> None:
    row = flatten({"a": {"b": 1, "c": ["x", "y"]}, "d": [{"e": 1}], "f": None})
    assert row == {"a.b": 1, "a.c": "x\ny", "d": '[{"e": 1}]', "f": None}


def test_csv_opens_in_excel_with_chinese(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    assert write_sheet([{"标题": "金霸王电池", "n": 1}, {"n": 2, "extra": "z"}], path) == 2
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel then reads UTF-8
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows == [["标题", "n", "extra"], ["金霸王电池", "1", ""], ["", "2", "z"]]


def test_xlsx_round_trip(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "s.xlsx"
    write_sheet([{"title": "a\nb", "passed": True, "n": 3}], path)
    values = list(load_workbook(path).active.iter_rows(values_only=True))
    assert values == [("title", "passed", "n"), ("a\nb", True, 3)]


def test_unknown_sheet_format_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PitchcraftError, match=r"use a \.csv or \.xlsx"):
        write_sheet([], tmp_path / "s.ods")


def test_set_fills_fields_rows_leave_out_and_sheet_has_every_row(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = with_plugins(cli_env, "good:Echo")
    src, out, sheet = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "s.csv"
    write_jsonl(src, [{"text": "a"}, {"text": "b", "times": 1}])
    args = [
        "run",
        "echo",
        "-i",
        str(src),
        "-o",
        str(out),
        "--set",
        "times=2",
        "--sheet",
        str(sheet),
    ]
    proc = cli(env, *args)
    assert "sheet: 2 rows" in proc.stderr
    rows = list(csv.DictReader(sheet.read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["line"], r["echoed"]) for r in rows] == [("1", "a a"), ("2", "b")]
    single = cli(env, "run", "echo", "--json", '{"text": "c"}', "--set", "times=3")
    assert '"c c c"' in single.stdout
    bad = cli(env, "run", "echo", "--json", '{"text": "c"}', "--set", "times", check=False)
    assert bad.returncode != 0 and "expected KEY=VALUE" in bad.stderr
