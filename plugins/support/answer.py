"""Answers from evidence: phrased by the shared model when every claim checks out, else quoted.

A claim is a sentence of the answer with a number or at least MIN_CLAIM_WORDS
content words. It is supported when every number in it occurs in the cited
sources and at least MIN_COVERAGE of its content words do. One unsupported
claim and the model's answer is not sent. Nor is one that restates a cited sentence (or a
clause of it) but leaves out its numbers: "Orders of $300 or more can be paid in 3, 6 or 12
monthly instalments" said without the $300 is a different rule (dropped_conditions); one
whose claim comes from a shown source it does not cite (miscited); or one with no amount
for a question asking how much, how long or how many.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, Field

from pitchcraft.context import Context
from pitchcraft.errors import ModelUnavailable
from pitchcraft.llm.structured import Prompt, json_safe_quotes
from pitchcraft.llm.verified import ONE_DRAFT, DraftPlan, first_passing
from pitchcraft.plugins.support.evidence import Sentence
from pitchcraft.plugins.support.text import join_sentences, split_sentences
from pitchcraft.store.schema import Language, detect_language
from pitchcraft.text.grounding import amounts, numbers_in
from pitchcraft.text.words import content_words

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Hashable)

NAME = "support"
MAX_ANSWER_CHARS = 400
MAX_TOKENS = 200
MODEL_SOURCES = 5  # best sentences shown to the model
MIN_CLAIM_WORDS = 3
MIN_COVERAGE = 0.6
MISCITED_GAP = 0.25  # how much better an uncited source must back a claim to be its source
MIN_RESTATED = 0.6  # share of a cited sentence's words an answer must repeat to restate it
THRESHOLD = re.compile(
    r"(?:over|above|at least|more than|满|超过|不低于)\s*[$￥¥]?\s*(\d[\d,.]*\d|\d)"
    r"|(\d[\d,.]*\d|\d)\s*(?:美元|元|英寸|\w+)?\s*(?:or more|and above|and over|以上)",
    re.IGNORECASE,
)
AMOUNT_QUESTION = re.compile(
    r"\bhow (?:long|much|many)\b|多久|多长|多少|几[天年个分周月期次件]", re.I
)
SAYS_AMOUNT = re.compile(
    r"\d|[一二两三四五六七八九十百千]|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|twenty|thirty|hundred|once|twice)\b",
    re.I,
)
CLAUSE = re.compile(r"(?<!\d),(?!\d)\s*|[;，；：:]\s*|\s+(?:and|but)\s+")  # not in "2,000"
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
QUESTION = re.compile(r"[?？]\s*$")
END_MARKS = (".", "!", "?", "。", "！", "？", ")", "）", "”", '"', "」")
MAX_NEW_WORDS = 1  # in a training answer (phrasing_problems)
KANA = re.compile(r"[\u3040-\u30ff]")
LATIN = re.compile(r"[A-Za-z]{2,}")
SOURCE_LABEL_MARKS = re.compile(r"›|\s>\s|\.md\b|^(description|title|source)\s*:", re.I)
APOLOGY = {"en": "Sorry for the trouble. ", "zh": "很抱歉给您带来不便。"}
SOURCE_LABEL = {"en": "Source", "zh": "来源"}


class DraftAnswer(BaseModel):
    answer: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)
    sources: list[int] = Field(
        default_factory=list, max_length=3, description="Numbers of the sources the answer uses."
    )


def numbers(text: str) -> set[str]:
    """Its numbers as digits: written so (without thousands commas), or as Chinese numerals
    before a unit ("保两年" says 2: it must not pass for a source's "3 年")."""
    written = {n.replace(",", "") for n in NUMBER.findall(text)}
    return written | {f"{v:g}" for n in numbers_in(text) if n.chinese for v in n.values}


def is_claim(sentence: str) -> bool:
    """It states something: a number, or MIN_CLAIM_WORDS content words (not "Happy to
    help!", not "I don't know")."""
    return bool(numbers(sentence)) or len(content_words(sentence)) >= MIN_CLAIM_WORDS


def claims(answer: str) -> list[str]:
    return [s for s in split_sentences(answer) if is_claim(s)]


# A state and the words that deny it (a denial may contain the state's word). A claim that
# states one where the cited text states only the other turns the source around, however
# many of its words it shares ("有货" against "缺货"); so does a claim stating the state under
# a section headed by its denial ("进水损坏保修" under "不在保修范围内").
OPPOSITES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("in stock", ("out of stock", "sold out", "not in stock")),
    ("有货", ("缺货", "无货", "没货")),
    ("available", ("unavailable", "not available")),
    ("cover", ("not covered", "does not cover", "doesn't cover", "not cover")),
    ("保修", ("不在保修范围", "不保修", "不属于保修")),
    ("return", ("cannot be returned", "can't be returned", "non-returnable", "not returnable")),
    ("退货", ("不可退", "不能退", "不予退")),
)


