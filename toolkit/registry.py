"""Plugin discovery: built-ins and the `pitchcraft.plugins` entry-point group, through one path.

A plugin that fails to import, breaks the contract, or reuses a taken name is
recorded in `failures` with its reason and skipped; the rest keep working.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pitchcraft.context import Context
from pitchcraft.errors import PluginNotFound
from pitchcraft.plugin import Plugin, contract_problems
from pitchcraft.settings import Settings

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool

ENTRY_POINT_GROUP = "pitchcraft.plugins"

# Built-ins go through the same loader as third-party plugins (name -> "module:Class").
BUILTIN_PLUGINS: dict[str, str] = {
    "ab-metric": "pitchcraft.plugins.effect.metric_plugin:MetricTest",
    "ab-test": "pitchcraft.plugins.effect.plugin:ABTestAnalyzer",
    "copy-ctr": "pitchcraft.plugins.effect.copy_plugin:CopyCtrPredictor",
    "copywriter": "pitchcraft.plugins.copywriter.plugin:Copywriter",
    "ctr-predict": "pitchcraft.plugins.effect.click_plugin:ClickPredictor",
    "policy-eval": "pitchcraft.plugins.effect.policy_plugin:PolicyEvaluator",
    "recommender": "pitchcraft.plugins.recommender.plugin:Recommender",
    "review-summary": "pitchcraft.plugins.sentiment.summary:ReviewSummary",
    "sentiment": "pitchcraft.plugins.sentiment.plugin:SentimentAnalyzer",
    "support": "pitchcraft.plugins.support.plugin:SupportResponder",
    "variant-bandit": "pitchcraft.plugins.effect.bandit_plugin:VariantBandit",
}

log = logging.getLogger(__name__)


class PluginInfo(BaseModel):
    name: str
    version: str
    description: str
    languages: list[str]
    group: str = ""
    source: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class LoadFailure(BaseModel):
    name: str
    source: str
    reason: str


@dataclass(frozen=True)
class _Candidate:
    declared_name: str | None  # None when only the import reveals the name
    source: str
    load: Callable[[], object]


def import_spec(spec: str) -> object:
    """Import 'package.module:Attribute'."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{spec!r} is not of the form 'module:Class'")
    return getattr(importlib.import_module(module_name), attr)


class Registry:
    def __init__(
        self,
        settings: Settings | None = None,
        builtins: Mapping[str, str] = BUILTIN_PLUGINS,
        use_entry_points: bool = True,
    ) -> None:
        self.settings = settings if settings is not None else Settings()
        self._builtins = dict(builtins)
        self._use_entry_points = use_entry_points
        self.plugins: dict[str, Plugin[Any, Any]] = {}
        self.sources: dict[str, str] = {}
        self.failures: list[LoadFailure] = []
        self._loaded = False
        self._context: Context | None = None

    # -- discovery -------------------------------------------------------------------------

    def _candidates(self) -> Iterable[_Candidate]:
        for name, spec in self._builtins.items():
            yield _Candidate(name, "built-in", lambda spec=spec: import_spec(spec))
        if self._use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                dist = ep.dist.name if ep.dist is not None else "unknown distribution"
                yield _Candidate(ep.name, f"entry point ({dist})", ep.load)
        for spec in self.settings.extra_plugins:
            yield _Candidate(None, f"extra_plugins ({spec})", lambda spec=spec: import_spec(spec))

    def load(self) -> Registry:
        """Discover and validate plugins. Idempotent: a second call does nothing."""
        if self._loaded:
            return self
        allowed = set(self.settings.plugins) if self.settings.plugins is not None else None
        for cand in self._candidates():
            named = cand.declared_name
            if allowed is not None and named is not None and named not in allowed:
                continue  # filtered before import, so unwanted plugins cost nothing
            self._load_one(cand, allowed)
        if allowed is not None:
            for missing in sorted(allowed - set(self.plugins)):
                if not any(f.name == missing for f in self.failures):
                    self._fail(missing, "settings", "listed in PITCHCRAFT_PLUGINS but not found")
        self._loaded = True
        return self

    def _load_one(self, cand: _Candidate, allowed: set[str] | None) -> None:
        label = cand.declared_name or cand.source
        try:
            cls = cand.load()
        except Exception as err:  # any import-time failure of third-party code
            self._fail(label, cand.source, f"import failed: {type(err).__name__}: {err}")
            return
        problems = contract_problems(cls)
        if problems:
            self._fail(label, cand.source, "; ".join(problems))
            return
        assert isinstance(cls, type) and issubclass(cls, Plugin)
        if cand.declared_name is not None and cls.name != cand.declared_name:
            self._fail(
                label,
                cand.source,
                f"registered as {cand.declared_name!r} but the class is named {cls.name!r}",
            )
            return
        if allowed is not None and cls.name not in allowed:
            return
        if cls.name in self.plugins:
            self._fail(
                cls.name,
                cand.source,
                f"duplicate name: {cls.name!r} is already provided by {self.sources[cls.name]}",
            )
            return
        try:
            instance = cls()
        except Exception as err:
            self._fail(cls.name, cand.source, f"could not be created: {type(err).__name__}: {err}")
            return
        self.plugins[cls.name] = instance
        self.sources[cls.name] = cand.source

    def _fail(self, name: str, source: str, reason: str) -> None:
        log.info("plugin %s from %s skipped: %s", name, source, reason)
        self.failures.append(LoadFailure(name=name, source=source, reason=reason))

    # -- lookup ----------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self.load().plugins)

    def get(self, name: str) -> Plugin[Any, Any]:
        self.load()
        if name in self.plugins:
            return self.plugins[name]
        reasons = [f.reason for f in self.failures if f.name == name]
        raise PluginNotFound(name, self.names(), load_error="; ".join(reasons) or None)

    def info(self, name: str) -> PluginInfo:
        plugin = self.get(name)
        return PluginInfo(
            name=plugin.name,
            version=plugin.version,
            description=plugin.description,
            languages=list(plugin.languages),
            group=plugin.group,
            source=self.sources[name],
            input_schema=plugin.Input.model_json_schema(),
            output_schema=plugin.Output.model_json_schema(),
        )

    def context(self) -> Context:
        """The Context shared by this registry's plugins (built once)."""
        if self._context is None:
            dirs = [p.prompts_dir for p in self.load().plugins.values() if p.prompts_dir]
            self._context = Context(self.settings, plugin_prompt_dirs=dirs, plugins=self.get)
        return self._context

    def as_langchain_tools(self, ctx: Context | None = None) -> list[StructuredTool]:
        """Every loaded plugin as a LangChain StructuredTool (args_schema = its Input)."""
        from pitchcraft.tools import plugin_tool

        ctx = ctx if ctx is not None else self.context()
        return [plugin_tool(self.plugins[name], ctx) for name in self.names()]


def load_registry(settings: Settings | None = None) -> Registry:
    return Registry(settings).load()
