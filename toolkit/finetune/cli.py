"""`pitchcraft finetune TASK`: train a task's LoRA adapter on the embedded model;
`pitchcraft finetune prepare TASK`: build its training data from real data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel, Field

from pitchcraft.cli_common import friendly_errors, load_settings, out, print_json
from pitchcraft.errors import InputError
from pitchcraft.settings import Settings

if TYPE_CHECKING:
    from pitchcraft.context import Context
    from pitchcraft.finetune.sets import TrainingSet
    from pitchcraft.finetune.train import TrainSettings

PREPARE = "prepare"


def prepared_path(settings: Settings, task: str) -> Path:
    return settings.cache_dir / "finetune" / "data" / f"{task}.jsonl"


@friendly_errors
def finetune_command(
    task: Annotated[
        str,
        typer.Argument(help="Adapter to train (copy, reasons, support, reviews), or 'prepare'."),
    ],
    prepare_task: Annotated[
        str | None, typer.Argument(help="After 'prepare': the adapter to build data for.")
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            help='JSONL, one {"messages": [...]} a line; default: what prepare wrote.'
            " Repeat it to train on several sets at once (e.g. rounds of --from-model)."
        ),
    ] = None,
    examples: Annotated[
        int, typer.Option(help="prepare: examples to build (--from-model: inputs to draft for).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="prepare: sampling seed.")] = 0,
    steps: Annotated[int, typer.Option(help="Optimizer steps at most.")] = 200,
    rank: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-4,
    batch_size: Annotated[int, typer.Option(help="Examples per batch.")] = 4,
    accumulate: Annotated[int, typer.Option(help="Batches per optimizer step.")] = 4,
    eval_every: Annotated[int, typer.Option(help="Steps between validation losses.")] = 20,
    patience: Annotated[int, typer.Option(help="Evaluations without improvement.")] = 3,
    max_length: Annotated[
        int, typer.Option(help="Tokens per example at most; longer ones are left out.")
    ] = 768,
    output: Annotated[
        Path | None,
        typer.Option(help="Adapter folder (default adapters_dir/TASK); prepare: the JSONL."),
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Ignore a checkpoint of the same run.")] = False,
    per_system: Annotated[
        int,
        typer.Option(
            help="Examples sharing a system message at most, in file order (the copywriter's "
            "names the channel); 0: all."
        ),
    ] = 0,
    from_model: Annotated[
        bool,
        typer.Option(
            help="prepare: the model drafts the targets; the plugin's checks keep or refuse them."
        ),
    ] = False,
    drafts: Annotated[int, typer.Option(help="prepare --from-model: drafts per input.")] = 8,
    temperature: Annotated[
        float, typer.Option(help="prepare --from-model: sampling temperature.")
    ] = 0.9,
    keep: Annotated[
        int, typer.Option(help="prepare --from-model: accepted drafts kept per input, at most.")
    ] = 2,
    adapter: Annotated[
        str | None,
        typer.Option(help="prepare --from-model: adapter drafting (default TASK's own; 'base')."),
    ] = None,
) -> None:
    """Train TASK's adapter with early stopping (a rerun resumes it), or `prepare TASK`:
    write its training data, built by the plugin that uses the adapter."""
    settings = load_settings()
    if task == PREPARE:
        if not prepare_task:
            raise InputError("finetune", {"TASK": "say which adapter to prepare data for"})
        if examples < 2:
            raise InputError("finetune", {"--examples": "at least 2"})
        if from_model:
            sampling = checked_sampling(prepare_task, drafts, temperature, keep, adapter)
            prepare_from_model(settings, prepare_task, examples, seed, output, sampling)
        else:
            prepare(settings, prepare_task, examples, seed, output)
        return
    if prepare_task is not None:
        raise InputError("finetune", {"TASK": f"one adapter name, got also {prepare_task!r}"})
    if not data:
        prepared = prepared_path(settings, task)
        if not prepared.is_file():
            raise InputError(
                "finetune",
                {"--data": f"not given, and `pitchcraft finetune prepare {task}` has not run"},
            )
        data = [prepared]
    train_settings = checked_settings(
        rank=rank,
        learning_rate=learning_rate,
        batch_size=batch_size,
        accumulate=accumulate,
        max_steps=steps,
        eval_every=eval_every,
        patience=patience,
        max_length=max_length,
        per_system=per_system,
    )
    train(settings, task, data, output, fresh, train_settings)


class Sampling(BaseModel):
    drafts: int = Field(ge=1, le=16)
    temperature: float = Field(gt=0, le=2)
    keep: int = Field(ge=1)
    adapter: str | None  # None: the base model


def checked_sampling(
    task: str, drafts: int, temperature: float, keep: int, adapter: str | None
) -> Sampling:
    """The --from-model options, or an InputError naming the bad ones."""
    from pydantic import ValidationError

    from pitchcraft.errors import field_errors

    chosen = task if adapter is None else (None if adapter == "base" else adapter)
    try:
        return Sampling(drafts=drafts, temperature=temperature, keep=keep, adapter=chosen)
    except ValidationError as err:
        problems = {"--" + name: problem for name, problem in field_errors(err).items()}
        raise InputError("finetune", problems) from None


def offered_set(settings: Settings, task: str, from_model: bool) -> tuple[TrainingSet, Context]:
    """The plugin set that prepares `task` (with inputs alone for --from-model)."""
    from pitchcraft.registry import Registry

    registry = Registry(settings).load()
    offered = {
        s.task: s
        for name in registry.names()
        for s in registry.get(name).training_sets()
        if (s.inputs if from_model else s.build) is not None
    }
    if task not in offered:
        known = ", ".join(sorted(offered)) or "none"
        what = "drafts inputs for" if from_model else "prepares"
        raise InputError("finetune", {"TASK": f"no plugin {what} {task!r} (offered: {known})"})
    return offered[task], registry.context()


def prepare_from_model(
    settings: Settings, task: str, count: int, seed: int, output: Path | None, how: Sampling
) -> None:
    from pitchcraft.finetune.sampled import sample_examples
    from pitchcraft.finetune.sets import PreparedData, write_prepared
    from pitchcraft.llm.verified import DraftPlan
    from pitchcraft.progress import progress_bar

    chosen, ctx = offered_set(settings, task, from_model=True)
    assert chosen.inputs is not None
    if how.adapter and not ctx.llm.serves(how.adapter):
        out.print(f"no adapter {how.adapter!r} served: the base model drafts", style="yellow")
        how = how.model_copy(update={"adapter": None})
    inputs = list(chosen.inputs(ctx, count, seed))
    if not inputs:
        raise InputError(
            "finetune",
            {
                "--from-model": f"the plugin found no {task} inputs to draft for (an empty store? "
                "`pitchcraft ingest demo` loads the demo shop)"
            },
        )
    plan = DraftPlan(drafts=how.drafts, temperature=how.temperature, seed=seed)
    with progress_bar(f"draft {task}") as update:
        built, figures = sample_examples(
            ctx, inputs, adapter=how.adapter, plan=plan, keep=how.keep, on_progress=update
        )
    if not built:
        raise InputError("finetune", {"--from-model": f"no draft of {len(inputs)} inputs passed"})
    origin = (
        f"{chosen.origin}\nTargets: drafts by the model ({figures.model}; the greedy one and "
        f"{how.drafts - 1} sampled at temperature {how.temperature}) that {chosen.accepts}; "
        f"at most {how.keep} distinct ones an input. {figures.inputs_accepted} of "
        f"{figures.inputs} inputs had one; {figures.drafts_accepted} of {figures.drafts} "
        "drafts were accepted."
        + (
            f" {figures.inputs_failed} inputs were left out: their requests failed ("
            + "; ".join(f"{n}x {why}" for why, n in figures.failures.items())
            + ")."
            if figures.inputs_failed
            else ""
        )
    )
    path = output or prepared_path(settings, task)
    command = (
        f"pitchcraft finetune prepare {task} --from-model --examples {count} --seed {seed} "
        f"--drafts {how.drafts} --temperature {how.temperature:g} --keep {how.keep} "
        f"--adapter {how.adapter or 'base'}"
    )
    meta = PreparedData(
        task=task,
        examples=len(built),
        seed=seed,
        origin=origin,
        path=str(path),
        sampled=figures,
        command=command,
    )
    write_prepared(path, built, meta)
    print_json(meta.model_dump())


def prepare(settings: Settings, task: str, count: int, seed: int, output: Path | None) -> None:
    from pitchcraft.finetune.sets import PreparedData, write_prepared
    from pitchcraft.progress import progress_bar

    chosen, ctx = offered_set(settings, task, from_model=False)
    assert chosen.build is not None
    path = output or prepared_path(settings, task)
    built = []
    with progress_bar(f"prepare {task}") as update:
        for example in chosen.build(ctx, count, seed):
            built.append(example)
            update(len(built), count)
    meta = PreparedData(
        task=task, examples=len(built), seed=seed, origin=chosen.origin, path=str(path)
    )
    write_prepared(path, built, meta)
    print_json(meta.model_dump())


def checked_settings(**options: float) -> TrainSettings:
    """TrainSettings, or an InputError naming the command's options."""
    from pydantic import ValidationError

    from pitchcraft.errors import field_errors
    from pitchcraft.finetune.train import TrainSettings

    try:
        return TrainSettings.model_validate(options)
    except ValidationError as err:
        renamed = {"max_steps": "steps"}
        problems = {
            "--" + renamed.get(name, name).replace("_", "-"): problem
            for name, problem in field_errors(err).items()
        }
        raise InputError("finetune", problems) from None


def train(
    settings: Settings,
    task: str,
    data: list[Path],
    output: Path | None,
    fresh: bool,
    train_settings: TrainSettings,
) -> None:
    import shutil

    from pitchcraft.finetune.data import load_sets
    from pitchcraft.finetune.train import finetune
    from pitchcraft.llm.base_model import base_model_dir
    from pitchcraft.progress import progress_bar

    examples = load_sets(data)
    adapter = output or settings.adapters_dir / task
    work = settings.cache_dir / "finetune" / task
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
    with progress_bar(f"finetune {task}") as update:
        report = finetune(
            task,
            examples,
            base_model_dir(settings.cache_dir),
            adapter,
            work,
            train_settings,
            update,
        )
    if report.best_step > 0:
        from pitchcraft.finetune.card import write_card

        write_card(adapter, report, data)
    else:
        out.print(
            f"validation loss never improved on {report.validation_loss_start:.3f}: "
            "no adapter saved",
            style="yellow",
        )
    print_json(report.model_dump(mode="json"))
