"""The fast polarity classifier: one linear model a language over hashed n-gram views.

Each language has its own views: Chinese reads character 1-4-grams and jieba word
1-2-grams, English word 1-3-grams and character 2-5-grams within words, and both the
store's multilingual sentence embedding, which carries short aspect clauses the n-grams
of whole reviews rarely saw ("物流也慢" came out positive without it). Every view is
TF-IDF weighted (sublinear tf, buckets seen in fewer than two training reviews dropped)
and scaled to unit length, so no view drowns the others. Buckets are hashed, so the
artefact needs no vocabulary: one compressed .npz of numbers (no pickle), made by
`plugins/sentiment/train.py`.
Probabilities are temperature-calibrated on reviews the weights never saw.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pitchcraft.errors import PitchcraftError
from pitchcraft.plugins.sentiment.corpus import POLARITIES, Polarity
from pitchcraft.store.embedders import Embedder
from pitchcraft.store.keyword import WORDS, jieba_cut
from pitchcraft.store.schema import detect_language

ARTEFACT = Path(__file__).parent / "data" / "classifier.npz"
FORMAT = 2  # artefacts of another format are refused with a message to retrain
HASH_BITS = 21  # ~1.5M distinct Chinese 1-4-grams: fewer buckets mixed rare ones in
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class View:
    unit: str  # "char": characters of the whole text; "char_wb": within words; "word"
    low: int
    high: int

    @property
    def name(self) -> str:
        return f"{self.unit}{self.low}-{self.high}"


VIEWS: dict[str, tuple[View, ...]] = {
    "zh": (View("char", 1, 4), View("word", 1, 2)),
    "en": (View("word", 1, 3), View("char_wb", 2, 5)),
}
EMBEDDING_WEIGHT = {"zh": 1.0, "en": 1.0}  # unit rows beside the unit n-gram views


def words(text: str) -> list[str]:
    """jieba's precise cut for Chinese (not search mode: overlapping words blur n-grams)."""
    if detect_language(text) == "en":
        return WORDS.findall(text)
    return [w for w in jieba_cut(text, search=False) if w.strip()]


def grams(items: Sequence[str], low: int, high: int, joiner: str) -> list[str]:
    return [
        joiner.join(items[i : i + n])
        for n in range(low, high + 1)
        for i in range(len(items) - n + 1)
    ]


def analyzer(view: View) -> Callable[[str], list[str]]:
    def analyze(text: str) -> list[str]:
        norm = unicodedata.normalize("NFKC", text).lower()
        if view.unit == "word":
            return grams(words(norm), view.low, view.high, " ")
        if view.unit == "char":
            return grams(list(" ".join(norm.split())), view.low, view.high, "")
        return [g for w in norm.split() for g in grams(list(f" {w} "), view.low, view.high, "")]

    return analyze


def hasher(view: View) -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer=analyzer(view), n_features=2**HASH_BITS, alternate_sign=False, norm=None
    )


@dataclass
class Features:
    """One language's input rows: [view 1 | view 2 | ... | weighted embedding]."""

    language: str
    idf: list[np.ndarray]  # one (2**HASH_BITS,) array a view; 0 for dropped buckets
    embedder: Embedder

    @property
    def width(self) -> int:
        embedded = self.embedder.dim if EMBEDDING_WEIGHT[self.language] else 0
        return len(self.idf) * 2**HASH_BITS + embedded

    def rows(self, texts: Sequence[str]) -> Any:
        from scipy import sparse
        from sklearn.preprocessing import normalize

        blocks = []
        for view, idf in zip(VIEWS[self.language], self.idf, strict=True):
            counts = hasher(view).transform(texts).astype(np.float32)
            counts.data = np.log1p(counts.data)  # sublinear tf
            blocks.append(normalize(counts.multiply(idf[None, :]).tocsr()))
        if weight := EMBEDDING_WEIGHT[self.language]:
            blocks.append(sparse.csr_matrix(self.embedder.embed(list(texts)) * weight))
        return sparse.hstack(blocks).tocsr()


@dataclass
class Prediction:
    label: Polarity
    confidence: float  # calibrated probability of `label`
    probabilities: dict[Polarity, float]

    @property
    def score(self) -> float:
        """P(positive) - P(negative): -1 surely negative ... +1 surely positive."""
        return self.probabilities["positive"] - self.probabilities["negative"]


@dataclass
class LanguageModel:
    """One language's features, weights (width, 3) and temperature."""

    features: Features
    weights: np.ndarray
    bias: np.ndarray
    temperature: float = 1.0

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.features.rows(texts) @ self.weights) + self.bias