def states(text: str, positive: str, denials: tuple[str, ...]) -> tuple[bool, bool]:
    """Whether the text denies the state, and states it outside any denial."""
    lowered = rest = text.lower()
    for denial in denials:  # every denial set aside, not only the first one found
        rest = rest.replace(denial, " ")
    return rest != lowered, positive in rest


def turned_around(claim: str, source: str, headings: Sequence[str] = ()) -> bool:
    for positive, denials in OPPOSITES:
        claim_denies, claim_states = states(claim, positive, denials)
        source_denies, source_states = states(source, positive, denials)
        if (claim_states and source_denies and not source_states) or (
            claim_denies and source_states and not source_denies
        ):
            return True
        if (
            claim_states
            and not claim_denies
            and any(states(h, positive, denials)[0] for h in headings)
        ):
            return True
    return False


# "not" and its kin; 不 except where it starts a word that denies nothing (不同, 不仅, ...)
DENIAL = re.compile(
    r"\b(?:not|no|never|cannot|nor|none)\b|n't\b|不(?![便同少久错断仅过论管但如然])|没有|无法|请勿",
    re.IGNORECASE,
)


def denial_changed(claim: str, sentences: Sequence[str], headings: Sequence[str] = ()) -> bool:
    """The claim's sense is the other way round from the cited sentences its words come from:
    it states plainly what the nearest ones deny ("you can ship to a P.O. box" from "We do
    not ship to P.O. boxes"), or denies where none of them, nor their headings, does ("No,
    ..." to a question the source answers yes)."""
    words = content_words(claim)
    shared = [len(words & content_words(s)) for s in sentences]
    if not shared or max(shared) == 0:
        return False
    if DENIAL.search(claim):
        related = [s for s, n in zip(sentences, shared, strict=True) if n] + list(headings)
        return not any(DENIAL.search(s) for s in related)
    nearest = [s for s, n in zip(sentences, shared, strict=True) if n == max(shared)]
    return all(DENIAL.search(s) for s in nearest)


# A span of time as "45-day", "5–7 business days", "5–7 个工作日": its number, whether it
# counts working days only, and its unit.
DURATION = re.compile(
    r"(\d+(?:[.,]\d+)*)\s*-?\s*(?:(business|working|calendar)\s+|个?(工作)?)"
    r"(days?|hours?|weeks?|months?|years?|天|日|小时|周|个月|月|年)",
    re.IGNORECASE,
)
TIME_UNITS = {
    "天": "day",
    "日": "day",
    "小时": "hour",
    "周": "week",
    "个月": "month",
    "月": "month",
    "年": "year",
}


def durations(text: str) -> list[tuple[str, tuple[bool, str]]]:
    """(number, (working days only, unit)) of each span of time in `text`."""
    return [
        (
            number.replace(",", ""),
            (
                qualifier.lower() in ("business", "working") or bool(working),
                TIME_UNITS.get(unit, unit.lower().removesuffix("s")),
            ),
        )
        for number, qualifier, working, unit in DURATION.findall(text)
    ]


