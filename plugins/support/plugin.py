"""Customer-service responder: cited answers from the shop's policies and products, order
lookups, and a hand-over to a human when the escalation policy says so.

One turn: redact personal data -> escalation policy (cues, anger) -> order tools
when an order number is given -> otherwise rewrite a follow-up from the session,
retrieve, score evidence sentences -> the shared model phrases an answer that
must pass the claim check, else the best sentences are quoted -> memory saved.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from pitchcraft import early
from pitchcraft.context import Context
from pitchcraft.errors import PluginNotFound
from pitchcraft.outcomes import OutcomeLabel
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.support import evidence
from pitchcraft.plugins.support.answer import MODEL_SOURCES, model_answer, quoted_answer
from pitchcraft.plugins.support.followups import depends_on_context, rewrite
from pitchcraft.plugins.support.models import (
    Citation,
    EscalationReason,
    Refusal,
    SupportOptions,
    SupportReply,
    SupportRequest,
    Ticket,
    ToolCall,
    Turn,
)
from pitchcraft.plugins.support.orders import OrderTools, ReturnEligibility, order_tools_from
from pitchcraft.plugins.support.pii import redact
from pitchcraft.plugins.support.policy import ANGRY_CUES, CueList, Cues, enabled, is_angry
from pitchcraft.plugins.support.sessions import Focus, Memory, SessionStore
from pitchcraft.plugins.support.text import join_sentences
from pitchcraft.store.schema import Language, detect_language
from pitchcraft.tables import load_entries

if TYPE_CHECKING:
    from pitchcraft.finetune.sets import TrainingSet

log = logging.getLogger(__name__)

NAME = "support"
DATA = Path(__file__).resolve().parent / "data"
RETRIEVED = 5  # source ids reported with a reply
MAX_TRIED = 10  # steps kept for the hand-over ticket
Polarity = Literal["positive", "neutral", "negative"]


class ReplyText(BaseModel):
    key: str
    en: str
    zh: str

    def say(self, language: Language, **fields: object) -> str:
        return (self.zh if language == "zh" else self.en).format(**fields)


class Outcome(BaseModel):
    """One turn's result before it is recorded."""

    reply: str
    answered_by: Literal["model", "sources", "tool", "policy"]
    citations: list[Citation] = []
    tool_calls: list[ToolCall] = []
    reasons: list[EscalationReason] = []
    search_query: str = ""
    evidence_score: float = 0.0
    retrieved: list[str] = []
    focus: Focus | None = None
    intent: str = "question"
    upset: bool = False  # negative and reporting a problem: the answer opens with an apology
    refused: list[Refusal] = []
    draft: int | None = None  # which of the model's drafts was sent (1: the greedy one)


