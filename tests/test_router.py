"""The chat router's decisions (pure logic on the built-in plugins' declarations; no plugin
runs), and model routing by tool calling with a scripted tool-calling chat model."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from pitchcraft.chain.router import ChatEvent, ChatRouter, Sessions, Turn, keyword_hits, with_drafts
from pitchcraft.errors import PitchcraftError
from tests.conftest import make_registry


@pytest.fixture(scope="module")
def router() -> ChatRouter:
    return ChatRouter(make_registry(plugins=["recommender", "sentiment", "support", "ab-test"]))


def test_keywords_match_whole_latin_words_and_cjk_substrings() -> None:
    assert keyword_hits("Please recommend a gift", ("recommend", "gift", "ad")) == 2
    assert keyword_hits("a bad order", ("ad", "order")) == 1  # "ad" is not inside "bad"
    assert keyword_hits("给爸爸推荐一个礼物", ("推荐", "礼物", "退货")) == 2


@pytest.mark.parametrize(
    ("message", "target"),
    [
        ("推荐一款适合跑步的耳机，500元以内", "recommender"),
        ("Any gift ideas for a dad who runs?", "recommender"),
        ("How do I return an order?", "support"),
        ("我的快递到哪了", "support"),
        ("Analyse this review: the strap broke after two days", "sentiment"),
        ("这条差评怎么看：质量太差", "sentiment"),
    ],
)
def test_messages_go_to_the_plugin_their_words_name(
    router: ChatRouter, message: str, target: str
) -> None:
    route = router.route(message, "s-words")
    assert (route.name, route.by) == (target, "keywords")


def test_a_review_request_sends_only_the_quoted_text(router: ChatRouter) -> None:
    route = router.route("Analyse this review: the strap broke", "s")
    assert route.request == {"text": "the strap broke", "reply": True}


def test_follow_ups_stay_with_the_sessions_last_target_else_the_default(
    router: ChatRouter,
) -> None:
    router.sessions.add("s-mem", Turn(role="user", text="推荐耳机", target="recommender"))
    assert router.route("那它多少钱？", "s-mem").by == "memory"
    assert router.route("那它多少钱？", "s-mem").name == "recommender"
    fresh = router.route("hello there", "s-new")
    assert (fresh.name, fresh.by) == ("support", "default")


def test_plugins_without_chat_are_not_offered(router: ChatRouter) -> None:
    assert "ab-test" not in router.targets()


def test_a_default_that_is_not_offered_is_a_clear_error() -> None:
    reg = make_registry(plugins=["sentiment"], chat_default="support")
    with pytest.raises(PitchcraftError, match="chat_default 'support' is not a plugin or chain"):
        ChatRouter(reg).route("hello", "s")


def test_sessions_keep_the_latest_turns_and_sessions() -> None:
    sessions = Sessions(max_sessions=2, max_turns=3)
    for n in range(5):
        sessions.add("a", Turn(role="user", text=str(n)))
    sessions.add("b", Turn(role="user", text="b"))
    sessions.add("c", Turn(role="user", text="c"))
    assert [t.text for t in sessions.history("a")] == []  # evicted, least recently used
    assert [t.text for t in sessions.history("c")] == ["c"]


class ToolCallingFake(GenericFakeChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFake:
        self.__dict__["bound"] = [t.name for t in tools]
        return self


class ScriptedClient:
    def __init__(self, reply: AIMessage) -> None:
        self.model = ToolCallingFake(messages=iter([reply]))

    def chat(self, *args: Any, **kwargs: Any) -> ToolCallingFake:
        return self.model


def model_router(reply: AIMessage) -> tuple[ChatRouter, ScriptedClient]:
    reg = make_registry(plugins=["recommender", "sentiment", "support"], chat_tool_calling="on")
    client = ScriptedClient(reply)
    reg.context().shared("llm", lambda: client)
    return ChatRouter(reg), client


def test_a_tool_calling_model_picks_the_route_and_its_arguments() -> None:
    call = {"name": "recommender", "args": {"need": "running shoes", "k": 2}, "id": "1"}
    router, client = model_router(AIMessage(content="", tool_calls=[call]))
    route = asyncio.run(router.model_route("I jog a lot, what should I get?", "s"))
    assert route is not None
    assert (route.name, route.by, route.request) == (
        "recommender",
        "model",
        {"need": "running shoes", "k": 2},
    )
    assert set(client.model.__dict__["bound"]) == {"recommender", "sentiment", "support"}


def test_an_answer_without_a_known_tool_falls_back_to_keywords() -> None:
    unknown = {"name": "weather", "args": {}, "id": "1"}
    for reply in (AIMessage(content="hello"), AIMessage(content="", tool_calls=[unknown])):
        router, _ = model_router(reply)
        assert asyncio.run(router.model_route("推荐耳机", "s")) is None
        assert router.route("推荐耳机", "s").by == "keywords"


def collect(events: Any, pause_s: float = 0.0) -> list[Any]:
    async def run() -> list[Any]:
        seen = []
        async for event in events:
            seen.append(event)
            await asyncio.sleep(pause_s)  # a slow reader
        return seen

    return asyncio.run(run())


def writer(pieces: list[str], pause_s: float = 0.0, fail: bool = False, copies: int = 1) -> Any:
    """Chat events from a 'plugin' that writes JSON through the draft listener on threads
    (`copies` generations at once, each starting with its number)."""
    from pitchcraft.llm.drafts import new_draft
    from tests.conftest import make_registry

    def write(copy: int) -> str:
        draft = new_draft()
        assert draft is not None  # the listener reached the worker thread
        raw = ""
        for n, piece in enumerate(pieces):
            raw += piece + str(copy) if n == 0 and copies > 1 else piece
            draft(raw)
            time.sleep(pause_s)
        if fail:
            raise PitchcraftError("the plugin failed after writing")
        return raw

    ctx = make_registry(plugins=[]).context()

    async def events() -> Any:
        yield ChatEvent(event="step_start", session_id="s", step="one")
        raws = await asyncio.to_thread(ctx.parallel, write, list(range(copies)))
        yield ChatEvent(event="reply", session_id="s", text=raws[-1])

    return events()


def test_drafts_arrive_between_the_steps_and_the_reply_as_readable_text() -> None:
    pieces = ['{"answer": "', "Returns ", "within ", "30 days", '", "sources": [1]}']
    events = collect(with_drafts(writer(pieces, pause_s=0.02), "s"))
    kinds = [e.event for e in events]
    assert kinds[0] == "step_start" and kinds[-1] == "reply"
    drafts = [e.text for e in events if e.event == "draft"]
    assert len(drafts) >= 3 and drafts[-1] == "Returns within 30 days"
    assert all(d and drafts[-1].startswith(d.strip()) for d in drafts)
    assert len(set(drafts)) == len(drafts)  # a closing quote is not a new draft


def test_a_slow_reader_gets_only_the_newest_draft_and_errors_still_surface() -> None:
    pieces = ['{"answer": "a', "b", "c", "d", '"}']
    events = collect(with_drafts(writer(pieces), "s"), pause_s=0.2)
    assert [(e.event, e.text) for e in events][1:] == [
        ("draft", "abcd"),
        ("reply", '{"answer": "abcd"}'),
    ]
    with pytest.raises(PitchcraftError, match="failed after writing"):
        collect(with_drafts(writer(pieces, fail=True), "s"))


def test_generations_written_at_once_share_the_draft() -> None:
    pieces = ['{"answer": "', "x", "y", '"}']
    events = collect(with_drafts(writer(pieces, pause_s=0.05, copies=2), "s"))
    last = [e.text for e in events if e.event == "draft"][-1]
    assert sorted(last.split("\n\n")) == ["0xy", "1xy"]


def test_results_shown_early_arrive_as_previews_before_the_reply() -> None:
    from pitchcraft import early

    rendered: list[str] = []

    def render() -> str:
        rendered.append("x")
        return "1. **Camera**"

    early.show(render)  # nobody listens: nothing is rendered
    assert rendered == []

    async def events() -> Any:
        await asyncio.to_thread(early.show, render)
        await asyncio.to_thread(early.show, lambda: 1 / 0)  # a failing preview is not fatal
        yield ChatEvent(event="reply", session_id="s", text="1. **Camera** — a reason")

    seen = collect(with_drafts(events(), "s"))
    assert [(e.event, e.text) for e in seen] == [
        ("preview", "1. **Camera**"),
        ("reply", "1. **Camera** — a reason"),
    ]
