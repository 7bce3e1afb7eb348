"""Fine-tuning data for the `reviews` adapter: the model's reading of real reviews.

Inputs are reviews from the classifier's training split (plugins/sentiment/corpus.py),
never from its test split, so the sentiment evaluation stays held out. Targets:
- overall: the review's own label (Chinese: the corpus's positive/negative; English:
  the customer's star rating, 1-2 negative, 3 neutral, 4-5 positive);
- aspects: the lexicon reader's aspects (aspect words of data/aspects.yaml, the clause
  as evidence, the fast classifier's polarity of that clause; clauses over the evidence
  limit left out), so every quote occurs in its review;
- sarcastic: false, since neither corpus marks sarcasm (the adapter learns no sarcasm cue
  from this data).
No model wrote any target.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from pitchcraft.context import Context
from pitchcraft.finetune.data import Example
from pitchcraft.finetune.sets import TrainingSet, structured_example
from pitchcraft.plugins.sentiment.aspects import (
    MAX_ASPECTS,
    MAX_EVIDENCE_CHARS,
    aspect_mentions,
    lexicon_aspects,
)
from pitchcraft.plugins.sentiment.corpus import Example as Review
from pitchcraft.plugins.sentiment.corpus import chinese_examples, english_examples, split
from pitchcraft.plugins.sentiment.shared import aspect_table, reading_request, shared_classifier

ORIGIN = (__doc__ or "").split("\n", 2)[2].strip()


def training_reviews(count: int, seed: int) -> list[Review]:
    """`count` reviews of the training split, half Chinese, half English, in their
    natural label mix."""
    rng = random.Random(seed)
    zh = rng.sample(split(chinese_examples())[0], count // 2)
    en = rng.sample(split(english_examples())[0], count - count // 2)
    mixed = zh + en
    rng.shuffle(mixed)
    return mixed


def reading_examples(ctx: Context, count: int, seed: int) -> Iterator[Example]:
    table = aspect_table(ctx)
    classifier = shared_classifier(ctx)
    for review in training_reviews(count, seed):
        schema, prompt = reading_request(review.text, review.language, ctx)
        mentions = aspect_mentions(review.text, review.language, table)
        scores = classifier.predict([clause.text for _, clause in mentions]) if mentions else []
        aspects = [
            a for a in lexicon_aspects(mentions, scores) if len(a.evidence) <= MAX_EVIDENCE_CHARS
        ]
        aspects = aspects[:MAX_ASPECTS]
        answer = schema.model_validate(
            {
                "overall": review.label,
                "sarcastic": False,
                "aspects": [
                    {"aspect": a.aspect, "polarity": a.polarity, "evidence": a.evidence}
                    for a in aspects
                ],
            }
        )
        yield structured_example(schema, prompt, answer)


READING = TrainingSet(task="reviews", origin=ORIGIN, build=reading_examples)
