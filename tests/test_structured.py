"""Parsing, repair and re-asking: pure logic, with LangChain's fake chat model."""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from pydantic import BaseModel, Field

from pitchcraft.llm.structured import Structured, StructuredOutputError, parse


class Item(BaseModel):
    name: str
    price: float = Field(ge=0)


def fake(*replies: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter(AIMessage(r) for r in replies))


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "lamp", "price": 9.5}',
        '```json\n{"name": "lamp", "price": 9.5}\n```',
        'Sure! Here it is: {"name": "lamp", "price": 9.5} Hope that helps.',
        "{'name': 'lamp', 'price': 9.5,}",  # single quotes and a trailing comma: repaired
        '{"name": "lamp", "price": 9.5',  # cut off before the closing brace: repaired
    ],
)
def test_parse_and_repair(text: str) -> None:
    assert parse(text, Item) == Item(name="lamp", price=9.5)


def test_invalid_reply_is_asked_again_with_the_error() -> None:
    model = fake('{"name": "lamp", "price": -1}', '{"name": "lamp", "price": 3}')
    assert Structured(model, Item, retries=2).invoke("a lamp") == Item(name="lamp", price=3)


def test_gives_up_after_the_retries_with_the_raw_text() -> None:
    model = fake("no json here", "still none", "nope")
    with pytest.raises(StructuredOutputError) as caught:
        Structured(model, Item, retries=2).invoke("a lamp")
    assert caught.value.raw == "nope"
    assert "Item" in str(caught.value)


class Basket(BaseModel):
    items: list[Item] = Field(max_length=2)
    tags: list[str] | None = Field(default=None, max_length=1)


def test_overlong_lists_are_trimmed_but_texts_are_not() -> None:
    items = [{"name": n, "price": p} for n, p in (("a", 1), ("b", 2), ("c", 3))]
    text = json.dumps({"items": items, "tags": ["x", "y"]})
    basket = parse(text, Basket)
    assert [i.name for i in basket.items] == ["a", "b"] and basket.tags == ["x"]

    class Short(BaseModel):
        word: str = Field(max_length=3)

    with pytest.raises(ValueError, match="at most 3 characters"):
        parse('{"word": "toolong"}', Short)


def test_structured_output_goes_through_the_clients_own_chat_model() -> None:
    """A client that supplies its own chat model (the API fuzz run's double) gets structured
    output from it, not from the embedded engine."""
    from pitchcraft import Settings
    from tests.schema_model import SchemaFilledClient

    client = SchemaFilledClient(Settings())
    reply = client.structured(Basket).invoke("A basket, please.")
    assert isinstance(reply, Basket) and client._engine is None


def test_soft_limits_are_not_validated_nor_shown_to_the_model_or_a_server() -> None:
    from pitchcraft.llm.structured import SOFT_MAX_LENGTH, instruction, public_schema

    class Headline(BaseModel):
        text: str = Field(json_schema_extra={SOFT_MAX_LENGTH: 5})

    assert Headline.model_json_schema()["properties"]["text"][SOFT_MAX_LENGTH] == 5
    assert SOFT_MAX_LENGTH not in json.dumps(public_schema(Headline.model_json_schema()))
    assert SOFT_MAX_LENGTH not in instruction(Headline)
    assert parse('{"text": "longer than five"}', Headline).text == "longer than five"
