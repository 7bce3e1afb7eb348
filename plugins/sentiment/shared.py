"""What the sentiment plugin builds once per Context and its other modules share: the
classifier, the aspect and reply tables, and the model's reading request."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from pitchcraft.context import Context
from pitchcraft.plugins.sentiment.aspects import MAX_ASPECTS, AspectSpec, AspectTable, reading_model
from pitchcraft.plugins.sentiment.classifier import PolarityClassifier
from pitchcraft.plugins.sentiment.replies import ReplyRules
from pitchcraft.plugins.sentiment.strong import StrongClassifier
from pitchcraft.tables import load_entries

NAME = "sentiment"
DATA = Path(__file__).parent / "data"


def shared_classifier(ctx: Context) -> PolarityClassifier:
    def build() -> PolarityClassifier:
        from pitchcraft.store.embedders import shared_use_encoder

        return PolarityClassifier.load(shared_use_encoder())

    return ctx.shared("sentiment.classifier", build)


def shared_strong_classifier(ctx: Context) -> StrongClassifier:
    def build() -> StrongClassifier:
        from pitchcraft.plugins.sentiment.states import states_embedders

        return StrongClassifier.load(
            shared_classifier(ctx), states_embedders(ctx.settings.cache_dir)
        )

    return ctx.shared("sentiment.strong", build)


def aspect_table(ctx: Context) -> AspectTable:
    return ctx.shared(
        "sentiment.aspects",
        lambda: AspectTable(
            load_entries(DATA / "aspects.yaml", NAME, ctx.settings, AspectSpec, "aspect")
        ),
    )


def reply_rules(ctx: Context) -> dict[str, ReplyRules]:
    return ctx.shared(
        "sentiment.replies",
        lambda: load_entries(DATA / "replies.yaml", NAME, ctx.settings, ReplyRules, "reply rules"),
    )


def reading_request(review: str, language: str, ctx: Context) -> tuple[type[BaseModel], str]:
    """The reply schema and the prompt of the model's reading (also the fine-tuning view)."""
    table = aspect_table(ctx)
    schema = ctx.shared("sentiment.reading", lambda: reading_model(list(table.specs)))
    prompt = ctx.prompts.render(
        NAME,
        "read",
        language,
        review=review,
        max_aspects=MAX_ASPECTS,
        aspects=[(k, s.description.get(language, k)) for k, s in table.specs.items()],
    )
    return schema, prompt
