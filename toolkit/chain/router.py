"""The chat router: a message in Chinese or English goes to the plugin or chain that serves it.

With a model that can call tools (an OpenAI-compatible server started with tool
calling), the model picks the tool and fills its arguments. Otherwise, or when
its pick is unusable, a deterministic router decides: a plugin that claims the
message (support: a safety issue, a request for a person), else the target whose
`chat_keywords` the message hits most, else a plugin that takes needs when the
message states a want for a kind of product the shop sells (read by
pitchcraft.needs against the store's own categories), else the session's
previous target (a follow-up), else the default (`chat_default`, normally
support). A plugin that takes needs answers wants, not questions: its keywords do not
count in a question unless it asks what to buy ("How much is gift wrapping?"). Plugins
and chains declare all of this; the router knows none of them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from pitchcraft import early
from pitchcraft.chain.runner import ChainLibrary
from pitchcraft.errors import PitchcraftError
from pitchcraft.llm.drafts import listening, readable
from pitchcraft.needs import Need, asks_question, need_reader
from pitchcraft.plugin import Plugin
from pitchcraft.registry import Registry

log = logging.getLogger(__name__)
_END = object()  # the end of a merged event stream
MAX_DRAFTS = 3  # generations shown at once in a draft (a chain's fan-out writes several)

ROUTER_PROMPT = (
    "You route shop messages to one tool. Call exactly one tool with arguments taken from "
    "the message; answer in the message's language."
)


class Route(BaseModel):
    kind: Literal["plugin", "chain"]
    name: str
    by: Literal["model", "claim", "keywords", "need", "memory", "default"]
    request: dict[str, Any]
    need: Need | None = Field(
        default=None, description="by need: the want as read (kind of product, price, ...)."
    )


class ChatEvent(BaseModel):
    event: Literal["route", "step_start", "step_end", "preview", "draft", "reply", "error"]
    session_id: str
    route: Route | None = None
    step: str | None = None
    status: str | None = None
    text: str | None = Field(
        default=None,
        description="reply: the answer (Markdown); error: what went wrong; preview: the result "
        "as far as it is known before the model writes (products before their reasons, "
        "sources before the answer), replaced by the reply; draft: the model's text so far, "
        "unchecked (the plugin may still correct or refuse it).",
    )
    result: dict[str, Any] | None = None


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    text: str
    target: str | None = None


@dataclass
class Target:
    kind: Literal["plugin", "chain"]
    name: str
    keywords: tuple[str, ...]
    build: Callable[[str], dict[str, Any] | None]
    fields: set[str]
    claims: Callable[[str], bool] = lambda message: False
    takes_needs: bool = False


def keyword_hits(message: str, keywords: tuple[str, ...]) -> int:
    """Distinct keywords in the message: whole words for Latin ones, substrings for CJK."""
    text = message.casefold()
    hits = 0
    for word in keywords:
        w = word.casefold()
        if w.isascii():
            hits += re.search(rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])", text) is not None
        else:
            hits += w in text
    return hits


class Sessions:
    """Turns per session, in memory, the least recently used dropped past `max_sessions`."""

    def __init__(self, max_sessions: int = 1000, max_turns: int = 20) -> None:
        self.max_sessions = max_sessions
        self.max_turns = max_turns
        self._turns: OrderedDict[str, deque[Turn]] = OrderedDict()
        self._lock = threading.Lock()

    def history(self, session_id: str) -> list[Turn]:
        with self._lock:
            return list(self._turns.get(session_id, ()))

    def add(self, session_id: str, *turns: Turn) -> None:
        with self._lock:
            kept = self._turns.setdefault(session_id, deque(maxlen=self.max_turns))
            kept.extend(turns)
            self._turns.move_to_end(session_id)
            while len(self._turns) > self.max_sessions:
                self._turns.popitem(last=False)


class ChatRouter:
    def __init__(self, registry: Registry, chains: ChainLibrary | None = None) -> None:
        self.registry = registry.load()
        self.chains = (chains or ChainLibrary(registry)).load()
        self.settings = registry.settings
        self.sessions = Sessions(self.settings.chat_sessions, self.settings.chat_turns)
        self._targets: dict[str, Target] | None = None
        self._tool_list: dict[str, Any] | None = None

    # -- targets ---------------------------------------------------------------------------

    def targets(self) -> dict[str, Target]:
        if self._targets is None:
            ctx = self.registry.context()
            found: dict[str, Target] = {}
            for name, plugin in self.registry.plugins.items():
                if type(plugin).chat_request is not Plugin.chat_request:  # offered in chat
                    found[name] = Target(
                        "plugin",
                        name,
                        plugin.chat_keywords,
                        lambda m, p=plugin: p.chat_request(m, ctx),
                        set(plugin.Input.model_fields),
                        lambda m, p=plugin: p.chat_claims(m, ctx),
                        plugin.chat_takes_needs,
                    )
            for name, chain in self.chains.chains.items():
                chat = chain.spec.chat
                if chat is not None and name not in found:
                    found[name] = Target(
                        "chain",
                        name,
                        tuple(chat.keywords),
                        lambda m, f=chat.message_field: {f: m},
                        set(chain.Input.model_fields),
                    )
            self._targets = found
        return self._targets

    def route(self, message: str, session_id: str) -> Route:
        """The deterministic decision (a claim, keywords, a stated want, then the session's
        last target, then the default)."""
        targets = self.targets()
        claimed = [name for name, t in targets.items() if t.claims(message)]
        asks = asks_question(message)  # "How much is gift wrapping?" is no want of a gift
        hits = {
            name: 0 if t.takes_needs and asks else keyword_hits(message, t.keywords)
            for name, t in targets.items()
        }
        best = max(hits, key=hits.__getitem__, default=None)
        takers = [name for name, t in targets.items() if t.takes_needs]
        need = self._want(message) if takers and not claimed and not any(hits.values()) else None
        last = [t.target for t in self.sessions.history(session_id) if t.target in targets]
        name: str
        by: Literal["claim", "keywords", "need", "memory", "default"]
        if claimed:
            name, by = claimed[0], "claim"
        elif best is not None and hits[best] > 0:
            name, by = best, "keywords"
        elif need is not None:
            name, by = takers[0], "need"
        elif last:
            name, by = str(last[-1]), "memory"
        else:
            name, by = self._default(), "default"
        request = targets[name].build(message)
        if request is None:  # e.g. no product matches a copy request: the default answers
            name, by, need = self._default(), "default", None
            request = targets[name].build(message) or {}
        return Route(kind=targets[name].kind, name=name, by=by, request=request, need=need)

    def _want(self, message: str) -> Need | None:
        """The message read as a need, when it states a want for a kind the shop sells."""
        try:
            need = need_reader(self.registry.context()).read(message)
        except Exception as err:  # no store to read kinds from: the other rules decide
            log.warning("chat routing without needs (%s)", err)
            return None
        return need if need.is_want else None

    def _default(self) -> str:
        name, targets = self.settings.chat_default, self.targets()
        if name not in targets:
            raise PitchcraftError(
                f"chat_default {name!r} is not a plugin or chain offered in chat "
                f"(offered: {', '.join(sorted(targets)) or 'none'})"
            )
        return name

    async def model_route(self, message: str, session_id: str) -> Route | None:
        """The model's pick by tool calling, or None when it cannot or did not pick well."""
        if not self._use_tools():
            return None
        tools = self._tools()
        history: list[BaseMessage] = [SystemMessage(ROUTER_PROMPT)]
        for turn in self.sessions.history(session_id)[-6:]:
            kind = HumanMessage if turn.role == "user" else AIMessage
            history.append(kind(turn.text))
        history.append(HumanMessage(message))
        try:
            model = (
                self.registry.context().llm.chat(max_tokens=256).bind_tools(list(tools.values()))
            )
            reply = await model.ainvoke(history)
        except Exception as err:  # no tool calling here: the deterministic router decides
            log.info("model routing unavailable (%s); using keywords", err)
            return None
        calls = getattr(reply, "tool_calls", None) or []
        if not calls or calls[0]["name"] not in tools:
            return None
        target = self.targets()[calls[0]["name"]]
        return Route(kind=target.kind, name=target.name, by="model", request=dict(calls[0]["args"]))

    def _use_tools(self) -> bool:
        mode = self.settings.chat_tool_calling
        return mode == "on" or (mode == "auto" and self.settings.llm_backend == "openai")

    def _tools(self) -> dict[str, Any]:
        """Each target as a LangChain tool, built once."""
        if self._tool_list is None:
            from pitchcraft.tools import plugin_tool

            ctx = self.registry.context()
            self._tool_list = {
                name: plugin_tool(self.registry.plugins[name], ctx)
                if target.kind == "plugin"
                else self.chains.get(name).as_tool()
                for name, target in self.targets().items()
            }
        return self._tool_list

    # -- answering -------------------------------------------------------------------------

    async def astream(
        self, message: str, session_id: str | None = None
    ) -> AsyncIterator[ChatEvent]:
        """route, then step_start/step_end for a chain's steps and draft while the model
        writes, then reply (or error)."""
        session = session_id or uuid.uuid4().hex[:16]
        message = message.strip()
        if not message:
            yield ChatEvent(event="error", session_id=session, text="message: is empty")
            return
        try:
            route = await self.model_route(message, session) or self.route(message, session)
        except PitchcraftError as err:
            yield ChatEvent(event="error", session_id=session, text=str(err))
            return
        if "session_id" in self.targets()[route.name].fields:
            route.request.setdefault("session_id", session)
        yield ChatEvent(event="route", session_id=session, route=route)
        reply = ChatEvent(event="error", session_id=session, route=route, text="no reply")
        try:
            async for event in with_drafts(self._answer(route, session), session):
                if event.event in ("reply", "error"):
                    reply = event
                else:
                    yield event
        except PitchcraftError as err:
            reply = ChatEvent(event="error", session_id=session, route=route, text=str(err))
        self.sessions.add(
            session,
            Turn(role="user", text=message, target=route.name),
            Turn(role="assistant", text=reply.text or "", target=route.name),
        )
        yield reply

    async def _answer(self, route: Route, session: str) -> AsyncIterator[ChatEvent]:
        if route.kind == "chain":
            async for event in self._run_chain(route, session):
                yield event
            return
        plugin = self.registry.get(route.name)
        result = await asyncio.to_thread(plugin.invoke, route.request, self.registry.context())
        yield ChatEvent(
            event="reply",
            session_id=session,
            route=route,
            text=plugin.chat_reply(result),
            result=result.model_dump(mode="json"),
        )

    async def _run_chain(self, route: Route, session: str) -> AsyncIterator[ChatEvent]:
        chain = self.chains.get(route.name)
        async for event in chain.astream(route.request):
            if event.trace is not None:
                yield ChatEvent(
                    event=event.event,  # type: ignore[arg-type]
                    session_id=session,
                    step=event.step,
                    status=event.trace.status,
                )
            elif event.event == "step_start":
                yield ChatEvent(event="step_start", session_id=session, step=event.step)
            elif event.result is not None:
                yield ChatEvent(
                    event="reply" if event.result.status != "failed" else "error",
                    session_id=session,
                    route=route,
                    text=chain.reply_text(event.result),
                    result=event.result.model_dump(mode="json"),
                )


