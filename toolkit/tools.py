"""Plugins as LangChain tools: the Input model is the tool's args_schema."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from langchain_core.tools import StructuredTool, ToolException

from pitchcraft.errors import InputError, PitchcraftError
from pitchcraft.plugin import Plugin

if TYPE_CHECKING:
    from pitchcraft.context import Context


def plugin_tool(plugin: Plugin[Any, Any], ctx: Context) -> StructuredTool:
    def call(**fields: Any) -> dict[str, Any]:
        try:
            return plugin.invoke(fields, ctx).model_dump(mode="json")
        except PitchcraftError as err:  # shown to the calling model instead of raised
            raise ToolException(str(err)) from None

    async def acall(**fields: Any) -> dict[str, Any]:
        return await asyncio.to_thread(call, **fields)

    return StructuredTool.from_function(
        func=call,
        coroutine=acall,
        name=plugin.name,
        description=plugin.description,
        args_schema=plugin.Input,
        handle_tool_error=True,
        # The calling model sees which field was wrong, as a CLI user would.
        handle_validation_error=lambda err: str(InputError.from_validation(plugin.name, err)),
    )
