"""Data tables plugins ship as YAML (channels, rule lists, lexicons) that users extend.

A table is a mapping of key -> entry. The user's file
`<settings.tables_dir>/<plugin>/<name>.yaml` is merged over the shipped one:
an entry with a new key is added, one with a shipped key replaces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pitchcraft.errors import PitchcraftError
from pitchcraft.settings import Settings

M = TypeVar("M", bound=BaseModel)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise PitchcraftError(f"{path}{where}: not valid YAML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PitchcraftError(f"{path}: cannot read: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PitchcraftError(f"{path}: expected a mapping of key -> entry at the top level")
    return {str(k): v for k, v in data.items()}


def load_table(shipped: Path, plugin: str, settings: Settings) -> dict[str, Any]:
    """The shipped table at `shipped`, with the user's same-named table merged over it."""
    table = read_yaml_mapping(shipped)
    if settings.tables_dir is not None:
        user = Path(settings.tables_dir) / plugin / shipped.name
        if user.is_file():
            table.update(read_yaml_mapping(user))
    return table


def load_entries(
    shipped: Path, plugin: str, settings: Settings, model: type[M], what: str
) -> dict[str, M]:
    """`load_table`, each entry validated as `model` with its key as the `key` field; a
    malformed entry is an error naming the plugin, the kind of entry and its key."""
    entries = {}
    for key, entry in load_table(shipped, plugin, settings).items():
        try:
            entries[key] = model.model_validate({"key": key, **(entry or {})})
        except (ValidationError, TypeError) as err:
            raise PitchcraftError(f"{plugin} {what} {key!r} is malformed: {err}") from None
    return entries
