"""The demo's forms: every plugin's and chain's Input becomes widgets, and what the widgets
show turns back into the same request (pure logic; the browser tests drive the page)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from pitchcraft.chain.runner import ChainLibrary
from pitchcraft.demo.forms import (
    build_request,
    default_value,
    example_of,
    model_forms,
    widget_value,
)
from pitchcraft.errors import InputError
from pitchcraft.registry import Registry
from tests.conftest import make_registry


class Row(BaseModel):
    name: str
    users: int
    share: float | None = None


class Everything(BaseModel):
    text: str = Field(description="Required text.")
    note: str | None = None
    count: int = 3
    ratio: float | None = None
    flag: bool = False
    mode: str | None = None
    language: Any = None
    rows: list[Row] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    shares: list[float] | None = None
    extra: dict[str, Any] | None = None


def shown_values(model: type[BaseModel], data: dict[str, Any]) -> list[Any]:
    forms = model_forms(model)
    return [
        widget_value(f, data.get(f.name, default_value(model.model_fields[f.name]))) for f in forms
    ]


def test_each_field_type_gets_its_widget_kind() -> None:
    kinds = {f.name: f.kind for f in model_forms(Everything)}
    assert kinds == {
        "text": "text",
        "note": "text",
        "count": "integer",
        "ratio": "number",
        "flag": "bool",
        "mode": "text",
        "language": "json",
        "rows": "table",
        "tags": "lines",
        "shares": "lines",
        "extra": "json",
    }
    forms = {f.name: f for f in model_forms(Everything)}
    assert forms["rows"].columns == ["name", "users", "share"]
    assert forms["text"].required and forms["text"].multiline and not forms["note"].multiline
    # a number that may be left unset is typed as text: a blank number widget would send 0
    assert forms["ratio"].unset_by_default and not forms["count"].unset_by_default
    assert widget_value(forms["ratio"], None) == "" and widget_value(forms["count"], 3) == 3


def test_blank_optional_fields_are_left_out_so_defaults_apply() -> None:
    forms = model_forms(Everything)
    values = shown_values(Everything, {"text": "hello"})
    assert build_request("t", forms, values) == {
        "text": "hello",
        "count": 3,
        "flag": False,
    }


def test_table_lines_and_json_turn_back_into_typed_values() -> None:
    forms = model_forms(Everything)
    by_name = {f.name: i for i, f in enumerate(forms)}
    values = shown_values(Everything, {"text": "x"})
    values[by_name["rows"]] = [["a", "10", ""], ["b", 12.0, "0.5"], ["", "", ""]]
    values[by_name["tags"]] = " red \n\nblue\n"
    values[by_name["shares"]] = "0.5\n0.5"
    values[by_name["extra"]] = '{"k": [1, 2]}'
    values[by_name["ratio"]] = " 0.25 "
    request = build_request("t", forms, values)
    assert request["rows"] == [{"name": "a", "users": 10}, {"name": "b", "users": 12, "share": 0.5}]
    assert request["tags"] == ["red", "blue"]
    assert request["shares"] == [0.5, 0.5]
    assert request["extra"] == {"k": [1, 2]}
    assert request["ratio"] == 0.25
    Everything.model_validate(request)


def test_text_that_is_not_a_number_is_passed_on_for_validation_to_name() -> None:
    forms = model_forms(Everything)
    values = shown_values(Everything, {"text": "x"})
    values[[f.name for f in forms].index("rows")] = [["a", "many", ""]]
    request = build_request("t", forms, values)
    assert request["rows"] == [{"name": "a", "users": "many"}]


def test_bad_json_names_the_field() -> None:
    forms = model_forms(Everything)
    values = shown_values(Everything, {"text": "x"})
    values[[f.name for f in forms].index("extra")] = "{not json"
    with pytest.raises(InputError, match=r"invalid input for t: extra: not JSON"):
        build_request("t", forms, values)


def targets() -> list[tuple[str, type[BaseModel]]]:
    registry: Registry = make_registry().load()
    found = [(f"plugin {n}", p.Input) for n, p in registry.plugins.items()]
    chains = ChainLibrary(registry).load()
    found += [(f"chain {n}", chains.get(n).Input) for n in chains.names()]
    return found


@pytest.mark.parametrize("target", targets(), ids=lambda t: t[0] if isinstance(t, tuple) else t)
def test_every_shipped_example_round_trips_through_its_form(
    target: tuple[str, type[BaseModel]],
) -> None:
    name, model = target
    example = example_of(model)
    assert example, f"{name} documents no example"
    forms = model_forms(model)
    request = build_request(name, forms, shown_values(model, example))
    assert model.model_validate(request) == model.model_validate(example)
