"""Aspects: what a review praises or criticises, each with a quote that occurs in the review.

Two readers share the aspect table (data/aspects.yaml, user-extensible):
- the lexicon reader spots aspect words clause by clause and scores each
  clause with the fast classifier (hundreds of reviews per second);
- the model reader asks the shared model (`reviews` adapter, structured
  output) for aspects, polarities, quoted evidence and sarcasm.
Every quote is located in the review (`locate`); one that cannot be found is
dropped and counted, never returned. A model aspect whose quote has none of its
aspect's words is refused and counted too (the small model files quotes under the
wrong aspects), and the lexicon's aspects stand for those the model did not name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from pitchcraft.plugins.sentiment.corpus import Polarity
from pitchcraft.plugins.sentiment.models import Aspect

DATA = Path(__file__).parent / "data"
CLAUSE = re.compile(r"[^。！？!?；;，,\n.…~～]+")
EN_BUT = re.compile(r"\b(?:but|however|although|though|except)\b", re.IGNORECASE)
NEUTRAL_BELOW = 0.6  # a clause the classifier is less sure about than this is neutral
MAX_ASPECTS = 6
MAX_EVIDENCE_CHARS = 160
FUZZY_MIN_OVERLAP = 0.8  # share of a quote's characters a clause must contain to stand for it


class AspectSpec(BaseModel):
    key: str
    label: dict[str, str]
    description: dict[str, str]
    words: dict[str, list[str]] = Field(default_factory=dict)
    action: dict[str, str] = Field(
        default_factory=dict, description="What to improve when customers complain about it."
    )


class Clause(BaseModel):
    text: str
    start: int


def clauses(text: str) -> list[Clause]:
    """Clauses with their offsets: split at punctuation, and English also before 'but'."""
    out = []
    for match in CLAUSE.finditer(text):
        pieces = [match.start(), *(m.start() + match.start() for m in EN_BUT.finditer(match[0]))]
        for begin, end in zip(pieces, [*pieces[1:], match.end()], strict=True):
            piece = text[begin:end]
            stripped = piece.strip()
            if len(stripped) >= 2:
                out.append(Clause(text=stripped, start=begin + piece.index(stripped)))
    return out


def word_pattern(words: Sequence[str], language: str) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    if language == "zh":
        return re.compile(alternatives)
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


class AspectTable:
    def __init__(self, specs: dict[str, AspectSpec]) -> None:
        self.specs = specs
        self._patterns = {
            (key, lang): word_pattern(spec.words.get(lang, []), lang)
            for key, spec in specs.items()
            for lang in ("zh", "en")
        }

    def mentioned(self, clause: str, language: str) -> list[str]:
        return [
            key
            for key in self.specs
            if (p := self._patterns[(key, language)]) is not None and p.search(clause)
        ]

    def supports(self, key: str, quote: str, language: str) -> bool:
        """Whether `quote` holds a word of aspect `key`; True when the table has no words for
        it in `language` (nothing to judge by)."""
        pattern = self._patterns.get((key, language))
        return pattern is None or pattern.search(quote) is not None

    def label(self, key: str, language: str) -> str:
        spec = self.specs.get(key)
        return spec.label.get(language, key) if spec else key


# -- evidence ------------------------------------------------------------------------------


def _normalise(text: str) -> tuple[str, list[int]]:
    """Case-folded, width-folded text without whitespace, and each kept char's offset."""
    chars, offsets = [], []
    for i, ch in enumerate(text):
        folded = unicodedata.normalize("NFKC", ch).lower()
        if folded.strip():
            chars.append(folded)
            offsets.append(i)
    return "".join(chars), offsets


def locate(quote: str, review: str) -> tuple[str, int] | None:
    """The review's own text for `quote` and its offset, or None when the review does not say it.

    Exact matches first; then ignoring case, width and spacing; then the clause
    of the review that contains most of the quote's characters in order."""
    quote = quote.strip().strip("\"'“”‘’「」")
    if not quote:
        return None
    at = review.find(quote)
    if at >= 0:
        return quote, at
    norm_quote, _ = _normalise(quote)
    norm_review, offsets = _normalise(review)
    at = norm_review.find(norm_quote) if norm_quote else -1
    if at >= 0:
        begin, end = offsets[at], offsets[at + len(norm_quote) - 1] + 1
        return review[begin:end], begin
    best: tuple[float, Clause] | None = None
    for clause in clauses(review):
        overlap = _in_order_overlap(norm_quote, _normalise(clause.text)[0])
        if overlap >= FUZZY_MIN_OVERLAP and (best is None or overlap > best[0]):
            best = (overlap, clause)
    return (best[1].text, best[1].start) if best else None


