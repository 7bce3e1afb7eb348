"""The routes: one per plugin (and its batch), one per chain, chat, health and metrics. No
route is written for any one plugin."""

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import generate_latest
from pydantic import Field, create_model

from pitchcraft.api.bodies import read_body
from pitchcraft.api.errors import ApiError, error_from
from pitchcraft.api.streaming import sse
from pitchcraft.api.wire import (
    BatchItem,
    BatchResult,
    ChatAnswer,
    ChatRequest,
    Health,
    PluginList,
)
from pitchcraft.chain.router import ChatEvent, Route
from pitchcraft.chain.runner import ChainResult
from pitchcraft.errors import PitchcraftError
from pitchcraft.plugin import Plugin

if TYPE_CHECKING:
    from pitchcraft.api.app import Service


def caller_dependency(service: "Service") -> Any:
    """`Annotated[str, Depends(...)]`: the key's name (or the client address without auth),
    after the rate limit."""
    bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
    header_key = APIKeyHeader(name="X-API-Key", auto_error=False)

    def caller(
        request: Request,
        token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        key: Annotated[str | None, Depends(header_key)],
    ) -> str:
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

    return Annotated[str, Depends(caller)]


def add_service_routes(app: FastAPI, service: "Service", caller: Any) -> None:
    """Health, metrics, the plugin list and chat."""
    settings = service.settings

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

    service.bodies.add("/v1/chat", ChatRequest)

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    async def metrics(who: caller) -> PlainTextResponse:  # type: ignore[valid-type]
        """Prometheus metrics: requests, latencies, errors per target; model tokens."""
        return PlainTextResponse(generate_latest(service.metrics.registry).decode())

    @app.get("/v1/plugins", response_model=PluginList, tags=["plugins"])
    async def list_plugins(who: caller) -> PluginList:  # type: ignore[valid-type]
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

    @app.post(
        "/v1/chat",
        response_model=ChatAnswer,
        tags=["chat"],
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def chat(request: Request, who: caller) -> Any:  # type: ignore[valid-type]
        """Route a message to the right plugin or chain; same session_id, same conversation.
        With `stream`, Server-Sent Events: route, step_start/step_end, draft (the model's
        text so far, unchecked), then reply or error."""
        request.state.target = "chat"
        body = await read_body(request, ChatRequest)
        events = service.router.astream(body.message, body.session_id)
        if body.stream:
            return sse(service.metrics, "chat", "chat", events)
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


def endpoint(fn: Callable[..., Any], caller: Any, **extra: Any) -> Any:
    """`fn` with a signature FastAPI reads: the request, the caller, extras. The body is not
    in it: the route validates it once itself (`read_body`)."""
    params = [
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
    app: FastAPI, service: "Service", plugin: Plugin[Any, Any], caller: Any
) -> None:
    name = plugin.name
    max_batch = service.settings.api_max_batch
    batch_model = create_model(
        f"{plugin.Input.__name__}Batch",
        __config__={"extra": "forbid"},
        requests=(list[plugin.Input], Field(min_length=1, max_length=max_batch)),  # type: ignore[name-defined]
    )

    async def run_one(request: Request, who: str) -> Any:
        request.state.target = name
        body = await read_body(request, plugin.Input)
        started = time.perf_counter()
        outcome = await service.timed(asyncio.to_thread(plugin.run_checked, body, service.ctx()))
        error = error_from(outcome) if isinstance(outcome, PitchcraftError) else None
        status = error.status if error else 200
        service.metrics.observe("plugin", name, status, time.perf_counter() - started)
        if error:
            raise error
        return outcome

    async def run_batch(request: Request, who: str) -> BatchResult:
        request.state.target = name
        body = await read_body(request, batch_model)
        started = time.perf_counter()
        outcomes = await service.timed(plugin.run_many(body.requests, service.ctx()))  # type: ignore[attr-defined]
        items = []
        for outcome in outcomes:
            if isinstance(outcome, PitchcraftError):
                error = error_from(outcome)
                items.append(BatchItem(ok=False, error=error.detail(request.state.request_id)))
            else:
                items.append(BatchItem(ok=True, result=outcome.model_dump(mode="json")))
        service.metrics.observe("batch", name, 200, time.perf_counter() - started)
        ok = sum(item.ok for item in items)
        return BatchResult(results=items, succeeded=ok, failed=len(items) - ok)

    service.bodies.add(f"/v1/plugins/{name}", plugin.Input)
    service.bodies.add(f"/v1/plugins/{name}/batch", batch_model)
    app.post(
        f"/v1/plugins/{name}",
        response_model=plugin.Output,
        tags=["plugins"],
        summary=f"Run {name}",
        description=plugin.description,
        operation_id=f"run_{name.replace('-', '_')}",
    )(endpoint(run_one, caller))
    app.post(
        f"/v1/plugins/{name}/batch",
        response_model=BatchResult,
        tags=["plugins"],
        summary=f"Run {name} on up to {max_batch} requests",
        description="One result or typed error per request, in order; a failure fills its "
        "own slot only.",
        operation_id=f"batch_{name.replace('-', '_')}",
    )(endpoint(run_batch, caller))


def add_chain_route(app: FastAPI, service: "Service", name: str, caller: Any) -> None:
    chain = service.chains.get(name)

    async def run_chain(request: Request, who: str, stream: bool) -> Any:
        request.state.target = name
        body = await read_body(request, chain.Input)
        if stream:
            events = chain.astream(body)
            return sse(service.metrics, "chain", name, events)
        started = time.perf_counter()
        result: ChainResult = await service.timed(chain.ainvoke(body))
        service.metrics.observe("chain", name, 200, time.perf_counter() - started)
        return result

    service.bodies.add(f"/v1/chains/{name}", chain.Input)
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
            caller,
            stream=(bool, Query(default=False, description="Stream events (SSE).")),
        )
    )
