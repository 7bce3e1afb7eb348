"""Writing one copy variant: the model drafts (several at once when asked), the checks
judge, the model rewrites what only it can fix, the deterministic repair does the rest."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from pitchcraft.context import Context
from pitchcraft.llm.structured import StructuredOutputError, json_safe_quotes
from pitchcraft.llm.verified import first_passing
from pitchcraft.plugins.copywriter.channels import DATA, Channel, load_channels, localized
from pitchcraft.plugins.copywriter.checks import (
    CHECKS,
    CheckContext,
    Finding,
    Parts,
    render,
    run_checks,
)
from pitchcraft.plugins.copywriter.models import (
    Check,
    CopyRequest,
    CopyVariant,
    CopywriterOptions,
    WrittenBy,
)
from pitchcraft.plugins.copywriter.repair import Repairer
from pitchcraft.plugins.copywriter.rules import RuleBook, load_rulebook
from pitchcraft.store.schema import Product
from pitchcraft.tables import load_table
from pitchcraft.text.grounding import Facts, fact_attributes
from pitchcraft.text.terms import load_lexicon

NAME = "copywriter"
VARIANT_SEED_STEP = 100  # apart from the seeds of one variant's drafts (seed + 1..8)


# The plugin's tables, loaded once per Context (shipped data merged with the user's).


def channel_table(ctx: Context) -> dict[str, Channel]:
    return ctx.shared("copywriter.channels", lambda: load_channels(ctx.settings))


def angle_table(ctx: Context) -> dict[str, dict[str, str]]:
    return ctx.shared(
        "copywriter.angles", lambda: load_table(DATA / "angles.yaml", NAME, ctx.settings)
    )


def check_context(
    ctx: Context,
    channel: Channel,
    language: str,
    facts: Facts,
    keywords: list[str],
    forbidden: list[str],
) -> CheckContext:
    return CheckContext(
        channel=channel,
        language=language,
        facts=facts,
        rulebook=ctx.shared("copywriter.rules", lambda: load_rulebook(ctx.settings)).with_forbidden(
            forbidden
        ),
        lexicon=ctx.shared("copywriter.lexicon", lambda: load_lexicon(ctx.settings)),
        keywords=keywords,
        instructions=tuple(localized(w, language) for w in angle_table(ctx).values()),
    )


class VariantWriter:
    """Drafts, checks, rewrites and repairs the variants of one request."""

    def __init__(
        self,
        req: CopyRequest,
        cc: CheckContext,
        ctx: Context,
        on_done: Callable[[list[CopyVariant]], None] | None = None,
    ) -> None:
        """`on_done` hears the variants finished so far, each time one is."""
        self.req, self.cc, self.ctx = req, cc, ctx
        self.on_done = on_done
        self._done: list[CopyVariant] = []
        self._started = 0  # variants begun: the first is greedy
        self._lock = threading.Lock()
        channel, lang = cc.channel, cc.language
        self.model = ctx.llm.structured(channel.reply_model(lang), "copy", channel.max_tokens)
        brand = req.brand_profile
        common = {"channel": localized(channel.label, lang)}
        self.system = ctx.prompts.render(
            NAME, "system", lang, **common, dont_words=brand.dont_words if brand else []
        )
        self.task = {
            **common,
            "facts": facts_text(cc.facts.product, cc.rulebook),
            "audience": req.audience,
            "voice": brand.voice if brand else "",
            "do_words": brand.do_words if brand else [],
            "examples": brand.examples if brand else [],
            "keywords": req.keywords,
            "must_include": cc.must_include,
            "fields": channel.limits_text(lang),
        }

    def write_many(self, angles: list[tuple[str, dict[str, str]]]) -> list[CopyVariant]:
        """A variant per angle; the writer's first is drafted greedily, the later ones are
        sampled when the options say so (`variant_temperature`)."""
        if not angles:
            return []
        with self._lock:
            first, self._started = self._started, self._started + len(angles)
        jobs = [(angle, first + n) for n, angle in enumerate(angles)]
        return self.ctx.parallel(self._write_and_tell, jobs, workers=len(jobs))

    def _write_and_tell(self, job: tuple[tuple[str, dict[str, str]], int]) -> CopyVariant:
        variant = self.write(*job)
        with self._lock:
            self._done.append(variant)
            done = list(self._done)
        if self.on_done is not None:
            self.on_done(done)
        return variant

    def messages(self, wording: dict[str, str]) -> list[BaseMessage]:
        """The chat asking for one variant from an angle (its wording per language)."""
        lang = self.cc.language
        angle_text = localized(wording, lang)
        prompt = self.ctx.prompts.render(NAME, "write", lang, **self.task, angle=angle_text)
        return [SystemMessage(self.system), HumanMessage(prompt)]

    def write(self, angle: tuple[str, dict[str, str]], number: int = 0) -> CopyVariant:
        """The variant from `angle`; `number` is its place among the writer's variants."""
        key, wording = angle
        lang = self.cc.language
        messages = self.messages(wording)
        parts, draft_number = self._first_draft(messages, number)
        findings = run_checks(parts, self.cc) if parts is not None else []
        draft_checks = {
            c: parts is not None and not any(f.check == c for f in findings) for c in CHECKS
        }
        rewrites = 0
        # Cuts and rewordings the repair does well; the model rewrites only what it cannot.
        while (
            parts is not None
            and not all(f.fixable for f in findings)
            and rewrites < self.req.revisions
        ):
            rewrites += 1
            problems = [f.message for f in findings]
            revise = self.ctx.prompts.render(NAME, "revise", lang, problems=problems)
            messages += [AIMessage(dump(parts)), HumanMessage(revise)]
            parts = self._ask(messages) or parts
            findings = run_checks(parts, self.cc)
        repairer = Repairer(self.cc)
        written_by: WrittenBy = "rewritten" if rewrites else "model"
        if parts is None:
            parts, findings, written_by = {}, [], "template"
            repairer.notes.append("the model's reply was unusable; built from product facts")
        if findings or not parts:
            parts = repairer.repair(parts, findings)
            findings = run_checks(parts, self.cc)
            written_by = "template" if written_by == "template" else "repaired"
        return CopyVariant(
            angle=key,
            parts=parts,
            text=render(parts, self.cc.channel),
            passed=not findings,
            checks=summarise(findings),
            draft_passed=draft_checks,
            rewrites=rewrites,
            repairs=repairer.notes,
            written_by=written_by,
            draft=draft_number,
        )

    def _first_draft(
        self, messages: list[BaseMessage], number: int = 0
    ) -> tuple[Parts | None, int | None]:
        """The first draft that passes every check among `drafts` asked for together, else
        the first one (which rewrites and repair then work on); and its number. The first is
        greedy, but for a later variant with `variant_temperature`: sampled, seeded by the
        variant's number, so variants from angles the small model reads alike still differ."""
        options = self.ctx.options(NAME, CopywriterOptions)
        plan = options.plan(self.ctx.llm)
        sampled = number > 0 and options.variant_temperature > 0
        if plan.drafts <= 1 and not sampled:
            parts = self._ask(messages)
            return parts, None if parts is None else 1
        if sampled:
            seed = None if plan.seed is None else plan.seed + VARIANT_SEED_STEP * number
            plan = replace(plan, temperature=options.variant_temperature, seed=seed)
        found = first_passing(
            self.ctx.llm,
            self.cc.channel.reply_model(self.cc.language),
            messages,
            lambda reply: [f.message for f in run_checks(as_parts(reply), self.cc)],
            adapter="copy",
            max_tokens=self.cc.channel.max_tokens,
            plan=plan,
            greedy_first=not sampled,
        )
        if found.value is not None:
            return as_parts(found.value), found.draft
        first = found.candidates[0]
        return (None, None) if first is None else (as_parts(first), 1)

    def _ask(self, messages: list[BaseMessage]) -> Parts | None:
        try:
            return as_parts(self.model.invoke(messages))
        except StructuredOutputError:
            return None


