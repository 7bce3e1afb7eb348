"""Compliance rule lists and the specification lexicon, loaded from data files and matched."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from pitchcraft.settings import Settings
from pitchcraft.tables import load_entries
from pitchcraft.text.terms import compile_terms

DATA = Path(__file__).resolve().parent / "data"


class Term(BaseModel):
    term: str = Field(min_length=1)
    replace: str = ""


class Match(BaseModel):
    rule: str
    label: str
    term: str
    start: int
    end: int
    replace: str


class Rule(BaseModel):
    key: str
    label: str
    source: str
    terms: list[Term] = Field(min_length=1)
    exceptions: list[str] = Field(default_factory=list, alias="except")
    skip_categories: list[str] = Field(default_factory=list)

    @field_validator("terms", mode="before")
    @classmethod
    def _plain_terms(cls, value: Any) -> Any:
        return [t if isinstance(t, dict | Term) else {"term": str(t)} for t in value or []]

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return compile_terms([t.term for t in self.terms])

    @cached_property
    def replacements(self) -> dict[str, str]:
        return {t.term.lower(): t.replace for t in self.terms}

    def applies_to(self, category: str) -> bool:
        cat = category.lower()
        return not any(skip.lower() in cat for skip in self.skip_categories)

    def find(self, text: str) -> list[Match]:
        excepted = [
            (m.start(), m.end())
            for phrase in self.exceptions
            for m in re.finditer(re.escape(phrase), text, re.IGNORECASE)
        ]
        found = []
        for m in self.pattern.finditer(text):
            if any(s <= m.start() and m.end() <= e for s, e in excepted):
                continue
            term = m.group()
            replace = self.replacements.get(term.lower(), "")
            found.append(
                Match(
                    rule=self.key,
                    label=self.label,
                    term=term,
                    start=m.start(),
                    end=m.end(),
                    replace=replace,
                )
            )
        return found


class RuleBook:
    """Every compliance rule; `with_forbidden` adds a brand's own words for one request."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    def with_forbidden(self, words: list[str]) -> RuleBook:
        terms = [Term(term=w) for w in words if w.strip()]
        if not terms:
            return self
        brand = Rule(key="brand", label="brand's forbidden words", source="brand profile",
                     terms=terms)  # fmt: skip
        return RuleBook([*self.rules, brand])

    def find(self, text: str, category: str) -> list[Match]:
        found = [m for rule in self.rules if rule.applies_to(category) for m in rule.find(text)]
        return sorted(found, key=lambda m: m.start)

    def clean(self, text: str, category: str) -> str:
        """`text` with each violating term replaced (or removed), spacing tidied."""
        for match in reversed(self.find(text, category)):
            text = text[: match.start] + match.replace + text[match.end :]
        return tidy(text)


def tidy(text: str) -> str:
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\s+([,.;:!?，。；：！？])", r"\1", text)
    text = re.sub(r"([，。；：、])\1+", r"\1", text)
    return text.strip(" ,，、;；:：-–—")


def load_rulebook(settings: Settings) -> RuleBook:
    rules = load_entries(DATA / "ad_rules.yaml", "copywriter", settings, Rule, "rule")
    return RuleBook(list(rules.values()))
