"""The shipped LoRA adapters against the base model, on held-out data, in one run.

Each task is measured twice with the same requests: once with no adapters (the base model
answers) and once with the adapters folder. Main metric per task, higher is better:
- reviews: polarity accuracy of the model's reading (mean of zh and en) on the held-out
  test splits of the real review corpora (plugins/sentiment/corpus.py; the adapter trained
  on the training split only);
- reasons: share of first drafts that pass the recommender's grounding check, for demo-shop
  products of the held-out half (plugins/recommender/training.py) with a bought item of the
  same half or a need worded unlike the training needs;
- copy: share of the copywriter's chosen drafts (before rewrites and repair) that pass every
  check, for products of the half held out from training (plugins/copywriter/training.py),
  three channels of the product's language, one variant each, the brand as keyword;
- support: model_answer_share of benchmarks/eval_support.py (answers sent in the model's own
  phrasing, not quoting) on its policy questions (written for the evaluation, unlike the
  training questions) and questions about products of the half held out from training
  (plugins/support/training.py); key-fact accuracy and unsupported claims alongside.

A third column asks the adapter for --drafts drafts at once (the first that passes is used),
where the task's plugin drafts (reasons, support, copy).

    python -m benchmarks.adapters_eval [--quick] [--reviews N] [--reasons N] [--support N]
        [--copy N] [--drafts K] [--adapters DIR] [--tasks reviews,reasons,support,copy]

Either backend: the base half sets llm_adapters off. With PITCHCRAFT_LLM_BACKEND=openai the
server must serve the same adapters (`pitchcraft model serve` serves adapters_dir).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import print_json_line, print_refusals, print_table
from benchmarks.eval_sentiment import Method, model_labeller, score, test_sets
from pitchcraft.context import Context
from pitchcraft.settings import Settings

EVAL_NEEDS = {"en": "{noun} recommendations, please", "zh": "有没有好的{noun}"}


def reviews_task(ctx: Context, per_language: int, drafts: int) -> dict[str, float]:
    tally: dict[str, float] = {}
    method = Method("model", "shipped", model_labeller(ctx, 16, tally))
    score(method, test_sets(per_language), None)
    figures = method.figures | tally
    figures["main"] = (figures["accuracy_zh"] + figures["accuracy_en"]) / 2
    return figures


def reason_cases(count: int, seed: int = 11) -> list[tuple[object, str]]:
    """(ReasonFacts, language) for held-out products, alternating zh/en, history/need."""
    from pitchcraft.data import demo_shop
    from pitchcraft.plugins.recommender.reasons import ReasonFacts
    from pitchcraft.plugins.recommender.training import NOUNS, first_clause, in_training_half

    rng = random.Random(seed)
    held = [
        p
        for p in demo_shop.load_products()
        if not in_training_half(p) and p.category in NOUNS and first_clause(p)
    ]
    cases: list[tuple[object, str]] = []
    for i in range(count):
        language = "zh" if i % 2 else "en"
        pool = [p for p in held if p.language == language]
        product = rng.choice(pool)
        shelf = [p for p in pool if p.category == product.category and p != product]
        if shelf and (i // 2) % 2 == 0:
            cases.append((ReasonFacts(product, history=[rng.choice(shelf)]), language))
        else:
            noun = NOUNS[product.category][language == "zh"]
            cases.append(
                (ReasonFacts(product, need=EVAL_NEEDS[language].format(noun=noun)), language)
            )
    return cases


def reasons_task(ctx: Context, count: int, drafts: int) -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor

    from pitchcraft.data import demo_shop
    from pitchcraft.llm.verified import DraftPlan
    from pitchcraft.plugins.recommender.reasons import write_reason
    from pitchcraft.text.terms import load_lexicon

    lexicon = load_lexicon(ctx.settings)
    brands = sorted({p.brand for p in demo_shop.load_products() if p.brand})
    cases = reason_cases(count)

    def first_draft(case: tuple[object, str]) -> tuple[bool, list[str]]:
        facts, language = case
        plan = DraftPlan(drafts=drafts, seed=0)
        outcome = write_reason(facts, language, ctx, lexicon, brands, retries=0, plan=plan)  # type: ignore[arg-type]
        return outcome.by == "model", outcome.problems

    with ThreadPoolExecutor(16) as pool:
        drafts = list(pool.map(first_draft, cases))
    passed = [ok for ok, _ in drafts]
    print_refusals(why for _, whys in drafts for why in whys)
    figures: dict[str, float] = {"main": sum(passed) / len(passed)}
    for language in ("zh", "en"):
        mine = [ok for ok, (_, lang) in zip(passed, cases, strict=True) if lang == language]
        figures[f"grounded_{language}"] = sum(mine) / len(mine) if mine else 0.0
    return figures


def support_task(ctx: Context, count: int, drafts: int) -> dict[str, float]:
    import tempfile

    from benchmarks.eval_support import build_context, evaluate, policy_cases, product_cases

    cases = policy_cases() + product_cases(20)
    cases = cases[:: max(1, len(cases) // count)][:count]
    with tempfile.TemporaryDirectory() as tmp:
        support_ctx = build_context(Path(tmp), use_model=True, drafts=drafts, base=ctx.settings)
        figures, _ = evaluate(cases, support_ctx, workers=16)  # no latency reported
    figures["main"] = figures["model_answer_share"]
    keep = ("key_fact_accuracy", "unsupported_claim_rate", "citation_correctness", "main")
    return {k: v for k, v in figures.items() if k in keep}


def copy_task(ctx: Context, count: int, drafts: int) -> dict[str, float]:
    import asyncio

    from benchmarks.eval_copywriter import CHANNELS, keyword, pick_products
    from pitchcraft.plugins.copywriter.models import CopyRequest, CopyResult
    from pitchcraft.registry import Registry

    options = ctx.settings.plugin_options | {"copywriter": {"drafts": drafts}}
    registry = Registry(ctx.settings.model_copy(update={"plugin_options": options})).load()
    products = pick_products(max(1, count // 3))
    requests = [
        CopyRequest(product=p, channel=c, keywords=[keyword(p)], variants=1)
        for p in products
        for c in CHANNELS[p.language or "en"]
    ]
    outcomes = asyncio.run(registry.get("copywriter").run_many(requests, registry.context()))
    drafted = [v for o in outcomes if isinstance(o, CopyResult) for v in o.variants]
    share = lambda test: sum(map(test, drafted)) / max(1, len(drafted))  # noqa: E731
    return {
        "main": share(lambda v: all(v.draft_passed.values())),
        "draft_length_compliance": share(lambda v: v.draft_passed["length"]),
        "draft_violation_rate": share(lambda v: not v.draft_passed["compliance"]),
        "draft_grounded_rate": share(lambda v: v.draft_passed["grounding"]),
        "variants": len(drafted),
        "failed_requests": sum(not isinstance(o, CopyResult) for o in outcomes),
    }


Task = Callable[[Context, int, int], dict[str, float]]  # (ctx, size, drafts) -> figures
TASKS: dict[str, tuple[str, Task, bool]] = {  # metric, runner, whether it drafts
    "reviews": ("polarity accuracy (mean zh, en)", reviews_task, False),
    "reasons": ("first drafts grounded", reasons_task, True),
    "support": ("answers in the model's phrasing", support_task, True),
    "copy": ("drafts passing every check", copy_task, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10 reviews a language, 8 reasons, 12 questions, 6 copy variants",
    )
    parser.add_argument("--reviews", type=int, default=None, help="test reviews a language (100)")
    parser.add_argument("--reasons", type=int, default=None, help="reasons (60)")
    parser.add_argument("--support", type=int, default=None, help="support questions (120)")
    parser.add_argument("--copy", type=int, default=None, help="copy variants, about (60)")
    parser.add_argument("--drafts", type=int, default=3, help="drafts of the third column")
    parser.add_argument("--adapters", type=Path, default=None, help="default: adapters_dir")
    parser.add_argument(
        "--tasks", default=",".join(TASKS), help=f"comma-separated, of {', '.join(TASKS)}"
    )
    args = parser.parse_args()
    chosen = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if unknown := sorted(set(chosen) - set(TASKS)):
        parser.error(f"--tasks: unknown {', '.join(unknown)} (known: {', '.join(TASKS)})")
    sizes = {
        "reviews": args.reviews or (10 if args.quick else 100),
        "reasons": args.reasons or (8 if args.quick else 60),
        "support": args.support or (12 if args.quick else 120),
        "copy": args.copy or (6 if args.quick else 60),
    }
    settings = Settings()
    adapters = args.adapters or settings.adapters_dir
    rows, figures = [], {}
    improved = 0
    tuned_settings = settings.model_copy(update={"adapters_dir": adapters})
    contexts = {
        "base": Context(tuned_settings.model_copy(update={"llm_adapters": False})),
        "adapter": Context(tuned_settings),
    }
    for task in chosen:
        metric, run, drafts = TASKS[task]
        if not (adapters / task).is_dir():
            print(f"{task}: no adapter in {adapters}, skipped")
            continue
        runs = [("base", contexts["base"], 1), ("adapter", contexts["adapter"], 1)]
        if drafts and args.drafts > 1:
            runs.append((f"adapter_k{args.drafts}", contexts["adapter"], args.drafts))
        measured = {}
        for label, ctx, k in runs:
            started = time.perf_counter()
            measured[label] = run(ctx, sizes[task], k)
            measured[label]["seconds"] = time.perf_counter() - started
        base, tuned = measured["base"]["main"], measured["adapter"]["main"]
        improved += tuned > base
        several = measured.get(f"adapter_k{args.drafts}", {}).get("main")
        shown = "-" if several is None else several
        rows.append([task, metric, sizes[task], base, tuned, shown, tuned - base])
        figures[f"{task}_base"] = round(base, 4)
        figures[f"{task}_adapter"] = round(tuned, 4)
        for label, values in measured.items():
            figures |= {
                f"{task}_{label}_{k}": round(v, 4) for k, v in values.items() if k != "main"
            }
            if label.startswith("adapter_k"):
                figures[f"{task}_{label}"] = round(values["main"], 4)
    print("held-out data; the same requests for the base model and the adapter\n")
    print_table(
        ["task", "metric", "n", "base", "adapter", f"adapter, {args.drafts} drafts", "change"],
        rows,
    )
    figures["tasks_improved"] = improved
    print()
    print_json_line(figures)


if __name__ == "__main__":
    main()
