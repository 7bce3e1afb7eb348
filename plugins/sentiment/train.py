"""Train the polarity tiers on the real zh + en review corpora and write their artefacts.

    python -m pitchcraft.plugins.sentiment.train [--tier fast|strong|both]

    python -m pitchcraft.plugins.sentiment.train --tier blend   # the strong tier's blend only

    python -m pitchcraft.plugins.sentiment.train --tier strong --keep-heads en  # a zh head

Each language's training split (corpus.py) is cut once by text hash: nine tenths fit the
weights, one tenth (the validation slice) chooses the regularisation, fits the
temperature and, for the strong tier, fits the blend of the two tiers; the test split is
only scored. The fast tier is then fitted again on the whole training split with the
chosen regularisation and temperature (a tenth more reviews: +0.003 en test accuracy); the
strong tier's blend still reads the logits of the nine-tenths fit, which never saw the
validation slice. The fast tier takes about 13 minutes on 2 cores; the strong tier reads
12,000 training reviews a language, the validation slice and the test split with the
embedded model first (on 2 cores about 35 minutes for Chinese and 55 for English, once:
the hidden states are cached under ~/.cache/pitchcraft). `--tier blend` keeps the shipped
strong heads and fits only their blend with the fast tier (after retraining the fast tier,
without reading the reviews again); `--keep-heads` does so for some languages only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pitchcraft.errors import PitchcraftError
from pitchcraft.plugins.sentiment.classifier import (
    ARTEFACT,
    EMBEDDING_WEIGHT,
    FORMAT,
    HASH_BITS,
    LANGUAGES,
    VIEWS,
    Features,
    LanguageModel,
    LogitPolarity,
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
from pitchcraft.plugins.sentiment.strong import ARTEFACT as STRONG
from pitchcraft.plugins.sentiment.strong import (
    Head,
    StrongClassifier,
    fingerprint,
    load_heads,
    pair,
    states_model_ids,
)
from pitchcraft.progress import progress_bar
from pitchcraft.settings import Settings
from pitchcraft.store.embedders import make_embedder
from pitchcraft.store.schema import sha

VALIDATION_SHARE = 10  # one training review in ten validates
REGULARISATION_C = (2.0, 4.0, 8.0, 16.0)
EMBED_BATCH = 256
HEAD_REVIEWS = 12000  # training reviews a language the strong head reads (forward passes)
HEAD_C = (0.0003, 0.001, 0.003, 0.01)


def language_splits() -> dict[str, tuple[list[Example], list[Example], list[Example]]]:
    """(fit, validation, test) a language."""
    out = {}
    for lang, examples in (("zh", chinese_examples()), ("en", english_examples())):
        train, test = split(examples)
        held = [bucket(e.text, VALIDATION_SHARE, salt="calibration:") == 0 for e in train]
        fit = [e for e, h in zip(train, held, strict=True) if not h]
        validation = [e for e, h in zip(train, held, strict=True) if h]
        out[lang] = (fit, validation, test)
    return out


def embed_all(embedder: Any, texts: Sequence[str], label: str) -> None:
    """Warm an embedding cache with a progress bar (the features read from it)."""
    with progress_bar(label) as update:
        for start in range(0, len(texts), EMBED_BATCH):
            embedder.embed(texts[start : start + EMBED_BATCH])
            update(min(start + EMBED_BATCH, len(texts)), len(texts))


def inverse_document_frequency(texts: Sequence[str], view: Any) -> np.ndarray:
    """Smoothed idf a bucket; 0 for buckets in fewer than two texts (noise, and the artefact
    stays small: only used buckets have weights)."""
    counts = hasher(view).transform(texts)
    df = np.bincount(counts.indices, minlength=2**HASH_BITS)
    idf = np.log((1 + len(texts)) / (1 + df)) + 1.0
    return np.where(df >= 2, idf, 0.0).astype(np.float32)


def labels(rows: Sequence[Example]) -> np.ndarray:
    return np.array([POLARITIES.index(e.label) for e in rows])


def three_columns(regression: Any, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A fitted scikit-learn logistic regression as (width, 3) weights and a bias over all
    three polarities; a class absent from training (zh has no neutral) never wins."""
    weights = np.zeros((width, len(POLARITIES)), dtype=np.float32)
    bias = np.full(len(POLARITIES), -30.0, dtype=np.float32)
    coef, intercept = regression.coef_, regression.intercept_
    if len(regression.classes_) == 2:  # one row: class 1 against class 0
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    for row, cls in enumerate(regression.classes_):
        weights[:, cls] = coef[row]
        bias[cls] = intercept[row]
    return weights, bias


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of held-out reviews."""
    from scipy.optimize import minimize_scalar

    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(gold)), gold].mean())

    return float(minimize_scalar(nll, bounds=(0.05, 10.0), method="bounded").x)


def best_on_validation(
    grid: Sequence[float], x_fit: Any, y_fit: np.ndarray, x_val: Any, y_val: np.ndarray
) -> tuple[Any, dict[float, float]]:
    """The logistic regression of the grid's C with the best validation accuracy, and each
    C's accuracy (for the card)."""
    from sklearn.linear_model import LogisticRegression

    tried: dict[float, float] = {}
    best: tuple[float, Any] = (-1.0, None)
    for c in grid:
        regression = LogisticRegression(C=c, max_iter=4000).fit(x_fit, y_fit)
        tried[c] = float((regression.predict(x_val) == y_val).mean())
        best = max(best, (tried[c], regression), key=lambda pair: pair[0])
    return best[1], tried


