"""A model double for the API fuzz run only: it answers at once with the smallest JSON that
fits the schema it is asked for (or one short sentence). The fuzz run checks the HTTP
contract over thousands of requests; the real model is exercised by tests/test_api.py."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from pitchcraft.llm import ModelClient


def instance(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A minimal value valid against `schema` (the JSON Schema pydantic writes)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return instance(root["$defs"][name], root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return instance(options[0], root)
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: instance(props[name], root) for name in schema.get("required", props)}
    if kind == "array":
        return [instance(schema.get("items", {}), root)] * max(1, schema.get("minItems", 1))
    if kind == "string":
        return "ok" * max(1, (schema.get("minLength", 1) + 1) // 2)
    if kind in ("integer", "number"):
        return schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
    if kind == "boolean":
        return False
    return None


class SchemaFilledChat(BaseChatModel):
    @property
    def _llm_type(self) -> str:
        return "schema-filled"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        schema = kwargs.get("json_schema")
        text = json.dumps(instance(schema, schema)) if schema else "Thank you for your message."
        usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
        message = AIMessage(content=text, usage_metadata=usage)  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=message)])


class SchemaFilledClient(ModelClient):
    def chat(
        self,
        adapter: str | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> BaseChatModel:
        return SchemaFilledChat(callbacks=[self.usage.handler(adapter)])

    def ping(self) -> str:
        return "schema-filled"
