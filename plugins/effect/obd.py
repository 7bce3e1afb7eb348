"""The Open Bandit Dataset sample as model-ready tables.

ZOZOTOWN fashion e-commerce (Saito et al., CC BY 4.0), shipped in the `obp` 0.4.1
wheel: per campaign (all 80 items, men 34, women 46) and logging policy (uniform
`random`, Bernoulli Thompson sampling `bts`), 10,000 impressions with the item
shown, its position (1-3), the click, the logging policy's propensity, hashed
user features, the user's past interactions with each item (user-item
affinity) and item features. The production Thompson sampler's Beta
parameters per item (`obp/policy/conf/prior_bts.yaml`) ship too: they are the
items' click history before these logs, used here as a popularity feature and
to rebuild the BTS policy for off-policy evaluation.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml

from pitchcraft.packaged import package_dir

Campaign = Literal["all", "men", "women"]
LoggingPolicy = Literal["random", "bts"]
CAMPAIGNS: tuple[Campaign, ...] = ("all", "men", "women")
ITEM_COUNTS: dict[str, int] = {"all": 80, "men": 34, "women": 46}  # item ids are 0..n-1
POSITIONS = (1, 2, 3)
USER_FEATURES = [f"user_feature_{i}" for i in range(4)]
ITEM_CATEGORIES = [f"item_feature_{i}" for i in range(1, 4)]
ITEM_NUMBERS = ["item_feature_0"]  # a numeric item attribute (hashed meaning, e.g. a price band)
# log1p of the user's past interactions: with all items, and with the item shown.
AFFINITY = ["user_activity", "item_affinity"]


def _root() -> Path:
    return package_dir("obp", "obp")


@cache
def bts_prior(campaign: Campaign) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, beta) of the production Thompson sampler, one pair per item id."""
    conf = yaml.safe_load((_root() / "policy" / "conf" / "prior_bts.yaml").read_text())
    return np.asarray(conf[campaign]["alpha"], float), np.asarray(conf[campaign]["beta"], float)


@cache
def item_table(campaign: Campaign) -> pd.DataFrame:
    """One row per item id: its features and its historical click rate (from the BTS prior)."""
    items = pd.read_csv(_root() / "dataset" / "obd" / "random" / campaign / "item_context.csv")
    items = items.drop(columns=[c for c in items.columns if c.startswith("Unnamed")])
    alpha, beta = bts_prior(campaign)
    items["prior_ctr"] = (alpha / (alpha + beta))[items["item_id"].to_numpy()]
    return items.set_index("item_id", drop=False).sort_index()


@cache
def _read(policy: LoggingPolicy, campaign: Campaign) -> tuple[pd.DataFrame, np.ndarray]:
    """One log file, read once: its columns but the affinities, and the affinities (impressions,
    items) with column j for item j."""
    path = _root() / "dataset" / "obd" / policy / campaign / f"{campaign}.csv"
    raw = pd.read_csv(path, usecols=lambda c: not c.startswith("Unnamed"))
    counts = raw.filter(like="user-item")
    order = sorted(counts.columns, key=lambda c: int(c.rsplit("_", 1)[1]))
    return raw.drop(columns=counts.columns), counts[order].to_numpy(dtype=float)


def affinities(policy: LoggingPolicy, campaign: Campaign) -> np.ndarray:
    """(impressions, items): the user's past interactions with each item id, per impression."""
    return _read(policy, campaign)[1]


def user_activity(counts: np.ndarray) -> np.ndarray:
    """The user_activity feature of interaction counts (rows, items): log1p of the total."""
    return np.log1p(counts.sum(axis=1))


def item_affinity(counts: np.ndarray) -> np.ndarray:
    """The item_affinity feature of interaction counts with an item: log1p of each."""
    return np.log1p(counts)


@cache
def _logs(policy: LoggingPolicy, campaign: Campaign) -> pd.DataFrame:
    logs, counts = _read(policy, campaign)
    logs = logs.rename(columns={"propensity_score": "propensity"})
    logs["user_activity"] = user_activity(counts)
    logs["item_affinity"] = item_affinity(counts[np.arange(len(logs)), logs["item_id"]])
    frame = logs.merge(item_table(campaign).reset_index(drop=True), on="item_id", how="left")
    frame.insert(0, "campaign", campaign)
    frame.insert(1, "policy", policy)
    return frame


def impressions(
    policies: tuple[LoggingPolicy, ...] = ("random", "bts"),
    campaigns: tuple[Campaign, ...] = CAMPAIGNS,
) -> pd.DataFrame:
    """Logged impressions with item features joined, in log order per file."""
    frames = [_logs(p, c) for p in policies for c in campaigns]
    return pd.concat(frames, ignore_index=True)
