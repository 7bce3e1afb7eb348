"""What stands in front of the HTTP API's routes: API keys, rate limits, body size, request
ids and one JSON log line per request."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from pitchcraft.api.errors import internal_error, log_fault
from pitchcraft.errors import PitchcraftError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("pitchcraft.api.access")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh API key and its stored form (sha256 hex); only the hash is ever kept."""
    key = "pk_" + secrets.token_urlsafe(32)
    return key, hash_key(key)


def parse_key_entries(entries: list[str], where: str) -> dict[str, str]:
    """{sha256 hex: key name} from 'name:hash' (or bare 'hash') entries."""
    keys: dict[str, str] = {}
    for n, raw in enumerate(entries, 1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        name, _, digest = entry.rpartition(":")
        digest = digest.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise PitchcraftError(
                f"{where}, entry {n}: expected 'name:<sha256 hex>' (see `pitchcraft api-key`)"
            )
        keys[digest] = name or f"key-{digest[:8]}"
    return keys


def load_keys(entries: list[str], keys_file: Path | None) -> dict[str, str]:
    keys = parse_key_entries(entries, "setting api_keys")
    if keys_file is not None:
        try:
            lines = keys_file.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise PitchcraftError(f"api_keys_file {keys_file}: {err.strerror}") from None
        keys.update(parse_key_entries(lines, f"api_keys_file {keys_file}"))
    return keys


class KeyCheck:
    """Matches a presented key against the stored hashes in constant time."""

    def __init__(self, hashes: dict[str, str]) -> None:
        self.hashes = hashes

    def name_of(self, presented: str | None) -> str | None:
        if not presented:
            return None
        digest = hash_key(presented)
        for stored, name in self.hashes.items():
            if hmac.compare_digest(stored, digest):
                return name
        return None


class RateLimiter:
    """A token bucket per caller: `per_minute` requests, refilled evenly. A bucket that has
    refilled is the same as none, so idle callers' buckets are dropped (each minute at most)."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def take(self, caller: str) -> float:
        """0 when allowed; otherwise the seconds until the next request is."""
        now = time.monotonic()
        with self._lock:
            if now - self._swept >= 60.0:
                self._sweep(now)
            tokens, last = self._buckets.get(caller, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[caller] = (tokens - 1, now)
                return 0.0
            self._buckets[caller] = (tokens, now)
            return (1 - tokens) / self.rate

    def _sweep(self, now: float) -> None:
        refill = self.capacity / self.rate  # seconds for an empty bucket to fill
        self._buckets = {
            caller: (tokens, last)
            for caller, (tokens, last) in self._buckets.items()
            if now - last < refill
        }
        self._swept = now

    def __len__(self) -> int:
        return len(self._buckets)


async def send_json(send: Send, status: int, body: dict[str, Any], headers: list[Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class RequestGuard:
    """ASGI middleware: a request id (kept from X-Request-ID or made), a body-size limit
    (413 before the route runs), and one JSON access-log line per request."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = 1
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        try:
            body = await self._read_body(headers, receive)
            if body is None:
                too_large = {
                    "error": {
                        "type": "request_too_large",
                        "message": f"request body is over {self.max_body_bytes} bytes",
                        "request_id": request_id,
                    }
                }
                await send_json(send_with_id, 413, too_large, [])
                return
            await self.app(scope, replay(body, receive), send_with_id)
        except Exception as bug:  # no handler knew it: a fault of ours, logged under the id
            log_fault(
                request_id, scope.get("state", {}).get("target") or scope["path"], str(bug), bug
            )
            if "started" in status:
                raise  # the response is under way; the server closes the connection
            await send_json(send_with_id, 500, internal_error(request_id), [])
        finally:
            state = scope.get("state", {})
            access_log.info(
                json.dumps(
                    {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status["code"],
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                        "key": state.get("key_name"),
                        "target": state.get("target"),
                    }
                )
            )

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> bytes | None:
        """The whole body, or None when it is over the limit (declared or counted)."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that gives the already-read body once, then the real channel (so
    disconnects still arrive)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, and the message (itself JSON for
    access lines)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        try:
            parsed = json.loads(message)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            entry.update(parsed)
        else:
            entry["message"] = message
        if record.exc_info:
            trace = self.formatException(record.exc_info)
            entry["error"] = trace.splitlines()[-1]
            entry["traceback"] = trace
        return json.dumps(entry, ensure_ascii=False)
