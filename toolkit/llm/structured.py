"""Validated pydantic objects from the shared model.

On a vLLM server the JSON schema constrains decoding (`structured_outputs`);
on the local backend the reply is parsed, repaired (json-repair) and, if it
still fails the schema, the model is asked again with the error, a bounded
number of times. A final failure raises StructuredOutputError carrying the raw
text. While a draft listener listens (pitchcraft.llm.drafts) the reply is streamed to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, ValidationError

from pitchcraft.errors import PitchcraftError
from pitchcraft.llm.drafts import new_draft

T = TypeVar("T", bound=BaseModel)
Prompt = str | Sequence[BaseMessage]
Draft = Callable[[str], None] | None
FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)
INCH_MARK = re.compile(r'(?<=\d)"')
TYPOGRAPHIC_QUOTES = str.maketrans({"″": '"', "“": '"', "”": '"'})
# A string's length decoding lands by (pitchcraft.llm.landing): not validated (the plugin's
# checks judge length), not shown to the model nor put in a server's grammar; a vLLM server
# gets the limits in the request's vllm_xargs.
SOFT_MAX_LENGTH = "x-soft-max-length"


def json_safe_quotes(text: str) -> str:
    """Facts a model will copy into a JSON string, with ASCII double quotes made typographic
    (27" -> 27″): small models copy them unescaped, which ends the string mid-sentence."""
    return INCH_MARK.sub("″", text).replace('"', "”")


def ascii_quotes(text: str) -> str:
    """The inverse of json_safe_quotes, for comparing a model's text with the raw facts."""
    return text.translate(TYPOGRAPHIC_QUOTES)


class StructuredOutputError(PitchcraftError):
    def __init__(self, schema: str, raw: str, problem: str) -> None:
        super().__init__(f"model reply does not fit {schema}: {problem}")
        self.raw = raw
        self.problem = problem


def resolve_soft_limits(
    json_schema: dict[str, Any], as_max_length: bool
) -> tuple[dict[str, Any], bool]:
    """`json_schema` with each soft limit dropped or, with `as_max_length`, made the string's
    maxLength (the stricter of the two); and whether it had any."""
    found = False

    def walk(node: Any) -> Any:
        nonlocal found
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) for k, v in node.items() if k != SOFT_MAX_LENGTH}
        if SOFT_MAX_LENGTH in node:
            found = True
            if as_max_length:
                out["maxLength"] = min(node[SOFT_MAX_LENGTH], node.get("maxLength", 1 << 30))
        return out

    return walk(json_schema), found


def public_schema(json_schema: dict[str, Any]) -> dict[str, Any]:
    """`json_schema` without the soft limits: neither the model nor a server's grammar sees
    them."""
    return resolve_soft_limits(json_schema, as_max_length=False)[0]


def soft_limits(json_schema: dict[str, Any]) -> dict[str, int]:
    """Each top-level field's soft limit (a list's: its items'), for a vLLM server's landing."""
    limits = {}
    for name, node in json_schema.get("properties", {}).items():
        limit = node.get(SOFT_MAX_LENGTH, node.get("items", {}).get(SOFT_MAX_LENGTH))
        if isinstance(limit, int):
            limits[name] = limit
    return limits


def instruction(schema: type[BaseModel]) -> str:
    """The JSON schema, plus its limits in plain words (small models heed those better)."""
    json_schema = public_schema(schema.model_json_schema())
    props = json_schema.get("properties", {})
    limits = [
        f"- {k}: at most {v['maxLength']} characters" for k, v in props.items() if "maxLength" in v
    ]
    limits += [f"- {k}: at most {v['maxItems']} items" for k, v in props.items() if "maxItems" in v]
    text = "Reply with one JSON object that matches this JSON schema, and nothing else:\n"
    text += json.dumps(json_schema, ensure_ascii=False)
    return text + ("\nLimits:\n" + "\n".join(limits) if limits else "")


def describe(err: ValidationError) -> str:
    """Validation errors as the model should hear them, with actual lengths."""
    problems = []
    for e in err.errors():
        where = ".".join(map(str, e["loc"])) or "reply"
        if e["type"] == "string_too_long" and isinstance(e.get("input"), str):
            limit = e.get("ctx", {}).get("max_length")
            problems.append(
                f"{where} has {len(e['input'])} characters but at most {limit} are allowed; "
                "write a shorter one"
            )
        else:
            problems.append(f"{where}: {e['msg']}")
    return "; ".join(problems)


