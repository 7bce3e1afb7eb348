from __future__ import annotations

from pydantic import BaseModel

from pitchcraft import Context, Plugin


class NotAModel:
    pass


class BadSchema(Plugin):  # type: ignore[type-arg]
    name = "bad-schema"
    description = "Input is not a pydantic model."
    Input = NotAModel  # type: ignore[assignment]
    Output = BaseModel

    def run(self, req, ctx: Context):  # type: ignore[no-untyped-def]
        return None


class BadName(Plugin):  # type: ignore[type-arg]
    name = "Bad Name!"
    description = "Name breaks the pattern."
    Input = BaseModel
    Output = BaseModel

    def run(self, req, ctx: Context):  # type: ignore[no-untyped-def]
        return None


class NoRun(Plugin):  # type: ignore[type-arg]
    name = "no-run"
    description = "Forgot run()."
    Input = BaseModel
    Output = BaseModel
