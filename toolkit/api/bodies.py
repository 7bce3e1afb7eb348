"""Request bodies validated once: a route reads its raw body and validates it strictly
against its model (JSON mode, so "5" is not 5 and 0 is not false). FastAPI is not told of
the body, so it does not validate it a first time, laxly; the OpenAPI document still shows
each body's schema, added here under components/schemas."""

import json
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from pitchcraft.api.errors import ApiError
from pitchcraft.errors import field_errors

M = TypeVar("M", bound=BaseModel)
REF = "#/components/schemas/{model}"


async def read_body(request: Request, model: type[M]) -> M:
    """The body validated as `model`; an error names each bad field."""
    try:
        return model.model_validate_json(await request.body(), strict=True)
    except ValidationError as err:
        raise ApiError.invalid(field_errors(err)) from None


class BodyDocs:
    """Which model each POST route reads, for the OpenAPI document."""

    def __init__(self) -> None:
        self.models: dict[str, type[BaseModel]] = {}  # path -> body model

    def add(self, path: str, model: type[BaseModel]) -> None:
        self.models[path] = model

    def install(self, app: FastAPI) -> None:
        generate = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                app.openapi_schema = self.document(generate())
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]

    def document(self, schema: dict[str, Any]) -> dict[str, Any]:
        models = list(dict.fromkeys(self.models.values()))
        refs, top = models_json_schema([(m, "validation") for m in models], ref_template=REF)
        defs: dict[str, Any] = top.get("$defs", {})
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        # A name FastAPI already gave a different schema (a response model of the same name):
        # ours gets a suffix, and every reference to it follows.
        renames = {
            name: f"{name}Body" for name in defs if components.get(name, defs[name]) != defs[name]
        }
        text = json.dumps(defs)
        for old, new in renames.items():
            text = text.replace(f'"{REF.format(model=old)}"', f'"{REF.format(model=new)}"')
        for name, body in json.loads(text).items():
            components[renames.get(name, name)] = body
        for path, model in self.models.items():
            name = refs[(model, "validation")]["$ref"].rsplit("/", 1)[1]
            operation = schema["paths"][path]["post"]
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": REF.format(model=renames.get(name, name))}
                    }
                },
            }
        return schema
