"""The HTTP API for chatbot backends (FastAPI): wire models, errors, routes, streaming,
metrics, guard."""

from pitchcraft.api.app import create_app

__all__ = ["create_app"]
