"""A form for any pydantic Input model: one widget per field, and the request it makes.

The kinds are decided from the field's type alone, so a plugin (or chain) that lands
later gets its form with no demo code changed. Values that are left blank are left
out of the request, so the model's defaults apply.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import types
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pitchcraft.errors import InputError

Kind = Literal["text", "lines", "integer", "number", "bool", "choice", "table", "json"]
SCALARS = (str, int, float, bool, dt.date)


@dataclass
class FieldForm:
    name: str
    kind: Kind
    label: str
    info: str = ""
    required: bool = False
    choices: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # table: the row model's fields
    column_types: dict[str, Any] = field(default_factory=dict)  # table: each field's type
    item_type: type = str  # lines: what each line is
    multiline: bool = False
    unset_by_default: bool = False  # None allowed and the default: a blank widget means it


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """(the type without None, whether None was allowed)."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
        return tp, type(None) in get_args(tp)
    return tp, False


def is_flat_model(tp: Any) -> bool:
    """A model whose fields are all scalars: one table row each."""
    return (
        isinstance(tp, type)
        and issubclass(tp, BaseModel)
        and all(unwrap_optional(f.annotation)[0] in SCALARS for f in tp.model_fields.values())
    )


def field_form(name: str, info: FieldInfo) -> FieldForm:
    tp, nullable = unwrap_optional(info.annotation)
    base = FieldForm(
        name=name,
        kind="json",
        label=name.replace("_", " "),
        info=info.description or "",
        required=info.is_required(),
        unset_by_default=nullable and not info.is_required() and info.default is None,
    )
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        base.kind, base.choices = "choice", [str(a) for a in args]
    elif tp is bool:
        base.kind = "bool"
    elif tp is int:
        base.kind = "integer"
    elif tp is float:
        base.kind = "number"
    elif tp in (str, dt.date):
        base.kind, base.multiline = "text", base.required and tp is str
    elif origin is list and args and args[0] in (str, int, float):
        base.kind, base.item_type = "lines", args[0]
    elif origin is list and args and is_flat_model(args[0]):
        base.kind, base.columns = "table", list(args[0].model_fields)
        base.column_types = {
            c: unwrap_optional(f.annotation)[0] for c, f in args[0].model_fields.items()
        }
    return base


def model_forms(model: type[BaseModel]) -> list[FieldForm]:
    return [field_form(name, info) for name, info in model.model_fields.items()]


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """The model's first documented example (json_schema_extra), else {}."""
    examples = model.model_json_schema().get("examples") or [{}]
    return dict(examples[0])


# -- values shown in the widgets ------------------------------------------------------------


def widget_value(form: FieldForm, value: Any) -> Any:
    """What the widget shows for a request value (an example's, or the field's default)."""
    if form.kind == "lines":
        return "\n".join(str(v) for v in value or [])
    if form.kind == "table":
        rows = [[row.get(c, "") for c in form.columns] for row in value or []]
        return rows or [[""] * len(form.columns)]
    if form.kind == "json":
        return "" if value is None else json.dumps(value, ensure_ascii=False, indent=2)
    if form.kind == "bool":
        return bool(value)
    if form.kind in ("text", "choice") or form.unset_by_default:
        return "" if value is None else str(value)
    return value


def default_value(info: FieldInfo) -> Any:
    if info.is_required():
        return None
    return info.get_default(call_default_factory=True)


# -- the request a filled form makes ---------------------------------------------------------


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def number(text: Any, kind: type) -> Any:
    """A number from a cell or line; the text itself when it is none (pydantic names it)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return int(text) if kind is int and float(text).is_integer() else text
    try:
        parsed = float(str(text).strip())
    except ValueError:
        return text
    return int(parsed) if kind is int and parsed.is_integer() else parsed


def table_rows(form: FieldForm, value: Any) -> list[dict[str, Any]]:
    if hasattr(value, "values") and hasattr(value, "columns"):  # a pandas DataFrame
        value = value.values.tolist()
    rows = []
    for row in value or []:
        cells = {c: v for c, v in zip(form.columns, row, strict=False) if not blank(v)}
        if cells:
            rows.append(cells)
    return rows


def request_value(target: str, form: FieldForm, value: Any) -> Any:
    """The request's value for one widget; None means leave the field out."""
    if form.kind == "bool":
        return bool(value)
    if form.kind == "integer" or form.kind == "number":
        return None if blank(value) else number(value, int if form.kind == "integer" else float)
    if form.kind == "lines":
        lines = [line.strip() for line in str(value or "").splitlines() if line.strip()]
        if form.item_type is not str:
            return [number(line, form.item_type) for line in lines] or None
        return lines or None
    if form.kind == "table":
        kinds = form.column_types
        rows = table_rows(form, value)
        return [
            {c: number(v, kinds[c]) if kinds[c] in (int, float) else v for c, v in row.items()}
            for row in rows
        ] or None
    if form.kind == "json":
        text = str(value or "").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            problem = f"not JSON ({err.msg}, line {err.lineno})"
            raise InputError(target, {form.name: problem}) from None
    text = str(value).strip() if value is not None else ""
    return text or (text if form.required else None)


def build_request(target: str, forms: list[FieldForm], values: list[Any]) -> dict[str, Any]:
    """The request the widgets' values make for `target` (a plugin or chain); blank optional
    fields are left out. Raises InputError for a JSON field that does not parse."""
    request = {}
    for form, value in zip(forms, values, strict=True):
        converted = request_value(target, form, value)
        if converted is not None:
            request[form.name] = converted
    return request
