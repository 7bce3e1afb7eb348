"""Chain files (`chains/*.yaml`): the spec, its references, and the checks made at load.

A step maps its plugin's Input fields to literals or to references:
`$input.<field>` (the chain's input), `$<step>.<field>...` (an earlier step's
output) and, in a fan-out step, `$<as>.<field>` (the current element). A path
that crosses a list maps over it: `$recommend.items.product_id` is the list of
ids. Every reference is checked against the pydantic models when the chain
loads, so a typo fails before any model is called.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from pitchcraft.errors import PitchcraftError, describe_fields, field_errors

STEP_ID = r"^[a-z][a-z0-9_]*$"
RESERVED = {"input"}
INPUT_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list[str]": list[str],
    "dict": dict[str, Any],
}


class ChainError(PitchcraftError):
    """A chain file is invalid; the message names the chain, the step and the field."""


class InputFieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["str", "int", "float", "bool", "list[str]", "dict"] = "str"
    description: str = ""
    default: Any = None
    required: bool = False


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=STEP_ID)
    plugin: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    for_each: str | None = Field(default=None, description="A list reference to fan out over.")
    as_: str = Field(default="item", alias="as", pattern=STEP_ID)
    description: str = ""


class ChatSpec(BaseModel):
    """How the chat router offers this chain: words that trigger it, the field the message fills."""

    model_config = ConfigDict(extra="forbid")

    keywords: list[str] = Field(default_factory=list)
    message_field: str


class ChainSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    description: str = Field(min_length=1)
    version: str = "0.1.0"
    input: dict[str, InputFieldSpec] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(min_length=1)
    output: dict[str, str] = Field(
        default_factory=dict, description="Result name -> reference; default: the last step."
    )
    chat: ChatSpec | None = None
    example: dict[str, Any] | None = Field(
        default=None, description="A sample input, shown by the demo and the API docs."
    )


# -- references ---------------------------------------------------------------------------


class Ref(BaseModel):
    root: str
    path: list[str]

    def __str__(self) -> str:
        return "$" + ".".join([self.root, *self.path])


REF = re.compile(r"^\$([a-z][a-z0-9_]*)((?:\.[A-Za-z0-9_]+)*)$")


def parse_ref(value: Any) -> Ref | None:
    """A `$root.a.b` string as a Ref; None for literals (`$$x` is the literal `$x`)."""
    if not isinstance(value, str) or not value.startswith("$") or value.startswith("$$"):
        return None
    match = REF.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a reference like $step.field")
    return Ref(root=match.group(1), path=[p for p in match.group(2).split(".") if p])


def literal(value: Any) -> Any:
    """A `with` literal as the plugin should see it (`$$x` unescaped), recursively."""
    if isinstance(value, str) and value.startswith("$$"):
        return value[1:]
    if isinstance(value, dict):
        return {k: literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [literal(v) for v in value]
    return value


def refs_in(value: Any) -> list[Ref]:
    """Every reference inside a `with` value (which may nest dicts and lists)."""
    if isinstance(value, dict):
        return [r for v in value.values() for r in refs_in(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs_in(v)]
    ref = parse_ref(value)
    return [ref] if ref else []


# -- types --------------------------------------------------------------------------------


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def is_list(tp: Any) -> bool:
    return typing.get_origin(_strip_optional(tp)) in (list, tuple, set, frozenset)


def element_type(tp: Any) -> Any:
    """The innermost element type of (nested) lists: what a fan-out binds."""
    while is_list(tp):
        args = typing.get_args(_strip_optional(tp))
        tp = args[0] if args else Any
    return tp


def type_at(tp: Any, path: list[str]) -> Any:
    """The type found by walking `path` from `tp`; lists are mapped over (the result is a
    list), digits index them. Raises KeyError naming the first missing part."""
    for i, part in enumerate(path):
        tp = _strip_optional(tp)
        if tp is Any:
            return Any
        if is_list(tp):
            args = typing.get_args(tp)
            inner = args[0] if args else Any
            if part.isdigit():
                tp = inner
                continue
            return list[type_at(inner, path[i:])]  # type: ignore[misc]
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = tp.model_fields
            if part not in fields:
                raise KeyError(f"{part!r} (fields of {tp.__name__}: {', '.join(fields)})")
            tp = fields[part].annotation
        elif typing.get_origin(tp) is dict:
            args = typing.get_args(tp)
            tp = args[1] if args else Any
        else:
            raise KeyError(f"{part!r} (a {getattr(tp, '__name__', tp)} has no fields)")
    return tp


# -- loading ------------------------------------------------------------------------------


def chain_input_model(spec: ChainSpec) -> type[BaseModel]:
    """The chain's Input as a pydantic model: what the CLI, API, demo and tools validate."""
    fields: dict[str, Any] = {}
    for name, field in spec.input.items():
        tp = INPUT_TYPES[field.type]
        if not field.required and field.default is None:
            tp = tp | None
        default = ... if field.required else field.default
        fields[name] = (tp, Field(default=default, description=field.description))
    title = "".join(part.title() for part in re.split(r"[-_]", spec.name)) + "ChainInput"
    examples = {"examples": [spec.example]} if spec.example is not None else None
    config = ConfigDict(extra="forbid", json_schema_extra=examples)
    return create_model(title, __config__=config, **fields)


