"""LocalChatModel: the local engine behind LangChain's chat-model interface."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from toolkit.llm.local import LocalEngine

ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def to_chat_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


class LocalChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: LocalEngine = Field(exclude=True)
    adapter: str | None = None
    max_tokens: int = 256
    temperature: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "pitchcraft-local"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        out = self.engine.generate(
            to_chat_messages(messages),
            max_new_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
            temperature=float(kwargs.get("temperature", self.temperature)),
            adapter=self.adapter,
            json_schema=kwargs.get("json_schema"),
        )
        text = out.text
        for marker in stop or []:
            text = text.split(marker, 1)[0]
        message = AIMessage(
            content=text,
            usage_metadata={
                "input_tokens": out.prompt_tokens,
                "output_tokens": out.completion_tokens,
                "total_tokens": out.prompt_tokens + out.completion_tokens,
            },
            response_metadata={"model_name": "local", "adapter": out.adapter},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        # A thread per waiting request: the engine batches whatever is waiting.
        return await asyncio.to_thread(self._generate, messages, stop, None, **kwargs)
