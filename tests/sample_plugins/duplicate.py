from __future__ import annotations

from tests.sample_plugins.good import Echo


class EchoAgain(Echo):
    """Claims the name of a plugin that is already loaded."""

    description = "A second plugin named echo."