def read_spec(path: Path) -> ChainSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ChainError(f"chain file {path}: cannot be read: {err}") from None
    try:
        return ChainSpec.model_validate(data)
    except ValidationError as err:
        raise ChainError(f"chain file {path}: {describe_fields(field_errors(err))}") from None


def check_spec(
    spec: ChainSpec, plugin_io: dict[str, tuple[type[BaseModel], type[BaseModel]]]
) -> type[BaseModel]:
    """Check every step's plugin, target fields and references; returns the chain's Input
    model. `plugin_io` maps each available plugin to its (Input, Output) models."""
    where = f"chain {spec.name}"
    input_model = chain_input_model(spec)
    known: dict[str, Any] = {"input": input_model}
    for step in spec.steps:
        at = f"{where}, step {step.id}"
        if step.id in RESERVED or step.id in known:
            raise ChainError(f"{at}: the id is already used (or reserved: input)")
        if step.plugin not in plugin_io:
            raise ChainError(
                f"{at}: no plugin named {step.plugin!r} (available: "
                f"{', '.join(sorted(plugin_io)) or 'none'})"
            )
        in_model, out_model = plugin_io[step.plugin]
        scope = dict(known)
        if step.for_each is not None:
            source = _ref_type(step.for_each, scope, f"{at}, for_each")
            if not is_list(source):
                raise ChainError(f"{at}: for_each {step.for_each} is not a list")
            if step.as_ in scope:
                raise ChainError(f"{at}: 'as: {step.as_}' hides an earlier name")
            scope[step.as_] = element_type(source)
        fields = in_model.model_fields
        for target, value in step.with_.items():
            if target not in fields:
                raise ChainError(
                    f"{at}: {target!r} is not an input field of {step.plugin} "
                    f"(fields: {', '.join(fields)})"
                )
            for ref in refs_in(value):
                source = _ref_type(str(ref), scope, f"{at}, field {target}")
                wants_list = is_list(fields[target].annotation)
                whole = value == str(ref) and element_type(source) is not Any
                if whole and is_list(source) != wants_list:
                    gives = "a list" if is_list(source) else "one value"
                    want = "a list" if wants_list else "one value"
                    raise ChainError(
                        f"{at}, field {target}: {ref} gives {gives}, {step.plugin} wants {want}"
                    )
        missing = [n for n, f in fields.items() if f.is_required() and n not in step.with_]
        if missing:
            raise ChainError(
                f"{at}: required input {', '.join(missing)} of {step.plugin} is not mapped"
            )
        known[step.id] = list[out_model] if step.for_each else out_model  # type: ignore[valid-type]
    for name, value in spec.output.items():
        _ref_type(value, known, f"{where}, output {name}")
    if spec.example is not None:
        try:
            input_model.model_validate(spec.example)
        except ValidationError as err:
            raise ChainError(f"{where}, example: {describe_fields(field_errors(err))}") from None
    if spec.chat is not None and spec.chat.message_field not in spec.input:
        raise ChainError(
            f"{where}: chat.message_field {spec.chat.message_field!r} is not "
            f"an input (inputs: {', '.join(spec.input) or 'none'})"
        )
    return input_model


def _ref_type(text: str, scope: dict[str, Any], at: str) -> Any:
    try:
        ref = parse_ref(text)
    except ValueError as err:
        raise ChainError(f"{at}: {err}") from None
    if ref is None:
        raise ChainError(f"{at}: {text!r} must be a reference like $step.field")
    if ref.root not in scope:
        raise ChainError(
            f"{at}: {ref} refers to {ref.root!r}, which is not the input or an "
            f"earlier step (known: {', '.join(scope)})"
        )
    try:
        return type_at(scope[ref.root], ref.path)
    except KeyError as err:
        raise ChainError(f"{at}: {ref} has no field {err.args[0]}") from None