def parse(text: str, schema: type[T]) -> T:
    """The first JSON object in `text`, repaired if need be, validated against `schema`."""
    cleaned = FENCE.sub("", text.strip())
    start, end = cleaned.find("{"), cleaned.rfind("}")
    candidate = cleaned[start : end + 1] if start != -1 and end > start else cleaned
    try:
        data: Any = json.loads(candidate)
    except json.JSONDecodeError:
        import json_repair

        data = json_repair.loads(candidate)
        if not isinstance(data, dict):
            raise ValueError("no JSON object in the reply") from None
    json_schema = schema.model_json_schema()
    return schema.model_validate(trim_arrays(data, json_schema, json_schema.get("$defs", {})))


def trim_arrays(data: Any, node: dict[str, Any], defs: dict[str, Any]) -> Any:
    """Cut lists longer than their schema's maxItems (small models overshoot counts).
    Strings are never cut: a too-long text fails validation and is asked for again."""
    if "$ref" in node:
        node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
    for option in node.get("anyOf", []):
        if option.get("type") in ("array", "object") or "$ref" in option:
            data = trim_arrays(data, option, defs)
    if isinstance(data, list) and node.get("type") == "array":
        if "maxItems" in node:
            data = data[: node["maxItems"]]
        return [trim_arrays(item, node.get("items", {}), defs) for item in data]
    if isinstance(data, dict) and "properties" in node:
        props = node["properties"]
        return {k: trim_arrays(v, props[k], defs) if k in props else v for k, v in data.items()}
    return data


def chat_messages(schema: type[BaseModel], prompt: Prompt) -> list[BaseMessage]:
    """The messages the model sees for `prompt`: the schema instruction joins the system
    message (fine-tuning data is built with this too, so adapters learn the same view)."""
    messages = [HumanMessage(prompt)] if isinstance(prompt, str) else list(prompt)
    rule = instruction(schema)
    if messages and isinstance(messages[0], SystemMessage):
        return [SystemMessage(f"{messages[0].content}\n\n{rule}"), *messages[1:]]
    return [SystemMessage(rule), *messages]


class Structured(Generic[T]):
    def __init__(
        self, model: BaseChatModel | Runnable[Any, Any], schema: type[T], retries: int
    ) -> None:
        self.model = model
        self.schema = schema
        self.retries = retries

    def _messages(self, prompt: Prompt) -> list[BaseMessage]:
        return chat_messages(self.schema, prompt)

    def _check(self, raw: str, messages: list[BaseMessage]) -> T | str:
        """The parsed object, or the problem (and the re-ask is appended to `messages`)."""
        try:
            return parse(raw, self.schema)
        except ValidationError as err:
            problem = describe(err)
        except ValueError as err:
            problem = str(err).splitlines()[0]
        retry = f"That reply was invalid ({problem}). Reply again with only the JSON object."
        messages += [AIMessage(raw), HumanMessage(retry)]
        return problem

    def _complete(self, messages: list[BaseMessage], draft: Draft) -> str:
        """The model's reply; streamed to the draft when someone listens."""
        if draft is None:
            return str(self.model.invoke(messages).content)
        raw = ""
        for chunk in self.model.stream(messages):
            if chunk.content:
                raw += str(chunk.content)
                draft(raw)
        return raw

    async def _acomplete(self, messages: list[BaseMessage], draft: Draft) -> str:
        if draft is None:
            return str((await self.model.ainvoke(messages)).content)
        raw = ""
        async for chunk in self.model.astream(messages):
            if chunk.content:
                raw += str(chunk.content)
                draft(raw)
        return raw

    def invoke(self, prompt: Prompt) -> T:
        messages = self._messages(prompt)
        raw, problem, draft = "", "", new_draft()
        for _ in range(self.retries + 1):
            raw = self._complete(messages, draft)
            result = self._check(raw, messages)
            if not isinstance(result, str):
                return result
            problem = result
        raise StructuredOutputError(self.schema.__name__, raw, problem)

    async def ainvoke(self, prompt: Prompt) -> T:
        messages = self._messages(prompt)
        raw, problem, draft = "", "", new_draft()
        for _ in range(self.retries + 1):
            raw = await self._acomplete(messages, draft)
            result = self._check(raw, messages)
            if not isinstance(result, str):
                return result
            problem = result
        raise StructuredOutputError(self.schema.__name__, raw, problem)

    def as_runnable(self) -> Runnable[Prompt, T]:
        return RunnableLambda(self.invoke, afunc=self.ainvoke)
