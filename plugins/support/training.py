"""Fine-tuning inputs for the `support` adapter: the answer prompt the responder sends, for
questions about the demo shop, with the sources it retrieves for them.

Inputs: half Chinese, half English questions: about products of half the demo shop's real
catalogue (chosen by a hash of the product id; the other half is held out for the
evaluation), price, stock, brand and what the product is, in the listing's language; and
about each section of the shop's policies, worded from the section's heading (the
evaluation's policy questions are written differently and ask for one fact each). The
sources are what the responder's own retrieval finds in the store for the question; a
question whose best source is too weak for the responder to ask the model is left out. No
conversation summary.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from pitchcraft.context import Context
from pitchcraft.finetune.sets import DraftInput, TrainingSet, in_training_split
from pitchcraft.plugins.support import evidence
from pitchcraft.plugins.support.answer import (
    MAX_TOKENS,
    MODEL_SOURCES,
    DraftAnswer,
    answer_prompt,
    phrasing_problems,
)
from pitchcraft.plugins.support.models import SupportOptions
from pitchcraft.store.schema import Language, Product

ORIGIN = (__doc__ or "").split("\n", 2)[2].strip()
ACCEPTS = (
    "pass the responder's claim check (a valid citation, the question's language, an answer "
    "rather than a question or a cut-off sentence, every number and most content words of "
    "each claim in the cited sources) and a stricter one (the best source cited first, at "
    "most one content word beyond the cited sources and the question, no words of another "
    "script, not the sources copied word for word)"
)
HEADING = re.compile(r"^#{2,3}\s+(.+?)\s*$", re.MULTILINE)
PRODUCT_QUESTIONS: dict[Language, list[str]] = {
    "en": [
        "What's the price of the {name}?",
        "Do you have the {name} available right now?",
        "Who makes the {name}?",
        "Tell me about the {name}.",
        "What can you tell me about the {name}?",
        "Is the {name} still available, and what does it cost?",
    ],
    "zh": [
        "{name}的价格是多少？",
        "{name}现在还能买到吗？",
        "{name}是哪个牌子的？",
        "介绍一下{name}。",
        "{name}怎么样？",
        "{name}卖多少钱？",
        "{name}还有库存吗？",
        "请问{name}是什么品牌？",
    ],
}
POLICY_QUESTIONS: dict[Language, list[str]] = {
    "en": [
        "What is your policy on {heading}?",
        "Can you explain {heading}?",
        "I have a question about {heading}.",
        "Tell me about {heading}.",
        "How does {heading} work at your shop?",
        "What should I know about {heading}?",
    ],
    "zh": [
        "关于{heading}有什么规定？",
        "请介绍一下{heading}。",
        "想问一下{heading}的情况。",
        "{heading}是怎样的？",
        "能说说{heading}吗？",
        "{heading}方面有什么要注意的？",
    ],
}
NAME_WORDS = 6  # an English product is named by the start of its title
ZH_SHARE = 0.5
PRODUCT_SHARE = {"en": 0.6, "zh": 0.3}  # the shop lists few Chinese products


def in_training_half(product: Product) -> bool:
    """Products whose questions may be trained on; the others stay held out."""
    return in_training_split(product.id, "support")


def product_question(product: Product, rng: random.Random) -> tuple[str, Language]:
    language: Language = "zh" if product.language == "zh" else "en"
    name = product.title
    if language == "en":
        name = " ".join(product.title.replace(",", "").split()[:NAME_WORDS])
    return rng.choice(PRODUCT_QUESTIONS[language]).format(name=name), language


def policy_headings() -> list[tuple[str, Language]]:
    from pitchcraft.data.demo_shop import POLICIES

    found: list[tuple[str, Language]] = []
    for path in sorted(POLICIES.glob("*.md")):
        language: Language = "zh" if ".zh." in path.name else "en"
        for heading in HEADING.findall(path.read_text(encoding="utf-8")):
            found.append((heading if language == "zh" else heading.lower(), language))
    return found


def questions(count: int, seed: int) -> Iterator[tuple[str, Language]]:
    """Half Chinese, half English (the shop lists few Chinese products, so most Chinese
    questions are about its policies); half product questions where the language has
    products; no question twice."""
    from pitchcraft.data import demo_shop

    rng = random.Random(seed)
    trained = [p for p in demo_shop.load_products() if in_training_half(p)]
    products = {lang: [p for p in trained if p.language == lang] for lang in ("zh", "en")}
    headings = policy_headings()
    seen: set[str] = set()
    tries = 0
    while len(seen) < count and tries < count * 20:
        tries += 1
        language: Language = "zh" if rng.random() < ZH_SHARE else "en"
        share = PRODUCT_SHARE[language]
        if rng.random() < share:
            question, _ = product_question(rng.choice(products[language]), rng)
        else:
            heading = rng.choice([h for h, lang in headings if lang == language])
            question = rng.choice(POLICY_QUESTIONS[language]).format(heading=heading)
        if question not in seen:
            seen.add(question)
            yield question, language


def answer_inputs(ctx: Context, count: int, seed: int) -> Iterator[DraftInput]:
    options = ctx.options("support", SupportOptions)
    for question, language in questions(count, seed):
        found = evidence.candidates(
            ctx.store, question, language, evidence.asked_kinds(ctx, question)
        )
        ranked = evidence.score(ctx.store, question, found)
        if not ranked or ranked[0].score < options.min_evidence_score:
            continue
        sources = ranked[:MODEL_SOURCES]
        yield DraftInput(
            schema=DraftAnswer,
            prompt=answer_prompt(question, "", sources, language, ctx),
            check=lambda draft, s=sources, lang=language, q=question: phrasing_problems(
                draft, s, lang, q
            ),
            max_tokens=MAX_TOKENS,
        )


PHRASED_ANSWERS = TrainingSet(
    task="support", origin=ORIGIN, build=None, inputs=answer_inputs, accepts=ACCEPTS
)
