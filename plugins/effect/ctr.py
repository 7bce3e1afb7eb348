"""Click-through-rate prediction: a calibrated, regularised logistic model with intervals.

Features: campaign, position, the hashed user features, how active the user
was before (past interactions with any item, and with the item shown), the
item's features and its historical click rate. On the Open Bandit sample (287
clicks in 60,000 impressions) the user's past activity carries most of what
can be predicted: without it every model ranks clicks barely better than
chance (AUC about 0.53). The chosen model, an L2 logistic model whose strength
is picked by cross-validated log-loss, then Platt-calibrated on held-out
folds, ranks best and has the best log-loss and calibration; gradient boosting
does worse on all three (benchmarks/eval_effect.py). The interval of a
prediction is the spread of the same model refit on bootstrap resamples of the
logs: how much the estimate would move with other data of the same size.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pitchcraft.plugins.effect.obd import (
    AFFINITY,
    ITEM_CATEGORIES,
    ITEM_NUMBERS,
    USER_FEATURES,
    impressions,
    item_affinity,
)

CATEGORICAL = ["campaign", "position", *USER_FEATURES, *ITEM_CATEGORIES]
NUMERIC = [*ITEM_NUMBERS, "prior_ctr", *AFFINITY]
ITEM_COLUMNS = ["item_id", *ITEM_CATEGORIES, *ITEM_NUMBERS, "prior_ctr"]
C_GRID = np.logspace(-6, 0, 13)


def _encoder() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("numbers", StandardScaler(), NUMERIC),
        ]
    )


def baseline_model() -> Any:
    """The reference: scikit-learn's default logistic regression on the same features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(_encoder(), LogisticRegression(max_iter=3000))


def boosting_model() -> Any:
    """Gradient boosting (scikit-learn's histogram GBDT), tried and reported, not chosen."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            ),
            ("numbers", "passthrough", NUMERIC),
        ]
    )
    boost = HistGradientBoostingClassifier(
        categorical_features=list(range(len(CATEGORICAL))),
        max_depth=3,
        learning_rate=0.05,
        max_iter=150,
        min_samples_leaf=300,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=0,
    )
    return make_pipeline(encode, boost)


def chosen_model(c: float | None = None) -> Any:
    """L2 logistic (strength by 3-fold log-loss unless given), Platt-calibrated on 3 folds."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.pipeline import make_pipeline

    if c is None:
        linear = LogisticRegressionCV(
            Cs=C_GRID,
            cv=3,
            scoring="neg_log_loss",
            max_iter=3000,
            l1_ratios=(0.0,),  # plain L2
            use_legacy_attributes=False,  # C_ is the chosen strength (scikit-learn >= 1.9)
        )
    else:
        linear = LogisticRegression(C=c, max_iter=3000)
    return CalibratedClassifierCV(make_pipeline(_encoder(), linear), method="sigmoid", cv=3)


def expected_calibration_error(clicks: np.ndarray, predicted: np.ndarray, bins: int = 10) -> float:
    """ECE over equal-count bins: sum of |observed rate - mean prediction| weighted by bin size.

    Equal-count bins, because with a 0.5% click rate equal-width bins would put
    every prediction in the first bin and hide miscalibration.
    """
    order = np.argsort(predicted, kind="stable")
    error = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            error += abs(clicks[chunk].mean() - predicted[chunk].mean()) * len(chunk)
    return float(error / len(predicted))


@dataclass(frozen=True)
class Scores:
    auc: float
    log_loss: float
    ece: float


def score(clicks: np.ndarray, predicted: np.ndarray) -> Scores:
    from sklearn.metrics import log_loss, roc_auc_score

    return Scores(
        auc=float(roc_auc_score(clicks, predicted)),
        log_loss=float(log_loss(clicks, predicted, labels=[0, 1])),
        ece=expected_calibration_error(clicks, predicted),
    )


def out_of_fold(make_model: Any, frame: pd.DataFrame, folds: int, seed: int) -> np.ndarray:
    """Each row's prediction from a model that never saw it (stratified k-fold)."""
    from sklearn.model_selection import StratifiedKFold

    clicks = frame["click"].to_numpy()
    predicted = np.zeros(len(frame))
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(frame, clicks)
    for train, test in split:
        model = make_model().fit(frame.iloc[train][CATEGORICAL + NUMERIC], clicks[train])
        predicted[test] = model.predict_proba(frame.iloc[test][CATEGORICAL + NUMERIC])[:, 1]
    return predicted


@dataclass(frozen=True)
class Prediction:
    ctr: np.ndarray
    low: np.ndarray
    high: np.ndarray


