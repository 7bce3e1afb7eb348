"""Specification terms (waterproof, 防水, Bluetooth ...): groups of zh and en words for one
spec, matched as whole words in Latin script and anywhere in Chinese. The shipped groups are
`spec_terms.yaml` beside this file; a user's `<tables_dir>/text/spec_terms.yaml` extends it."""

from __future__ import annotations

import re
from pathlib import Path

from pitchcraft.errors import PitchcraftError
from pitchcraft.settings import Settings
from pitchcraft.tables import load_table

SPEC_TERMS = Path(__file__).resolve().parent / "spec_terms.yaml"
ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")


def term_pattern(term: str) -> str:
    """Latin terms match whole words only; Chinese terms match anywhere."""
    escaped = re.escape(term)
    if ASCII_ALNUM.search(term):
        return rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])"
    return escaped


def compile_terms(terms: list[str]) -> re.Pattern[str]:
    longest_first = sorted(terms, key=len, reverse=True)
    return re.compile("|".join(term_pattern(t) for t in longest_first), re.IGNORECASE)


class Lexicon:
    """Groups of specification words (zh and en wording of one spec)."""

    def __init__(self, groups: dict[str, list[str]]) -> None:
        self.groups = {name: compile_terms(words) for name, words in groups.items() if words}

    def mentioned(self, text: str) -> dict[str, str]:
        """{group: the word found} for each group `text` mentions."""
        return {
            name: m.group() for name, pattern in self.groups.items() if (m := pattern.search(text))
        }


def load_lexicon(settings: Settings) -> Lexicon:
    table = load_table(SPEC_TERMS, "text", settings)
    bad = [k for k, v in table.items() if not (isinstance(v, list) and all(map(str, v)))]
    if bad:
        raise PitchcraftError(f"spec_terms: {', '.join(bad)} must be lists of words")
    return Lexicon({k: [str(w) for w in v] for k, v in table.items()})
