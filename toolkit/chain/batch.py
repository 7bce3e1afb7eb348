"""A chain in a plugin's clothes, so batch runs (local and on Ray) take chains as they take
plugins: one ChainResult a row, a failed chain a failed row (its error in the errors file),
a partial one a result that says so."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from pitchcraft.chain.runner import Chain, ChainLibrary, ChainResult
from pitchcraft.context import Context
from pitchcraft.errors import PluginRunError
from pitchcraft.plugin import Plugin
from pitchcraft.registry import Registry

CHAIN_PREFIX = "chain:"


def chain_plugin(chain: Chain) -> Plugin[Any, ChainResult]:
    class ChainBatch(Plugin[BaseModel, ChainResult]):
        name = CHAIN_PREFIX + chain.name
        description = chain.description
        Input = chain.Input
        Output = ChainResult

        def run(self, req: BaseModel, ctx: Context) -> ChainResult:
            result = chain.invoke(req)
            if result.status == "failed":
                raise PluginRunError(self.name, result.error or "a step failed")
            return result

    return ChainBatch()


def batch_target(registry: Registry, name: str) -> Plugin[Any, Any]:
    """The plugin `name`, or the chain `chain:NAME` as a plugin."""
    if name.startswith(CHAIN_PREFIX):
        library = ChainLibrary(registry).load()
        return chain_plugin(library.get(name.removeprefix(CHAIN_PREFIX)))
    return registry.get(name)
