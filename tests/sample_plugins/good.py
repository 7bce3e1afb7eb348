from __future__ import annotations

import os
import time
from pathlib import Path

from pydantic import BaseModel, Field

from pitchcraft import Context, Plugin


class EchoIn(BaseModel):
    text: str = Field(min_length=1, description="Text to echo.")
    times: int = Field(default=1, ge=1, le=10)
    fail: bool = Field(default=False, description="Raise inside run, to test isolation.")


class EchoOut(BaseModel):
    echoed: str


class Echo(Plugin[EchoIn, EchoOut]):
    name = "echo"
    description = "Repeat the text."
    Input = EchoIn
    Output = EchoOut

    def run(self, req: EchoIn, ctx: Context) -> EchoOut:
        if req.fail:
            raise RuntimeError(f"asked to fail on {req.text!r}")
        return EchoOut(echoed=" ".join([req.text] * req.times))


class SlowIn(BaseModel):
    n: int


class SlowOut(BaseModel):
    square: int


class Slow(Plugin[SlowIn, SlowOut]):
    """Sleeps per request and logs each call to $SLOW_CALL_LOG, so tests can interrupt and count."""

    name = "slow"
    description = "Square a number, slowly."
    Input = SlowIn
    Output = SlowOut

    def run(self, req: SlowIn, ctx: Context) -> SlowOut:
        time.sleep(float(os.environ.get("SLOW_SECONDS", "0.2")))
        log = os.environ.get("SLOW_CALL_LOG")
        if log:
            with Path(log).open("a") as fh:
                fh.write(f"{req.n}\n")
        return SlowOut(square=req.n * req.n)


class WrongOutput(Plugin[EchoIn, EchoOut]):
    name = "wrong-output"
    description = "Returns something that is not its Output."
    Input = EchoIn
    Output = EchoOut

    def run(self, req: EchoIn, ctx: Context) -> EchoOut:
        return {"nonsense": 1}  # type: ignore[return-value]