def softmax(logits: np.ndarray) -> np.ndarray:
    scaled = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def predictions(probabilities: np.ndarray) -> list[Prediction]:
    out = []
    for row in probabilities:
        best = int(row.argmax())
        probs = {p: round(float(v), 4) for p, v in zip(POLARITIES, row, strict=True)}
        out.append(Prediction(POLARITIES[best], round(float(row[best]), 4), probs))
    return out


def resolved_languages(texts: Sequence[str], languages: Sequence[str] | None) -> list[str]:
    """The texts' languages: as given, or detected."""
    return list(languages) if languages is not None else [detect_language(t) for t in texts]


def by_language(
    texts: Sequence[str],
    languages: Sequence[str] | None,
    width: int,
    score: Callable[[str, list[int]], np.ndarray],
) -> np.ndarray:
    """`score(language, row numbers of the texts in it)` for each language, in text order."""
    langs = resolved_languages(texts, languages)
    out = np.zeros((len(texts), width), dtype=np.float64)
    for language in LANGUAGES:
        rows = [i for i, lang in enumerate(langs) if lang == language]
        if rows:
            out[rows] = score(language, rows)
    return out


class LogitPolarity:
    """Predictions from a tier's logits (each tier gives `logits`)."""

    def logits(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> np.ndarray:
        raise NotImplementedError

    def predict(
        self, texts: Sequence[str], languages: Sequence[str] | None = None
    ) -> list[Prediction]:
        """Polarity of each text; `languages` (zh/en each) when known, detected if not."""
        if not texts:
            return []
        return predictions(softmax(self.logits(texts, languages)))


class PolarityClassifier(LogitPolarity):
    """Loaded once per process (thread-safe: prediction only reads the weights)."""

    def __init__(self, models: dict[str, LanguageModel], card: dict[str, Any]) -> None:
        self.models = models
        self.card = card

    @classmethod
    def load(cls, embedder: Embedder, path: Path = ARTEFACT) -> PolarityClassifier:
        retrain = "retrain it with `python -m pitchcraft.plugins.sentiment.train`"
        if not path.is_file():
            raise PitchcraftError(f"sentiment classifier {path} is missing: {retrain}")
        with np.load(path) as data:
            card = json.loads(str(data["card"]))
            if card.get("format") != FORMAT:
                raise PitchcraftError(
                    f"sentiment classifier {path} is of an older format: {retrain}"
                )
            if card.get("embedding_model") != embedder.model_id:
                raise PitchcraftError(
                    f"the sentiment classifier was trained on {card.get('embedding_model')} "
                    f"embeddings, but the store uses {embedder.model_id}: {retrain}"
                )
            models = {}
            for lang in LANGUAGES:
                rows = data[f"{lang}_rows"]
                buckets = len(VIEWS[lang]) * 2**HASH_BITS
                idf = np.zeros(buckets, dtype=np.float32)
                grams = rows < buckets
                idf[rows[grams]] = data[f"{lang}_idf"].astype(np.float32)
                features = Features(lang, list(idf.reshape(len(VIEWS[lang]), -1)), embedder)
                weights = np.zeros((features.width, len(POLARITIES)), dtype=np.float32)
                weights[rows] = data[f"{lang}_weights"].astype(np.float32)
                models[lang] = LanguageModel(
                    features, weights, data[f"{lang}_bias"], float(data[f"{lang}_temperature"])
                )
            return cls(models, card)

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {"card": np.array(json.dumps(self.card, ensure_ascii=False))}
        for lang, model in self.models.items():
            idf = np.concatenate(model.features.idf)
            # Only buckets seen in training have an idf and weights: store those rows alone.
            rows = np.concatenate(
                [np.flatnonzero(idf), np.arange(len(idf), model.features.width)]
            ).astype(np.int32)
            arrays[f"{lang}_rows"] = rows
            arrays[f"{lang}_idf"] = idf[rows[rows < len(idf)]].astype(np.float16)
            arrays[f"{lang}_weights"] = model.weights[rows].astype(np.float16)
            arrays[f"{lang}_bias"] = model.bias.astype(np.float32)
            arrays[f"{lang}_temperature"] = np.float32(model.temperature)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)

    def logits(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> np.ndarray:
        """Temperature-scaled logits (log-probabilities up to a constant)."""
        return by_language(
            texts,
            languages,
            len(POLARITIES),
            lambda lang, rows: (
                self.models[lang].logits([texts[i] for i in rows]) / self.models[lang].temperature
            ),
        )
