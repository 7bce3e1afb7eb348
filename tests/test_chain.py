"""The chain runner: load-time checks, fan-out, traces, events and partial results (on the
sample plugins), and the shipped chains headless through `pitchcraft chain run`."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from pitchcraft.chain.runner import Chain, ChainLibrary
from pitchcraft.chain.spec import ChainError, ChainSpec
from pitchcraft.errors import InputError
from tests.conftest import SAMPLES, make_registry
from tests.shop_fixtures import PITCHCRAFT, shop_env


def registry():  # type: ignore[no-untyped-def]
    return make_registry(
        plugins=["echo", "wrong-output"],
        extra_plugins=[f"{SAMPLES}.good:Echo", f"{SAMPLES}.good:WrongOutput"],
    )


def chain(steps: list[dict[str, object]], **extra: object) -> Chain:
    spec = {
        "name": "t",
        "description": "test",
        "input": {"words": {"type": "list[str]"}, "text": {"type": "str", "default": "hi"}},
        "steps": steps,
        **extra,
    }
    return Chain(ChainSpec.model_validate(spec), registry())


def test_fan_out_maps_each_element_and_paths_map_over_lists() -> None:
    c = chain(
        [
            {
                "id": "each",
                "plugin": "echo",
                "for_each": "$input.words",
                "as": "w",
                "with": {"text": "$w", "times": 2},
            },
            {"id": "joined", "plugin": "echo", "with": {"text": "$each.0.echoed"}},
        ],
        output={"all": "$each.echoed", "first": "$joined.echoed"},
    )
    result = c.invoke({"words": ["a", "b", "c"]})
    assert result.status == "ok"
    assert result.output == {"all": ["a a", "b b", "c c"], "first": "a a"}
    assert [t.step for t in result.trace] == ["each", "joined"]
    assert result.trace[0].inputs == [
        {"text": "a", "times": 2},
        {"text": "b", "times": 2},
        {"text": "c", "times": 2},
    ]


def test_a_failing_step_keeps_earlier_results_and_skips_the_rest() -> None:
    c = chain(
        [
            {"id": "first", "plugin": "echo", "with": {"text": "$input.text"}},
            {"id": "boom", "plugin": "echo", "with": {"text": "x", "fail": True}},
            {"id": "never", "plugin": "echo", "with": {"text": "$first.echoed"}},
        ],
        output={"first": "$first.echoed", "never": "$never.echoed"},
    )
    result = c.invoke({})
    assert result.status == "failed"
    assert [t.status for t in result.trace] == ["ok", "failed", "skipped"]
    assert result.output == {"first": "hi", "never": None}
    assert "asked to fail" in (result.error or "") and "step boom" in (result.error or "")


def test_an_example_that_does_not_fit_the_input_fails_at_load() -> None:
    steps = [{"id": "say", "plugin": "echo", "with": {"text": "$input.text"}}]
    with pytest.raises(ChainError, match=r"chain t, example: words: Input should be a valid list"):
        chain(steps, example={"words": "not a list"})
    ok = chain(steps, example={"words": ["a"], "text": "yo"})
    assert ok.Input.model_json_schema()["examples"] == [{"words": ["a"], "text": "yo"}]


def test_fan_out_with_some_bad_elements_is_partial() -> None:
    c = chain(
        [{"id": "each", "plugin": "echo", "for_each": "$input.words", "with": {"text": "$item"}}]
    )
    result = c.invoke({"words": ["ok", "", "fine"]})
    assert result.status == "partial"
    assert [o["echoed"] for o in result.trace[0].outputs] == ["ok", "fine"]
    assert result.trace[0].errors[0].startswith("item 1: invalid input for echo: text")


def test_events_stream_in_order_with_each_steps_trace() -> None:
    c = chain(
        [
            {"id": "a", "plugin": "echo", "with": {"text": "$input.text"}},
            {"id": "b", "plugin": "echo", "with": {"text": "$a.echoed", "times": 3}},
        ]
    )

    async def collect() -> list[tuple[str, str | None]]:
        return [(e.event, e.step) async for e in c.astream({"text": "yo"})]

    assert asyncio.run(collect()) == [
        ("step_start", "a"),
        ("step_end", "a"),
        ("step_start", "b"),
        ("step_end", "b"),
        ("chain_end", None),
    ]


def test_chain_input_is_validated_naming_the_field() -> None:
    c = chain([{"id": "a", "plugin": "echo", "with": {"text": "$input.text"}}])
    with pytest.raises(InputError, match="chain t: words"):
        c.invoke({"words": "not a list"})


def test_the_chain_is_a_langchain_tool_with_its_input_schema() -> None:
    tool = chain([{"id": "a", "plugin": "echo", "with": {"text": "$input.text"}}]).as_tool()
    assert set(tool.args) == {"words", "text"}
    assert tool.invoke({"text": "tool"})["output"] == {"a": {"echoed": "tool"}}


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [{"id": "a", "plugin": "echo", "with": {"txt": "x"}}],
            "chain t, step a: 'txt' is not an input field of echo (fields: text, times, fail)",
        ),
        (
            [{"id": "a", "plugin": "echo", "with": {"text": "$input.nope"}}],
            "chain t, step a, field text: $input.nope has no field 'nope'",
        ),
        (
            [
                {"id": "a", "plugin": "echo", "with": {"text": "$later.echoed"}},
                {"id": "later", "plugin": "echo", "with": {"text": "x"}},
            ],
            "refers to 'later', which is not the input or an earlier step",
        ),
        ([{"id": "a", "plugin": "nope", "with": {}}], "step a: no plugin named 'nope'"),
        ([{"id": "a", "plugin": "echo", "with": {}}], "step a: required input text of echo"),
        (
            [{"id": "a", "plugin": "echo", "with": {"text": "$input.words"}}],
            "field text: $input.words gives a list, echo wants one value",
        ),
        (
            [{"id": "a", "plugin": "echo", "for_each": "$input.text", "with": {"text": "$item"}}],
            "for_each $input.text is not a list",
        ),
    ],
)
def test_broken_chains_fail_at_load_naming_step_and_field(
    steps: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ChainError) as err:
        chain(steps)
    assert message in str(err.value)


def test_library_reports_a_broken_file_and_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(
        "name: good\ndescription: d\ninput: {text: {type: str, required: true}}\n"
        "steps: [{id: a, plugin: echo, with: {text: $input.text}}]\n"
    )
    (tmp_path / "bad.yaml").write_text(
        "name: bad\ndescription: d\nsteps: [{id: a, plugin: echo, with: {text: $a.x}}]\n"
    )
    (tmp_path / "ugly.yaml").write_text("name: [unclosed\n")
    lib = ChainLibrary(registry(), [tmp_path]).load()
    assert lib.names() == ["good"]
    assert {f.name for f in lib.failures} == {"bad", "ugly"}
    with pytest.raises(ChainError, match="chain bad, step a"):
        lib.get("bad")


def test_shipped_chains_load_against_the_built_in_plugins() -> None:
    lib = ChainLibrary(make_registry()).load()
    assert lib.failures == []
    assert lib.names() == ["campaign", "review-digest", "support"]


def run_cli(demo_store: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PITCHCRAFT, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=shop_env(demo_store, tmp_path),
        cwd=tmp_path,
    )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_campaign_chain_headless_on_the_real_model(demo_store: Path, tmp_path: Path) -> None:
    """A Chinese goal -> relevant products -> checked copy for each -> the copy ranked by
    expected click rate (the stated prior: this shop has logged no campaigns), via the CLI."""
    run = run_cli(
        demo_store,
        tmp_path,
        "chain",
        "run",
        "campaign",
        "--json",
        json.dumps({"goal": "运动相机", "products": 1, "variants": 1}),
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "ok"
    product = result["output"]["products"][0]
    assert product["category"] == "Cameras & Camcorders"
    copy = result["output"]["copy"][0]
    assert copy["product_id"] == product["product_id"] and copy["language"] == "zh"
    assert copy["variants"][0]["text"]
    forecast = result["output"]["forecast"][0]
    assert forecast["basis"] == "prior" and "No model yet" in forecast["note"]
    assert [f["text"] for f in forecast["forecasts"]] == [v["text"] for v in copy["variants"]]
    assert forecast["forecasts"][0]["channel"] == copy["channel"]
    assert "step recommend (recommender): ok" in run.stderr
    assert "step predict (copy-ctr): ok" in run.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_review_digest_chain_headless_ends_with_suggestions(
    demo_store: Path, tmp_path: Path
) -> None:
    """Reviews -> polarity, aspects and reply drafts (real model) -> what to improve."""
    reviews = ["物流太慢了，等了一个星期。", "快递很慢，盒子也压坏了。", "质量很好，做工结实。"]
    run = run_cli(
        demo_store,
        tmp_path,
        "chain",
        "run",
        "review-digest",
        "--json",
        json.dumps({"reviews": reviews, "depth": "fast"}),
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "ok"
    assert result["output"]["polarity"] == ["negative", "negative", "positive"]
    replies = result["output"]["replies"]
    assert replies[0] and replies[1] and replies[2] is None  # drafts for negative reviews only
    top = result["output"]["suggestions"][0]
    assert top["aspect"] == "logistics" and top["negative_reviews"] == 2
    assert all(any(q in r for r in reviews) for q in top["quotes"])
    assert "step digest (review-summary): ok" in run.stderr


@pytest.mark.slow
def test_chain_cli_lists_streams_events_and_reports_bad_input(
    demo_store: Path, tmp_path: Path
) -> None:
    listing = run_cli(demo_store, tmp_path, "chain", "list", "--json")
    assert [c["name"] for c in json.loads(listing.stdout)["chains"]] == [
        "campaign",
        "review-digest",
        "support",
    ]
    events = run_cli(
        demo_store,
        tmp_path,
        "chain",
        "run",
        "support",
        "--events",
        "--json",
        '{"message": "How long do refunds take?"}',
    )
    assert events.returncode == 0, events.stderr
    lines = [json.loads(line) for line in events.stdout.splitlines() if line.startswith('{"event')]
    assert [line["event"] for line in lines] == ["step_start", "step_end"]
    bad = run_cli(demo_store, tmp_path, "chain", "run", "support", "--json", '{"mesage": 1}')
    assert bad.returncode == 2
    assert "invalid input for chain support: message: Field required" in bad.stderr
    assert "Traceback" not in bad.stderr
