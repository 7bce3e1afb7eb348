"""What rules read well in a shopper's need, in English and Chinese: who it is for, the
occasion, what it goes with, what is ruled out, and sizes and capacities. What is left is
the product wanted, which the category index matches."""

from __future__ import annotations

import re
from typing import NamedTuple

PEOPLE_EN = (
    r"(?:mom|mum|mother|dad|father|parents?|wife|husband|partner|girlfriend|boyfriend|son|"
    r"daughter|kids?|child(?:ren)?|toddler|baby|teen(?:ager)?|grandma|grandpa|grandmother|"
    r"grandfather|grandparents|brother|sister|friend|boss|colleague|coworker|niece|nephew|"
    r"aunt|uncle|(?:a |an )?(?:\w+ )?(?:lover|fan|gamer|student|runner|teacher|nurse))"
)
PEOPLE_ZH = (
    r"(?:妈妈|母亲|爸爸|父亲|爸妈|父母|老婆|老公|妻子|丈夫|对象|女朋友|男朋友|女友|男友|儿子|女儿|"
    r"孩子|小孩|宝宝|婴儿|奶奶|爷爷|外婆|外公|姥姥|姥爷|老人|哥哥|姐姐|弟弟|妹妹|朋友|闺蜜|同事|"
    r"老板|老师|学生|初中生|高中生|大学生)"
)
RECIPIENT = re.compile(
    rf"\b(?:a )?(?:gift|present)?\s*for (?:my |our |a |an |the )?(?P<en>(?:\w+ )?{PEOPLE_EN}s?)\b"
    rf"|(?:送给?|给)(?P<zh>{PEOPLE_ZH})",
    re.IGNORECASE,
)
OCCASIONS = {
    "birthday": r"birthday|生日",
    "wedding": r"wedding|婚礼",
    "christmas": r"christmas|xmas|圣诞",
    "housewarming": r"housewarming|乔迁|搬新家",
    "anniversary": r"anniversary|纪念日",
    "graduation": r"graduation|毕业",
    "holiday": r"vacation|holiday|trip|travel(?:ling|ing)?|度假|旅行|出差",
    "party": r"party|parties|派对|聚会|酒会",
    "work": r"office|work|job interview|上班|办公|面试",
    "school": r"college|school|homework|dorm|大学|上学|作业|宿舍",
}
OCCASION = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in OCCASIONS.items()}
GIFT = re.compile(r"\b(?:gift|present)s?\b|礼物|送", re.IGNORECASE)

# What the wanted product goes with or is for: "a soundbar for my TV", "配牛仔裤的上衣".
COMPLEMENT = re.compile(
    r"\b(?:to (?:wear|go|pair|use) (?:it )?with|that goes with|to match|for (?:my|our|the))\s+"
    r"(?P<en>[\w\-' ]{2,30}?)(?=\s*(?:[,.;!?]|$|\b(?:in|on|at|when|while|that|so)\b))"
    r"|(?:配|搭配?|适配)(?P<zh>[\u4e00-\u9fff\w]{1,8}?)(?:的|用)"
    r"|(?P<zh_for>[\u4e00-\u9fffA-Za-z0-9]{1,6})用的",
    re.IGNORECASE,
)
EXCLUDED = re.compile(
    r"\b(?:not|no|rather than|instead of|other than|except)\s+(?:an?\s+|the\s+|any\s+)?"
    r"(?P<en>[\w\-' ]{2,30}?)(?=\s*(?:[,.;!?]|$|\b(?:for|to|that|which|with|in|on)\b))"
    r"|(?:不要|不是|不想要|别推荐?|除了)(?P<zh>[\u4e00-\u9fff\w]{1,10}?)(?=[，,。；;！!？?]|$)",
    re.IGNORECASE,
)
SIZE = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s?(?P<unit>inch(?:es)?|in\b|\"|”|寸|英寸|tb|gb|mah|w\b|mm|hz)",
    re.IGNORECASE,
)
UNITS = {"inch": "in", "inches": "in", '"': "in", "”": "in", "寸": "in", "英寸": "in"}
COLOURS = re.compile(
    r"\b(?:black|white|grey|gray|silver|blue|red|green|pink|purple|gold|beige|navy|brown)\b"
    r"|黑色|白色|灰色|银色|蓝色|红色|绿色|粉色|紫色|金色|米色|棕色",
    re.IGNORECASE,
)

