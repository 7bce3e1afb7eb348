"""Train the fast polarity classifier on the real zh + en review corpora and write its artefact.

    python -m pitchcraft.plugins.sentiment.train [--out plugins/sentiment/data/classifier.npz]

Trains on the train split only (corpus.py), calibrates a temperature on a slice
of it the weights never saw, scores the held-out test split and writes the
numbers into the artefact's card and the model card (classifier.md). About
five minutes on 2 cores (embeddings are cached, so reruns are faster).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pitchcraft.plugins.sentiment.classifier import (
    ARTEFACT,
    CHAR_NGRAMS,
    EMBEDDING_WEIGHT,
    HASH_BITS,
    Features,
    PolarityClassifier,
    hasher,
)
from pitchcraft.plugins.sentiment.corpus import (
    POLARITIES,
    Example,
    bucket,
    chinese_examples,
    english_examples,
    split,
)
from pitchcraft.plugins.sentiment.metrics import polarity_metrics
from pitchcraft.progress import progress_bar
from pitchcraft.settings import Settings
from pitchcraft.store.embedders import make_embedder

REGULARISATION_C = 4.0
CALIBRATION_SHARE = 10  # one training review in ten calibrates the temperature
EMBED_BATCH = 256


def embed_all(embedder: Any, texts: Sequence[str], label: str) -> None:
    """Warm the embedding cache with a progress bar (the features read from it)."""
    with progress_bar(label) as update:
        for start in range(0, len(texts), EMBED_BATCH):
            embedder.embed(texts[start : start + EMBED_BATCH])
            update(min(start + EMBED_BATCH, len(texts)), len(texts))


def inverse_document_frequency(texts: Sequence[str]) -> np.ndarray:
    counts = hasher().transform(texts)
    df = np.bincount(counts.indices, minlength=2**HASH_BITS)
    idf = np.log((1 + len(texts)) / (1 + df)) + 1.0
    return np.where(df > 0, idf, 0.0).astype(np.float32)


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of held-out reviews."""
    from scipy.optimize import minimize_scalar

    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(gold)), gold].mean())

    return float(minimize_scalar(nll, bounds=(0.05, 10.0), method="bounded").x)


def evaluate(model: PolarityClassifier, test: list[Example]) -> dict[str, dict[str, float]]:
    out = {}
    for language in ("zh", "en"):
        rows = [e for e in test if e.language == language]
        predictions = model.predict([e.text for e in rows])
        metrics = polarity_metrics(
            [e.label for e in rows],
            [p.label for p in predictions],
            [p.confidence for p in predictions],
        )
        out[language] = {**metrics, "test_reviews": float(len(rows))}
    return out


def train(out: Path, settings: Settings) -> PolarityClassifier:
    embedder = make_embedder("use-multilingual", settings.cache_dir)
    zh_train, zh_test = split(chinese_examples())
    en_train, en_test = split(english_examples())
    train_rows, test_rows = zh_train + en_train, zh_test + en_test
    embed_all(embedder, [e.text for e in train_rows + test_rows], "embedding reviews")

    calibrate, fit = [], []
    for e in train_rows:
        held = bucket(e.text, CALIBRATION_SHARE, salt="calibration:") == 0
        (calibrate if held else fit).append(e)
    features = Features(inverse_document_frequency([e.text for e in fit]), embedder)
    start = time.perf_counter()
    from sklearn.linear_model import LogisticRegression

    classes = {p: i for i, p in enumerate(POLARITIES)}
    regression = LogisticRegression(C=REGULARISATION_C, max_iter=2000)
    regression.fit(features.rows([e.text for e in fit]), [classes[e.label] for e in fit])
    width = 2**HASH_BITS + embedder.dim  # n-gram buckets, then the embedding
    weights = np.zeros((width, len(POLARITIES)), dtype=np.float32)
    bias = np.zeros(len(POLARITIES), dtype=np.float32)
    for row, cls in enumerate(regression.classes_):  # every class is present (en has neutral)
        weights[:, cls] = regression.coef_[row]
        bias[cls] = regression.intercept_[row]
    model = PolarityClassifier(features, weights, bias, 1.0, {})
    gold = np.array([classes[e.label] for e in calibrate])
    model.temperature = fit_temperature(model.logits([e.text for e in calibrate]), gold)
    fit_seconds = time.perf_counter() - start

    model.card = {
        "embedding_model": embedder.model_id,
        "trained": dt.date.today().isoformat(),
        "features": {
            "hash_bits": HASH_BITS,
            "char_ngrams": list(CHAR_NGRAMS),
            "embedding_weight": EMBEDDING_WEIGHT,
        },
        "regularisation_c": REGULARISATION_C,
        "temperature": model.temperature,
        "train_reviews": {"zh": len(zh_train), "en": len(en_train)},
        "fit_seconds": round(fit_seconds, 1),
        "test": evaluate(model, test_rows),
    }
    model.save(out)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ARTEFACT)
    args = parser.parse_args()
    model = train(args.out, Settings())
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    for language, metrics in model.card["test"].items():
        shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        print(f"  held-out {language}: {shown}")


if __name__ == "__main__":
    main()
