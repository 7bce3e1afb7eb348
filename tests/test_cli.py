"""The real `pitchcraft` console script, run as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pitchcraft.batch import read_rows
from tests.conftest import SAMPLES

PITCHCRAFT = str(Path(sys.executable).with_name("pitchcraft"))


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([PITCHCRAFT, *args], env=env, capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def with_plugins(env: dict[str, str], *specs: str) -> dict[str, str]:
    return {**env, "PITCHCRAFT_EXTRA_PLUGINS": ",".join(f"{SAMPLES}.{s}" for s in specs)}


def write_jsonl(path: Path, rows: list[object]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_plugins_list_shows_builtins_entry_points_and_failures(cli_env: dict[str, str]) -> None:
    env = with_plugins(cli_env, "broken_import:X")
    proc = cli(env, "plugins", "list")
    assert "ab-test" in proc.stdout and "built-in" in proc.stdout
    assert "seo-keywords" in proc.stdout and "entry point (pitchcraft-seo)" in proc.stdout
    assert "a_module_that_does_not_exist" in proc.stderr
    listed = json.loads(cli(env, "plugins", "list", "--json").stdout)
    assert {p["name"] for p in listed["plugins"]} >= {"ab-test", "seo-keywords"}
    assert listed["failures"][0]["reason"].startswith("import failed")


def test_plugins_info_prints_json_schemas(cli_env: dict[str, str]) -> None:
    info = json.loads(cli(cli_env, "plugins", "info", "ab-test").stdout)
    assert info["input_schema"]["properties"]["variants"]["minItems"] == 2
    assert "comparisons" in info["output_schema"]["properties"]


def test_unknown_plugin_is_a_clear_error(cli_env: dict[str, str]) -> None:
    proc = cli(cli_env, "plugins", "info", "nope", check=False)
    assert proc.returncode == 2
    assert "no plugin named 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_single_request(cli_env: dict[str, str]) -> None:
    env = with_plugins(cli_env, "good:Echo")
    out = json.loads(cli(env, "run", "echo", "--json", '{"text": "你好", "times": 2}').stdout)
    assert out == {"echoed": "你好 你好"}


def test_run_single_request_from_file_and_stdin(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = with_plugins(cli_env, "good:Echo")
    (tmp_path / "req.json").write_text('{"text": "file"}')
    assert json.loads(cli(env, "run", "echo", "--json", f"@{tmp_path}/req.json").stdout)
    proc = subprocess.run(
        [PITCHCRAFT, "run", "echo", "--json", "-"],
        input='{"text": "stdin"}',
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(proc.stdout) == {"echoed": "stdin"}


def test_invalid_single_request_names_the_field(cli_env: dict[str, str]) -> None:
    proc = cli(
        cli_env,
        "run",
        "ab-test",
        "--json",
        '{"variants": [{"name": "a", "users": 10, "conversions": 1},'
        ' {"name": "b", "users": 10, "conversions": 11}]}',
        check=False,
    )
    assert proc.returncode == 2
    assert "variants.1.conversions: conversions (11) cannot exceed users (10)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_plugin_failure_is_a_clear_error(cli_env: dict[str, str]) -> None:
    env = with_plugins(cli_env, "good:Echo")
    proc = cli(env, "run", "echo", "--json", '{"text": "x", "fail": true}', check=False)
    assert proc.returncode == 2
    assert "echo failed: RuntimeError: asked to fail on 'x'" in proc.stderr


def test_batch_reports_bad_rows_and_keeps_going(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = with_plugins(cli_env, "good:Echo")
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"text": "a"}\n'
        '{"text": ""}\n'  # line 2: empty text
        "not json\n"  # line 3
        "\n"
        '{"text": "b", "fail": true}\n'  # line 5: plugin raises
        '["a list"]\n'  # line 6
        '{"text": "c", "times": 3}\n'
    )
    out = tmp_path / "out.jsonl"
    proc = cli(env, "run", "echo", "--input", str(src), "--output", str(out), check=False)
    assert proc.returncode == 1
    assert "7 rows" not in proc.stderr  # blank lines are not rows
    assert "6 rows: 2 done now, 0 already done, 3 invalid, 1 failed" in proc.stderr
    done = {r["line"]: r["output"]["echoed"] for r in read_jsonl(out)}
    assert done == {1: "a", 7: "c c c"}
    errors = {e["line"]: e for e in read_jsonl(Path(f"{out}.errors.jsonl"))}
    assert errors[2]["fields"] == {"text": "String should have at least 1 character"}
    assert errors[3]["error"].startswith("not valid JSON")
    assert errors[5]["kind"] == "failed" and "asked to fail" in errors[5]["error"]
    assert "expected a JSON object" in errors[6]["error"]


def test_batch_from_csv(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = with_plugins(cli_env, "good:Echo")
    src = tmp_path / "in.csv"
    src.write_text("text,times\nhello,2\nworld,\n,1\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = cli(env, "run", "echo", "-i", str(src), "-o", str(out), check=False)
    assert proc.returncode == 1
    assert {r["line"]: r["output"]["echoed"] for r in read_jsonl(out)} == {
        2: "hello hello",
        3: "world",
    }
    assert read_jsonl(Path(f"{out}.errors.jsonl"))[0]["fields"] == {"text": "Field required"}


def test_interrupted_batch_resumes_without_redoing_or_duplicating(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    calls = tmp_path / "calls.log"
    env = {
        **with_plugins(cli_env, "good:Slow"),
        "SLOW_SECONDS": "0.1",
        "SLOW_CALL_LOG": str(calls),
        "PITCHCRAFT_BATCH_SIZE": "2",
        "PITCHCRAFT_CONCURRENCY": "2",
    }
    src = tmp_path / "numbers.jsonl"
    write_jsonl(src, [{"n": i} for i in range(40)])
    out = tmp_path / "squares.jsonl"
    args = [PITCHCRAFT, "run", "slow", "--input", str(src), "--output", str(out)]

    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and len(out.read_text().splitlines()) >= 6:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)  # stdout is not captured: it stays empty
    assert proc.returncode == 130, stderr
    assert "rerun the same command to resume" in stderr
    first_pass = {r["line"] for r in read_jsonl(out)}
    assert 6 <= len(first_pass) < 40

    # Simulate a torn write as well: half a record at the end of the file.
    with out.open("a") as fh:
        fh.write('{"line": 39, "input_')
    calls.write_text("")
    proc2 = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert proc2.returncode == 0, proc2.stderr
    assert f"{len(first_pass)} already done" in proc2.stderr
    records = read_jsonl(out)
    assert sorted(r["line"] for r in records) == list(range(1, 41))
    assert all(r["output"]["square"] == (r["line"] - 1) ** 2 for r in records)
    redone = {int(n) + 1 for n in calls.read_text().split()}
    assert redone.isdisjoint(first_pass)
    assert len(redone) == 40 - len(first_pass)


def test_batch_recomputes_rows_that_changed(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**with_plugins(cli_env, "good:Slow"), "SLOW_SECONDS": "0"}
    src = tmp_path / "n.jsonl"
    out = tmp_path / "o.jsonl"
    write_jsonl(src, [{"n": 1}, {"n": 2}])
    cli(env, "run", "slow", "-i", str(src), "-o", str(out))
    write_jsonl(src, [{"n": 1}, {"n": 5}])
    proc = cli(env, "run", "slow", "-i", str(src), "-o", str(out))
    assert "recomputed 1 rows" in proc.stderr
    assert {r["line"]: r["output"]["square"] for r in read_jsonl(out)} == {1: 1, 2: 25}


def test_overwrite_starts_afresh(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**with_plugins(cli_env, "good:Slow"), "SLOW_SECONDS": "0"}
    src, out = tmp_path / "n.jsonl", tmp_path / "o.jsonl"
    write_jsonl(src, [{"n": 3}])
    cli(env, "run", "slow", "-i", str(src), "-o", str(out))
    proc = cli(env, "run", "slow", "-i", str(src), "-o", str(out), "--overwrite")
    assert "1 done now, 0 already done" in proc.stderr
    assert len(read_jsonl(out)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "ab-test"], "give exactly one of --json"),
        (["run", "ab-test", "-i", "missing.jsonl"], "missing.jsonl: no such file"),
        (["run", "ab-test", "-i", "data.xlsx"], "unsupported input format"),
        (["run", "ab-test", "--json", "@nowhere.json"], "no such file"),
    ],
)
def test_usage_errors_are_one_line(cli_env: dict[str, str], args: list[str], message: str) -> None:
    proc = cli(cli_env, *args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_gbk_file_is_read_as_chinese(tmp_path: Path) -> None:
    src = tmp_path / "gbk.csv"  # what Excel saves on Chinese Windows
    src.write_bytes("text,score\n保温杯很好用,5\n物流太慢,2\n".encode("gbk"))
    assert [r.data for r in read_rows(src)] == [
        {"text": "保温杯很好用", "score": "5"},
        {"text": "物流太慢", "score": "2"},
    ]


def test_rows_that_are_not_utf8_are_rejected_alone(tmp_path: Path) -> None:
    src = tmp_path / "mixed.jsonl"
    good = '{"text": "保温杯"}\n'.encode()
    src.write_bytes(good + '{"text": "保温杯"}\n'.encode("gbk") + good + good)
    rows = read_rows(src)
    assert [r.line for r in rows if r.problem] == [2]
    assert "not UTF-8" in (rows[1].problem or "")
    assert [r.data for r in rows if r.data] == [{"text": "保温杯"}] * 3
    csv_src = tmp_path / "mixed.csv"
    csv_src.write_bytes(b"text,n\nok,1\n" + "坏".encode("gbk") + b",2\n" + "好".encode() + b",3\n")
    problems = {r.line: r.problem for r in read_rows(csv_src) if r.problem}
    assert list(problems) == [3] and "column text" in problems[3]


def test_config_show_reads_toml_and_environment(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('concurrency = 7\nplugins = ["ab-test"]\n')
    env = {**cli_env, "PITCHCRAFT_CONFIG": str(config), "PITCHCRAFT_BATCH_SIZE": "3"}
    shown = json.loads(cli(env, "config", "show").stdout)
    assert shown["config_file"] == str(config)
    assert shown["settings"]["concurrency"] == 7
    assert shown["settings"]["batch_size"] == 3
    assert shown["settings"]["plugins"] == ["ab-test"]


def test_bad_setting_is_a_clear_error(cli_env: dict[str, str]) -> None:
    proc = cli({**cli_env, "PITCHCRAFT_CONCURRENCY": "-1"}, "config", "show", check=False)
    assert proc.returncode == 2
    assert "concurrency (PITCHCRAFT_CONCURRENCY)" in proc.stderr


def test_help_lists_commands(cli_env: dict[str, str]) -> None:
    proc = cli(cli_env, "--help")
    for command in ("plugins", "run", "config"):
        assert command in proc.stdout
    assert os.path.basename(PITCHCRAFT) == "pitchcraft"