# A question about the shop or a product ("Is the X in stock?", "退货要几天？"), as opposed to
# a stated want; questions that ask what to buy ("送他点什么") still state a want.
QUESTION = re.compile(
    r"^\s*(?:how|what|when|where|why|which|who|whose|is|are|am|was|were|do|does|did|can|could|"
    r"will|would|should|shall|may|have|has|had)\b|[?？]\s*$"
    r"|[吗么呢]\s*$|多少|几[天个号点时次年月]|怎么|什么|哪|是否|能不能|可不可以|有没有|可以.{0,8}吗",
    re.IGNORECASE,
)
ASKS_WHAT_TO_BUY = re.compile(
    r"\b(?:recommend\w*|suggest\w*|ideas?)\b|推荐|建议"
    r"|\b(?:what|which)\b[^?]{0,40}\b(?:should|could|can|do|would)\s+(?:i|we)\s+"
    r"(?:get|buy|give|choose|pick|gift)\b"
    r"|\b(?:what|which)(?:'s| is| are)\s+(?:a |the |some )?(?:good|best|nice|great)\b"
    r"|(?:送|买|选|挑)[^，,。？?]{0,4}什么|什么[^，,。？?]{0,3}好|哪(?:个|款|种|一款)[^，,。？?]{0,6}好",
    re.IGNORECASE,
)


def asks_question(text: str) -> bool:
    """The text asks about something rather than stating what the shopper wants."""
    return bool(QUESTION.search(text)) and not ASKS_WHAT_TO_BUY.search(text)


class NeedParts(NamedTuple):
    wanted: str  # the need without recipients, complements and ruled-out phrases
    recipient: str | None
    occasions: list[str]
    gift: bool
    complements: list[str]  # what the product goes with or is used with
    excluded: list[str]  # phrases of products ruled out
    attributes: dict[str, str]  # size and capacity ("65in", "1tb"), colour


def need_parts(text: str) -> NeedParts:
    """Split a need (already without its price phrases) into the parts rules recognise."""
    recipient = None
    if m := RECIPIENT.search(text):
        recipient = (m["en"] or m["zh"]).strip().lower()
    excluded = [(m["en"] or m["zh"]).strip() for m in EXCLUDED.finditer(text)]
    complements = [
        (m["en"] or m["zh"] or m["zh_for"]).strip()
        for m in COMPLEMENT.finditer(text)
        if not RECIPIENT.fullmatch((m.group(0) or "").strip())
    ]
    complements = [c for c in complements if not recipient or recipient not in c.lower()]
    wanted = _cut(text, [RECIPIENT, EXCLUDED, COMPLEMENT])
    attributes = {}
    for m in SIZE.finditer(text):
        unit = m["unit"].lower()
        attributes["size" if UNITS.get(unit, unit) == "in" else "capacity"] = (
            f"{m['n']}{UNITS.get(unit, unit)}"
        )
    if m := COLOURS.search(text):
        attributes["colour"] = m.group(0).lower()
    return NeedParts(
        wanted=wanted or text,
        recipient=recipient,
        occasions=[name for name, pattern in OCCASION.items() if pattern.search(text)],
        gift=bool(GIFT.search(text)),
        complements=complements,
        excluded=excluded,
        attributes=attributes,
    )


def _cut(text: str, patterns: list[re.Pattern[str]]) -> str:
    for pattern in patterns:
        text = pattern.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip(" ,，;；.。")
