"""The HTTP API for chatbot backends, generated from the registry and the chain library.

One typed route per plugin and per chain (so the OpenAPI document carries each
Input/Output schema), batch routes, the chat router, health and Prometheus
metrics. No route is written for any one plugin.
"""

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field, ValidationError, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

import pitchcraft
from pitchcraft.api.guard import KeyCheck, RateLimiter, RequestGuard, load_keys
from pitchcraft.chain.router import ChatEvent, ChatRouter, Route
from pitchcraft.chain.runner import ChainLibrary, ChainResult
from pitchcraft.context import Context
from pitchcraft.errors import (
    InputError,
    ModelUnavailable,
    PitchcraftError,
    PluginNotFound,
    PluginRunError,
    describe_fields,
    field_errors,
)
from pitchcraft.plugin import Plugin
from pitchcraft.registry import PluginInfo, Registry
from pitchcraft.warmup import WarmUp

SESSION_PATTERN = r"^[\w.:-]{1,128}$"
M = TypeVar("M", bound=BaseModel)


# -- wire models ----------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    type: Literal[
        "invalid_input",
        "unauthorized",
        "rate_limited",
        "not_found",
        "request_too_large",
        "plugin_failed",
        "model_unavailable",
        "timeout",
        "not_ready",
        "method_not_allowed",
    ]
    message: str
    fields: dict[str, str] = Field(default_factory=dict, description="Field path -> problem.")
    request_id: str = ""
    retry_after_s: float | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        fields: dict[str, str] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message
        self.fields = fields or {}
        self.retry_after_s = retry_after_s

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
        500: "The plugin failed (typed error, no stack trace)",
        503: "Model server unavailable (Retry-After)",
        504: "Timed out",
    }.items()
}


