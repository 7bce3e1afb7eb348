"""Several model servers behind one client (`llm_url` listing more than one URL).

Each request goes to the healthy server with the fewest requests in flight among those
that serve the model or adapter it names. A server that cannot be reached is taken out
at once (the request moves to another) and checked every few seconds in the background
until its /models answers again; so is one whose streamed reply ends in an error of the
server's own (a 5xx error event: its engine stopped mid-reply). A request answered with a
5xx status goes to another server when there is one. The routing lives in an httpx
transport, so the OpenAI client, streaming and retries work as they do with one server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

POOL_BASE = "http://model-pool"  # what the client is told; the transport picks the server
RECHECK_S = 5.0
# Failures that mean the server is gone, so the request can go elsewhere unchanged. A read
# timeout is not one: the server may be busy with it, and a retry would double the load.
SERVER_GONE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError)
# Statuses that say the server failed, not the request (vLLM: 500 once its engine is dead).
SERVER_FAILED = frozenset({500, 502, 503, 504})


def server_error_event(chunk: bytes) -> bool:
    """`chunk` of a streamed reply holds an error event of the server's own (code 5xx), as
    vLLM sends when its engine stops mid-reply."""
    for line in chunk.splitlines():
        if not line.startswith(b"data: {") or b'"error"' not in line:
            continue
        try:
            error = json.loads(line[len(b"data: ") :]).get("error")
        except ValueError:
            continue
        code = error.get("code") if isinstance(error, dict) else None
        if str(code).isdigit() and int(str(code)) >= 500:
            return True
    return False


@dataclass
class Server:
    url: str  # base URL, e.g. http://10.0.0.5:8100/v1
    in_flight: int = 0
    up: bool = True
    checked_at: float = 0.0
    checking: bool = False
    models: list[dict[str, Any]] = field(default_factory=list)

    def serves(self, model: str | None) -> bool:
        return model is None or not self.models or model in {m["id"] for m in self.models}


class NoServer(httpx.ConnectError):
    """No server in the pool can take the request now."""


class ServerPool:
    def __init__(self, urls: list[str], headers: dict[str, str], recheck_s: float = RECHECK_S):
        self.servers = [Server(url.rstrip("/")) for url in urls]
        self.headers = headers
        self.recheck_s = recheck_s
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return "model servers " + ", ".join(s.url for s in self.servers)

    # -- health ------------------------------------------------------------------------

    def check(self, server: Server, timeout: httpx.Timeout) -> bool:
        """GET /models: the server's list when it answers; whether it did."""
        try:
            resp = httpx.get(f"{server.url}/models", headers=self.headers, timeout=timeout)
            resp.raise_for_status()
            models = list(resp.json().get("data", []))
        except (httpx.HTTPError, ValueError):
            up = False
        else:
            up = True
        with self._lock:
            server.up, server.checked_at, server.checking = up, time.monotonic(), False
            if up:
                server.models = models
        return up

    def models(self, timeout: httpx.Timeout) -> list[dict[str, Any]]:
        """Every model any server serves (each once); raises httpx.ConnectError when none
        answers."""
        found: dict[str, dict[str, Any]] = {}
        for server in self.servers:
            if self.check(server, timeout):
                found.update((m["id"], m) for m in server.models if m["id"] not in found)
        if not any(s.up for s in self.servers):
            raise NoServer(f"none of the {self.label} answers")
        return list(found.values())

    def mark_down(self, server: Server) -> None:
        with self._lock:
            server.up, server.checked_at = False, time.monotonic()

    def _recheck(self, timeout: httpx.Timeout) -> None:
        """Start background checks of servers that have been out a while (lock held)."""
        now = time.monotonic()
        for server in self.servers:
            if not server.up and not server.checking and now - server.checked_at >= self.recheck_s:
                server.checking = True
                threading.Thread(target=self.check, args=(server, timeout), daemon=True).start()

    # -- routing -------------------------------------------------------------------------

    def pick(self, model: str | None, tried: set[str]) -> Server:
        """The least-loaded server that is up, serves `model` and was not tried; counts the
        request as in flight on it."""
        with self._lock:
            self._recheck(httpx.Timeout(2.0, connect=1.0))
            candidates = [s for s in self.servers if s.up and s.url not in tried]
            serving = [s for s in candidates if s.serves(model)]
            if not serving:
                what = f" serving {model!r}" if model and candidates else ""
                raise NoServer(f"none of the {self.label}{what} can be reached")
            best = min(serving, key=lambda s: s.in_flight)
            best.in_flight += 1
            return best

    def another(self, model: str | None, tried: set[str]) -> bool:
        """Some server that is up, serves `model` and was not tried."""
        with self._lock:
            return any(s.up and s.url not in tried and s.serves(model) for s in self.servers)

    def release(self, server: Server) -> None:
        with self._lock:
            server.in_flight -= 1


