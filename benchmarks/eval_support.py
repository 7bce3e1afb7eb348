"""Customer-service responder quality on the demo shop: retrieval, answers, citations, escalation.

The question set (benchmarks/data/support_questions.yaml) has policy questions
written against the demo shop's policies (zh + en, each with its supporting
section and key fact), product questions generated here from the shop's real
product records (price, stock, brand; zh questions on the Chinese listings), and
messages that must be handed to a human or refused. Each question is a fresh
session on a store holding the demo shop.

- recall_at_5: the supporting section/product is among the 5 sources retrieved.
- key_fact_accuracy: the key fact appears in the reply (spaces ignored, dashes and full-width
  forms made plain, Chinese numerals read as digits: see squash).
- citation_correctness: answered questions whose citations include the supporting source.
- unsupported_claim_rate: claims of sent answers (sentences with a number or 12+ characters)
  whose numbers and character bigrams (>= 50%) are not found in the cited quotes; an
  independent, character-level check, not the responder's own word check.
- escalation_f1: over all questions, "handed over or refused" against the must-escalate set.
- p50_latency_s: one request at a time (with --workers N, N at a time).
- model_answer_share: of the questions answered (not handed over or refused), the share
  answered in the model's own phrasing (answered_by model, claims checked), not counting
  answers whose every sentence is a cited source sentence copied word for word (spaces and
  punctuation ignored): that is quoting, not phrasing.
- model_draft_share: of those, the share sent from a later (sampled) draft (--drafts).
- the guard set (attacks, policy cases and instructions hidden in stored documents): see
  support_guard.py; it runs after the questions, on the same store plus its tampered documents.

    python -m benchmarks.eval_support [--quick] [--no-model] [--drafts K] [--workers N]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.common import print_json_line, print_table
from benchmarks.support_guard import evaluate_guard, load_guard_set
from pitchcraft.context import Context
from pitchcraft.data import demo_shop
from pitchcraft.plugins.support.models import SupportReply
from pitchcraft.plugins.support.plugin import SupportResponder, replies
from pitchcraft.plugins.support.training import in_training_half
from pitchcraft.registry import Registry
from pitchcraft.settings import Settings
from pitchcraft.store import Product
from pitchcraft.store.chunking import slug
from pitchcraft.store.ingest import ingest_knowledge, ingest_products

QUESTIONS = Path(__file__).resolve().parent / "data" / "support_questions.yaml"
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
SPLIT = re.compile(r"(?<=[!?。！？])|(?<=\.)(?=\s|$)")


@dataclass
class Case:
    question: str
    language: str
    kind: str  # policy | product | escalate
    source: str = ""  # the supporting document (its chunk ids start with it), or product id
    fact: str = ""
    reason: str = ""
    section: str = ""  # slug of the supporting section


DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")
HAN_DIGITS = {c: n for n, c in enumerate("零一二三四五六七八九")} | {"两": 2}
UNIT = re.compile(r"(\d)[\s-]*(hour|day|week|month|year)s?\b")
HAN_NUMBER = re.compile(r"[零一二两三四五六七八九十百]+")


def han_number(run: str) -> str:
    """'三' -> '3', '十五' -> '15', '二十' -> '20', '一百二十' -> '120' (runs of numerals)."""
    total, digit = 0, 0
    for char in run:
        if char in HAN_DIGITS:
            digit = HAN_DIGITS[char]
        else:  # 十 or 百: the digit before it (one when none) times the unit
            total += (digit or 1) * (10 if char == "十" else 100)
            digit = 0
    return str(total + digit)


def squash(text: str) -> str:
    """For matching facts: spaces dropped, case folded, full-width forms and dashes made
    plain, Chinese numerals as digits ("三年" matches "3 年", "5–7" matches "5-7"), a number
    and its unit alike however joined ("45-day" matches "45 days")."""
    text = DASHES.sub("-", unicodedata.normalize("NFKC", text))
    text = HAN_NUMBER.sub(lambda m: han_number(m.group()), text)
    text = UNIT.sub(r"\1\2", text.lower())
    return re.sub(r"\s+", "", text)


def policy_cases() -> list[Case]:
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    cases = []
    for question, doc, section, fact in data["policy"]:
        language = "zh" if ".zh." in doc else "en"
        cases.append(Case(question, language, "policy", f"{doc}#", fact, section=slug(section)))
    return cases


def escalation_cases() -> list[Case]:
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    return [
        Case(q, "zh" if re.search(r"[\u4e00-\u9fff]", q) else "en", "escalate", reason=why)
        for q, why in data["escalate"]
    ]


def short_title(p: Product, words: int) -> str:
    return " ".join(p.title.replace(",", "").split()[:words])


def product_cases(per_language: int, seed: int = 3) -> list[Case]:
    """Questions about real products of the half held out from the support adapter's
    training, each naming a product unambiguously by a shortened title (English) or the
    listing's Chinese title."""
    rng = random.Random(seed)
    shop = demo_shop.load_products()
    products = [p for p in shop if p.price is not None and not in_training_half(p)]
    english = [p for p in products if p.language == "en" and p.id.startswith("elec-")]
    # unique in the whole shop: a shortened title that also starts a trained product's title
    # asks about two products ("HP OMEN 17.3" Gaming Laptop -" is an i7 and an i9 model)
    titles = [short_title(p, 6) for p in shop if p.language == "en"]
    unique = [p for p in english if titles.count(short_title(p, 6)) == 1]
    cases = []
    for n, p in enumerate(rng.sample(unique, per_language)):
        name = short_title(p, 6)
        kind = n % 3
        if kind == 0:
            cases.append(
                Case(f"How much does the {name} cost?", "en", "product", p.id, f"{p.price:.2f}")
            )
        elif kind == 1:
            fact = "in stock" if (p.stock or 0) > 0 else "out of stock"
            cases.append(Case(f"Is the {name} in stock?", "en", "product", p.id, fact))
        else:
            cases.append(Case(f"What brand is the {name}?", "en", "product", p.id, p.brand or ""))
    chinese = [p for p in products if p.language == "zh"]
    for n, p in enumerate(rng.sample(chinese, min(per_language, len(chinese)))):
        if n % 2 == 0:
            cases.append(Case(f"{p.title}多少钱？", "zh", "product", p.id, f"{p.price:.2f}"))
        else:
            fact = "有货" if (p.stock or 0) > 0 else "缺货"
            cases.append(Case(f"{p.title}有货吗？", "zh", "product", p.id, fact))
    return cases


