"""Deterministic repair of what regeneration could not fix, each change reported.

Violating terms are replaced or removed; sentences (or list items) carrying an
unsupported number or claim are dropped, and a field left empty is refilled
from the product's own facts; texts are cut to the limit at a natural
boundary; a required phrase (SMS opt-out) is appended.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property

from pitchcraft.plugins.copywriter.checks import (
    PROMPT_ECHO,
    REPEAT,
    CheckContext,
    Finding,
    Parts,
    echoed_instructions,
    form_problems,
    keyword_findings,
    place,
    repeated_items,
    strings,
)
from pitchcraft.plugins.copywriter.rules import tidy
from pitchcraft.plugins.copywriter.textunits import fit, measure
from pitchcraft.text.grounding import fact_attributes, grounding_problems

# A "sentence" longer than any channel's field is not copy to fall back on, and checking it
# costs time out of all proportion (a 20,000-digit description took minutes of checks).
MAX_FACT_LINE = 600


def sentences(text: str) -> list[str]:
    """Split at sentence punctuation (a period only when a space or the end follows)."""
    pieces = re.split(r"(?<=[。！？!?；;\n])|(?<=\.)(?=\s)", text)
    return [p for p in pieces if p.strip()]


def fact_lines(cc: CheckContext) -> list[str]:
    """Sentences of the product's own title and description, then its attributes, brand
    and category as `name: value`, that pass compliance and grounding (a list of distinct
    items needs more lines than a short description has)."""
    product = cc.facts.product
    category = product.category
    named = {**fact_attributes(product), "Brand": product.brand, "Category": category}
    attributes = [f"{k}: {v}" for k, v in named.items() if v]
    lines = []
    for raw in [product.title, *sentences(product.description), *attributes]:
        if len(raw) > MAX_FACT_LINE:
            continue
        line = cc.rulebook.clean(raw.strip(), category)
        if line and not grounding_problems(line, cc.facts, cc.lexicon) and line not in lines:
            lines.append(line)
    return lines or [product.title]


class Repairer:
    def __init__(self, cc: CheckContext) -> None:
        self.cc = cc
        self.notes: list[str] = []

    @cached_property
    def _fallbacks(self) -> list[str]:
        """Built only when a field needs refilling: most variants never do."""
        return fact_lines(self.cc)

    def fallback(self, field: str, used: Iterable[str]) -> str:
        """The first fact line that, cut to fit, is new here and a finished piece of copy."""
        taken = set(used)
        limit = self.cc.limit(field)
        fitted = [fit(line, limit, self.cc.channel.unit) for line in self._fallbacks]
        fresh = [c for c in fitted if c and c not in taken]
        whole = [c for c in fresh if not form_problems(c, field, self.cc)]
        return next(iter(whole + fresh), fitted[0])

    def repair(self, parts: Parts, findings: list[Finding]) -> Parts:
        parts = {k: list(v) if isinstance(v, list) else v for k, v in parts.items()}
        self._compliance(parts, findings)
        self._grounding(parts, findings)
        self._keywords(parts)
        self._structure(parts)
        if keyword_findings(parts, self.cc):  # a field refilled from facts took the keyword
            self._keywords(parts)
            self._structure(parts)
        return parts

    def _compliance(self, parts: Parts, findings: list[Finding]) -> None:
        category = self.cc.facts.product.category
        for f in findings:
            if f.check != "compliance" or f.field not in parts:
                continue
            before = get(parts, f.field, f.item)
            after = self.cc.rulebook.clean(before, category)
            if after != before:
                put(parts, f.field, f.item, after)
                self.notes.append(f"{label(f)}: reworded {f.span!r}")

    def _grounding(self, parts: Parts, findings: list[Finding]) -> None:
        spans: dict[tuple[str, int | None], list[str]] = {}
        for f in findings:
            if f.check == "grounding" and f.field in parts:
                spans.setdefault((f.field, f.item), []).append(f.span)
        drop: dict[str, list[int]] = {}
        for (field, item), bad in spans.items():
            spec = self.cc.channel.fields.get(field)
            text = get(parts, field, item)
            keep = [s for s in sentences(text) if not any(b in s for b in bad)]
            value = parts[field]
            removable = (
                item is not None
                and spec is not None
                and isinstance(value, list)
                and len(value) - len(drop.get(field, [])) > spec.min_items
            )
            if removable and not keep:
                assert item is not None
                drop.setdefault(field, []).append(item)
                self.notes.append(f"{field}[{item + 1}]: dropped, unsupported {bad}")
                continue
            if keep:
                put(parts, field, item, "".join(keep).strip())
                self.notes.append(f"{place(field, item)}: removed claims {bad}")
            else:
                put(parts, field, item, self.fallback(field, all_strings(parts)))
                self.notes.append(f"{place(field, item)}: replaced with product facts ({bad})")
        for field, items in drop.items():
            value = parts[field]
            assert isinstance(value, list)
            parts[field] = [v for i, v in enumerate(value) if i not in items]

    def _structure(self, parts: Parts) -> None:
        cc = self.cc
        unit = cc.channel.unit
        phrase = cc.must_include
        for field, spec in cc.channel.fields.items():
            limit = spec.limit(cc.language)
            value = parts.get(field, [] if spec.kind == "list" else "")
            if spec.kind == "list":
                raw = value if isinstance(value, list) else [value]
                items = [self._clean_chars(v) for v in raw]
                items = [fit(v, limit, unit) for v in items if v.strip()]
                whole = [v for v in items if not form_problems(v, field, cc)]
                if len(whole) < len(items):
                    self.notes.append(f"{field}: dropped {len(items) - len(whole)} fragment(s)")
                if repeats := repeated_items(whole):
                    whole = [v for i, v in enumerate(whole) if i not in repeats]
                    self.notes.append(f"{field}: dropped {len(repeats)} repeated item(s)")
                items = whole[: spec.max_items]
                while len(items) < spec.min_items:
                    items.append(self.fallback(field, [*all_strings(parts), *items]))
                    self.notes.append(f"{field}: added item {len(items)} from product facts")
                parts[field] = items
                continue
            text = self._clean_chars(str(value))
            if phrase and phrase not in text and len(cc.channel.fields) == 1:
                room = limit - measure(phrase, unit) - 1
                text = f"{fit(text, room, unit)} {phrase}".strip()
                self.notes.append(f"{field}: added {phrase!r}")
            if measure(text, unit) > limit:
                text = fit(text, limit, unit)
                self.notes.append(f"{field}: shortened to {limit} {unit}")
            if not text.strip() or form_problems(text, field, cc):
                text = self.fallback(field, all_strings(parts))
                self.notes.append(f"{field}: filled from product facts")
            parts[field] = text

    def _clean_chars(self, text: str) -> str:
        """Forbidden characters removed and runaway repetitions collapsed to one."""
        bad = self.cc.channel.forbidden_chars
        text = PROMPT_ECHO.sub("", text)
        for span in echoed_instructions(text, self.cc.instructions):
            text = text.replace(span, " ")
        for _ in range(5):  # one collapse can reveal a longer repeated unit
            if not REPEAT.search(text):
                break
            text = REPEAT.sub(lambda m: m.group(1), text)
        return tidy("".join(c for c in text if c not in bad)) if bad else text.strip()

    def _keywords(self, parts: Parts) -> None:
        """A missing keyword becomes a hashtag where the channel has them, else it leads the
        first field (the length fit that follows cuts from the end, not from the keyword)."""
        missing = [f.span for f in keyword_findings(parts, self.cc)]
        tags = parts.get("hashtags")
        spec = self.cc.channel.fields.get("hashtags")
        if isinstance(tags, list) and spec is not None:
            while missing and len(tags) < spec.max_items:
                tags.append(missing.pop(0))
                self.notes.append(f"hashtags: added keyword {tags[-1]!r}")
        if not missing:
            return
        first = next(iter(self.cc.channel.fields))
        lead = " ".join(missing)
        value = parts.get(first)
        if isinstance(value, list):
            value[:1] = [f"{lead} {value[0]}".strip() if value else lead]
        else:
            parts[first] = f"{lead} {value or ''}".strip()
        self.notes.append(f"{first}: led with keywords {missing}")


def get(parts: Parts, field: str, item: int | None) -> str:
    value = parts[field]
    if isinstance(value, list):
        return value[item or 0] if value else ""
    return value


def put(parts: Parts, field: str, item: int | None, text: str) -> None:
    value = parts[field]
    if isinstance(value, list) and item is not None:
        value[item] = text
    else:
        parts[field] = text


def all_strings(parts: Parts) -> list[str]:
    return [text for _, _, text in strings(parts)]


def label(f: Finding) -> str:
    return place(f.field or "copy", f.item)
