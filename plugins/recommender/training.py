"""Fine-tuning data for the `reasons` adapter: grounded reasons for real demo-shop products.

Inputs: the reason prompt the plugin sends, for a product of the demo shop's real catalogue
(half of it, chosen by a hash of the product id; the other half is held out for the
evaluation) with either a bought item of the same category from that half, or a need
phrased from the product's category; the reason's language is the listing's or, for a
share of them, the other one (Chinese shoppers are mostly shown English listings).
Targets: one sentence composed by this module from the prompt's own facts (the product's
title, its price with the currency verbatim, the first clause of its catalogue description
when that is in the reason's language, the bought item's title, the need) in one of several
wordings, double quotes typographic as the prompt shows them; every target passes the
plugin's own grounding check and length limit, the others are left out.
No model wrote any target.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from pitchcraft.context import Context
from pitchcraft.finetune.data import Example
from pitchcraft.finetune.sets import (
    DraftInput,
    TrainingSet,
    in_training_split,
    structured_example,
)
from pitchcraft.llm.structured import json_safe_quotes
from pitchcraft.plugins.recommender.reasons import (
    MAX_CHARS,
    MAX_TOKENS,
    DraftReason,
    ReasonFacts,
    price_text,
    reason_problems,
    reason_prompt,
)
from pitchcraft.store.schema import Language, Product
from pitchcraft.text.terms import load_lexicon

ORIGIN = (__doc__ or "").split("\n", 2)[2].strip()
CLAUSE_END = re.compile(r"[.!?。！？;；]")
MAX_CLAUSE = 90
ZH_SHARE = 0.4  # the shop lists few Chinese products; their reasons are weighted up

NOUNS = {  # the demo shop's categories as a shopper names them
    "Batteries": ("pack of batteries", "电池"),
    "Cameras & Camcorders": ("camera", "相机"),
    "Desktop Computers & PCs": ("desktop computer", "台式电脑"),
    "Gaming Laptops & Notebook Computers": ("gaming laptop", "游戏本"),
    "Hard Drives, SSD & Storage": ("hard drive", "硬盘"),
    "Headphones & Earbuds": ("pair of headphones", "耳机"),
    "Home Security Systems & Cameras": ("security camera", "监控摄像头"),
    "iPad & Tablets": ("tablet", "平板电脑"),
    "Laptops & Notebook Computers": ("laptop", "笔记本电脑"),
    "Monitors": ("monitor", "显示器"),
    "Musical Instruments": ("musical instrument", "乐器"),
    "Phones & Two-way Radios": ("phone", "手机"),
    "Projectors": ("projector", "投影仪"),
    "Routers, Wifi Extenders & Modems": ("wifi router", "路由器"),
    "Smart Home & Safety": ("smart home device", "智能家居设备"),
    "Smart Watches": ("smart watch", "智能手表"),
    "Soundbars & Home Theater": ("soundbar", "回音壁音箱"),
    "Speakers & Voice Assistants": ("speaker", "音箱"),
    "Streaming Devices": ("streaming device", "电视盒子"),
    "TVs": ("TV", "电视"),
    "Video Games & Consoles": ("game console", "游戏机"),
    "Women's Bottoms": ("pair of trousers", "裤子"),
    "Women's Dresses": ("dress", "连衣裙"),
    "Women's Jackets": ("jacket", "外套"),
    "Women's Tops": ("top", "上衣"),
}
NEEDS = {  # the evaluation asks in other words (benchmarks/adapters_eval.py)
    "en": [
        "a {noun} for my home",
        "a good {noun}",
        "a {noun} as a gift",
        "looking for a {noun}",
        "which {noun} should I get?",
        "need a new {noun}",
    ],
    "zh": [
        "{noun}",
        "家里用的{noun}",
        "送人的{noun}",
        "想买{noun}",
        "求推荐{noun}",
        "哪款{noun}好",
    ],
}
WORDINGS = {  # {detail} is ": <first clause>" when the clause is in the reason's language
    ("en", "history"): [
        "Since you bought {bought}, you may like {title}{price}{detail}.",
        "{title}{price} goes well with the {bought} you bought{detail}.",
        "You chose {bought} before; {title}{price} is another pick from the same shelf{detail}.",
    ],
    ("en", "need"): [
        "For what you asked (“{need}”), try {title}{price}{detail}.",
        "{title}{price} fits what you asked for{detail}.",
        "You asked about “{need}”, so here is {title}{price}{detail}.",
    ],
    ("zh", "history"): [
        "您买过「{bought}」，这款「{title}」{price}也值得一看{detail}。",
        "「{title}」{price}和您买过的「{bought}」很搭{detail}。",
    ],
    ("zh", "need"): [
        "您的需求是“{need}”，推荐「{title}」{price}{detail}。",
        "「{title}」{price}符合您的需求{detail}。",
    ],
}
PRICE = {"en": " ({})", "zh": "（{}）"}  # the price as the prompt shows it, currency included
DETAIL = {"en": ": {}", "zh": "：{}"}
CROSS_LANGUAGE = {"zh": 0.5, "en": 0.1}  # shoppers are often shown a listing in the other language


def in_training_half(product: Product) -> bool:
    """Products whose reasons may be trained on; the others stay held out."""
    return in_training_split(product.id, "reasons")


def first_clause(product: Product) -> str:
    """The description's first sentence, cut at a clause end, without its end mark."""
    text = product.description.strip()
    match = CLAUSE_END.search(text)
    clause = (text[: match.start()] if match else text).strip()
    return clause if 3 <= len(clause) <= MAX_CLAUSE else ""


