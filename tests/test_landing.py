"""Landing strings by their soft limits on a vLLM server: where a JSON text stands, the
per-request bias, and the module as the server's virtualenv imports it. Pure logic; the
real server's landing is tested in tests/test_llm.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from pydantic import BaseModel, Field

from pitchcraft.llm.landing import (
    LANDING_BIAS,
    STOP_BIAS,
    XARG,
    JsonPosition,
    RequestLanding,
    request_limits,
)
from pitchcraft.llm.structured import SOFT_MAX_LENGTH, soft_limits


def position(text: str) -> tuple[str, int] | None:
    reader = JsonPosition()
    for start in range(0, len(text), 3):  # fed in pieces, as tokens come
        reader.feed(text[start : start + 3])
    return reader.open_value()


def test_the_position_names_the_field_of_the_open_string_value() -> None:
    assert position('{"title": "Steel bott') == ("title", 10)
    assert position('{"title": "A", "bullets": ["One", "Tw') == ("bullets", 2)
    assert position('{"a": {"inner": "xy') == ("inner", 2)
    assert position('{"title": "A \\"big\\" b') == ("title", 9)  # escapes count once
    assert position('{"tit') is None  # a key, not a value
    assert position('{"title": "done", ') is None
    assert position('{"title": "A, [b]: {c}", "body": "') == ("body", 0)


def decode_chars(ids: list[int]) -> str:
    return "".join(chr(i) for i in ids)


def test_closing_tokens_gain_as_the_string_nears_its_limit_and_win_at_it() -> None:
    closing = torch.zeros(128, dtype=torch.bool)
    closing[ord('"')] = True
    lengths = torch.ones(128, dtype=torch.long)
    lengths[ord("W")] = 5  # a token of five characters
    landing = RequestLanding({"title": 20}, decode_chars, closing, lengths)
    written: list[int] = [ord(c) for c in '{"title": "']
    gains, long_token = [], []
    for char in "Steel water bottle, 500 ml":
        logits = landing(written, torch.zeros(128))
        gains.append(float(logits[ord('"')]))
        long_token.append(float(logits[ord("W")]))
        assert float(logits[ord("x")]) == (0 if len(gains) <= 20 else float("-inf"))
        written.append(ord(char))
    assert gains[:15] == [0.0] * 15  # under 3/4 of the limit
    assert 0 < gains[16] < LANDING_BIAS and gains[16] < gains[19]
    assert gains[20] == STOP_BIAS  # at the limit
    assert long_token[15] == 0 and long_token[16] == float("-inf")  # 5 would pass 20
    other = RequestLanding({"body": 20}, decode_chars, closing, lengths)
    assert float(other(written, torch.zeros(128))[ord('"')]) == 0  # no limit for title


def test_limits_travel_as_json_in_vllm_xargs_and_bad_ones_are_ignored() -> None:
    class Copy(BaseModel):
        title: str = Field(json_schema_extra={SOFT_MAX_LENGTH: 30})
        tags: list[str] = Field(json_schema_extra={"items": {SOFT_MAX_LENGTH: 8}})
        note: str

    limits = soft_limits(Copy.model_json_schema())
    assert limits == {"title": 30, "tags": 8}
    assert request_limits({XARG: json.dumps(limits)}) == limits
    assert request_limits(None) == request_limits({XARG: "not json"}) == {}
    assert request_limits({XARG: json.dumps({"a": -1, "b": "x", "c": 5})}) == {"c": 5}


def test_the_module_a_server_imports_needs_nothing_of_pitchcraft(tmp_path: Path) -> None:
    from pitchcraft.llm.serve import LANDING_MODULE, landing_plugin, server_env

    folder = landing_plugin(tmp_path)
    code = (
        "import sys; sys.modules['pitchcraft'] = None; "
        f"sys.path.insert(0, {str(folder)!r}); import {LANDING_MODULE} as m; "
        "print(m.landing_bias(100, 100))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert float(run.stdout) == LANDING_BIAS
    assert server_env(plugins=folder)["PYTHONPATH"].split(":")[0] == str(folder)
