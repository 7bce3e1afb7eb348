from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from pitchcraft import Context, InputError, PluginRunError, Settings
from pitchcraft.plugin import NAME_PATTERN, contract_problems
from tests.sample_plugins import bad_schema
from tests.sample_plugins.good import Echo, EchoIn, EchoOut, WrongOutput


@pytest.mark.parametrize("name", ["copywriter", "ab-test", "seo_keywords2", "x"])
def test_valid_names(name: str) -> None:
    assert NAME_PATTERN.match(name)


@pytest.mark.parametrize("name", ["Copywriter", "2fast", "-x", "has space", "", "über", "a.b"])
def test_invalid_names(name: str) -> None:
    assert not NAME_PATTERN.match(name)


def test_good_plugin_has_no_problems() -> None:
    assert contract_problems(Echo) == []


def test_contract_problems_name_each_defect() -> None:
    assert any("Input must be a pydantic" in p for p in contract_problems(bad_schema.BadSchema))
    assert any("must match" in p for p in contract_problems(bad_schema.BadName))
    assert any("run() is not implemented" in p for p in contract_problems(bad_schema.NoRun))
    assert "not a subclass" in contract_problems(object)[0]


def test_parse_input_names_the_field() -> None:
    with pytest.raises(InputError) as caught:
        Echo().parse_input({"text": "", "times": 99})
    assert set(caught.value.fields) == {"text", "times"}
    assert "echo" in str(caught.value)


def test_parse_input_accepts_json_text() -> None:
    assert Echo().parse_input('{"text": "hi"}') == EchoIn(text="hi")
    with pytest.raises(InputError) as caught:
        Echo().parse_input("{not json")
    assert "(request)" in caught.value.fields or caught.value.fields


def test_invoke_runs_and_checks() -> None:
    ctx = Context(Settings())
    assert Echo().invoke({"text": "hi", "times": 2}, ctx) == EchoOut(echoed="hi hi")


def test_output_of_the_wrong_shape_is_a_plugin_error() -> None:
    with pytest.raises(PluginRunError, match="does not match EchoOut"):
        WrongOutput().invoke({"text": "hi"}, Context(Settings()))


def test_run_many_keeps_order_and_isolates_failures() -> None:
    ctx = Context(Settings(concurrency=3))
    reqs = [EchoIn(text=str(i), fail=(i == 2)) for i in range(6)]
    outcomes = asyncio.run(Echo().run_many(reqs, ctx))
    assert len(outcomes) == 6
    assert isinstance(outcomes[2], PluginRunError)
    assert "asked to fail on '2'" in outcomes[2].reason
    assert [o.echoed for i, o in enumerate(outcomes) if i != 2] == ["0", "1", "3", "4", "5"]


def test_run_many_runs_concurrently(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight 0.2 s requests with concurrency 8 finish far sooner than one by one (1.6 s)."""
    import time

    from tests.sample_plugins.good import Slow, SlowIn

    monkeypatch.setenv("SLOW_SECONDS", "0.2")
    ctx = Context(Settings(concurrency=8))
    start = time.perf_counter()
    outcomes = asyncio.run(Slow().run_many([SlowIn(n=i) for i in range(8)], ctx))
    elapsed = time.perf_counter() - start
    assert [o.square for o in outcomes] == [i * i for i in range(8)]
    assert elapsed < 1.0


class _Shared(BaseModel):
    value: int


def test_context_builds_a_shared_resource_once_across_threads() -> None:
    import threading
    import time

    ctx = Context(Settings())
    builds: list[int] = []

    def factory() -> _Shared:
        builds.append(1)
        time.sleep(0.05)
        return _Shared(value=42)

    results: list[_Shared] = []
    threads = [
        threading.Thread(target=lambda: results.append(ctx.shared("thing", factory)))
        for _ in range(10)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    assert all(r is results[0] for r in results)


class CountedEcho(Echo):
    def outcomes(self, result: EchoOut) -> list[tuple[str, str]]:
        return [("length", "long" if len(result.echoed) > 5 else "short")]


def test_outcomes_of_each_result_are_counted_and_exported() -> None:
    from prometheus_client import generate_latest

    from pitchcraft.api.metrics import Metrics

    ctx = Context(Settings())
    plugin = CountedEcho()
    for text in ("hi", "hello there", "yo"):
        plugin.invoke({"text": text}, ctx)
    with pytest.raises(PluginRunError):  # a failure says nothing about itself
        plugin.invoke({"text": "x", "fail": True}, ctx)
    assert ctx.outcomes.totals() == {
        ("echo", "length", "short"): 2,
        ("echo", "length", "long"): 1,
    }
    metrics = Metrics()
    metrics.count_outcomes(ctx.outcomes.totals)
    text = generate_latest(metrics.registry).decode()
    assert 'pitchcraft_plugin_outcomes_total{kind="length",plugin="echo",value="short"} 2.0' in text