def compose(facts: ReasonFacts, language: Language, rng: random.Random) -> str:
    """One target sentence; the description's clause only when it is in `language`."""
    product = facts.product
    kind = "history" if facts.history else "need"
    price = price_text(product, language)
    clause = first_clause(product) if product.language == language else ""
    text = rng.choice(WORDINGS[(language, kind)]).format(
        bought=facts.history[0].title if facts.history else "",
        need=facts.need,
        title=product.title,
        price=PRICE[language].format(price) if price else "",
        detail=DETAIL[language].format(clause) if clause else "",
    )
    return json_safe_quotes(text)  # copied from the prompt, which shows quotes so


def training_products() -> list[Product]:
    from pitchcraft.data import demo_shop

    return [p for p in demo_shop.load_products() if in_training_half(p) and p.category in NOUNS]


def reason_cases(
    rng: random.Random, products: list[Product]
) -> Iterator[tuple[ReasonFacts, Language]]:
    """Endless (facts, reason language) of the training half, as the plugin meets them."""
    by_language = {
        lang: [p for p in products if p.language == lang and first_clause(p)]
        for lang in ("zh", "en")
    }
    while True:
        language: Language = "zh" if rng.random() < ZH_SHARE else "en"
        other = "en" if language == "zh" else "zh"
        listing = other if rng.random() < CROSS_LANGUAGE[language] else language
        product = rng.choice(by_language[listing])
        same_shelf = [p for p in products if p.category == product.category and p != product]
        if same_shelf and rng.random() < 0.5:
            yield ReasonFacts(product, history=[rng.choice(same_shelf)]), language
        else:
            noun = NOUNS[product.category][language == "zh"]
            yield ReasonFacts(product, need=rng.choice(NEEDS[language]).format(noun=noun)), language


def reason_examples(ctx: Context, count: int, seed: int) -> Iterator[Example]:
    rng = random.Random(seed)  # one generator for the cases and the wordings
    lexicon = load_lexicon(ctx.settings)
    products = training_products()
    brands = sorted({p.brand for p in products if p.brand})
    seen: set[str] = set()
    made = 0
    for tries, (facts, language) in enumerate(reason_cases(rng, products)):
        if made >= count or tries >= count * 20:
            return
        text = compose(facts, language, rng)
        if len(text) > MAX_CHARS or text in seen:
            continue
        if reason_problems(text, facts, language, lexicon, brands):
            continue
        prompt = reason_prompt(facts, language, ctx)
        seen.add(text)
        made += 1
        yield structured_example(DraftReason, prompt, DraftReason(reason=text))


def reason_inputs(ctx: Context, count: int, seed: int) -> Iterator[DraftInput]:
    """The same prompts, for the model to draft reasons to (`prepare --from-model`)."""
    lexicon = load_lexicon(ctx.settings)
    products = training_products()
    brands = sorted({p.brand for p in products if p.brand})
    seen: set[str] = set()
    for tries, (facts, language) in enumerate(reason_cases(random.Random(seed), products)):
        if len(seen) >= count or tries >= count * 20:
            return
        prompt = reason_prompt(facts, language, ctx)
        if prompt in seen:
            continue
        seen.add(prompt)
        yield DraftInput(
            schema=DraftReason,
            prompt=prompt,
            check=lambda d, f=facts, lang=language: reason_problems(
                d.reason, f, lang, lexicon, brands
            ),
            max_tokens=MAX_TOKENS,
        )


GROUNDED_REASONS = TrainingSet(
    task="reasons",
    origin=ORIGIN,
    build=reason_examples,
    inputs=reason_inputs,
    accepts="pass the recommender's grounding check and length limit",
)
