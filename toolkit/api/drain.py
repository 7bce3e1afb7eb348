"""A graceful stop: on SIGTERM the server stops taking work, lets running requests finish,
then exits.

While draining, every new request except the liveness probe (/healthz) is answered 503
`shutting_down` with Retry-After, so a load balancer moves callers elsewhere and a client
knows to retry; requests already running are answered normally.
"""

from __future__ import annotations

import threading
import time
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from pitchcraft.api.guard import send_json

ALWAYS_ANSWERED = ("/healthz",)


class Drain:
    """Shared state: whether the server is draining, and how many requests are running."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0  # changed on the event loop only

    def wait_idle(self, limit_s: float) -> bool:
        """Until no request is running or `limit_s` has passed; True when idle."""
        deadline = time.monotonic() + limit_s
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.in_flight


class DrainGuard:
    """ASGI middleware counting running requests and refusing new ones while draining."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS_ANSWERED:
            await self.app(scope, receive, send)
            return
        if self.drain.draining:
            body = {
                "error": {
                    "type": "shutting_down",
                    "message": "the server is stopping; retry in a moment (or on another instance)",
                    "request_id": scope.get("state", {}).get("request_id"),
                }
            }
            await send_json(send, 503, body, [(b"retry-after", b"5"), (b"connection", b"close")])
            return
        self.drain.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.in_flight -= 1


def draining_server(config: Any, drain: Drain, limit_s: float) -> Any:
    """A uvicorn Server whose first SIGTERM/SIGINT drains (up to `limit_s`) before the usual
    shutdown; a second signal stops at once."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if drain.draining:
                super().handle_exit(sig, frame)
                return
            drain.draining = True

            def finish() -> None:
                drain.wait_idle(limit_s)
                super(DrainingServer, self).handle_exit(sig, frame)

            threading.Thread(target=finish, name="pitchcraft-drain", daemon=True).start()

    return DrainingServer(config)
