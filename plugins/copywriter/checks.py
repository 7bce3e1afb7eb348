"""The checks every variant gets: length/structure, compliance, grounding, keywords."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Literal

from pydantic import BaseModel

from pitchcraft.plugins.copywriter.channels import Channel
from pitchcraft.plugins.copywriter.rules import RuleBook
from pitchcraft.plugins.copywriter.textunits import BRACKET_PAIRS, ENDS_OPEN, measure
from pitchcraft.text.grounding import Facts, grounding_problems
from pitchcraft.text.terms import Lexicon

CheckName = Literal["length", "compliance", "grounding", "keywords"]
CHECKS: tuple[CheckName, ...] = ("length", "compliance", "grounding", "keywords")
Parts = dict[str, str | list[str]]
# A line that repeats the prompt's own labels back ("Angle: ...").
PROMPT_ECHO = re.compile(r"^\s*(?:Angle|Fields|Product facts|角度|字段|商品信息)\s*[:：].*$", re.M)
# Echoed instruction text: the start of an instruction (this many words or characters), or
# a longer run from anywhere in it; shorter runs are ordinary phrases of copy.
ECHO_START = {"words": 3, "chars": 4}
ECHO_ANYWHERE = {"words": 6, "chars": 8}
# The same phrase three times in a row: a degenerate generation, not copy.
REPEAT = re.compile(r"(\S.{1,80}?)(?:[\s,，、;；.。]*\1){2,}")
# Text cut out of a sentence: it starts with a joining mark (or ends open, textunits).
STARTS_CUT = re.compile(r"^\s*[,;:，、；：)）]")
MIN_WORDS = 2  # one word where a sentence fits (a bullet, a body) is a fragment
MIN_HANS = 2
SENTENCE_ROOM = 60  # fields this long at least hold sentences; shorter ones may be a name
TAG_FIELDS = {"hashtags", "keywords", "tags"}


class Finding(BaseModel):
    check: CheckName
    field: str | None = None  # None: the variant as a whole
    item: int | None = None  # index within a list field
    span: str = ""
    message: str
    fixable: bool = False  # the automatic repair fixes it well (cut, reword); no rewrite needed


@dataclass
class CheckContext:
    """Everything the checks compare a variant against, for one request."""

    channel: Channel
    language: str
    facts: Facts
    rulebook: RuleBook  # with the brand's forbidden words
    lexicon: Lexicon
    keywords: list[str]
    instructions: tuple[str, ...] = ()  # prompt wording that must never appear in copy

    def limit(self, field: str) -> int:
        return self.channel.fields[field].limit(self.language)

    @property
    def must_include(self) -> str:
        return self.channel.must_include.get(self.language, "")


def instruction_fragments(instruction: str) -> list[str]:
    """Regular expressions of the fragments of `instruction` copy must not repeat, longest
    first: Latin words joined by any non-word run, Chinese characters as they are."""
    words = re.findall(r"[a-z0-9']+", instruction.lower())
    hans = re.sub(r"[^\u4e00-\u9fff]", "", instruction)
    out: list[str] = []
    for units, joiner, kind in ((words, r"\W+", "words"), (list(hans), "", "chars")):
        for n in range(len(units), ECHO_START[kind] - 1, -1):
            starts = range(len(units) - n + 1) if n >= ECHO_ANYWHERE[kind] else range(1)
            out += [joiner.join(map(re.escape, units[i : i + n])) for i in starts]
    return out


def echoed_instructions(text: str, instructions: tuple[str, ...]) -> list[str]:
    """Fragments of `instructions` that `text` repeats (the longest first, no overlaps)."""
    lowered = text.lower()
    found: list[str] = []
    for instruction in instructions:
        for gram in instruction_fragments(instruction):
            for match in re.finditer(rf"(?<![a-z0-9]){gram}(?![a-z0-9])", lowered):
                span = text[match.start() : match.end()]
                if not any(span in f for f in found):
                    found.append(span)
    return found


def strings(parts: Parts) -> list[tuple[str, int | None, str]]:
    """(field, item index or None, text) for every string of a variant."""
    out: list[tuple[str, int | None, str]] = []
    for name, value in parts.items():
        if isinstance(value, list):
            out += [(name, i, text) for i, text in enumerate(value)]
        else:
            out.append((name, None, value))
    return out


def render(parts: Parts, channel: Channel) -> str:
    """The variant as one readable text, in the channel's field order."""
    lines = []
    for name in channel.fields:
        value = parts.get(name)
        if isinstance(value, list):
            prefix = "#" if name == "hashtags" else "• "
            lines += [f"{prefix}{v}" for v in value if v]
        elif value:
            lines.append(value)
    return "\n".join(lines)


def place(field: str, item: int | None) -> str:
    """How a problem names where it is: "title", "bullets[2]"."""
    return field if item is None else f"{field}[{item + 1}]"


def repeated_items(items: list[str]) -> list[int]:
    """Indices of items that say what an earlier item said (case and spacing aside): a model
    held to a number of bullets fills it by saying one twice."""
    seen: set[str] = set()
    repeats = []
    for index, item in enumerate(items):
        key = " ".join(item.lower().split())
        if key and key in seen:
            repeats.append(index)
        seen.add(key)
    return repeats


