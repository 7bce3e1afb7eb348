"""The `openai` backend: any OpenAI-compatible server, first of all vLLM with LoRA adapters."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import agenerate_from_stream, generate_from_stream
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from langchain_openai import ChatOpenAI

from pitchcraft.errors import ModelUnavailable, PitchcraftError
from pitchcraft.llm.pool import POOL_BASE, AsyncPoolTransport, PoolTransport, ServerPool
from pitchcraft.settings import Settings

log = logging.getLogger(__name__)


def is_unreachable(err: BaseException) -> bool:
    import openai

    return isinstance(
        err, openai.APIConnectionError | openai.APITimeoutError | httpx.TransportError
    )


@contextmanager
def unreachable_as_unavailable(server: str | None) -> Iterator[None]:
    """Connection failures and timeouts as ModelUnavailable naming `server` (a URL, or a
    pool's label: "model servers ...")."""
    try:
        yield
    except Exception as err:
        if not is_unreachable(err):
            raise
        import openai

        where = server if (server or "").startswith("model server") else f"model server {server}"
        if isinstance(err, openai.APITimeoutError | httpx.TimeoutException):
            raise ModelUnavailable(
                f"{where} did not answer in time ({err}): it may be overloaded; send fewer "
                "requests at once (PITCHCRAFT_LLM_SERVER_IN_FLIGHT) or allow longer "
                "(PITCHCRAFT_LLM_TIMEOUT_S)"
            ) from None
        raise ModelUnavailable(f"{where} unreachable: {err}") from None


def _cut_classes() -> tuple[type[BaseException], ...]:
    """A reply's body cut off mid-way, in httpx and in httpx2 (what the openai client uses)."""
    found: list[type[BaseException]] = [httpx.RemoteProtocolError, httpx.ReadError]
    try:
        import httpx2

        found += [httpx2.RemoteProtocolError, httpx2.ReadError]
    except ImportError:
        pass
    return tuple(found)


CUT = _cut_classes()


def server_failed_mid_reply(err: BaseException) -> bool:
    """An error event in a streamed reply with a 5xx code: the server's own failure (vLLM
    sends one when its engine stops mid-reply), not the request's."""
    import openai

    if not isinstance(err, openai.APIError) or isinstance(err, openai.APIStatusError):
        return False
    code = err.body.get("code") if isinstance(err.body, dict) else None
    return str(code).isdigit() and int(str(code)) >= 500


def reply_lost(err: BaseException) -> bool:
    """The failure is a reply lost with its server: its connection closed mid-way or the
    server failed mid-reply; not a request that never reached a server (the client retried
    those) nor one the server refused."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, CUT) or server_failed_mid_reply(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@asynccontextmanager
async def async_place(gate: threading.Semaphore | None) -> AsyncIterator[None]:
    """Hold one of `gate`'s places without blocking the event loop (polled: a waiter that
    is cancelled holds nothing); no gate, no wait."""
    if gate is None:
        yield
        return
    while not gate.acquire(blocking=False):
        await asyncio.sleep(0.005)
    try:
        yield
    finally:
        gate.release()


class GuardedChatOpenAI(ChatOpenAI):
    """ChatOpenAI whose connection failures become ModelUnavailable naming the server, whose
    requests wait for one of `gate`'s places (the requests in flight to its servers) before
    they are sent, so that waiting is not part of their time limit, and whose replies are
    streamed on the wire even when asked for whole, so that the time limit is on the
    server's silence: a long reply from a busy server is not cut off, a server that stops is
    found. A whole reply lost with its server (cut off, or ended by the server's own
    failure) is asked for again (a pool sends it to another server)."""

    servers: str | None = None  # a pool's servers, named in place of its virtual URL
    gate: Any = None  # threading.Semaphore shared by every request to the same servers

    @property
    def _server(self) -> str | None:
        return self.servers or self.openai_api_base

    def _place(self) -> threading.Semaphore | nullcontext[None]:
        return self.gate if self.gate is not None else nullcontext()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with unreachable_as_unavailable(self._server):
            for attempt in range(self.max_retries + 1):
                try:
                    with self._place():
                        chunks = super()._stream(messages, stop, run_manager, **kwargs)
                        return generate_from_stream(chunks)
                except Exception as err:
                    if not reply_lost(err) or attempt == self.max_retries:
                        raise
                    log.warning("%s: a reply was lost (%s); asking again", self._server, err)
        raise AssertionError("unreachable")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with unreachable_as_unavailable(self._server):
            for attempt in range(self.max_retries + 1):
                try:
                    async with async_place(self.gate):
                        chunks = super()._astream(messages, stop, run_manager, **kwargs)
                        return await agenerate_from_stream(chunks)
                except Exception as err:
                    if not reply_lost(err) or attempt == self.max_retries:
                        raise
                    log.warning("%s: a reply was lost (%s); asking again", self._server, err)
        raise AssertionError("unreachable")

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with self._place(), unreachable_as_unavailable(self._server):
            yield from super()._stream(*args, **kwargs)

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with async_place(self.gate):
            with unreachable_as_unavailable(self._server):
                async for chunk in super()._astream(*args, **kwargs):
                    yield chunk


HEALTH_TIMEOUT = httpx.Timeout(2.0, connect=1.0)  # `auto`'s check must not hold a request up


class OpenAIBackend:
    def __init__(self, settings: Settings) -> None:
        urls = settings.llm_urls
        if not urls:
            raise PitchcraftError(
                f"llm_backend is {settings.llm_backend!r} but llm_url (PITCHCRAFT_LLM_URL) is "
                "not set"
            )
        self.settings = settings
        self.api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "none"
        self.timeout = httpx.Timeout(settings.llm_timeout_s, connect=settings.llm_connect_timeout_s)
        self.pool = (
            ServerPool(urls, {"Authorization": f"Bearer {self.api_key}"}) if len(urls) > 1 else None
        )
        self.base_url = POOL_BASE if self.pool else urls[0].rstrip("/")
        self.label = self.pool.label if self.pool else f"model server {self.base_url}"
        self._models: tuple[float, list[dict[str, Any]]] | None = None
        self._health: tuple[float, bool] | None = None
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._gates: dict[tuple[str, ...], threading.Semaphore] = {}

    def _fetch_models(self, timeout: httpx.Timeout) -> list[dict[str, Any]]:
        """GET /models (raises httpx.HTTPError); a list that answers is kept for served().
        A pool lists what any of its servers serves."""
        if self.pool is not None:
            models = self.pool.models(timeout)
        else:
            resp = httpx.get(
                f"{self.base_url}/models",
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=timeout,
            )
            resp.raise_for_status()
            models = list(resp.json().get("data", []))
        self._models = (time.monotonic(), models)
        return models

    def served(self, max_age_s: float = 60.0) -> list[dict[str, Any]]:
        """The server's /models list (cached for a minute)."""
        with self._lock:
            if self._models and time.monotonic() - self._models[0] < max_age_s:
                return self._models[1]
            try:
                return self._fetch_models(self.timeout)
            except httpx.HTTPError as err:
                raise ModelUnavailable(f"{self.label} unreachable: {err}") from None

    def answers(self, up_for_s: float = 30.0, down_for_s: float = 5.0) -> bool:
        """Whether the server answers now: its /models list, the answer kept a while (longer
        when up) so that a request does not wait on a check."""
        with self._lock:
            if self._health and time.monotonic() - self._health[0] < (
                up_for_s if self._health[1] else down_for_s
            ):
                return self._health[1]
            try:
                self._fetch_models(HEALTH_TIMEOUT)
                up = True
            except httpx.HTTPError:
                up = False
            self._health = (time.monotonic(), up)
            return up

    def base_model(self) -> str:
        if self.settings.llm_model:
            return self.settings.llm_model
        models = self.served()
        roots = [m["id"] for m in models if not m.get("parent")]
        if not roots:
            raise ModelUnavailable(f"{self.label} serves no model")
        return roots[0]

    def resolve(self, adapter: str | None) -> str:
        """The adapter's served name when the server lists it, else the base model."""
        if adapter is None:
            return self.base_model()
        if adapter in {m["id"] for m in self.served()}:
            return adapter
        if adapter not in self._warned:
            self._warned.add(adapter)
            log.warning("model server does not serve adapter %r; using the base model", adapter)
        return self.base_model()

    def gate(self, model: str) -> threading.Semaphore:
        """The places in flight shared by requests for `model`: llm_server_in_flight for each
        server serving it (a pool's servers serving the same models share theirs)."""
        servers = (
            tuple(s.url for s in self.pool.servers if s.serves(model))
            if self.pool is not None
            else (self.base_url,)
        )
        with self._lock:
            if servers not in self._gates:
                places = self.settings.llm_server_in_flight * max(1, len(servers))
                self._gates[servers] = threading.BoundedSemaphore(places)
            return self._gates[servers]

    def chat(
        self, adapter: str | None, max_tokens: int, temperature: float, seed: int | None = None
    ) -> GuardedChatOpenAI:
        model = self.resolve(adapter)
        routing: dict[str, Any] = {}
        if self.pool is not None:
            routing = {
                "servers": self.pool.label,
                "http_client": httpx.Client(transport=PoolTransport(self.pool)),
                "http_async_client": httpx.AsyncClient(transport=AsyncPoolTransport(self.pool)),
            }
        return GuardedChatOpenAI(
            model=model,
            gate=self.gate(model),
            base_url=self.base_url,
            api_key=self.api_key,
            timeout=self.timeout,
            max_retries=self.settings.llm_retries,
            max_tokens=max_tokens,
            temperature=temperature,
            # vLLM: a per-request generator, so the batch does not change the reply
            seed=seed if self.settings.llm_server_seeds else None,
            stream_usage=True,  # token counts when streamed, as when not
            **routing,
        )
