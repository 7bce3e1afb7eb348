"""Channels as data: each platform's fields, limits and how it counts length."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model

from pitchcraft.llm.structured import SOFT_MAX_LENGTH
from pitchcraft.plugins.copywriter.textunits import Unit
from pitchcraft.settings import Settings
from pitchcraft.tables import load_entries

DATA = Path(__file__).resolve().parent / "data"
Language = Literal["zh", "en"]
Localized = str | dict[str, str]  # one text, or language -> text


def localized(value: Localized, language: str) -> str:
    if isinstance(value, str):
        return value
    return value.get(language) or value.get("en") or next(iter(value.values()), "")


class FieldSpec(BaseModel):
    kind: Literal["text", "list"] = "text"
    max: int | dict[str, int] = Field(description="Length limit per string (per language).")
    min_items: int = Field(default=1, ge=0)
    max_items: int = Field(default=1, ge=1)
    describe: Localized = ""

    def limit(self, language: str) -> int:
        if isinstance(self.max, int):
            return self.max
        return self.max.get(language, min(self.max.values()))


class Channel(BaseModel):
    key: str
    label: Localized
    languages: list[Language] = Field(min_length=1)
    unit: Unit = "chars"
    source: str = ""
    max_tokens: int = Field(default=256, ge=16, le=4096)
    fields: dict[str, FieldSpec] = Field(min_length=1)
    must_include: dict[str, str] = Field(default_factory=dict)
    forbidden_chars: str = ""

    def chars_allowed(self, field: str, language: str) -> int:
        """The limit as characters of `language` (Chinese counts 2 width units, 3 UTF-8 bytes)."""
        limit = self.fields[field].limit(language)
        if language == "zh" and self.unit != "chars":
            return limit // (2 if self.unit == "width" else 3)
        return limit

    def limits_text(self, language: str) -> list[str]:
        """Each field's requirements in plain words of `language`, for the prompt."""
        lines = []
        for name, spec in self.fields.items():
            n = self.chars_allowed(name, language)
            lo, hi = spec.min_items, spec.max_items
            is_list = spec.kind == "list"
            if language == "zh":
                count = (f"{hi}条," if lo == hi else f"{lo}到{hi}条,") if is_list else ""
                size = f"每条最多{n}个字" if is_list else f"最多{n}个字"
            else:
                count = (f"exactly {hi} items, " if lo == hi else f"{lo} to {hi} items, ") * is_list
                size = f"each at most {n} characters" if is_list else f"at most {n} characters"
            lines.append(f"{name}: {count}{size}; {localized(spec.describe, language)}")
        return lines

    def reply_model(self, language: str) -> type[BaseModel]:
        """The JSON shape the model fills for one variant in `language`. Each string carries
        its limit as a soft one that decoding lands by (not validated: the length check
        judges it, so a longer reply from a server that ignores it is still a draft). Lists
        are not held to their least number of items: a small model so held said one item
        twice, and the facts the repair added in its place were the same in every variant
        (distinct-2 0.590 -> 0.532 on the quick copy evaluation)."""
        fields: dict[str, Any] = {}
        for name, spec in self.fields.items():
            limit = self.chars_allowed(name, language)
            text = Annotated[str, Field(json_schema_extra={SOFT_MAX_LENGTH: limit})]
            if spec.kind == "list":
                fields[name] = (list[text], Field(max_length=spec.max_items))  # type: ignore[valid-type]
            else:
                fields[name] = (text, ...)
        return create_model(f"{self.key.title().replace('_', '')}Copy", **fields)


def load_channels(settings: Settings) -> dict[str, Channel]:
    return load_entries(DATA / "channels.yaml", "copywriter", settings, Channel, "channel")
