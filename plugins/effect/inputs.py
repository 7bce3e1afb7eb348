"""Input pieces shared by the effect plugins: count checks and posterior charts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo


def not_above(value: int, info: ValidationInfo, total_field: str) -> int:
    """Validator body: a count (clicks, conversions) cannot exceed its total."""
    total = info.data.get(total_field)
    if total is not None and value > total:
        raise ValueError(f"{info.field_name} ({value}) cannot exceed {total_field} ({total})")
    return value


def _known_user_features(value: dict[str, str]) -> dict[str, str]:
    from pitchcraft.plugins.effect.obd import USER_FEATURES

    unknown = sorted(set(value) - set(USER_FEATURES))
    if unknown:
        raise ValueError(f"unknown user features {unknown}; use {USER_FEATURES}")
    return value


# Open Bandit visitor features by name (user_feature_0..3) -> hashed value.
UserFeatures = Annotated[dict[str, str], AfterValidator(_known_user_features)]


def unique_names(names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"variant names must be unique ({name!r} repeats)")
        seen.add(name)


def check_item_ids(campaign: str, item_ids: Sequence[int], where: str = "") -> None:
    """Open Bandit item ids run 0..n-1 per campaign."""
    from pitchcraft.plugins.effect.obd import ITEM_COUNTS

    unknown = sorted({i for i in item_ids if not 0 <= i < ITEM_COUNTS[campaign]})
    if unknown:
        raise ValueError(
            f"{where}{unknown} not in campaign {campaign!r} (0-{ITEM_COUNTS[campaign] - 1})"
        )


def posterior_rows(
    shapes: Sequence[tuple[str, float, float]], x_name: str, points: int = 120
) -> list[dict[str, Any]]:
    """Beta(a, b) densities of each named variant on one grid spanning their likely rates."""
    from scipy.stats import beta

    spans = [beta.ppf([1e-4, 1 - 1e-4], a, b) for _, a, b in shapes]
    low, high = min(s[0] for s in spans), max(s[1] for s in spans)
    grid = [low + (high - low) * i / (points - 1) for i in range(points)]
    return [
        {"variant": name, x_name: round(x, 6), "density": round(float(d), 4)}
        for name, a, b in shapes
        for x, d in zip(grid, beta.pdf(grid, a, b), strict=True)
    ]
