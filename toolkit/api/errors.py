"""Every failure as a typed JSON error: the client's (4xx, naming the field), a dependency's
(503 naming it, with Retry-After) or the server's own (500, with a request id the log
shows)."""

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pitchcraft.api.metrics import Metrics
from pitchcraft.api.wire import ErrorBody, ErrorDetail
from pitchcraft.errors import (
    DependencyUnavailable,
    InputError,
    PitchcraftError,
    PluginNotFound,
    PluginRunError,
    describe_fields,
)

RETRY_AFTER_S = {"model": 10.0, "store": 5.0, "data": 60.0}
error_log = logging.getLogger("pitchcraft.api.errors")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        fields: dict[str, str] | None = None,
        retry_after_s: float | None = None,
        bug: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message
        self.fields = fields or {}
        self.retry_after_s = retry_after_s
        self.bug = bug  # the unexpected exception behind a 500, for the log

    @classmethod
    def invalid(cls, fields: dict[str, str]) -> "ApiError":
        return cls(422, "invalid_input", describe_fields(fields), fields)

    def detail(self, request_id: str = "") -> ErrorDetail:
        return ErrorDetail(
            type=self.kind,  # type: ignore[arg-type]
            message=self.message,
            fields=self.fields,
            request_id=request_id,
            retry_after_s=self.retry_after_s,
        )


def error_from(err: PitchcraftError) -> ApiError:
    """A pitchcraft error as the HTTP error a client can act on."""
    cause = err.cause if isinstance(err, PluginRunError) and err.cause is not None else err
    if isinstance(cause, InputError):
        return ApiError(422, "invalid_input", str(cause), cause.fields)
    if isinstance(cause, DependencyUnavailable):
        name = cause.dependency
        return ApiError(503, f"{name}_unavailable", str(cause), retry_after_s=RETRY_AFTER_S[name])
    if isinstance(cause, PluginNotFound):
        return ApiError(404, "not_found", str(cause))
    if isinstance(err, PluginRunError) and err.cause is None:
        return ApiError(500, "plugin_failed", str(err), bug=err.bug)
    # A deliberate refusal (unknown product id, impossible counts, ...): the request's fault.
    return ApiError(422, "invalid_input", str(cause))


def log_fault(request_id: str, target: str, message: str, bug: BaseException | None) -> None:
    """One JSON line (with the stack trace) that a 500's request id finds."""
    error_log.error(
        json.dumps({"request_id": request_id, "target": target, "message": message}),
        exc_info=(type(bug), bug, bug.__traceback__) if bug is not None else None,
    )


def install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        target = target_of(request)
        metrics.errors.labels(target, err.kind).inc()
        request_id = getattr(request.state, "request_id", "")
        if err.status >= 500 and err.status not in (503, 504):
            log_fault(request_id, target, err.message, err.bug)
        headers = {}
        if err.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, round(err.retry_after_s)))
        if err.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        body = ErrorBody(error=err.detail(request_id))
        return JSONResponse(body.model_dump(), err.status, headers)

    @app.exception_handler(PitchcraftError)
    async def pitchcraft_error(request: Request, err: PitchcraftError) -> JSONResponse:
        return await api_error(request, error_from(err))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        kinds = {400: "invalid_input", 404: "not_found", 405: "method_not_allowed"}
        kind = kinds.get(err.status_code, "invalid_input")
        response = await api_error(request, ApiError(err.status_code, kind, str(err.detail)))
        response.headers.update(err.headers or {})  # e.g. Allow on 405
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for item in err.errors():
            loc = [str(p) for p in item.get("loc", ())]
            path = ".".join(loc[1:] if loc and loc[0] in ("body", "query") else loc)
            fields.setdefault(path or "(request)", str(item.get("msg", "invalid")))
        return await api_error(request, ApiError.invalid(fields))


def internal_error(request_id: str) -> dict[str, object]:
    """The body of a 500 for an exception no handler knew (the guard sends it)."""
    detail = ErrorDetail(
        type="internal_error",
        message="the server failed on this request; its log has the details under this id",
        request_id=request_id,
    )
    return ErrorBody(error=detail).model_dump()


def target_of(request: Request) -> str:
    """The plugin, chain or route a request is for, also when it failed before its route ran."""
    target = getattr(request.state, "target", None)
    if target:
        return str(target)
    parts = request.url.path.strip("/").split("/")
    if len(parts) >= 3 and parts[:2] in (["v1", "plugins"], ["v1", "chains"]):
        return parts[2]
    return parts[-1] or "-"