async def with_drafts(events: AsyncIterator[ChatEvent], session: str) -> AsyncIterator[ChatEvent]:
    """`events`, with `preview` events merged in as a plugin shows results early, and `draft`
    events while the model writes: the text so far of its latest MAX_DRAFTS generations (only
    the newest draft, when several arrive between two reads; every preview)."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[object] = asyncio.Queue()

    texts: dict[int, str] = {}  # per generation, in the order they began
    shown = [""]
    lock = threading.Lock()

    def heard(number: int, raw: str) -> None:  # on a model thread
        with lock:
            texts[number] = readable(raw)
            text = "\n\n".join(t for t in list(texts.values())[-MAX_DRAFTS:] if t)
            if not text or text == shown[0]:  # JSON punctuation alone changes nothing
                return
            shown[0] = text
        draft = ChatEvent(event="draft", session_id=session, text=text)
        loop.call_soon_threadsafe(inbox.put_nowait, draft)

    def shown_early(markdown: str) -> None:  # on a plugin thread
        preview = ChatEvent(event="preview", session_id=session, text=markdown)
        loop.call_soon_threadsafe(inbox.put_nowait, preview)

    async def pump() -> None:
        try:
            with listening(heard), early.listening(shown_early):
                async for event in events:
                    inbox.put_nowait(event)
        except Exception as err:  # raised again by the reader
            inbox.put_nowait(err)
        finally:
            inbox.put_nowait(_END)

    task = asyncio.create_task(pump())
    try:
        while True:
            item = await inbox.get()
            while is_draft(item) and not inbox.empty():
                later = inbox.get_nowait()
                if not is_draft(later):
                    yield cast(ChatEvent, item)
                    item = later
                    break
                item = later
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(ChatEvent, item)
    finally:
        task.cancel()


def is_draft(item: object) -> bool:
    return isinstance(item, ChatEvent) and item.event == "draft"
