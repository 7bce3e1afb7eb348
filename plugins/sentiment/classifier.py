"""The fast polarity classifier: a linear model over hashed n-grams and sentence embeddings.

Features are TF-IDF weighted word unigrams/bigrams (Chinese segmented by
jieba) and character 1-3-grams, hashed so the artefact needs no vocabulary,
next to the store's multilingual sentence embedding (the same model, so zh and
en share what the embedding knows). Probabilities are temperature-calibrated
on reviews the weights never saw. The artefact is one compressed .npz of
numbers (no pickle); `plugins/sentiment/train.py` makes it.
"""

from __future__ import annotations

import itertools
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pitchcraft.errors import PitchcraftError
from pitchcraft.plugins.sentiment.corpus import POLARITIES, Polarity
from pitchcraft.store.embedders import Embedder
from pitchcraft.store.keyword import tokenize

ARTEFACT = Path(__file__).parent / "data" / "classifier.npz"
HASH_BITS = 18
CHAR_NGRAMS = (1, 3)
EMBEDDING_WEIGHT = 2.0  # embedding rows are unit length; this balances them with the n-grams


def analyze(text: str) -> list[str]:
    """The n-gram features of one text (prefixed so words and characters never collide)."""
    norm = unicodedata.normalize("NFKC", text).lower()
    words = tokenize(norm)
    feats = [f"w:{w}" for w in words]
    feats += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    chars = "".join(norm.split())
    low, high = CHAR_NGRAMS
    for n in range(low, high + 1):
        feats += [f"c:{chars[i : i + n]}" for i in range(len(chars) - n + 1)]
    return feats


def hasher() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer=analyze, n_features=2**HASH_BITS, alternate_sign=False, norm=None
    )


@dataclass
class Features:
    """Turns texts into the model's input rows: [tf-idf n-grams | weighted embedding]."""

    idf: np.ndarray  # (2**HASH_BITS,) float32; 0 for buckets never seen in training
    embedder: Embedder

    def ngrams(self, texts: Sequence[str]) -> Any:
        from sklearn.preprocessing import normalize

        counts = hasher().transform(texts).astype(np.float32)
        counts.data = np.log1p(counts.data)  # sublinear tf
        return normalize(counts.multiply(self.idf[None, :]).tocsr())

    def rows(self, texts: Sequence[str]) -> Any:
        from scipy import sparse

        dense = self.embedder.embed(list(texts)) * EMBEDDING_WEIGHT
        return sparse.hstack([self.ngrams(texts), sparse.csr_matrix(dense)]).tocsr()


@dataclass
class Prediction:
    label: Polarity
    confidence: float  # calibrated probability of `label`
    probabilities: dict[Polarity, float]

    @property
    def score(self) -> float:
        """P(positive) - P(negative): -1 surely negative ... +1 surely positive."""
        return self.probabilities["positive"] - self.probabilities["negative"]


class PolarityClassifier:
    """Loaded once per process (thread-safe: prediction only reads the weights)."""

    def __init__(
        self,
        features: Features,
        weights: np.ndarray,
        bias: np.ndarray,
        temperature: float,
        card: dict[str, Any],
    ) -> None:
        self.features = features
        self.weights = weights.astype(np.float32)  # (n_features + dim, 3)
        self.bias = bias.astype(np.float32)
        self.temperature = float(temperature)
        self.card = card

    @classmethod
    def load(cls, embedder: Embedder, path: Path = ARTEFACT) -> PolarityClassifier:
        if not path.is_file():
            raise PitchcraftError(
                f"sentiment classifier {path} is missing: "
                "run `python -m pitchcraft.plugins.sentiment.train`"
            )
        with np.load(path) as data:
            card = json.loads(str(data["card"]))
            if card.get("embedding_model") != embedder.model_id:
                raise PitchcraftError(
                    f"the sentiment classifier was trained on {card.get('embedding_model')} "
                    f"embeddings, but the store uses {embedder.model_id}: "
                    "retrain it with `python -m pitchcraft.plugins.sentiment.train`"
                )
            return cls(
                Features(data["idf"].astype(np.float32), embedder),
                data["weights"],
                data["bias"],
                float(data["temperature"]),
                card,
            )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            idf=self.features.idf.astype(np.float16),
            weights=self.weights.astype(np.float16),
            bias=self.bias,
            temperature=np.float32(self.temperature),
            card=np.array(json.dumps(self.card, ensure_ascii=False)),
        )

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.features.rows(texts) @ self.weights) + self.bias

    def probabilities(self, texts: Sequence[str], temperature: float | None = None) -> np.ndarray:
        scaled = self.logits(texts) / (temperature or self.temperature)
        scaled -= scaled.max(axis=1, keepdims=True)
        exp = np.exp(scaled)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        out = []
        for row in self.probabilities(texts):
            best = int(row.argmax())
            probs = {p: round(float(v), 4) for p, v in zip(POLARITIES, row, strict=True)}
            out.append(Prediction(POLARITIES[best], round(float(row[best]), 4), probs))
        return out
