"""Request bodies are validated once, strictly, by the route itself, and the OpenAPI document
still shows each body's schema."""

from __future__ import annotations

from typing import ClassVar

from fastapi.testclient import TestClient
from pydantic import BaseModel, model_validator

from pitchcraft import Context, Plugin, Registry, Settings
from pitchcraft.api.app import create_app


class CountedIn(BaseModel):
    validations: ClassVar[int] = 0
    n: int

    @model_validator(mode="after")
    def count(self) -> CountedIn:
        type(self).validations += 1
        return self


class CountedOut(BaseModel):
    n: int


class Counted(Plugin[CountedIn, CountedOut]):
    name = "counted"
    description = "Echo n, counting how often its input was validated."
    Input = CountedIn
    Output = CountedOut

    def run(self, req: CountedIn, ctx: Context) -> CountedOut:
        return CountedOut(n=req.n)


def client() -> TestClient:
    settings = Settings(plugins=["counted"], extra_plugins=["tests.test_api_bodies:Counted"])
    return TestClient(create_app(Registry(settings), auth=False))


def test_a_body_is_validated_once_and_strictly() -> None:
    api = client()
    CountedIn.validations = 0
    assert api.post("/v1/plugins/counted", json={"n": 3}).json() == {"n": 3}
    assert CountedIn.validations == 1
    batch = api.post("/v1/plugins/counted/batch", json={"requests": [{"n": 1}, {"n": 2}]})
    assert batch.json()["succeeded"] == 2 and CountedIn.validations == 3
    loose = api.post("/v1/plugins/counted", json={"n": "3"})
    assert loose.status_code == 422
    assert loose.json()["error"]["fields"] == {"n": "Input should be a valid integer"}


def test_the_openapi_document_shows_each_body() -> None:
    doc = client().get("/openapi.json").json()
    schemas = doc["components"]["schemas"]

    def body(path: str) -> dict[str, object]:
        ref = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        return schemas[ref["$ref"].rsplit("/", 1)[1]]

    assert body("/v1/plugins/counted")["required"] == ["n"]
    items = body("/v1/plugins/counted/batch")["properties"]["requests"]["items"]  # type: ignore[index]
    assert schemas[items["$ref"].rsplit("/", 1)[1]]["properties"] == {  # type: ignore[index]
        "n": {"title": "N", "type": "integer"}
    }
    assert body("/v1/chat")["required"] == ["message"]
