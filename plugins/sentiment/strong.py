"""The strong polarity tier: a linear head on the shared model's hidden states, blended
with the fast tier.

Each language's head reads its hidden-state features of states.py (one forward pass of
the embedded base model a review, no generation, cached by text); a second small logistic
regression on the validation slice, which neither the fast tier nor the head trained on,
blends the two tiers' logits. Tens of reviews a second on 2 cores instead of hundreds: the plugin
uses it at full depth (where the shared model reads the review anyway) or when the
`polarity_tier` option asks for it. The artefact is one .npz of numbers, made by
`python -m pitchcraft.plugins.sentiment.train --tier strong`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from pitchcraft.errors import PitchcraftError
from pitchcraft.plugins.sentiment.classifier import (
    LANGUAGES,
    LogitPolarity,
    PolarityClassifier,
    by_language,
    resolved_languages,
)
from pitchcraft.plugins.sentiment.corpus import POLARITIES
from pitchcraft.store.embedders import Embedder
from pitchcraft.store.schema import sha

ARTEFACT = Path(__file__).parent / "data" / "strong_head.npz"


@dataclass
class Head:
    """One language's standardisation, head weights (dim, 3) and blend weights (6, 3)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    blend: np.ndarray
    blend_bias: np.ndarray

    def logits(self, states: np.ndarray) -> np.ndarray:
        return ((states - self.mean) / self.scale) @ self.weights + self.bias

    def blended(self, fast_logits: np.ndarray, states: np.ndarray) -> np.ndarray:
        return pair(fast_logits, self.logits(states)) @ self.blend + self.blend_bias


def pair(fast_logits: np.ndarray, head_logits: np.ndarray) -> np.ndarray:
    """The blend's input; clipped, as a class absent from a language sits near -30."""
    return np.clip(np.hstack([fast_logits, head_logits]), -30.0, 30.0)


def states_model_ids(states: Mapping[str, Embedder]) -> dict[str, str]:
    """Each language's hidden-state reading, as an artefact's card records it."""
    return {lang: states[lang].model_id for lang in sorted(states)}


def fingerprint(card: dict[str, Any]) -> str:
    return sha(json.dumps(card, sort_keys=True, ensure_ascii=False))[:16]


def load_heads(path: Path) -> tuple[dict[str, Head], dict[str, Any]]:
    """Each language's head and the artefact's card, whatever fast tier it was blended with."""
    with np.load(path) as data:
        heads = {
            lang: Head(*(data[f"{lang}_{f.name}"].astype(np.float32) for f in fields(Head)))
            for lang in LANGUAGES
        }
        return heads, json.loads(str(data["card"]))


class StrongClassifier(LogitPolarity):
    """The fast classifier and the hidden-state head together; thread-safe to predict."""

    def __init__(
        self,
        fast: PolarityClassifier,
        states: Mapping[str, Embedder],
        heads: dict[str, Head],
        card: dict[str, Any],
    ) -> None:
        self.fast, self.states, self.heads, self.card = fast, states, heads, card

    @classmethod
    def load(
        cls, fast: PolarityClassifier, states: Mapping[str, Embedder], path: Path = ARTEFACT
    ) -> StrongClassifier:
        retrain = "retrain it with `python -m pitchcraft.plugins.sentiment.train --tier strong`"
        if not path.is_file():
            raise PitchcraftError(f"the strong sentiment tier {path} is missing: {retrain}")
        heads, card = load_heads(path)
        if (read := card.get("states_models")) != (given := states_model_ids(states)):
            raise PitchcraftError(
                f"the strong sentiment tier reads {read}, but the embedded model gives "
                f"{given}: {retrain}"
            )
        if card.get("fast_classifier") != fingerprint(fast.card):
            raise PitchcraftError(
                "the strong sentiment tier was blended with another fast classifier: "
                "refit its blend with `python -m pitchcraft.plugins.sentiment.train "
                "--tier blend`"
            )
        return cls(fast, states, heads, card)

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {"card": np.array(json.dumps(self.card, ensure_ascii=False))}
        for lang, head in self.heads.items():
            for f in fields(Head):
                arrays[f"{lang}_{f.name}"] = getattr(head, f.name).astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)

    def logits(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> np.ndarray:
        languages = resolved_languages(texts, languages)  # detected once for both tiers
        fast = self.fast.logits(texts, languages)

        def blended(lang: str, rows: list[int]) -> np.ndarray:
            states = self.states[lang].embed([texts[i] for i in rows])
            return self.heads[lang].blended(fast[rows], states)

        return by_language(texts, languages, len(POLARITIES), blended)
