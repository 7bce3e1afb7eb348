"""Request, reply and option models of the customer-service responder."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from pitchcraft.llm.verified import DraftOptions

Language = Literal["zh", "en"]
MAX_MESSAGE_CHARS = 4000

EscalationReason = Literal[
    "asked_for_human",
    "angry_customer",
    "refund_dispute",
    "legal_threat",
    "safety_issue",
    "personal_data",
    "weak_retrieval",
    "unsupported_answer",
]
# Attempts the responder refuses and records (the reply's `refused`, /metrics): instructions
# to the agent, other people's personal data, grants only the shop can make, and retrieved
# documents whose text tries to instruct the agent (dropped from the evidence).
Attack = Literal[
    "prompt_injection", "others_personal_data", "unauthorised_offer", "injected_source"
]


class SupportOptions(DraftOptions):
    """`[plugin_options.support]` in settings: the escalation policy's thresholds and the
    responder's limits."""

    model_config = ConfigDict(extra="forbid")

    min_evidence_score: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Below this best evidence score (see evidence.py) retrieval is weak: "
        "no answer, a human is offered. On the demo shop's question set answerable "
        "questions score >= 0.245 and off-topic ones <= 0.18.",
    )
    apology_confidence: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="A negative message at or above this classifier confidence that "
        "reports a problem (a complaint or anger cue) gets an apology before the answer.",
    )
    anger_confidence: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="A negative message at or above this classifier confidence, with an "
        "anger cue (insult, shouting, repeated !), counts as an angry customer.",
    )
    escalate_on: list[EscalationReason] = Field(
        default_factory=lambda: list(EscalationReason.__args__),  # type: ignore[attr-defined]
        description="Reasons that hand the conversation to a human.",
    )
    max_turns: int = Field(
        default=12,
        ge=2,
        le=200,
        description="Turns kept verbatim per session; older ones "
        "are folded into the session summary.",
    )
    sessions_path: Path = Field(
        default=Path.home() / ".local" / "share" / "pitchcraft" / "support" / "sessions.sqlite",
        description="SQLite file of session memories and (redacted) transcripts.",
    )
    orders_path: Path = Field(
        default=Path.home() / ".local" / "share" / "pitchcraft" / "support" / "orders.sqlite",
        description="SQLite file of the demo order system (seeded on first use).",
    )
    order_tools: str | None = Field(
        default=None,
        description="Your own order system as 'module:factory'; the factory gets the Settings "
        "and returns an OrderTools. Unset: the SQLite demo orders.",
    )
    use_model: bool = Field(
        default=True,
        description="Let the shared model phrase answers (checked against the sources); "
        "off: answers quote the best source sentences.",
    )


class Turn(BaseModel):
    role: Literal["customer", "agent"]
    text: str = Field(max_length=MAX_MESSAGE_CHARS)


class SupportRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [{"message": "退货期限是多久？"}]},
    )

    message: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        validation_alias=AliasChoices("message", "question", "text", "问题", "消息"),
        description="The customer's message.",
    )
    session_id: str | None = Field(
        default=None,
        pattern=r"^[\w.:-]{1,128}$",
        description="Conversation id; turns with the same id share memory. Unset: a new one.",
    )
    customer_id: str | None = Field(default=None, max_length=128)
    language: Language | None = Field(default=None, description="Reply language; unset: detect.")
    history: list[Turn] | None = Field(
        default=None,
        max_length=200,
        description="Earlier turns, for callers that keep the conversation themselves "
        "(replaces the stored session memory for this call).",
    )

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        return value.strip()


class Citation(BaseModel):
    source_id: str = Field(description="Knowledge chunk id (source#section) or product id.")
    kind: Literal["knowledge", "product", "order"]
    title: str = Field(description="Document and section, or product title.")
    quote: str = Field(description="The sentence(s) the answer rests on.")


class ToolCall(BaseModel):
    tool: str
    arguments: dict[str, str]
    result: dict[str, object]


class Ticket(BaseModel):
    """What a human agent needs to pick the conversation up."""

    intent: str
    reasons: list[EscalationReason]
    products: list[str] = Field(description="Product ids discussed.")
    orders: list[str] = Field(description="Order ids mentioned.")
    tried: list[str] = Field(description="What the responder did before handing over.")
    sentiment: Literal["positive", "neutral", "negative"]
    summary: str = Field(description="The conversation so far, personal data redacted.")


class Refusal(BaseModel):
    kind: Attack
    source: str = Field(
        description="'message' (the customer's), or the id of the retrieved source whose "
        "text tried to instruct the responder."
    )


class SupportReply(BaseModel):
    session_id: str
    language: Language
    reply: str
    citations: list[Citation]
    escalated: bool
    ticket: Ticket | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    search_query: str = Field(
        description="What was searched (the message, rewritten from the "
        "conversation when it depends on earlier turns)."
    )
    evidence_score: float = Field(description="Best evidence score found (0-1).")
    retrieved: list[str] = Field(
        default_factory=list, description="Source ids retrieved, best first (at most 5)."
    )
    answered_by: Literal["model", "sources", "tool", "policy"] = Field(
        description="model: phrased by the shared model and checked; sources: quoted; "
        "tool: an order lookup; policy: a fixed reply (escalation, refusal, greeting)."
    )
    draft: int | None = Field(
        default=None,
        description="With answered_by model: which of the model's drafts was sent (1: the "
        "greedy one, later ones sampled; see the drafts option).",
    )
    refused: list[Refusal] = Field(
        default_factory=list,
        description="Attempts refused in this turn (also when it was handed over): the first "
        "kind found in the message decides a refusal's wording.",
    )