def stated_otherwise(claimed: Iterable[tuple[K, V]], stated: Iterable[tuple[K, V]]) -> bool:
    """A value (a number) the claim states with a measure (a currency, a unit) where the
    source states it only with other measures."""
    stated = list(stated)
    for value, measure in claimed:
        others = {m for v, m in stated if v == value}
        if others and measure not in others:
            return True
    return False


def wrong_unit(claim: str, source: str) -> bool:
    """A span of time the source states in other units ("45 business days" for a "45-day"
    window, "7 天" for "7 个工作日")."""
    return stated_otherwise(durations(claim), durations(source))


def wrong_currency(claim: str, source: str) -> bool:
    """A sum the source states in one currency, claimed in another ("10元" for "10 美元")."""
    return stated_otherwise(amounts(claim), amounts(source))


@dataclass
class ModelAnswer:
    text: str | None = None  # None: no draft passed the checks
    cited: list[int] = field(default_factory=list)  # indices of the sources it cites
    draft: int | None = None  # the draft that passed (1: the greedy one)
    restated: int | None = None  # without text: the source the refused drafts came from


def section_heading(title: str) -> str:
    """The section a policy sentence sits under ("returns.md › Returns > Items that cannot be
    returned" -> "Items that cannot be returned"); "" for a product's title."""
    return title.rsplit(" > ", 1)[1] if " > " in title else ""


def unsupported_claims(
    answer: str,
    cited: Sequence[str],
    headings: Sequence[str] = (),
    sentences: Sequence[str] = (),
) -> list[str]:
    """The answer's sentences that say yes where the cited `sentences` their words come from
    say no or the other way round (a sentence too short to be a claim too), and its claims
    that the cited text does not back, turns around (or states under `headings` that deny
    them), or puts in another currency or unit of time."""
    source = " ".join(cited)
    have_numbers, have_words = numbers(source), content_words(source)
    bad = []
    for sentence in split_sentences(answer):
        if denial_changed(sentence, sentences, headings):
            bad.append(sentence)
        elif is_claim(sentence):
            words = content_words(sentence)
            backed = numbers(sentence) <= have_numbers and share(words, have_words) >= MIN_COVERAGE
            if (
                not backed
                or turned_around(sentence, source, headings)
                or wrong_currency(sentence, source)
                or wrong_unit(sentence, source)
            ):
                bad.append(sentence)
    return bad


def dropped_conditions(answer: str, cited: Sequence[Sentence], question: str) -> list[str]:
    """Numbers of cited sentences (or clauses of them) the answer restates without them: at
    least MIN_RESTATED of their words other than numbers, the source's title and the
    question's, and the clause holding the number touched (a price asked for may leave out
    the delivery days beside it). A threshold ("orders of $300 or more", "满 300 美元") is
    left out as soon as the answer says anything of its sentence: "yes, instalments need
    approval" is wrong for a $50 order. Numbers of the title do not count (a model number)."""
    said_numbers, said_words = numbers(answer), content_words(answer)
    asked = content_words(question)
    missing: set[str] = set()
    for source in cited:
        known = content_words(source.title) | asked
        sentences = split_sentences(source.text)
        for part in {*sentences, *(c for s in sentences for c in CLAUSE.split(s))}:
            left_out = numbers(part) - numbers(source.title) - said_numbers
            if not left_out:
                continue
            words = plain_words(part) - known
            if len(words) >= 2 and share(words, said_words) >= MIN_RESTATED:
                missing |= {
                    n
                    for clause in CLAUSE.split(part)
                    if plain_words(clause) & said_words
                    for n in numbers(clause) & left_out
                }
            elif words & said_words:
                missing |= left_out & thresholds(part)
    return sorted(missing)


def share(words: set[str], have: set[str]) -> float:
    """The share of `words` found in `have` (1.0 for no words)."""
    return len(words & have) / len(words) if words else 1.0