def add_length_finding(
    found: list[Finding],
    field: str | None,
    item: int | None,
    message: str,
    span: str = "",
    fixable: bool = False,
) -> None:
    found.append(Finding(check="length", field=field, item=item, span=span, message=message,
                         fixable=fixable))  # fmt: skip


def form_problems(text: str, field: str, cc: CheckContext) -> list[tuple[str, str]]:
    """(message, span) for text that is no finished piece of copy: cut from a sentence,
    unbalanced brackets, a lone word, no word at all, or letters of a script neither the
    copy's language nor the product's facts use (a stray "thưởng" in Chinese copy, "英寸" in
    English copy)."""
    stripped = text.strip()
    if not stripped:
        return []
    found = []
    if not re.search(r"[^\W_]", stripped):
        return [("has no words", stripped)]
    if STARTS_CUT.search(stripped) or (ENDS_OPEN.search(stripped) and field not in TAG_FIELDS):
        found.append(("is cut from a sentence", stripped[-12:]))
    for left, right in BRACKET_PAIRS:
        if stripped.count(left) != stripped.count(right):
            found.append((f"has unbalanced {left}{right}", left))
    if field not in TAG_FIELDS and cc.limit(field) >= SENTENCE_ROOM:
        hans = len(re.findall(r"[\u4e00-\u9fff]", stripped))
        words = len(re.findall(r"[A-Za-z0-9]+", stripped))
        if hans < MIN_HANS and words < MIN_WORDS:
            found.append(("is a single word, not copy", stripped))
    hans_are_native = cc.language == "zh"
    foreign = {
        c
        for c in stripped
        if c.isalpha() and not c.isascii() and not (hans_are_native and "\u4e00" <= c <= "\u9fff")
    }
    stray = sorted(c for c in foreign if c not in cc.facts.text)  # rare: no set of the facts
    if stray:
        found.append(
            (f"uses letters foreign to the copy and the facts: {''.join(stray)}", stray[0])
        )
    return found


def length_findings(parts: Parts, cc: CheckContext) -> list[Finding]:
    found = []
    unit = cc.channel.unit
    for name, spec in cc.channel.fields.items():
        value = parts.get(name, [] if spec.kind == "list" else "")
        if spec.kind == "list":
            items = value if isinstance(value, list) else [value]
            if not spec.min_items <= len(items) <= spec.max_items:
                count = f"needs {spec.min_items} to {spec.max_items}"
                add_length_finding(found, name, None, f"{name} has {len(items)} items; {count}")
            for index in repeated_items(items):
                message = f"{place(name, index)} repeats an earlier item"
                add_length_finding(found, name, index, message, items[index], fixable=True)
        elif not str(value).strip():
            add_length_finding(found, name, None, f"{name} is empty")
    for name, item, text in strings(parts):
        if name not in cc.channel.fields:
            continue
        flag = partial(add_length_finding, found, name, item)
        size, limit = measure(text, unit), cc.limit(name)
        where = place(name, item)
        if size > limit:
            flag(f"{where} is {size} {unit} long; the limit is {limit}", text, fixable=True)
        elif item is not None and not text.strip():
            flag(f"{where} is empty")
        if echo := PROMPT_ECHO.search(text):
            flag(f"{where} repeats the instructions: {echo.group().strip()!r}", echo.group())
        for span in echoed_instructions(text, cc.instructions):
            flag(f"{where} repeats the instructions: {span!r}", span, fixable=True)
        for message, span in form_problems(text, name, cc):
            flag(f"{where} {message}", span)
        if repeat := REPEAT.search(text):
            flag(f"{where} repeats {repeat.group(1).strip()!r} over and over", repeat.group())
        if bad := sorted({c for c in text if c in cc.channel.forbidden_chars}):
            flag(f"{where} uses characters the channel forbids: {bad}", "".join(bad), True)
    phrase = cc.must_include
    if phrase and not any(phrase in text for _, _, text in strings(parts)):
        add_length_finding(found, None, None, f"must include {phrase!r}")
    return found


def compliance_findings(parts: Parts, cc: CheckContext) -> list[Finding]:
    category = cc.facts.product.category
    return [
        Finding(
            check="compliance",
            field=name,
            item=item,
            span=m.term,
            message=f"{m.term!r}: {m.label}",
            fixable=True,
        )
        for name, item, text in strings(parts)
        for m in cc.rulebook.find(text, category)
    ]


def grounding_findings(parts: Parts, cc: CheckContext) -> list[Finding]:
    return [
        Finding(check="grounding", field=name, item=item, span=span, message=why)
        for name, item, text in strings(parts)
        for span, why in grounding_problems(text, cc.facts, cc.lexicon)
    ]


def keyword_findings(parts: Parts, cc: CheckContext) -> list[Finding]:
    text = render(parts, cc.channel).lower()
    return [
        Finding(check="keywords", span=k, message=f"keyword {k!r} is missing")
        for k in cc.keywords
        if k.lower() not in text
    ]


def run_checks(parts: Parts, cc: CheckContext) -> list[Finding]:
    return [
        *length_findings(parts, cc),
        *compliance_findings(parts, cc),
        *grounding_findings(parts, cc),
        *keyword_findings(parts, cc),
    ]
