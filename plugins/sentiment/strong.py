"""The strong polarity tier: a linear head on the shared model's hidden states, blended
with the fast tier.

The head reads the hidden-state features of states.py (one forward pass of the embedded
base model a review, no generation, cached by text); a second small logistic regression
on the validation slice, which neither the fast tier nor the head trained on, blends the
two tiers' logits. Tens of reviews a second on 2 cores instead of hundreds: the plugin
uses it at full depth (where the shared model reads the review anyway) or when the
`polarity_tier` option asks for it. The artefact is one .npz of numbers, made by
`python -m pitchcraft.plugins.sentiment.train --tier strong`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from pitchcraft.errors import PitchcraftError
from pitchcraft.plugins.sentiment.classifier import (
    LANGUAGES,
    PolarityClassifier,
    Prediction,
    by_language,
    predictions,
    softmax,
)
from pitchcraft.plugins.sentiment.corpus import POLARITIES
from pitchcraft.store.embedders import Embedder
from pitchcraft.store.schema import sha

ARTEFACT = Path(__file__).parent / "data" / "strong_head.npz"
HEAD_REVIEWS = 6000  # training reviews a language the head reads (the forward pass is the cost)
HEAD_C = (0.0003, 0.001, 0.003, 0.01)


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


def fingerprint(card: dict[str, Any]) -> str:
    return sha(json.dumps(card, sort_keys=True, ensure_ascii=False))[:16]


class StrongClassifier:
    """The fast classifier and the hidden-state head together; thread-safe to predict."""

    def __init__(
        self,
        fast: PolarityClassifier,
        states: Embedder,
        heads: dict[str, Head],
        card: dict[str, Any],
    ) -> None:
        self.fast, self.states, self.heads, self.card = fast, states, heads, card

    @classmethod
    def load(
        cls, fast: PolarityClassifier, states: Embedder, path: Path = ARTEFACT
    ) -> StrongClassifier:
        retrain = "retrain it with `python -m pitchcraft.plugins.sentiment.train --tier strong`"
        if not path.is_file():
            raise PitchcraftError(f"the strong sentiment tier {path} is missing: {retrain}")
        with np.load(path) as data:
            card = json.loads(str(data["card"]))
            if card.get("states_model") != states.model_id:
                raise PitchcraftError(
                    f"the strong sentiment tier reads {card.get('states_model')}, but the "
                    f"embedded model gives {states.model_id}: {retrain}"
                )
            if card.get("fast_classifier") != fingerprint(fast.card):
                raise PitchcraftError(
                    "the strong sentiment tier was blended with another fast classifier: " + retrain
                )
            heads = {
                lang: Head(*(data[f"{lang}_{f.name}"].astype(np.float32) for f in fields(Head)))
                for lang in LANGUAGES
            }
        return cls(fast, states, heads, card)

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {"card": np.array(json.dumps(self.card, ensure_ascii=False))}
        for lang, head in self.heads.items():
            for f in fields(Head):
                arrays[f"{lang}_{f.name}"] = getattr(head, f.name).astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)

    def logits(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> np.ndarray:
        fast = self.fast.logits(texts, languages)

        def blended(lang: str, rows: list[int]) -> np.ndarray:
            states = self.states.embed([texts[i] for i in rows])
            return self.heads[lang].blended(fast[rows], states)

        return by_language(texts, languages, len(POLARITIES), blended)

    def predict(
        self, texts: Sequence[str], languages: Sequence[str] | None = None
    ) -> list[Prediction]:
        if not texts:
            return []
        return predictions(softmax(self.logits(texts, languages)))


def head_reviews(rows: Sequence[Any]) -> list[Any]:
    """The training reviews the head reads: a fixed sample by text hash."""
    return sorted(rows, key=lambda e: sha("states:" + e.text))[:HEAD_REVIEWS]


def train_strong(settings: Any, path: Path = ARTEFACT) -> StrongClassifier:
    from sklearn.linear_model import LogisticRegression

    from pitchcraft.plugins.sentiment.classifier import ARTEFACT as FAST
    from pitchcraft.plugins.sentiment.states import states_embedder
    from pitchcraft.plugins.sentiment.train import (
        embed_all,
        labels,
        language_splits,
        scores,
        three_columns,
    )
    from pitchcraft.store.embedders import make_embedder

    fast = PolarityClassifier.load(make_embedder("use-multilingual", settings.cache_dir), FAST)
    states = states_embedder(settings.cache_dir)
    splits = language_splits()
    heads, cards = {}, {}
    start = time.perf_counter()
    for lang in LANGUAGES:
        fit, validation, _ = splits[lang]
        train = head_reviews(fit)
        embed_all(states, [e.text for e in train + validation], f"reading {lang} reviews")
        x_train, x_val = (
            states.embed([e.text for e in train]),
            states.embed([e.text for e in validation]),
        )
        mean, scale = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
        y_train, y_val = labels(train), labels(validation)
        tried, best = {}, (-1.0, None)
        for c in HEAD_C:
            regression = LogisticRegression(C=c, max_iter=4000)
            regression.fit((x_train - mean) / scale, y_train)
            tried[c] = float((regression.predict((x_val - mean) / scale) == y_val).mean())
            best = max(best, (tried[c], regression), key=lambda pair: pair[0])
        weights, bias = three_columns(best[1], x_train.shape[1])
        head = Head(mean, scale, weights, bias, np.eye(6, 3), np.zeros(3))
        fast_val = fast.logits([e.text for e in validation], [lang] * len(validation))
        inputs = pair(fast_val, head.logits(x_val))
        blend = LogisticRegression(C=1.0, max_iter=4000).fit(inputs, y_val)
        head.blend, head.blend_bias = three_columns(blend, inputs.shape[1])
        heads[lang] = head
        cards[lang] = {
            "head_reviews": len(train),
            "head_c": float(best[1].C),
            "validation_accuracy_by_c": tried,
            "blend_reviews": len(validation),
        }
    model = StrongClassifier(fast, states, heads, {})
    test = {
        lang: scores(
            [e.label for e in splits[lang][2]],
            model.predict([e.text for e in splits[lang][2]], [lang] * len(splits[lang][2])),
        )
        for lang in LANGUAGES
    }
    model.card = {
        "states_model": states.model_id,
        "fast_classifier": fingerprint(fast.card),
        "trained": dt.date.today().isoformat(),
        "languages": cards,
        "fit_seconds": round(time.perf_counter() - start, 1),
        "test": test,
    }
    model.save(path)
    return model
