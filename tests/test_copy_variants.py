"""Which drafts a request's variants ask for: pure logic, with a model double that records
each request's sampling (the real model's copy is tested in tests/test_copywriter.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel

from pitchcraft import Registry, Settings
from pitchcraft.data.demo_shop import load_products
from pitchcraft.plugins.copywriter.models import CopyRequest, CopywriterOptions
from pitchcraft.plugins.copywriter.writer import (
    VARIANT_SEED_STEP,
    VariantWriter,
    angle_table,
    channel_table,
    check_context,
)
from pitchcraft.text.grounding import Facts
from tests.schema_model import SchemaFilledClient


class RecordingClient(SchemaFilledClient):
    asked: list[tuple[float, int | None]]

    def chat(self, *args: Any, **kwargs: Any) -> BaseChatModel:
        """ModelClient.chat(adapter, max_tokens, temperature, seed), its sampling recorded."""
        names = ("adapter", "max_tokens", "temperature", "seed")
        given = dict(zip(names, args, strict=False)) | kwargs
        self.asked.append((given.get("temperature", 0.0), given.get("seed")))
        return super().chat(*args, **kwargs)


def sampling(tmp_path: Path, options: dict[str, Any]) -> list[tuple[float, int | None]]:
    """The sampling each first draft of three variants was asked with, in variant order."""
    settings = Settings(store_path=tmp_path / "c", plugin_options={"copywriter": options})
    ctx = Registry(settings).load().context()
    client = RecordingClient(settings)
    client.asked = []
    ctx.shared("llm", lambda: client)
    product = next(p for p in load_products() if p.language != "zh")
    channel = channel_table(ctx)["email"]
    cc = check_context(ctx, channel, "en", Facts(product, []), [], [])
    writer = VariantWriter(CopyRequest(product=product, channel="email"), cc, ctx)
    angles = list(angle_table(ctx).items())
    for number, angle in enumerate(angles[:3]):  # one at a time: the order is the variants'
        writer.write(angle, number)
    return client.asked


@pytest.mark.parametrize("seed", [0, 7])
def test_the_first_variant_is_greedy_and_later_ones_are_sampled_with_their_own_seed(
    tmp_path: Path, seed: int
) -> None:
    asked = sampling(tmp_path, {"draft_seed": seed})
    assert asked[0] == (0.0, None)  # the writer's greedy model: variant 1 and rewrites
    sampled = [a for a in asked if a[0] > 0]
    # draft n of a plan samples with its seed + n (n = 1 for a single draft)
    hot = CopywriterOptions().variant_temperature
    assert sampled == [(hot, seed + VARIANT_SEED_STEP + 1), (hot, seed + 2 * VARIANT_SEED_STEP + 1)]


def test_variant_temperature_zero_keeps_every_variant_greedy(tmp_path: Path) -> None:
    asked = sampling(tmp_path, {"variant_temperature": 0})
    assert asked and all(a == (0.0, None) for a in asked)


def test_later_variants_sample_every_draft_when_several_are_asked_for(tmp_path: Path) -> None:
    asked = sampling(tmp_path, {"drafts": 2, "variant_temperature": 0.5, "draft_seed": 0})
    sampled = sorted(a for a in asked if a[0] > 0)  # drafts are asked for on threads
    step = VARIANT_SEED_STEP
    # variant 1: the greedy draft and one at the draft temperature; later ones: both sampled
    expected = [(0.5, step + 1), (0.5, step + 2), (0.5, 2 * step + 1), (0.5, 2 * step + 2)]
    assert sampled == [*expected, (0.7, 2)]