def plain_words(text: str) -> set[str]:
    """Content words without digits in them."""
    return {w for w in content_words(text) if not any(c.isdigit() for c in w)}


def thresholds(text: str) -> set[str]:
    """The amounts a rule applies from: "over $300", "$49 or more", "满 49 美元", "55 英寸以上"."""
    return {(a or b).replace(",", "") for a, b in THRESHOLD.findall(text)}


def quoted_answer(best: Sequence[Sentence], language: Language) -> str:
    """The evidence itself, with where it comes from."""
    text = join_sentences((s.text for s in best), language)
    return f"{text}\n{SOURCE_LABEL[language]}: {best[0].title}"


def answer_problems(
    draft: DraftAnswer, sources: Sequence[Sentence], language: Language, question: str = ""
) -> list[str]:
    """Why the model's answer cannot be sent: wrong language, no valid citation, no claim at
    all, unsupported or miscited claims, a cited rule restated without its numbers, or no
    number where the question asks how much and the sources have one; empty when it can."""
    text = draft.answer.strip()
    cited = cited_sources(draft, sources)
    if not cited:
        return ["cites no valid source"]
    if detect_language(text) != language:
        return [f"not in {language}"]
    if form := form_problem(text):
        return [form]
    titles = content_words(" ".join(sources[i].title for i in cited))
    if all(content_words(c) <= titles for c in claims(text)):
        return ["states nothing beyond a heading"]
    cited_text = [sources[i].text + " " + sources[i].title for i in cited]
    headings = [section_heading(sources[i].title) for i in cited]
    texts = [sources[i].text for i in cited]
    problems = [
        f"unsupported: {claim!r}" for claim in unsupported_claims(text, cited_text, headings, texts)
    ]
    if claim := miscited(text, cited, sources):
        problems.append(f"cites another source than the one it says: {claim!r}")
    if missing := dropped_conditions(text, [sources[i] for i in cited], question):
        problems.append(f"leaves out its source's {', '.join(missing)}")
    if (
        AMOUNT_QUESTION.search(question)
        and numbers(" ".join(texts))
        and not SAYS_AMOUNT.search(text)
    ):
        problems.append("no number for a question asking how much, how long or how many")
    return problems


def form_problem(text: str) -> str | None:
    """What makes a text no answer at all: a question back, a sentence cut off at either end
    (a small model ends its JSON string at a quote mark), a source's label copied in."""
    if any(QUESTION.search(s) for s in split_sentences(text)):
        return "asks instead of answering"
    if not text.endswith(END_MARKS):
        return "unfinished sentence"
    if text[0].islower():
        return "starts mid-sentence"
    if SOURCE_LABEL_MARKS.search(text):
        return "shows a source's label"
    return None


def cited_sources(draft: DraftAnswer, sources: Sequence[Sentence]) -> list[int]:
    return [n - 1 for n in dict.fromkeys(draft.sources) if 1 <= n <= len(sources)]


def miscited(answer: str, cited: Sequence[int], sources: Sequence[Sentence]) -> str | None:
    """A claim that a shown source it does not cite backs on its own, and by MISCITED_GAP
    more of its words than the cited ones: the customer would be shown the wrong source (a
    defect remedy citing the refund-shipping rule beside it). Citing the right one instead
    was tried: it let through answers to other questions, which a wrong citation betrays."""
    backing = [content_words(f"{s.text} {s.title}") for s in sources]
    cited_words = set().union(*(backing[i] for i in cited))
    for claim in claims(answer):
        words = content_words(claim)
        have = share(words, cited_words)
        for n, source in enumerate(sources):
            if (
                n not in cited
                and share(words, backing[n]) >= have + MISCITED_GAP
                and not unsupported_claims(
                    claim,
                    [f"{source.text} {source.title}"],
                    [section_heading(source.title)],
                    [source.text],
                )
            ):
                return claim
    return None