# -- metrics --------------------------------------------------------------------------------


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pitchcraft_requests_total",
            "Requests by route kind, target and status code.",
            ["route", "target", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pitchcraft_request_seconds",
            "Request latency by route kind and target.",
            ["route", "target"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.errors = Counter(
            "pitchcraft_errors_total",
            "Errors by target and error type.",
            ["target", "type"],
            registry=self.registry,
        )

    def count_tokens(self, usage: Callable[[], dict[tuple[str, str], int]]) -> None:
        """Export the model client's running token totals, read at each scrape."""
        self.registry.register(TokenCollector(usage))

    def observe(self, route: str, target: str, status: int, seconds: float) -> None:
        self.requests.labels(route, target, str(status)).inc()
        self.latency.labels(route, target).observe(seconds)


class TokenCollector(Collector):
    def __init__(self, usage: Callable[[], dict[tuple[str, str], int]]) -> None:
        self.usage = usage

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "pitchcraft_model_tokens",
            "Model tokens by adapter (each plugin asks for its own) and kind.",
            labels=["adapter", "kind"],
        )
        for (adapter, kind), count in sorted(self.usage().items()):
            family.add_metric([adapter, kind], count)
        yield family


# -- the app --------------------------------------------------------------------------------


class Service:
    """What the routes share: registry, chains, router, keys, limits, metrics."""

    def __init__(self, registry: Registry, auth: bool = True) -> None:
        self.registry = registry.load()
        self.settings = registry.settings
        self.chains = ChainLibrary(registry).load()
        self.router = ChatRouter(registry, self.chains)
        self.keys = KeyCheck(load_keys(self.settings.api_keys, self.settings.api_keys_file))
        self.auth = auth
        if auth and not self.keys.hashes:
            raise PitchcraftError(
                "no API keys configured: set api_keys or api_keys_file (make one with "
                "`pitchcraft api-key`), or start with --no-auth on a private address"
            )
        self.limiter = RateLimiter(self.settings.api_rate_limit_per_minute)
        self.metrics = Metrics()
        # the model client is built on first use; its totals are read at scrape time
        self.metrics.count_tokens(
            lambda: self.ctx().llm.usage.totals() if self.ctx().is_built("llm") else {}
        )
        self.warm = WarmUp(self.ctx, self.registry.plugins)

    def ctx(self) -> Context:
        return self.registry.context()

    async def timed(self, work: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(work, self.settings.api_timeout_s)
        except TimeoutError:
            raise ApiError(
                504, "timeout", f"no answer within {self.settings.api_timeout_s:g} s"
            ) from None


def error_from(err: PitchcraftError) -> ApiError:
    """A deliberate pitchcraft error as the HTTP error a client can act on."""
    cause = err.cause if isinstance(err, PluginRunError) and err.cause is not None else err
    if isinstance(cause, InputError):
        return ApiError(422, "invalid_input", str(cause), cause.fields)
    if isinstance(cause, ModelUnavailable):
        return ApiError(503, "model_unavailable", str(cause), retry_after_s=10)
    if isinstance(cause, PluginNotFound):
        return ApiError(404, "not_found", str(cause))
    if isinstance(err, PluginRunError) and err.cause is None:
        return ApiError(500, "plugin_failed", str(err))
    # A deliberate refusal (unknown product id, impossible counts, ...): the request's fault.
    return ApiError(422, "invalid_input", str(cause))


def create_app(registry: Registry | None = None, auth: bool = True) -> FastAPI:
    service = Service(registry if registry is not None else Registry(), auth)
    settings = service.settings

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(asyncio.to_thread(service.warm.run))
        yield
        task.cancel()

    app = FastAPI(
        title="pitchcraft",
        version="0.1.0",
        description="E-commerce marketing toolkit: one typed route per plugin and chain.",
        lifespan=lifespan,  # type: ignore[arg-type]
        responses=ERROR_RESPONSES,
    )
    app.state.service = service
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
        )
    app.add_middleware(RequestGuard, max_body_bytes=settings.api_max_body_bytes)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        service.metrics.errors.labels(target_of(request), err.kind).inc()
        detail = err.detail(getattr(request.state, "request_id", ""))
        headers = {}
        if err.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, round(err.retry_after_s)))
        if err.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(ErrorBody(error=detail).model_dump(), err.status, headers)

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

    bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
    header_key = APIKeyHeader(name="X-API-Key", auto_error=False)

    def caller(
        request: Request,
        token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        key: Annotated[str | None, Depends(header_key)],
    ) -> str:
        """The key's name (or the client address without auth), after the rate limit."""
        if service.auth:
            name = service.keys.name_of(token.credentials if token else key)
            if name is None:
                raise ApiError(
                    401, "unauthorized", "missing or unknown API key (Authorization: Bearer ...)"
                )
        else:
            name = request.client.host if request.client else "anonymous"
        request.state.key_name = name
        wait = service.limiter.take(name)
        if wait > 0:
            raise ApiError(429, "rate_limited", "rate limit reached", retry_after_s=wait)
        return name

    Caller = Annotated[str, Depends(caller)]

    # -- health and metrics ------------------------------------------------------------------

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        """The process answers (no key needed)."""
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Health,
        tags=["health"],
        responses={503: {"model": Health, "description": "Model or store not ready"}},
    )
    async def readyz() -> Any:
        """Ready when the model and the store have answered and the plugins have warmed up
        (no key needed)."""
        checks = dict(service.warm.state)
        warm = service.warm.ready
        if warm and settings.llm_backend == "openai":  # the server may have gone since warm-up
            try:
                await asyncio.to_thread(service.ctx().llm.ping)
            except PitchcraftError as err:
                checks["model"] = str(err)
        ok = all(value == "ok" for value in checks.values())
        body = Health(status="ready" if ok else "not_ready", checks=checks)
        return JSONResponse(
            body.model_dump(), 200 if ok else 503, {} if ok else {"Retry-After": "5"}
        )

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    async def metrics(who: Caller) -> PlainTextResponse:
        """Prometheus metrics: requests, latencies, errors per target; model tokens."""
        return PlainTextResponse(generate_latest(service.metrics.registry).decode())

    # -- plugins -----------------------------------------------------------------------------

    @app.get("/v1/plugins", response_model=PluginList, tags=["plugins"])
    async def list_plugins(who: Caller) -> PluginList:
        """Plugins (names, versions, JSON schemas) and chains."""
        reg = service.registry
        chains = [
            {
                "name": c.name,
                "description": c.description,
                "steps": [s.plugin for s in c.spec.steps],
                "input_schema": c.Input.model_json_schema(),
            }
            for c in (service.chains.chains[n] for n in service.chains.names())
        ]
        return PluginList(plugins=[reg.info(n) for n in reg.names()], chains=chains)

    for name in service.registry.names():
        add_plugin_routes(app, service, service.registry.plugins[name], Caller)
    for name in service.chains.names():
        add_chain_route(app, service, name, Caller)

    # -- chat --------------------------------------------------------------------------------

    @app.post(
        "/v1/chat",
        response_model=ChatAnswer,
        tags=["chat"],
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def chat(body: ChatRequest, request: Request, who: Caller) -> Any:
        """Route a message to the right plugin or chain; same session_id, same conversation.
        With `stream`, Server-Sent Events: route, step_start/step_end, draft (the model's
        text so far, unchecked), then reply or error."""
        request.state.target = "chat"
        body = await strict_body(request, ChatRequest)
        events = service.router.astream(body.message, body.session_id)
        if body.stream:
            return sse(service, "chat", "chat", events)
        started = time.perf_counter()
        last: ChatEvent | None = None
        route: Route | None = None
        async for event in events:
            route = event.route or route
            last = event
        assert last is not None
        service.metrics.observe(
            "chat", route.name if route else "-", 200, time.perf_counter() - started
        )
        return ChatAnswer(
            session_id=last.session_id,
            route=route,
            reply=last.text or "",
            ok=last.event == "reply",
            result=last.result,
        )

    return app


def endpoint(fn: Callable[..., Any], body_model: type[BaseModel], caller: Any, **extra: Any) -> Any:
    """`fn` with a signature FastAPI reads: a typed body, the request, the caller, extras."""
    params = [
        inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=body_model),
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter("who", inspect.Parameter.KEYWORD_ONLY, annotation=caller),
        *(
            inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, annotation=v[0], default=v[1])
            for k, v in extra.items()
        ),
    ]
    fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return fn