def requested_model(request: httpx.Request) -> str | None:
    try:
        body = json.loads(request.content or b"null")
    except (ValueError, httpx.RequestNotRead):
        return None
    return body.get("model") if isinstance(body, dict) else None


def routed(request: httpx.Request, server: Server) -> httpx.Request:
    """`request` (made against POOL_BASE) sent to `server` instead."""
    url = httpx.URL(server.url + request.url.raw_path.decode("ascii"))
    headers = request.headers.copy()
    headers["host"] = url.netloc.decode("ascii")
    return httpx.Request(
        request.method, url, headers=headers, stream=request.stream, extensions=request.extensions
    )


class _Attempts:
    """The servers one request tries, in the pool's order of preference."""

    def __init__(self, pool: ServerPool, request: httpx.Request) -> None:
        self.pool = pool
        self.model = requested_model(request)
        self.tried: set[str] = set()

    def next(self) -> Server:
        return self.pool.pick(self.model, self.tried)

    def failed(self, server: Server) -> None:
        self.pool.release(server)
        self.pool.mark_down(server)
        self.tried.add(server.url)

    def move_on(self, server: Server, response: httpx.Response) -> bool:
        """`server` answered with a failure of its own: whether another server can take the
        request (if so, `server` is let go; it stays up, as the failure may be this
        request's)."""
        if response.status_code not in SERVER_FAILED:
            return False
        if not self.pool.another(self.model, self.tried | {server.url}):
            return False
        self.pool.release(server)
        self.tried.add(server.url)
        return True


class _SyncCounted(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, done: Callable[[], None], gone: Any) -> None:
        self.inner, self.done, self.gone, self.open = inner, done, gone, True

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.inner:
                if server_error_event(chunk):
                    self.gone()
                yield chunk
        except SERVER_GONE:
            self.gone()
            raise

    def close(self) -> None:
        if self.open:
            self.open = False
            self.inner.close()
            self.done()


class _AsyncCounted(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, done: Callable[[], None], gone: Any) -> None:
        self.inner, self.done, self.gone, self.open = inner, done, gone, True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.inner:
                if server_error_event(chunk):
                    self.gone()
                yield chunk
        except SERVER_GONE:
            self.gone()
            raise

    async def aclose(self) -> None:
        if self.open:
            self.open = False
            await self.inner.aclose()
            self.done()


def _answer(request: httpx.Request, response: httpx.Response, stream: Any) -> httpx.Response:
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=stream,
        extensions=response.extensions,
        request=request,
    )


LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)


class _Routing:
    """What the sync and async transports share: a response whose end (or a cut-off)
    settles its server's count."""

    pool: ServerPool

    def _counted(
        self, request: httpx.Request, response: httpx.Response, server: Server, wrap: type
    ) -> httpx.Response:
        stream = wrap(
            response.stream,
            lambda: self.pool.release(server),
            lambda: self.pool.mark_down(server),
        )
        return _answer(request, response, stream)


class PoolTransport(_Routing, httpx.BaseTransport):
    def __init__(self, pool: ServerPool) -> None:
        self.pool = pool
        self.inner = httpx.HTTPTransport(limits=LIMITS)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempts = _Attempts(self.pool, request)
        while True:
            server = attempts.next()
            try:
                response = self.inner.handle_request(routed(request, server))
            except SERVER_GONE:
                attempts.failed(server)
                continue
            if attempts.move_on(server, response):
                response.close()
                continue
            return self._counted(request, response, server, _SyncCounted)

    def close(self) -> None:
        self.inner.close()


class AsyncPoolTransport(_Routing, httpx.AsyncBaseTransport):
    def __init__(self, pool: ServerPool) -> None:
        self.pool = pool
        self.inner = httpx.AsyncHTTPTransport(limits=LIMITS)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempts = _Attempts(self.pool, request)
        while True:
            server = attempts.next()
            try:
                response = await self.inner.handle_async_request(routed(request, server))
            except SERVER_GONE:
                attempts.failed(server)
                continue
            if attempts.move_on(server, response):
                await response.aclose()
                continue
            return self._counted(request, response, server, _AsyncCounted)

    async def aclose(self) -> None:
        await self.inner.aclose()
