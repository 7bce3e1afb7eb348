"""The demo chat's bubble while an answer comes in (pure logic; the browser test drives it)."""

from __future__ import annotations

from pitchcraft.chain.router import ChatEvent, Route
from pitchcraft.demo.app import Bubble


def event(kind: str, text: str | None = None, **extra: object) -> ChatEvent:
    return ChatEvent(event=kind, session_id="s", text=text, **extra)  # type: ignore[arg-type]


def test_results_come_first_then_the_draft_under_them_then_the_reply_replaces_both() -> None:
    bubble = Bubble()
    assert "thinking" in bubble.text()
    route = Route(kind="plugin", name="recommender", by="keywords", request={})
    bubble.hear(event("route", route=route))
    bubble.hear(event("preview", "1. **GoPro HERO12**\n2. **Insta360 X3**"))
    assert bubble.text().endswith("1. **GoPro HERO12**\n2. **Insta360 X3**\n\n_writing …_")
    assert "→ plugin **recommender**" in bubble.text()
    bubble.hear(event("draft", "Great for"))
    shown = bubble.text()
    assert shown.index("Insta360") < shown.index("_writing …_") < shown.index("> Great for")
    bubble.hear(event("reply", "1. **GoPro HERO12** — waterproof to 10 m"))
    assert bubble.text().endswith("1. **GoPro HERO12** — waterproof to 10 m")
    assert "writing" not in bubble.text()


def test_steps_are_ticked_off_and_errors_shown() -> None:
    bubble = Bubble()
    bubble.hear(event("step_start", step="read"))
    bubble.hear(event("step_end", step="read", status="ok"))
    bubble.hear(event("error", "store: unreachable"))
    assert bubble.text() == "_✓ step read: ok_\n\n**Error:** store: unreachable"
