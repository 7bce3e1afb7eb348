"""The shared model: local transformers or an OpenAI-compatible server (vLLM), one interface."""

from pitchcraft.llm.client import ModelClient
from pitchcraft.llm.structured import StructuredOutputError

__all__ = ["ModelClient", "StructuredOutputError"]
