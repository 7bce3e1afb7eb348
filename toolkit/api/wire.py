"""What goes over the wire besides each plugin's own Input/Output: errors, batches, chat,
health."""

from typing import Any, Literal

from pydantic import BaseModel, Field

import pitchcraft
from pitchcraft.chain.router import Route
from pitchcraft.registry import PluginInfo

SESSION_PATTERN = r"^[\w.:-]{1,128}$"

ErrorType = Literal[
    "invalid_input",
    "unauthorized",
    "rate_limited",
    "not_found",
    "request_too_large",
    "plugin_failed",
    "internal_error",
    "model_unavailable",
    "store_unavailable",
    "data_unavailable",
    "timeout",
    "not_ready",
    "method_not_allowed",
]


class ErrorDetail(BaseModel):
    type: ErrorType
    message: str
    fields: dict[str, str] = Field(default_factory=dict, description="Field path -> problem.")
    request_id: str = Field(default="", description="Also in the server's log lines.")
    retry_after_s: float | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class PluginList(BaseModel):
    plugins: list[PluginInfo]
    chains: list[dict[str, Any]]


class BatchItem(BaseModel):
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorDetail | None = None


class BatchResult(BaseModel):
    results: list[BatchItem]
    succeeded: int
    failed: int


class ChatRequest(BaseModel):
    model_config = {"extra": "forbid"}

    message: str = Field(min_length=1, max_length=4000, description="The user's message.")
    session_id: str | None = Field(
        default=None, pattern=SESSION_PATTERN, description="Same id, same conversation."
    )
    stream: bool = Field(default=False, description="Server-Sent Events instead of one JSON.")


class ChatAnswer(BaseModel):
    session_id: str
    route: Route | None
    reply: str
    ok: bool
    result: dict[str, Any] | None = None


class Health(BaseModel):
    status: Literal["ok", "ready", "not_ready"]
    version: str = pitchcraft.__version__
    checks: dict[str, str] = Field(default_factory=dict)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "The body could not be read as JSON",
        401: "Missing or unknown API key",
        413: "Request body too large",
        422: "Invalid input (fields name each bad path)",
        429: "Rate limit reached (Retry-After)",
        500: "A fault on the server's side: plugin_failed or internal_error, with the "
        "request id that the server's log shows",
        503: "The model server, the product store or packaged data is unavailable: "
        "model_unavailable, store_unavailable, data_unavailable (Retry-After)",
        504: "Timed out",
    }.items()
}