def copies_sources(answer: str, sources: Sequence[Sentence]) -> bool:
    """Every sentence of the answer is a source sentence word for word (case, spaces and
    punctuation ignored): that is quoting, not phrasing."""
    quoted = letters("".join(s.text for s in sources))
    parts = [letters(s) for s in split_sentences(answer)]
    return all(part in quoted for part in parts if part)


def letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def phrasing_problems(
    draft: DraftAnswer, sources: Sequence[Sentence], language: Language, question: str
) -> list[str]:
    """What a model answer must pass to teach the model to phrase answers (the support
    adapter's training data): answer_problems, and stricter than what may be sent: it cites
    the best source, adds at most MAX_NEW_WORDS content words to its sources and the
    question, has no words of another script, and does not copy the sources word for word."""
    problems = answer_problems(draft, sources, language, question)
    if problems:
        return problems
    text = draft.answer.strip()
    cited = [sources[i] for i in cited_sources(draft, sources)]
    if cited[0] is not sources[0]:
        return ["does not cite the best source first"]
    given = " ".join([question, *(f"{s.title} {s.text}" for s in cited)])
    new = content_words(text) - content_words(given)
    if len(new) > MAX_NEW_WORDS:
        return [f"words not in its sources: {', '.join(sorted(new))}"]
    foreign = set(LATIN.findall(text)) - set(LATIN.findall(given)) if language == "zh" else ()
    if KANA.search(text) or foreign:
        return ["words of another script"]
    if copies_sources(text, sources):
        return ["copies its sources word for word"]
    return []


def answer_prompt(
    question: str, summary: str, sources: Sequence[Sentence], language: Language, ctx: Context
) -> Prompt:
    return ctx.prompts.render(
        NAME,
        "answer",
        language,
        question=json_safe_quotes(question),
        summary=summary,
        sources=[
            (n, json_safe_quotes(s.title), json_safe_quotes(s.text))
            for n, s in enumerate(sources, 1)
        ],
    )


def model_answer(
    question: str,
    summary: str,
    sources: Sequence[Sentence],
    language: Language,
    ctx: Context,
    plan: DraftPlan = ONE_DRAFT,
) -> ModelAnswer:
    """The shared model's answer: up to `plan.drafts` drafts, the first whose every claim
    checks out; when none does (or the model is unavailable), no text."""
    prompt = answer_prompt(question, summary, sources, language, ctx)
    try:
        found = first_passing(
            ctx.llm,
            DraftAnswer,
            prompt,
            lambda d: answer_problems(d, sources, language, question),
            adapter=NAME,
            max_tokens=MAX_TOKENS,
            plan=plan,
        )
    except ModelUnavailable as err:  # the customer still gets the quoted sources
        log.warning("support: no model, quoting sources: %s", err)
        return ModelAnswer()
    for n, problems in enumerate(found.refusals, 1):
        log.info("support: draft %d refused: %s", n, "; ".join(problems))
    if found.value is None or found.draft is None:
        return ModelAnswer(restated=restated_source(found.candidates, sources))
    return ModelAnswer(found.value.answer.strip(), cited_sources(found.value, sources), found.draft)


def restated_source(
    drafts: Sequence[DraftAnswer | None], sources: Sequence[Sentence]
) -> int | None:
    """The source the drafts' claims come from most often: each claim votes for the source
    holding most of its words (at least MIN_COVERAGE of them), ties going to the better
    ranked; None when no claim comes from one. Refused drafts still show what the model
    read as the answer."""
    if not sources:
        return None
    backing = [content_words(s.text) for s in sources]
    votes = [0] * len(sources)
    for draft in drafts:
        for claim in claims(draft.answer) if draft is not None else ():
            words = content_words(claim)
            shares = [share(words, have) for have in backing]
            best = max(range(len(sources)), key=lambda n: (shares[n], -n))
            if shares[best] >= MIN_COVERAGE:
                votes[best] += 1
    most = max(range(len(sources)), key=lambda n: (votes[n], -n))
    return most if votes[most] else None
