"""Prompt templates: <root>/<plugin>/<name>.<lang>.jinja rendered with Jinja2 (StrictUndefined).

Roots are searched in order: the user's override folder (settings.prompts_dir),
the shipped prompts/ folder, then the folders third-party plugins ship.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

from pitchcraft import prompts
from pitchcraft.errors import PitchcraftError

SHIPPED_PROMPTS = prompts.FOLDER


class PromptNotFound(PitchcraftError):
    pass


class PromptLoader:
    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = [Path(r) for r in roots]
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(r) for r in self.roots]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # prompts are plain text for a model, not HTML
        )
        self._lock = threading.Lock()

    def languages(self, plugin: str, name: str) -> list[str]:
        """Languages a template exists in, e.g. ['en', 'zh']."""
        found = {
            path.name.split(".")[-2]
            for root in self.roots
            for path in (root / plugin).glob(f"{name}.*.jinja")
        }
        return sorted(found)

    def render(self, plugin: str, name: str, lang: str, **variables: Any) -> str:
        """Render one template; a missing variable is an error naming it, never an empty string."""
        template_name = f"{plugin}/{name}.{lang}.jinja"
        with self._lock:  # jinja2's template cache is not documented as thread-safe
            try:
                template = self._env.get_template(template_name)
            except jinja2.TemplateNotFound:
                have = self.languages(plugin, name)
                where = ", ".join(str(r) for r in self.roots)
                hint = f"it exists in: {', '.join(have)}" if have else f"searched: {where}"
                raise PromptNotFound(f"no prompt {template_name} ({hint})") from None
        try:
            return template.render(**variables).strip()
        except jinja2.UndefinedError as err:
            raise PitchcraftError(f"prompt {template_name}: {err.message}") from None