def fitted_features(lang: str, rows: list[Example], embedder: Any) -> Features:
    """One language's feature views with the idf of `rows`."""
    idf = [inverse_document_frequency([e.text for e in rows], view) for view in VIEWS[lang]]
    return Features(lang, idf, embedder)


def language_model(lang: str, rows: list[Example], c: float, embedder: Any) -> LanguageModel:
    """One language's fast model fitted on `rows` with regularisation `c` (temperature 1)."""
    from sklearn.linear_model import LogisticRegression

    features = fitted_features(lang, rows, embedder)
    x = features.rows([e.text for e in rows])
    regression = LogisticRegression(C=c, max_iter=4000).fit(x, labels(rows))
    return LanguageModel(features, *three_columns(regression, features.width))


def fit_language(
    lang: str,
    fit: list[Example],
    validation: list[Example],
    embedder: Any,
    grid: Sequence[float] = REGULARISATION_C,
) -> tuple[LanguageModel, dict[str, Any]]:
    """The model fitted on `fit` with the grid's C that does best on `validation`, its
    temperature fitted there."""
    features = fitted_features(lang, fit, embedder)
    x_fit, x_val = features.rows([e.text for e in fit]), features.rows([e.text for e in validation])
    y_val = labels(validation)
    regression, tried = best_on_validation(grid, x_fit, labels(fit), x_val, y_val)
    weights, bias = three_columns(regression, features.width)
    model = LanguageModel(features, weights, bias)
    model.temperature = fit_temperature(model.logits([e.text for e in validation]), y_val)
    card = {
        "views": [v.name for v in VIEWS[lang]],
        "embedding_weight": EMBEDDING_WEIGHT[lang],
        "regularisation_c": float(regression.C),
        "validation_accuracy_by_c": tried,
        "temperature": round(model.temperature, 4),
        "fit_reviews": len(fit),
        "validation_reviews": len(validation),
    }
    return model, card


def held_out(model: LogitPolarity, splits: dict[str, Any]) -> dict[str, dict[str, float]]:
    """A tier's metrics on each language's test split (for its card)."""
    out = {}
    for lang in LANGUAGES:
        test = splits[lang][2]
        predicted = model.predict([e.text for e in test], [lang] * len(test))
        metrics = polarity_metrics(
            [e.label for e in test], [p.label for p in predicted], [p.confidence for p in predicted]
        )
        out[lang] = {**metrics, "test_reviews": float(len(test))}
    return out


def train_fast(
    out: Path, settings: Settings
) -> tuple[PolarityClassifier, dict[str, LanguageModel]]:
    """The fast tier, written to `out`, and each language's nine-tenths fit (the strong
    tier's blend learns from its logits)."""
    embedder = make_embedder("use-multilingual", settings.cache_dir)
    splits = language_splits()
    models, cards, nine_tenths = {}, {}, {}
    start = time.perf_counter()
    for lang in LANGUAGES:
        fit, validation, test = splits[lang]
        if EMBEDDING_WEIGHT[lang]:
            embed_all(embedder, [e.text for e in fit + validation + test], f"embedding {lang}")
        nine_tenths[lang], cards[lang] = fit_language(lang, fit, validation, embedder)
        models[lang] = language_model(
            lang, fit + validation, cards[lang]["regularisation_c"], embedder
        )
        models[lang].temperature = nine_tenths[lang].temperature
        cards[lang]["refit_reviews"] = len(fit) + len(validation)
    model = PolarityClassifier(models, {})
    model.card = {
        "format": FORMAT,
        "embedding_model": embedder.model_id,
        "trained": dt.date.today().isoformat(),
        "hash_bits": HASH_BITS,
        "languages": cards,
        "fit_seconds": round(time.perf_counter() - start, 1),
        "test": held_out(model, splits),
    }
    model.save(out)
    return model, nine_tenths


def head_reviews(rows: Sequence[Any]) -> list[Any]:
    """The training reviews the head reads: a fixed sample by text hash."""
    return sorted(rows, key=lambda e: sha("states:" + e.text))[:HEAD_REVIEWS]