def as_parts(reply: BaseModel) -> Parts:
    return {
        k: [s.strip() for s in v] if isinstance(v, list) else str(v).strip()
        for k, v in reply.model_dump().items()
        if v is not None
    }


def facts_text(product: Product, rulebook: RuleBook | None = None) -> str:
    """The product's facts for the prompt; with `rulebook`, without the words copy may not
    use ("#1", "Guaranteed", "全网最"): shown them, the model copies them into its drafts."""
    lines = [f"title: {product.title}"]
    if product.brand:
        lines.append(f"brand: {product.brand}")
    if product.category:
        lines.append(f"category: {product.category}")
    if product.price is not None:
        lines.append(f"price: {product.price:g} {product.currency}")
    if product.description:
        lines.append(f"description: {product.description[:1500]}")
    lines += [f"{k}: {v}" for k, v in fact_attributes(product).items()]
    if rulebook is not None:
        lines = [allowed_line(line, rulebook, product.category) for line in lines]
    return json_safe_quotes("\n".join(lines))  # 55" copied unescaped would end the string


def allowed_line(line: str, rulebook: RuleBook, category: str) -> str:
    """A `name: value` fact line with the value's forbidden terms replaced or removed."""
    name, _, value = line.partition(": ")
    return f"{name}: {rulebook.clean(value, category) or value}"


def dump(parts: Parts) -> str:
    return json.dumps(parts, ensure_ascii=False)


def summarise(findings: list[Finding]) -> list[Check]:
    return [
        Check(
            name=name,
            passed=not (problems := [f.message for f in findings if f.check == name]),
            problems=problems,
        )
        for name in CHECKS
    ]
