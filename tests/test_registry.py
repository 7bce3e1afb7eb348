from __future__ import annotations

import pytest

from pitchcraft import PluginNotFound, Registry, Settings
from tests.conftest import SAMPLES, make_registry


def test_builtins_are_discovered() -> None:
    reg = make_registry()
    assert "ab-test" in reg.names()
    assert reg.sources["ab-test"] == "built-in"


def test_example_plugin_is_discovered_through_its_entry_point() -> None:
    reg = make_registry()
    assert "seo-keywords" in reg.names()
    assert reg.sources["seo-keywords"] == "entry point (pitchcraft-seo)"
    info = reg.info("seo-keywords")
    assert info.input_schema["properties"]["titles"]["type"] == "array"


def test_broken_plugins_are_reported_and_isolated() -> None:
    reg = make_registry(
        extra_plugins=[
            f"{SAMPLES}.broken_import:Anything",
            f"{SAMPLES}.bad_schema:BadSchema",
            f"{SAMPLES}.bad_schema:BadName",
            f"{SAMPLES}.bad_schema:NoRun",
            f"{SAMPLES}.good:Echo",
            f"{SAMPLES}.duplicate:EchoAgain",
            "not-a-spec",
        ]
    )
    reasons = {f.source: f.reason for f in reg.failures}
    assert (
        "No module named 'a_module_that_does_not_exist'"
        in reasons[f"extra_plugins ({SAMPLES}.broken_import:Anything)"]
    )
    assert (
        "Input must be a pydantic BaseModel"
        in reasons[f"extra_plugins ({SAMPLES}.bad_schema:BadSchema)"]
    )
    assert "must match" in reasons[f"extra_plugins ({SAMPLES}.bad_schema:BadName)"]
    assert "run() is not implemented" in reasons[f"extra_plugins ({SAMPLES}.bad_schema:NoRun)"]
    dup = next(f for f in reg.failures if "duplicate" in f.reason)
    assert dup.name == "echo"
    assert "already provided by extra_plugins" in dup.reason
    assert "not of the form 'module:Class'" in reasons["extra_plugins (not-a-spec)"]
    # The rest of the registry still works.
    assert {"ab-test", "seo-keywords", "echo"} <= set(reg.names())
    assert reg.get("echo").invoke({"text": "ok"}, reg.context()).echoed == "ok"


def test_a_builtin_that_fails_is_isolated_too() -> None:
    reg = Registry(
        Settings(),
        builtins={
            "ab-test": "pitchcraft.plugins.effect.plugin:ABTestAnalyzer",
            "gone": "pitchcraft.plugins.gone:X",
        },
    ).load()
    assert reg.names()[0] == "ab-test"
    assert reg.failures[0].name == "gone"
    with pytest.raises(PluginNotFound, match="failed to load: import failed"):
        reg.get("gone")


def test_registered_name_must_match_class_name() -> None:
    reg = Registry(
        Settings(), builtins={"other": "pitchcraft.plugins.effect.plugin:ABTestAnalyzer"}
    ).load()
    assert "ab-test" not in reg.names()
    assert "registered as 'other' but the class is named 'ab-test'" in reg.failures[0].reason


def test_allow_list_limits_what_loads_and_reports_unknown_names() -> None:
    reg = make_registry(plugins=["ab-test", "missing-one"])
    assert reg.names() == ["ab-test"]
    assert [f.name for f in reg.failures] == ["missing-one"]


def test_allow_list_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PITCHCRAFT_PLUGINS", "seo-keywords, ab-test")
    assert Registry().load().names() == ["ab-test", "seo-keywords"]


def test_load_is_idempotent() -> None:
    reg = make_registry(extra_plugins=[f"{SAMPLES}.good:Echo"])
    first = dict(reg.plugins)
    reg.load()
    assert reg.plugins == first
    assert not reg.failures


def test_unknown_plugin_lists_the_available_ones() -> None:
    listed = r"no plugin named 'nope' \(available: ab-metric, ab-test"
    with pytest.raises(PluginNotFound, match=listed):
        make_registry().get("nope")


def test_plugins_that_warm_up_are_warmed_after_the_store_and_model_and_failures_only_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pitchcraft.warmup import OK, WarmUp
    from tests.sample_plugins.good import Echo

    warmed: list[str] = []

    class Warm(Echo):
        name = "warm"

        def warm_up(self, ctx: object) -> None:
            warmed.append(self.name)

    class Broken(Echo):
        name = "broken"

        def warm_up(self, ctx: object) -> None:
            raise RuntimeError("no logs here")

    warm = WarmUp(lambda: None, {"echo": Echo(), "warm": Warm(), "broken": Broken()})  # type: ignore[arg-type,return-value]
    assert list(warm.checks) == ["store", "model", "plugins"]  # echo has nothing to warm
    warm.checks = {"plugins": warm.checks["plugins"]}  # the store and model are not here
    warm.state = {"plugins": "waiting"}
    with caplog.at_level("WARNING"):
        warm.run()
    assert warmed == ["warm"] and warm.state == {"plugins": OK}
    assert "plugin broken could not warm up: RuntimeError: no logs here" in caplog.text
    assert "plugins" not in WarmUp(lambda: None, {"echo": Echo()}).checks  # type: ignore[arg-type,return-value]