class SupportResponder(Plugin[SupportRequest, SupportReply]):
    name = NAME
    version = "0.1.0"
    description = (
        "Answers customer questions from the shop's policies and products with citations, "
        "looks up orders and return eligibility, and hands over to a human with a ticket "
        "when the escalation policy says so (multi-turn by session_id)."
    )
    Input = SupportRequest
    Output = SupportReply
    chat_keywords = (
        "order",
        "refund",
        "return",
        "shipping",
        "delivery",
        "warranty",
        "invoice",
        "订单",
        "退货",
        "退款",
        "物流",
        "快递",
        "发货",
        "保修",
        "售后",
        "发票",
    )

    def chat_request(self, message: str, ctx: Context) -> dict[str, Any]:
        return {"message": message}

    def chat_claims(self, message: str, ctx: Context) -> bool:
        """A reason to hand over (safety, a person, a threat, ...), an attack or plain anger:
        the responder's policy must see it, whatever else the message asks for. (One angry
        word is not enough: "这条差评怎么看：质量太差" is a review to analyse.)"""
        cues = support_cues(ctx)
        angry = len(cues.anger_cues(message)) >= ANGRY_CUES
        return bool(cues.reasons(message) or cues.attacks(message) or angry)

    def chat_reply(self, result: SupportReply) -> str:
        lines = [result.reply]
        lines += quoted_lines((c.source_id, c.quote) for c in result.citations)
        if result.answered_by == "model":
            lines.append("_written by the model, checked against the sources_")
        if result.ticket is not None:
            lines.append(f"_handed over to a person: {', '.join(result.ticket.reasons)}_")
        return "\n\n".join(lines)

    def run(self, req: SupportRequest, ctx: Context) -> SupportReply:
        options = ctx.options(NAME, SupportOptions)
        language: Language = req.language or detect_language(req.message)
        session_id = req.session_id or uuid.uuid4().hex[:16]
        sessions = session_store(ctx)
        memory = sessions.load(session_id) if req.history is None else remembered(req, options)
        message, _ = redact(req.message)
        polarity, confidence = sentiment_of(message, ctx)
        outcome = respond(message, language, polarity, confidence, memory, req, ctx)
        reply = outcome.reply
        if outcome.upset and not outcome.reasons and outcome.answered_by != "policy":
            reply = replies(ctx)["apology"].say(language) + reply
        ticket = None
        if outcome.reasons:
            memory.tried.append(f"escalated: {', '.join(outcome.reasons)}")
            ticket = make_ticket(outcome, memory, message, polarity)
        elif outcome.refused and outcome.answered_by == "policy":
            memory.tried.append(f"refused: {', '.join(r.kind for r in outcome.refused)}")
        elif outcome.answered_by != "policy":
            memory.tried.append(f"{outcome.intent}: answered ({outcome.answered_by})")
        memory.tried = memory.tried[-MAX_TRIED:]
        new_turns = [Turn(role="customer", text=message), Turn(role="agent", text=redact(reply)[0])]
        for turn in new_turns:
            memory.add(turn, options.max_turns)
        if outcome.focus is not None:
            memory.focus = outcome.focus
        sessions.save(session_id, memory, new_turns)
        return SupportReply(
            session_id=session_id,
            language=language,
            reply=reply,
            citations=outcome.citations,
            escalated=bool(outcome.reasons),
            ticket=ticket,
            tool_calls=outcome.tool_calls,
            search_query=outcome.search_query,
            evidence_score=outcome.evidence_score,
            retrieved=outcome.retrieved,
            answered_by=outcome.answered_by,
            draft=outcome.draft,
            refused=outcome.refused,
        )

    def training_sets(self) -> Sequence[TrainingSet]:
        from pitchcraft.plugins.support.training import PHRASED_ANSWERS

        return (PHRASED_ANSWERS,)

    def outcomes(self, result: SupportReply) -> Iterable[OutcomeLabel]:
        yield "answered_by", result.answered_by
        if result.draft is not None:
            yield "model_draft", str(result.draft)
        for reason in result.ticket.reasons if result.ticket else []:
            yield "escalated", reason
        for refusal in result.refused:
            yield "refused", refusal.kind


def respond(
    message: str,
    language: Language,
    polarity: Polarity,
    confidence: float,
    memory: Memory,
    req: SupportRequest,
    ctx: Context,
) -> Outcome:
    options = ctx.options(NAME, SupportOptions)
    cues = support_cues(ctx)
    said = replies(ctx)
    reasons = cues.reasons(message)  # on the whole message: an injection cannot hide a threat
    attacks = cues.attacks(message)
    if "others_personal_data" in attacks:  # someone else's data is refused, not handed over
        reasons = [r for r in reasons if r != "personal_data"]
    refused = [Refusal(kind=a, source="message") for a in attacks]
    negative = confidence if polarity == "negative" else 0.0
    anger = cues.anger_cues(message)
    if is_angry(negative, anger, options):
        reasons.append("angry_customer")
    upset = (
        polarity == "negative"
        and confidence >= options.apology_confidence
        and bool(anger or cues.lists["complaint"].found(message))
    )
    reasons = enabled(reasons, options)
    if reasons:
        return Outcome(
            reply=said[reasons[0]].say(language),
            answered_by="policy",
            reasons=reasons,
            intent="hand-over",
            refused=refused,
        )
    if attacks:  # the whole message: a question next to an instruction is part of the attack
        return Outcome(
            reply=said[f"refused_{attacks[0]}"].say(language),
            answered_by="policy",
            intent=f"refused: {attacks[0]}",
            refused=refused,
        )
    tools = order_tools(ctx)
    about_focus = depends_on_context(message) and cues.lists["return_request"].found(message)
    orders = tools.find_order_ids(message) or (memory.focus.orders if about_focus else [])
    if orders:
        found = order_reply(orders[0], message, language, req.customer_id, tools, memory, ctx)
        return found.model_copy(update={"upset": upset})
    if cues.lists["order_lookup"].found(message):
        return Outcome(
            reply=said["ask_order_number"].say(language),
            answered_by="policy",
            intent="order lookup",
        )
    return sourced_reply(message, language, memory, ctx).model_copy(update={"upset": upset})


