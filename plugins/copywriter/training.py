"""Fine-tuning inputs for the `copy` adapter: the chat the copywriter sends for one variant.

Inputs: a product of half the demo shop's real catalogue (chosen by a hash of the product id;
the other half is held out for the evaluation), Chinese and English products in turn (as
the evaluation; the catalogue is 4% Chinese), a channel that takes the product's language,
and one of the copywriter's angles; no audience, keywords or brand profile.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from difflib import SequenceMatcher

from pydantic import BaseModel

from pitchcraft.context import Context
from pitchcraft.finetune.sets import DraftInput, TrainingSet, in_training_split
from pitchcraft.plugins.copywriter.checks import CheckContext, Parts, render, run_checks
from pitchcraft.plugins.copywriter.models import CopyRequest
from pitchcraft.plugins.copywriter.repair import Repairer
from pitchcraft.plugins.copywriter.writer import (
    VariantWriter,
    angle_table,
    as_parts,
    channel_table,
    check_context,
)
from pitchcraft.store.schema import Product
from pitchcraft.text.grounding import Facts
from pitchcraft.text.words import content_words

ORIGIN = (__doc__ or "").split("\n", 2)[2].strip()
MIN_REPAIR_SIMILARITY = 0.85  # a repaired draft is kept when this much of its text is unchanged
# A kept draft says what the facts say: the small model's accepted drafts above this share of
# content words not in the facts were inventions the checks cannot see ("AirTag可安全吞",
# "prone to skin aging"); restatements with a little marketing were below 0.2.
MAX_NEW_WORDS = 0.35
ACCEPTS = (
    "pass every check of the copywriter (length and structure, advertising rules, grounding "
    "in the product's facts, no instruction text), or pass after the copywriter's own "
    "repair when every problem was one the repair fixes (cuts, rewordings) and the repaired "
    f"text keeps at least {MIN_REPAIR_SIMILARITY:.0%} of the draft (difflib's ratio); and at "
    f"most {MAX_NEW_WORDS:.0%} of the content words are ones the product's facts, the "
    "channel's required phrase and the keywords do not have"
)


def in_training_half(product: Product) -> bool:
    """Products whose copy may be trained on; the others stay held out."""
    return in_training_split(product.id, "copy")


def new_word_share(parts: Parts, cc: CheckContext) -> float:
    """Share of the copy's content words that its facts, required phrase and keywords lack."""
    words = content_words(render(parts, cc.channel))
    given = content_words("\n".join([cc.facts.text, cc.must_include, *cc.keywords]))
    return len(words - given) / len(words) if words else 0.0


def invented(parts: Parts, cc: CheckContext) -> list[str]:
    share = new_word_share(parts, cc)
    if share <= MAX_NEW_WORDS:
        return []
    return [f"{share:.0%} of its content words are not in the facts (training keeps ≤ "
            f"{MAX_NEW_WORDS:.0%})"]  # fmt: skip


def problems_of(reply: BaseModel, cc: CheckContext) -> list[str]:
    parts = as_parts(reply)
    return [f.message for f in run_checks(parts, cc)] + invented(parts, cc)


def small_repair(reply: BaseModel, cc: CheckContext) -> BaseModel | None:
    """The draft repaired, when the repair alone makes it pass and changes little."""
    parts = as_parts(reply)
    findings = run_checks(parts, cc)
    if not all(f.fixable for f in findings):
        return None
    fixed = Repairer(cc).repair(parts, findings)
    if run_checks(fixed, cc) or invented(fixed, cc):
        return None
    before, after = render(parts, cc.channel), render(fixed, cc.channel)
    if SequenceMatcher(None, before, after).ratio() < MIN_REPAIR_SIMILARITY:
        return None
    return cc.channel.reply_model(cc.language).model_validate(fixed)


def copy_inputs(ctx: Context, count: int, seed: int) -> Iterator[DraftInput]:
    from pitchcraft.data import demo_shop

    rng = random.Random(seed)
    by_language: dict[str, list[Product]] = {"zh": [], "en": []}
    for product in demo_shop.load_products():
        if in_training_half(product):
            by_language["zh" if product.language == "zh" else "en"].append(product)
    languages = [lang for lang, products in by_language.items() if products]
    channels = list(channel_table(ctx).values())
    angles = list(angle_table(ctx).values())
    seen: set[tuple[str, str, int]] = set()
    tries = 0
    while len(seen) < count and tries < count * 20:
        tries += 1
        language = languages[len(seen) % len(languages)]
        product = rng.choice(by_language[language])
        channel = rng.choice([c for c in channels if language in c.languages])
        angle = rng.randrange(len(angles))
        if (product.id, channel.key, angle) in seen:
            continue
        seen.add((product.id, channel.key, angle))
        cc = check_context(ctx, channel, language, Facts(product, []), [], [])
        req = CopyRequest(product=product, channel=channel.key, language=language)
        yield DraftInput(
            schema=channel.reply_model(language),
            prompt=VariantWriter(req, cc, ctx).messages(angles[angle]),
            check=lambda reply, cc=cc: problems_of(reply, cc),
            max_tokens=channel.max_tokens,
            fix=lambda reply, cc=cc: small_repair(reply, cc),
        )


CHECKED_COPY = TrainingSet(
    task="copy", origin=ORIGIN, build=None, inputs=copy_inputs, accepts=ACCEPTS
)
