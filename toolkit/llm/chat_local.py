"""LocalChatModel: the local engine behind LangChain's chat-model interface."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from pitchcraft.llm.local import Generation, LocalEngine

ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def to_chat_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


class LocalChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: LocalEngine = Field(exclude=True)
    adapter: str | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int | None = None  # of a sampled reply: the same seed, the same reply

    @property
    def _llm_type(self) -> str:
        return "pitchcraft-local"

    def _submit(
        self, messages: list[BaseMessage], on_text: Any = None, **kwargs: Any
    ) -> Future[Generation]:
        return self.engine.submit(
            to_chat_messages(messages),
            max_new_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
            temperature=float(kwargs.get("temperature", self.temperature)),
            seed=kwargs.get("seed", self.seed),
            adapter=self.adapter,
            json_schema=kwargs.get("json_schema"),
            on_text=on_text,
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        out = self._submit(messages, **kwargs).result()
        text = out.text
        for marker in stop or []:
            text = text.split(marker, 1)[0]
        message = AIMessage(
            content=text,
            usage_metadata=usage(out),
            response_metadata={"model_name": "local", "adapter": out.adapter},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """The text as the engine writes it, then a last chunk carrying the token usage."""
        if stop:  # a stop marker may only show up later: answer whole
            result = self._generate(messages, stop, run_manager, **kwargs)
            whole = result.generations[0].message
            assert isinstance(whole, AIMessage)
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content=whole.content,
                    usage_metadata=whole.usage_metadata,
                    response_metadata=whole.response_metadata,
                )
            )
            return
        pieces: queue.Queue[str | None] = queue.Queue()
        pending = self._submit(messages, on_text=pieces.put, **kwargs)
        pending.add_done_callback(lambda _: pieces.put(None))
        sent = ""
        while (piece := pieces.get()) is not None:
            piece = piece if sent else piece.lstrip()  # the whole reply is stripped too
            if not piece:
                continue
            sent += piece
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        out = pending.result()
        rest = out.text[len(sent) :] if out.text.startswith(sent) else ""
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=rest,
                usage_metadata=usage(out),
                response_metadata={"model_name": "local", "adapter": out.adapter},
            )
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        # A thread per waiting request: the engine batches whatever is waiting.
        return await asyncio.to_thread(self._generate, messages, stop, None, **kwargs)


def usage(out: Generation) -> UsageMetadata:
    return {
        "input_tokens": out.prompt_tokens,
        "output_tokens": out.completion_tokens,
        "total_tokens": out.prompt_tokens + out.completion_tokens,
    }