def sourced_reply(question: str, language: Language, memory: Memory, ctx: Context) -> Outcome:
    options = ctx.options(NAME, SupportOptions)
    cues = support_cues(ctx)
    query = rewrite(question, memory.focus)
    store = ctx.store
    found = evidence.candidates(store, query, language, evidence.asked_kinds(ctx, query))
    # a source with an instruction in it is dropped whole: its other sentences are suspect too
    tampered = list(dict.fromkeys(s.source_id for s in found if cues.is_injection(s.text)))
    found = [s for s in found if s.source_id not in tampered]
    refused = [Refusal(kind="injected_source", source=source) for source in tampered]
    ranked = evidence.score(store, query, found)
    best = ranked[0].score if ranked else 0.0
    retrieved = evidence.ranked_sources(ranked)[:RETRIEVED]
    if best < options.min_evidence_score:
        reasons = enabled(["weak_retrieval"], options)
        key = "weak_retrieval" if reasons else "dont_know"
        return Outcome(
            reply=replies(ctx)[key].say(language),
            answered_by="policy",
            reasons=reasons,
            search_query=query,
            evidence_score=best,
            retrieved=retrieved,
            intent=f"question: {question[:80]}",
            refused=refused,
        )
    cited: list[evidence.Sentence] = []
    text, draft, restated = None, None, None
    if options.use_model:
        sources = ranked[:MODEL_SOURCES]
        found_first = evidence.answer_sentences(ranked)  # shown now; the model's words follow
        early.show(lambda: "\n\n".join(quoted_lines((s.source_id, s.text) for s in found_first)))
        drafted = model_answer(
            query,
            memory.summary(),
            sources,
            language,
            ctx,
            plan=options.plan(ctx.llm),
        )
        text, draft = drafted.text, drafted.draft
        cited = [sources[i] for i in drafted.cited]
        if drafted.restated is not None:
            restated = sources[drafted.restated]
    answered_by: Literal["model", "sources"] = "model" if text else "sources"
    if text is None:
        cited = evidence.answer_sentences(ranked, restated=restated)
        text = quoted_answer(cited, language)
    lead = cited[0]
    focus = Focus(orders=memory.focus.orders, topic=query)
    if lead.kind == "product":
        focus = Focus(
            product_ids=[lead.source_id], product_title=lead.title, orders=memory.focus.orders
        )
    return Outcome(
        reply=text,
        answered_by=answered_by,
        citations=citations(cited),
        search_query=query,
        evidence_score=best,
        retrieved=retrieved,
        focus=focus,
        intent=f"{lead.kind} question: {lead.title}",
        refused=refused,
        draft=draft,
    )


def quoted_lines(quotes: Iterable[tuple[str, str]]) -> list[str]:
    """(source id, sentence) pairs as chat quotes."""
    return [f"> [{source}] {quote}" for source, quote in quotes]


def citations(sentences: list[evidence.Sentence]) -> list[Citation]:
    by_source: dict[str, Citation] = {}
    for s in sentences:
        if s.source_id in by_source:
            by_source[s.source_id].quote += " " + s.text
        else:
            by_source[s.source_id] = Citation(
                source_id=s.source_id, kind=s.kind, title=s.title, quote=s.text
            )
    return list(by_source.values())