def supports(case: Case, source_id: str) -> bool:
    if case.kind == "product":
        return source_id == case.source
    return source_id.startswith(case.source) and source_id.rsplit("-", 1)[0].endswith(case.section)


def claims(reply: SupportReply, apology: str) -> list[str]:
    body = reply.reply.removeprefix(apology).split("\nSource:")[0].split("\n来源:")[0]
    return [c for c in SPLIT.split(body) if NUMBER.search(c) or len(squash(c)) >= 12]


def bigrams(text: str) -> set[str]:
    s = re.sub(r"[\W_]+", "", text.lower())
    return {s[i : i + 2] for i in range(len(s) - 1)}


def unsupported(claim: str, cited: str) -> bool:
    nums = {n.replace(",", "") for n in NUMBER.findall(claim)}
    have = {n.replace(",", "") for n in NUMBER.findall(cited)}
    grams = bigrams(claim)
    covered = len(grams & bigrams(cited)) / len(grams) if grams else 1.0
    return not nums <= have or covered < 0.5


def verbatim(reply: SupportReply) -> bool:
    """Every sentence of the reply is one of its cited sentences, word for word."""
    quotes = squash(" ".join(c.quote for c in reply.citations))
    sentences = [squash(re.sub(r"[^\w]", "", x)) for x in SPLIT.split(reply.reply) if x.strip()]
    plain = re.sub(r"[^\w]", "", quotes)
    return all(s in plain for s in sentences if s)


