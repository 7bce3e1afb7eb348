"""Rejection-sampling fine-tuning data: the model drafts replies to training-split inputs,
the plugin's own check accepts or refuses each, and the accepted ones become the targets
(`pitchcraft finetune prepare TASK --from-model`).

Each input gets `drafts` drafts (the greedy one, then sampled ones); a refused draft that the
plugin's small repair makes acceptable counts as accepted (its repaired form is the target);
at most `keep` distinct accepted drafts of one input are kept, so inputs the model finds easy
do not crowd out the others. Drafting with the task's adapter (a later round) needs that
adapter served.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from pitchcraft.context import Context
from pitchcraft.errors import ModelUnavailable
from pitchcraft.finetune.data import Example
from pitchcraft.finetune.sets import DraftInput, SampledFigures, structured_example
from pitchcraft.llm.verified import DraftPlan, checked_drafts

# Inputs failing one after another that mean the server is down, not slow: the run stops.
FAILED_IN_A_ROW = 8


def refusal_kind(problem: str) -> str:
    """'unsupported: "It costs $5"' -> 'unsupported' (the part before a quote or colon)."""
    return problem.split(":", 1)[0].split("'", 1)[0].split('"', 1)[0].strip()[:60]


def sample_examples(
    ctx: Context,
    inputs: Sequence[DraftInput],
    *,
    adapter: str | None,
    plan: DraftPlan,
    keep: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Example], SampledFigures]:
    """The accepted drafts as training examples, and how the drafts fared."""

    def draft(item: DraftInput) -> list[tuple[object, list[str]]] | ModelUnavailable:
        try:
            return checked_drafts(  # type: ignore[return-value]
                ctx.llm,
                item.schema,
                item.prompt,
                item.check,
                adapter=adapter,
                max_tokens=item.max_tokens,
                plan=plan,
            )
        except ModelUnavailable as err:  # one slow request must not end an hour's run
            return err

    examples: list[Example] = []
    refusals: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    accepted_inputs = accepted_drafts = repaired = failed = 0
    # Inputs drafted at once, each `drafts` requests: together the requests the engine takes.
    in_flight = max(1, ctx.settings.concurrency // plan.drafts)
    results: list[list[tuple[object, list[str]]] | ModelUnavailable | None] = [None] * len(inputs)
    failed_in_a_row = 0
    drafted = ctx.completed(draft, inputs, in_flight)
    for done, (index, result) in enumerate(drafted, 1):
        results[index] = result
        failed_in_a_row = failed_in_a_row + 1 if isinstance(result, ModelUnavailable) else 0
        if failed_in_a_row >= min(FAILED_IN_A_ROW, len(inputs)):
            drafted.close()  # drop the inputs not started
            raise result  # type: ignore[misc]
        if on_progress:
            on_progress(done, len(inputs))
    for item, checked in zip(inputs, results, strict=True):  # in input order: reproducible
        if isinstance(checked, ModelUnavailable) or checked is None:
            failed += 1
            failures[str(checked)[:120]] += 1
            continue
        kept: dict[str, Example] = {}
        for value, problems in checked:
            if problems:
                refusals.update({refusal_kind(p) for p in problems})
                value = item.fix(value) if item.fix and value is not None else None
                if value is None:
                    continue
                repaired += 1
            accepted_drafts += 1
            key = value.model_dump_json()  # type: ignore[attr-defined]
            if key not in kept and len(kept) < keep:
                kept[key] = structured_example(item.schema, item.prompt, value)  # type: ignore[arg-type]
        accepted_inputs += bool(kept)
        examples += kept.values()
    figures = SampledFigures(
        model=adapter or "base",
        drafts_per_input=plan.drafts,
        temperature=plan.temperature,
        inputs=len(inputs),
        inputs_accepted=accepted_inputs,
        drafts=(len(inputs) - failed) * plan.drafts,
        drafts_accepted=accepted_drafts,
        drafts_repaired=repaired,
        refusals=dict(refusals.most_common(8)),
        inputs_failed=failed,
        failures=dict(failures.most_common(4)),
    )
    return examples, figures
