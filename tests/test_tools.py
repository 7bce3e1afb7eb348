"""Plugins as LangChain tools, called the way an agent calls them: through a model's tool call.

The chat model here is LangChain's fake model (a unit test of the conversion logic);
the tool runs the real plugin.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from tests.conftest import make_registry


class ToolCallingFake(GenericFakeChatModel):
    """Fake model that accepts bind_tools (the real ones send the schemas to the server)."""

    bound: list[dict[str, Any]] = Field(default_factory=list)

    def bind_tools(self, tools: list[Any], **kwargs: Any) -> ToolCallingFake:
        self.bound = [convert_to_openai_tool(t) for t in tools]
        return self


AB_ARGS = {
    "variants": [
        {"name": "control", "users": 5000, "conversions": 250},
        {"name": "new-copy", "users": 5000, "conversions": 320},
    ]
}


def test_every_plugin_becomes_a_tool_with_its_schema() -> None:
    reg = make_registry()
    tools = {t.name: t for t in reg.as_langchain_tools()}
    assert set(tools) == set(reg.names())
    spec = convert_to_openai_tool(tools["ab-test"])["function"]
    assert spec["description"] == reg.get("ab-test").description
    assert spec["parameters"]["required"] == ["variants"]


def test_tool_call_from_a_model_runs_the_plugin() -> None:
    reg = make_registry()
    tools = {t.name: t for t in reg.as_langchain_tools()}
    call = {"name": "ab-test", "args": AB_ARGS, "id": "call_1", "type": "tool_call"}
    model = ToolCallingFake(messages=iter([AIMessage(content="", tool_calls=[call])]))
    model = model.bind_tools(list(tools.values()))
    assert {b["function"]["name"] for b in model.bound} == set(tools)

    reply = model.invoke("Did the new copy win?")
    (tool_call,) = reply.tool_calls
    result = tools[tool_call["name"]].invoke(tool_call)
    assert isinstance(result, ToolMessage)
    assert result.tool_call_id == "call_1"
    body = json.loads(result.content)
    assert body["comparisons"][0]["variant"] == "new-copy"
    assert body["comparisons"][0]["significant"] is True


def test_tool_async_path() -> None:
    tool = next(t for t in make_registry().as_langchain_tools() if t.name == "ab-test")
    result = asyncio.run(tool.ainvoke(AB_ARGS))
    assert result["control"] == "control"


def test_bad_tool_arguments_come_back_as_a_message_not_an_exception() -> None:
    tool = next(t for t in make_registry().as_langchain_tools() if t.name == "ab-test")
    bad = {"variants": [{"name": "a", "users": 10, "conversions": 20}]}
    call = {"name": "ab-test", "args": bad, "id": "call_2", "type": "tool_call"}
    result = tool.invoke(call)
    assert isinstance(result, ToolMessage)
    assert "conversions" in result.content