def evaluate(
    cases: list[Case], ctx: Context, workers: int = 1
) -> tuple[dict[str, float], list[list[object]]]:
    """Quality figures of the responder's replies to `cases`; with `workers` > 1 the
    questions are asked that many at a time (faster; latency is then under load)."""
    plugin = SupportResponder()
    said = replies(ctx)
    rows: dict[str, list[float]] = {}
    latencies, answered_by, drafts = [], [], []
    tp = fp = fn = 0
    claim_total = claim_bad = 0

    def ask(numbered: tuple[int, Case]) -> tuple[SupportReply, float]:
        n, case = numbered
        start = time.perf_counter()
        reply = plugin.invoke({"message": case.question, "session_id": f"eval-{n}"}, ctx)
        return reply, time.perf_counter() - start

    asked = ctx.parallel(ask, list(enumerate(cases)), workers=workers)
    for case, (reply, seconds) in zip(cases, asked, strict=True):
        latencies.append(seconds)
        answered_by.append(
            "quoted-by-model"
            if reply.answered_by == "model" and verbatim(reply)
            else reply.answered_by
        )
        drafts.append(reply.draft)
        handed = reply.escalated or reply.answered_by == "policy"
        must = case.kind == "escalate"
        tp += handed and must
        fp += handed and not must
        fn += must and not handed
        if must:
            continue
        tag = f"{case.kind}/{case.language}"
        got = {
            "recall_at_5": float(any(supports(case, s) for s in reply.retrieved[:5])),
            "key_fact": float(any(squash(f) in squash(reply.reply) for f in case.fact.split("|"))),
        }
        if not got["key_fact"]:  # shown, to be read: phrasing may carry the fact in other words
            print(
                f"missed key fact {case.fact!r} ({reply.answered_by}): {case.question!r} -> "
                f"{reply.reply[:200]!r}",
                file=sys.stderr,
            )
        if not handed:
            got["citation"] = float(any(supports(case, c.source_id) for c in reply.citations))
            cited = " ".join(f"{c.title} {c.quote}" for c in reply.citations)
            for claim in claims(reply, said["apology"].say(reply.language)):
                claim_total += 1
                if unsupported(claim, cited):  # shown, to be read: the check is rough
                    claim_bad += 1
                    print(f"flagged claim: {claim!r}; cited: {cited[:160]!r}", file=sys.stderr)
        for key, value in got.items():
            rows.setdefault(f"{tag}:{key}", []).append(value)
            rows.setdefault(f"all:{key}", []).append(value)
    mean = {k: statistics.mean(v) for k, v in rows.items()}
    answered = [by for by in answered_by if by != "policy"]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    figures = {
        "recall_at_5": mean.get("all:recall_at_5", 0.0),
        "key_fact_accuracy": mean.get("all:key_fact", 0.0),
        "citation_correctness": mean.get("all:citation", 0.0),
        "unsupported_claim_rate": claim_bad / claim_total if claim_total else 0.0,
        "escalation_precision": precision,
        "escalation_recall": recall,
        "escalation_f1": 2 * precision * recall / (precision + recall) if tp else 0.0,
        "p50_latency_s": statistics.median(latencies),
        "model_answer_share": answered_by.count("model") / max(1, len(answered)),
        "model_draft_share": sum(1 for d in drafts if d and d > 1)
        / max(1, answered_by.count("model")),
    }
    table = [
        [
            tag,
            len(rows[f"{tag}:key_fact"]),
            mean[f"{tag}:recall_at_5"],
            mean[f"{tag}:key_fact"],
            mean.get(f"{tag}:citation", 0.0),
        ]
        for tag in sorted({k.split(":")[0] for k in rows} - {"all"})
    ]
    return figures, table


def build_context(
    tmp: Path, use_model: bool, drafts: int = 1, base: Settings | None = None
) -> Context:
    """A store in `tmp` holding the demo shop; `base` settings otherwise (default: defaults)."""
    options = {
        "drafts": drafts,
        "sessions_path": str(tmp / "sessions.sqlite"),
        "orders_path": str(tmp / "orders.sqlite"),
        "use_model": use_model,
    }
    settings = (base or Settings()).model_copy(
        update={"store_path": tmp / "store", "plugin_options": {"support": options}}
    )
    ctx = Registry(settings).context()
    ingest_products(ctx.store, demo_shop.PRODUCTS)
    ingest_knowledge(ctx.store, demo_shop.POLICIES)
    return ctx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of the questions")
    parser.add_argument("--no-model", action="store_true", help="quote sources, no model")
    parser.add_argument("--drafts", type=int, default=1, help="model drafts per answer")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="questions asked at once (faster on a model server; latency is then under load)",
    )
    args = parser.parse_args()
    cases = policy_cases() + product_cases(20) + escalation_cases()
    if args.quick:
        cases = cases[::5]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = build_context(Path(tmp), use_model=not args.no_model, drafts=args.drafts)
        figures, table = evaluate(cases, ctx, workers=args.workers)
        guard_cases = load_guard_set(ctx)
        if args.quick:
            guard_cases = guard_cases[::2]
        guard_figures, guard_table, wrong = evaluate_guard(guard_cases, ctx, args.workers)
    print(
        f"{len(cases)} questions ({sum(c.kind == 'escalate' for c in cases)} must be "
        f"handed over or refused); model: {'off' if args.no_model else 'on'}\n"
    )
    print_table(["set", "questions", "recall@5", "key fact", "citation"], table)
    print()
    print(f"\nguard set: {len(guard_cases)} messages (zh + en; dev, test and fresh parts)\n")
    print_table(["part", "injection blocked", "outcome as expected"], guard_table)
    for line in wrong:
        print(f"  wrong: {line}")
    figures |= guard_figures
    print()
    print_table(["metric", "value"], [[k, v] for k, v in figures.items()])
    print()
    print_json_line({k: round(v, 4) for k, v in figures.items()})


if __name__ == "__main__":
    main()
