"""Open the store, load the model and warm the plugins that ask for it, once, in the
background, and say how far it got: the HTTP API's readiness and the demo's loading banner
read the same state."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from pitchcraft.context import Context
from pitchcraft.plugin import Plugin

log = logging.getLogger(__name__)

WAITING = "waiting"
LOADING = "loading"
OK = "ok"


class WarmUp:
    def __init__(
        self, ctx: Callable[[], Context], plugins: Mapping[str, Plugin] | None = None
    ) -> None:
        self.checks: dict[str, Callable[[], object]] = {
            "store": lambda: ctx().store.stats(),
            "model": lambda: ctx().llm.ping(),
        }
        warming = {
            n: p for n, p in (plugins or {}).items() if type(p).warm_up is not Plugin.warm_up
        }
        if warming:
            self.checks["plugins"] = lambda: warm_plugins(warming, ctx())
        self.state = dict.fromkeys(self.checks, WAITING)
        self.seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def run(self) -> None:
        """Each check in turn; a failure is recorded as its state (never raised)."""
        for name, check in self.checks.items():
            self.state[name] = LOADING
            self._started[name] = time.monotonic()
            try:
                check()
                self.state[name] = OK
            except Exception as err:
                self.state[name] = f"{type(err).__name__}: {err}"
            self.seconds[name] = time.monotonic() - self._started[name]

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="pitchcraft-warm-up", daemon=True)
        thread.start()
        return thread

    @property
    def ready(self) -> bool:
        return all(value == OK for value in self.state.values())

    @property
    def done(self) -> bool:
        return all(value not in (WAITING, LOADING) for value in self.state.values())

    def describe(self) -> str:
        """One line, e.g. `store: ok (0.3 s) · model: loading (12 s) ...`."""
        parts = []
        for name, value in self.state.items():
            if value == LOADING:
                elapsed = time.monotonic() - self._started[name]
                parts.append(f"{name}: loading ({elapsed:.0f} s) ...")
            elif value == OK:
                parts.append(f"{name}: ok ({self.seconds[name]:.1f} s)")
            else:
                parts.append(f"{name}: {value}")
        return " · ".join(parts)


def warm_plugins(plugins: Mapping[str, Plugin], ctx: Context) -> None:
    """Each plugin's warm-up; one that fails is logged, and its first request will say why."""
    for name, plugin in plugins.items():
        try:
            plugin.warm_up(ctx)
        except Exception as err:
            log.warning("plugin %s could not warm up: %s: %s", name, type(err).__name__, err)
