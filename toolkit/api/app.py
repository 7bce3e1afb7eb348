"""The HTTP API app, generated from the registry and the chain library: one typed route per
plugin and per chain (so the OpenAPI document carries each Input/Output schema), batch
routes, the chat router, health and Prometheus metrics."""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import pitchcraft
from pitchcraft.api.bodies import BodyDocs
from pitchcraft.api.drain import Drain, DrainGuard
from pitchcraft.api.errors import ApiError, install_error_handlers
from pitchcraft.api.guard import KeyCheck, RateLimiter, RequestGuard, load_keys
from pitchcraft.api.metrics import Metrics
from pitchcraft.api.routes import (
    add_chain_route,
    add_plugin_routes,
    add_service_routes,
    caller_dependency,
)
from pitchcraft.api.wire import ERROR_RESPONSES
from pitchcraft.chain.router import ChatRouter
from pitchcraft.chain.runner import ChainLibrary
from pitchcraft.context import Context
from pitchcraft.errors import PitchcraftError
from pitchcraft.registry import Registry
from pitchcraft.warmup import WarmUp


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
        self.metrics.count_outcomes(lambda: self.ctx().outcomes.totals())
        self.warm = WarmUp(self.ctx, self.registry.plugins)
        self.bodies = BodyDocs()
        self.drain = Drain()

    def ctx(self) -> Context:
        return self.registry.context()

    async def timed(self, work: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(work, self.settings.api_timeout_s)
        except TimeoutError:
            raise ApiError(
                504, "timeout", f"no answer within {self.settings.api_timeout_s:g} s"
            ) from None


def create_app(registry: Registry | None = None, auth: bool = True) -> FastAPI:
    service = Service(registry if registry is not None else Registry(), auth)
    settings = service.settings

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(asyncio.to_thread(service.warm.run))
        yield
        task.cancel()

    app = FastAPI(
        title="pitchcraft",
        version=pitchcraft.__version__,
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
    app.add_middleware(DrainGuard, drain=service.drain)  # inside the guard: ids and access log
    app.add_middleware(RequestGuard, max_body_bytes=settings.api_max_body_bytes)
    install_error_handlers(app, service.metrics)

    caller = caller_dependency(service)
    add_service_routes(app, service, caller)
    for name in service.registry.names():
        add_plugin_routes(app, service, service.registry.plugins[name], caller)
    for name in service.chains.names():
        add_chain_route(app, service, name, caller)
    service.bodies.install(app)
    return app