def fit_head(
    states: Any, train: list[Example], validation: list[Example]
) -> tuple[Head, dict[str, Any]]:
    """A head on the hidden states of `train`, its C chosen on `validation` (no blend yet)."""
    embed_all(states, [e.text for e in train + validation], f"reading {len(train)} reviews")
    x_train, x_val = (
        states.embed([e.text for e in train]),
        states.embed([e.text for e in validation]),
    )
    mean, scale = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    regression, tried = best_on_validation(
        HEAD_C, (x_train - mean) / scale, labels(train), (x_val - mean) / scale, labels(validation)
    )
    weights, bias = three_columns(regression, x_train.shape[1])
    card = {
        "head_reviews": len(train),
        "head_c": float(regression.C),
        "validation_accuracy_by_c": tried,
    }
    return Head(mean, scale, weights, bias, np.eye(6, 3), np.zeros(3)), card


def fit_blend(head: Head, held_logits: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None:
    """The blend of the fast tier's logits (from a fit that never saw these reviews) and the
    head's, fitted on the validation slice."""
    from sklearn.linear_model import LogisticRegression

    inputs = pair(held_logits, head.logits(x_val))
    blend = LogisticRegression(C=1.0, max_iter=4000).fit(inputs, y_val)
    head.blend, head.blend_bias = three_columns(blend, inputs.shape[1])


def train_strong(
    settings: Settings,
    fast_path: Path = ARTEFACT,
    keep_heads: Sequence[str] = (),
    nine_tenths: dict[str, LanguageModel] | None = None,
) -> StrongClassifier:
    """The heads and the blends over the fast tier at `fast_path`, written beside it; for
    the languages in `keep_heads`, the heads of the strong tier there and a new blend only.
    `nine_tenths`: the fast tier's fits without the validation slice, from train_fast (else
    fitted again)."""
    from pitchcraft.plugins.sentiment.states import states_embedders

    embedder = make_embedder("use-multilingual", settings.cache_dir)
    fast = PolarityClassifier.load(embedder, fast_path)
    states = states_embedders(settings.cache_dir)
    splits = language_splits()
    strong_path = fast_path.with_name(STRONG.name)
    kept, kept_card = load_heads(strong_path) if keep_heads else ({}, {})
    heads, cards = {}, {}
    start = time.perf_counter()
    for lang in LANGUAGES:
        fit, validation, _ = splits[lang]
        if lang in keep_heads:
            read = kept_card.get("states_models", {}).get(lang)
            if read != states[lang].model_id:
                raise PitchcraftError(
                    f"the {lang} head of {strong_path} reads {read}, but the embedded model "
                    f"now gives {states[lang].model_id}: train it again (--tier strong)"
                )
            heads[lang], cards[lang] = kept[lang], dict(kept_card["languages"][lang])
        else:
            heads[lang], cards[lang] = fit_head(states[lang], head_reviews(fit), validation)
        # the fast tier's weights saw the validation slice: its nine-tenths fit blends
        held = (nine_tenths or {}).get(lang)
        if held is None:
            c = fast.card["languages"][lang]["regularisation_c"]
            held, _ = fit_language(lang, fit, validation, embedder, grid=(c,))
        texts = [e.text for e in validation]
        fit_blend(
            heads[lang],
            held.logits(texts) / held.temperature,
            states[lang].embed(texts),
            labels(validation),
        )
        cards[lang]["blend_reviews"] = len(validation)
    model = StrongClassifier(fast, states, heads, {})
    test = held_out(model, splits)
    model.card = {
        "states_models": states_model_ids(states),
        "fast_classifier": fingerprint(fast.card),
        "trained": dt.date.today().isoformat(),
        "languages": cards,
        "fit_seconds": round(time.perf_counter() - start, 1),
        "test": test,
    }
    model.save(strong_path)
    return model


def show(card: dict[str, Any], tier: str) -> None:
    for language, metrics in card["test"].items():
        shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        print(f"  {tier} tier, held-out {language}: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--tier",
        choices=("fast", "strong", "both", "blend"),
        default="both",
        help="blend: keep the strong tier's heads, fit their blend with the fast tier only",
    )
    parser.add_argument(
        "--keep-heads",
        default="",
        metavar="LANGS",
        help="with --tier strong: languages (zh,en) whose heads are kept, their blends refitted",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ARTEFACT,
        help="the fast tier's artefact (the strong one: beside it)",
    )
    args = parser.parse_args()
    settings = Settings()
    nine_tenths = None
    if args.tier in ("fast", "both"):
        model, nine_tenths = train_fast(args.out, settings)
        print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
        show(model.card, "fast")
    if args.tier in ("strong", "both", "blend"):
        keep = LANGUAGES if args.tier == "blend" else [x for x in args.keep_heads.split(",") if x]
        unknown = sorted(set(keep) - set(LANGUAGES))
        if unknown:
            parser.error(f"--keep-heads: no such language {', '.join(unknown)} (zh, en)")
        strong = train_strong(settings, args.out, keep, nine_tenths)
        show(strong.card, "strong")


if __name__ == "__main__":
    main()
