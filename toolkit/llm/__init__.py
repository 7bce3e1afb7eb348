"""The shared model: local transformers or an OpenAI-compatible server (vLLM), one interface."""

from toolkit.llm.client import ModelClient
from toolkit.llm.structured import StructuredOutputError

__all__ = ["ModelClient", "StructuredOutputError"]