def _in_order_overlap(quote: str, clause: str) -> float:
    """Share of `quote`'s characters that appear in `clause` in the same order (LCS)."""
    if not quote or not clause:
        return 0.0
    previous = [0] * (len(clause) + 1)
    for qc in quote:
        current = [0]
        for j, cc in enumerate(clause, 1):
            current.append(previous[j - 1] + 1 if qc == cc else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1] / len(quote)


# -- the lexicon reader --------------------------------------------------------------------


def aspect_mentions(review: str, language: str, table: AspectTable) -> list[tuple[str, Clause]]:
    """(aspect, clause) for every aspect word in every clause of the review."""
    return [
        (key, clause)
        for clause in clauses(review)
        for key in table.mentioned(clause.text, language)
    ]


def lexicon_aspects(
    mentions: Sequence[tuple[str, Clause]], predictions: Sequence[Any]
) -> list[Aspect]:
    """One aspect per mentioned key, from its most confidently scored clause.

    `predictions[i]` is the classifier's reading (.label, .confidence) of mention i's clause;
    the caller classifies the clauses of many reviews in one batch."""
    best: dict[str, Aspect] = {}
    strength: dict[str, float] = {}
    for (key, clause), pred in zip(mentions, predictions, strict=True):
        polarity: Polarity = pred.label if pred.confidence >= NEUTRAL_BELOW else "neutral"
        if key not in best or pred.confidence > strength[key]:
            best[key] = Aspect(
                aspect=key,
                polarity=polarity,
                evidence=clause.text,
                start=clause.start,
                source="lexicon",
            )
            strength[key] = pred.confidence
    return sorted(best.values(), key=lambda a: a.start)


# -- the model reader ----------------------------------------------------------------------


def reading_model(aspect_keys: Sequence[str]) -> type[BaseModel]:
    """The structured reply: overall polarity, sarcasm, and aspects from this table only."""
    mention = create_model(
        "AspectMention",
        aspect=(Literal[tuple(aspect_keys)], ...),  # type: ignore[valid-type]
        polarity=(Polarity, ...),
        evidence=(str, Field(min_length=1, max_length=MAX_EVIDENCE_CHARS)),
    )
    return create_model(
        "ReviewReading",
        overall=(Polarity, ...),
        sarcastic=(bool, ...),
        aspects=(list[mention], Field(default_factory=list, max_length=MAX_ASPECTS)),  # type: ignore[valid-type]
    )


def model_aspects(
    review: str, reading: Any, supports: Callable[[str, str], bool] | None = None
) -> tuple[list[Aspect], int, int]:
    """The model's aspects whose quotes occur in the review and, given `supports` (aspect,
    quote: the aspect table's judgement), are about their aspect; and how many were dropped
    for each reason (quote not in the review, quote not about its aspect)."""
    kept: dict[str, Aspect] = {}
    dropped = refused = 0
    for mention in reading.aspects:
        located = locate(mention.evidence, review)
        if located is None:
            dropped += 1
            continue
        text, start = located
        if supports is not None and not supports(mention.aspect, text):
            refused += 1  # "it is a beautiful deep blue color" filed under size and fit
            continue
        if mention.aspect not in kept:  # the first reading of an aspect wins
            kept[mention.aspect] = Aspect(
                aspect=mention.aspect,
                polarity=mention.polarity,
                evidence=text,
                start=start,
                source="model",
            )
    return sorted(kept.values(), key=lambda a: a.start), dropped, refused


def with_lexicon(model: Sequence[Aspect], lexicon: Sequence[Aspect]) -> list[Aspect]:
    """The model's aspects, and the lexicon's for the aspects the model did not name."""
    named = {a.aspect for a in model}
    return sorted([*model, *(a for a in lexicon if a.aspect not in named)], key=lambda a: a.start)


def is_mixed(aspects: Sequence[Aspect]) -> bool:
    polarities = {a.polarity for a in aspects}
    return "positive" in polarities and "negative" in polarities