def order_reply(
    order_id: str,
    question: str,
    language: Language,
    customer_id: str | None,
    tools: OrderTools,
    memory: Memory,
    ctx: Context,
) -> Outcome:
    said = replies(ctx)
    order = tools.order_status(order_id)
    call = ToolCall(tool="order_status", arguments={"order_id": order_id}, result={})
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        # someone else's order is treated exactly like a missing one
        return Outcome(
            reply=said["order_not_found"].say(language, order=order_id),
            answered_by="tool",
            tool_calls=[call],
            intent="order lookup",
        )
    call.result = order.model_dump(mode="json")
    calls = [call]
    fields = {k: v or "-" for k, v in order.model_dump(mode="json").items() if k != "lines"}
    lines = [said[f"status_{order.status}"].say(language, order=order_id, **fields)]
    if support_cues(ctx).lists["return_request"].found(question):
        eligibility = tools.return_eligibility(order_id)
        if eligibility is not None:
            calls.append(
                ToolCall(
                    tool="return_eligibility",
                    arguments={"order_id": order_id},
                    result=eligibility.model_dump(mode="json"),
                )
            )
            lines += return_lines(eligibility, language, said)
    text = join_sentences(lines, language)
    focus = memory.focus.model_copy(update={"orders": [order_id]})
    return Outcome(
        reply=text,
        answered_by="tool",
        tool_calls=calls,
        citations=[Citation(source_id=order_id, kind="order", title=order_id, quote=lines[0])],
        focus=focus,
        intent="order lookup",
    )


def return_lines(
    eligibility: ReturnEligibility, language: Language, said: dict[str, ReplyText]
) -> list[str]:
    """One sentence per order line (plus the restocking fee where one applies)."""
    lines = []
    for line in eligibility.lines:
        if line.eligible:
            reason = said[f"rule_{line.rule}"].say(language, days=line.days)
            lines.append(
                said["return_eligible"].say(
                    language, title=line.title, deadline=line.deadline, reason=reason
                )
            )
            if line.restocking_fee:
                fee = evidence.money(line.restocking_fee, "USD")
                lines.append(said["return_fee"].say(language, fee=fee))
        elif line.deadline is not None:
            lines.append(
                said["return_expired"].say(
                    language, title=line.title, days=line.days, deadline=line.deadline
                )
            )
        else:
            reason = said[f"rule_{line.rule}"].say(language, days=line.days)
            lines.append(said["return_ineligible"].say(language, title=line.title, reason=reason))
    return lines


def make_ticket(outcome: Outcome, memory: Memory, message: str, polarity: Polarity) -> Ticket:
    return Ticket(
        intent=outcome.intent,
        reasons=outcome.reasons,
        products=memory.focus.product_ids,
        orders=memory.focus.orders,
        tried=list(memory.tried),
        sentiment=polarity,
        summary=f"{memory.summary()}\ncustomer: {message}".strip(),
    )


def remembered(req: SupportRequest, options: SupportOptions) -> Memory:
    """A memory built from the history the caller sent (redacted like stored turns)."""
    memory = Memory()
    for turn in req.history or []:
        memory.add(Turn(role=turn.role, text=redact(turn.text)[0]), options.max_turns)
    customer = [t.text for t in memory.turns if t.role == "customer"]
    if customer:
        memory.focus = Focus(topic=customer[-1])
    return memory


def sentiment_of(text: str, ctx: Context) -> tuple[Polarity, float]:
    """(polarity, its confidence) from the sentiment plugin at its fast depth (the
    classifier), called by name; neutral with no confidence when that plugin is not loaded."""
    try:
        reading = ctx.call("sentiment", {"text": text, "depth": "fast"})
    except PluginNotFound:
        return "neutral", 0.0
    return reading.polarity, reading.confidence  # type: ignore[attr-defined]


# -- shared per Context --------------------------------------------------------------------


def support_cues(ctx: Context) -> Cues:
    return ctx.shared(
        "support.cues",
        lambda: Cues(load_entries(DATA / "cues.yaml", NAME, ctx.settings, CueList, "cue list")),
    )


def replies(ctx: Context) -> dict[str, ReplyText]:
    return ctx.shared(
        "support.replies",
        lambda: load_entries(DATA / "replies.yaml", NAME, ctx.settings, ReplyText, "reply"),
    )


def session_store(ctx: Context) -> SessionStore:
    return ctx.shared(
        "support.sessions", lambda: SessionStore(ctx.options(NAME, SupportOptions).sessions_path)
    )


def order_tools(ctx: Context) -> OrderTools:
    def build() -> OrderTools:
        options = ctx.options(NAME, SupportOptions)
        return order_tools_from(options.order_tools, ctx.settings, options.orders_path)

    return ctx.shared("support.orders", build)