def add_plugin_routes(
    app: FastAPI, service: Service, plugin: Plugin[Any, Any], caller: Any
) -> None:
    name = plugin.name
    max_batch = service.settings.api_max_batch
    batch_model = create_model(
        f"{plugin.Input.__name__}Batch",
        __config__={"extra": "forbid"},
        requests=(list[plugin.Input], Field(min_length=1, max_length=max_batch)),  # type: ignore[name-defined]
    )

    async def run_one(body: BaseModel, request: Request, who: str) -> Any:
        request.state.target = name
        body = await strict_body(request, plugin.Input)
        started = time.perf_counter()
        outcome = await service.timed(asyncio.to_thread(plugin.run_checked, body, service.ctx()))
        error = error_from(outcome) if isinstance(outcome, PitchcraftError) else None
        status = error.status if error else 200
        service.metrics.observe("plugin", name, status, time.perf_counter() - started)
        if error:
            raise error
        return outcome

    async def run_batch(body: BaseModel, request: Request, who: str) -> BatchResult:
        request.state.target = name
        body = await strict_body(request, batch_model)
        started = time.perf_counter()
        outcomes = await service.timed(plugin.run_many(body.requests, service.ctx()))  # type: ignore[attr-defined]
        items = []
        for outcome in outcomes:
            if isinstance(outcome, PitchcraftError):
                items.append(BatchItem(ok=False, error=error_from(outcome).detail()))
            else:
                items.append(BatchItem(ok=True, result=outcome.model_dump(mode="json")))
        service.metrics.observe("batch", name, 200, time.perf_counter() - started)
        ok = sum(item.ok for item in items)
        return BatchResult(results=items, succeeded=ok, failed=len(items) - ok)

    app.post(
        f"/v1/plugins/{name}",
        response_model=plugin.Output,
        tags=["plugins"],
        summary=f"Run {name}",
        description=plugin.description,
        operation_id=f"run_{name.replace('-', '_')}",
    )(endpoint(run_one, plugin.Input, caller))
    app.post(
        f"/v1/plugins/{name}/batch",
        response_model=BatchResult,
        tags=["plugins"],
        summary=f"Run {name} on up to {max_batch} requests",
        description="One result or typed error per request, in order; a failure fills its "
        "own slot only.",
        operation_id=f"batch_{name.replace('-', '_')}",
    )(endpoint(run_batch, batch_model, caller))


def add_chain_route(app: FastAPI, service: Service, name: str, caller: Any) -> None:
    chain = service.chains.get(name)

    async def run_chain(body: BaseModel, request: Request, who: str, stream: bool) -> Any:
        request.state.target = name
        body = await strict_body(request, chain.Input)
        if stream:
            events = chain.astream(body)
            return sse(service, "chain", name, events)
        started = time.perf_counter()
        result: ChainResult = await service.timed(chain.ainvoke(body))
        service.metrics.observe("chain", name, 200, time.perf_counter() - started)
        return result

    app.post(
        f"/v1/chains/{name}",
        response_model=ChainResult,
        tags=["chains"],
        summary=f"Run the {name} chain",
        description=chain.description + " With `stream=true`: Server-Sent Events "
        "(step_start, step_end with the step's trace, chain_end with the result).",
        operation_id=f"chain_{name.replace('-', '_')}",
        responses={200: {"content": {"text/event-stream": {}}}},
    )(
        endpoint(
            run_chain,
            chain.Input,
            caller,
            stream=(bool, Query(default=False, description="Stream events (SSE).")),
        )
    )


def sse(
    service: Service, route: str, target: str, events: AsyncIterator[BaseModel]
) -> StreamingResponse:
    """Server-Sent Events: `event: <type>` and one JSON `data:` line per event."""

    async def body() -> AsyncIterator[bytes]:
        started = time.perf_counter()
        try:
            async for event in events:
                yield sse_frame(event.model_dump(mode="json", exclude_none=True))
        except PitchcraftError as err:
            e = error_from(err)
            yield sse_frame(
                {"event": "error", "type": e.kind, "message": e.message, "fields": e.fields}
            )
        service.metrics.observe(route, target, 200, time.perf_counter() - started)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def sse_frame(data: dict[str, Any]) -> bytes:
    return f"event: {data['event']}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def strict_body(request: Request, model: type[M]) -> M:
    """The body re-read without pydantic's lax coercions (0 is not false, "5" is not 5), so
    the API accepts exactly what its OpenAPI schema documents."""
    try:
        return model.model_validate_json(await request.body(), strict=True)
    except ValidationError as err:
        raise ApiError.invalid(field_errors(err)) from None


def target_of(request: Request) -> str:
    """The plugin, chain or route a request is for, also when it failed before its route ran."""
    target = getattr(request.state, "target", None)
    if target:
        return str(target)
    parts = request.url.path.strip("/").split("/")
    if len(parts) >= 3 and parts[:2] in (["v1", "plugins"], ["v1", "chains"]):
        return parts[2]
    return parts[-1] or "-"
