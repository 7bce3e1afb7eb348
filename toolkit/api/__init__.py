"""The HTTP API for chatbot backends (FastAPI): wire models, errors, routes, streaming,
metrics, guard. The app itself: `pitchcraft.api.app.create_app`."""