class ClickModel:
    """The chosen model fitted on logs, plus a bootstrap ensemble for intervals."""

    def __init__(self, frame: pd.DataFrame, resamples: int = 20, seed: int = 0) -> None:
        clicks = frame["click"].to_numpy()
        x = frame[CATEGORICAL + NUMERIC]
        self.model = chosen_model().fit(x, clicks)
        # The strength the full fit chose (mean over the calibration folds' fits).
        self.c = float(
            np.mean([m.estimator.steps[-1][1].C_ for m in self.model.calibrated_classifiers_])
        )
        rng = np.random.default_rng(seed)
        self.resampled = []
        for _ in range(resamples):
            rows = rng.integers(0, len(frame), len(frame))
            if clicks[rows].sum() == 0:
                continue
            self.resampled.append(chosen_model(self.c).fit(x.iloc[rows], clicks[rows]))
        self.impressions = len(frame)
        self.clicks = int(clicks.sum())

    def predict(
        self, rows: pd.DataFrame, level: float = 0.9, user_weights: np.ndarray | None = None
    ) -> Prediction:
        """Click probability per row, with an interval from the bootstrap refits' spread
        (normal on the logit scale, centred on the full fit).

        With `user_weights` (k weights summing to 1), rows come in consecutive groups of
        k (one candidate under k user contexts): each group gets the weighted mean.
        """
        return with_interval(*self.predict_spread(rows, user_weights), level)

    def predict_spread(
        self, rows: pd.DataFrame, user_weights: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(click probability, standard deviation of its logit over the bootstrap refits)."""
        weights = np.ones(1) if user_weights is None else np.asarray(user_weights, float)
        x = rows[CATEGORICAL + NUMERIC]

        def grouped(model: Any) -> np.ndarray:
            return model.predict_proba(x)[:, 1].reshape(-1, len(weights)) @ weights

        ctr = grouped(self.model)
        if len(self.resampled) < 2:
            return ctr, np.zeros_like(ctr)
        from scipy.special import logit

        return ctr, np.std([logit(grouped(m)) for m in self.resampled], axis=0, ddof=1)


def with_interval(ctr: np.ndarray, logit_spread: np.ndarray, level: float) -> Prediction:
    from scipy.special import expit, logit
    from scipy.stats import norm

    half = norm.ppf(0.5 + level / 2) * logit_spread
    return Prediction(ctr, expit(logit(ctr) - half), expit(logit(ctr) + half))


def candidate_rows(
    campaign: str,
    items: pd.DataFrame,
    positions: Sequence[int],
    users: pd.DataFrame,
    interactions: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every (item, position) pair under every user context, grouped by pair (pair-major).

    `users`: USER_FEATURES and user_activity; `interactions`: each user's past
    interactions per item id (users, item ids), or None for none with these items."""
    pairs = items.loc[:, ITEM_COLUMNS].merge(
        pd.DataFrame({"position": list(positions)}), how="cross"
    )
    grid = pairs.merge(
        users.loc[:, [*USER_FEATURES, "user_activity"]].reset_index(drop=True), how="cross"
    )
    grid.insert(0, "campaign", campaign)
    if interactions is None:
        grid["item_affinity"] = 0.0
    else:  # pair-major: for each pair's item, every user's count
        counts = interactions[:, pairs["item_id"].to_numpy()].T
        grid["item_affinity"] = item_affinity(counts.reshape(-1))
    return grid


def frequent_users(campaign: str, contexts: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The most frequent user contexts (features and past activity) of a campaign's logs and
    their shares (summing to 1)."""
    frame = impressions(campaigns=(campaign,))  # type: ignore[arg-type]
    keys = [*USER_FEATURES, "user_activity"]
    counts = frame.groupby(keys).size().sort_values(ascending=False).head(contexts)
    users = counts.index.to_frame(index=False)
    return users, (counts / counts.sum()).to_numpy()


MODEL_VERSION = 2  # bump when features or the model change, so cached fits are rebuilt


def cached_click_model(cache_dir: Path) -> ClickModel:
    """The model fitted on every Open Bandit impression; fitted once (about 30 s), then loaded.

    Pickled with scikit-learn's own persistence; the file name carries the
    scikit-learn version, so an upgrade refits instead of loading a stale object.
    """
    import sklearn

    path = cache_dir / "effect" / f"click-model-v{MODEL_VERSION}-sklearn{sklearn.__version__}.pkl"
    if path.is_file():
        with path.open("rb") as fh:
            return pickle.load(fh)  # our own file, written below
    model = ClickModel(impressions())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    with partial.open("wb") as fh:
        pickle.dump(model, fh)
    partial.replace(path)
    return model
