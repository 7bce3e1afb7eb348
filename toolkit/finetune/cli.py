"""`pitchcraft finetune TASK --data FILE`: train a task's LoRA adapter on the embedded model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli_common import friendly_errors, load_settings, out, print_json


@friendly_errors
def finetune_command(
    task: Annotated[str, typer.Argument(help="Adapter name: copy, reasons, support, reviews.")],
    data: Annotated[Path, typer.Option(help='JSONL, one {"messages": [...]} a line.')],
    steps: Annotated[int, typer.Option(help="Optimizer steps at most.")] = 200,
    rank: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-4,
    batch_size: Annotated[int, typer.Option(help="Examples per batch.")] = 4,
    accumulate: Annotated[int, typer.Option(help="Batches per optimizer step.")] = 4,
    eval_every: Annotated[int, typer.Option(help="Steps between validation losses.")] = 20,
    patience: Annotated[int, typer.Option(help="Evaluations without improvement.")] = 3,
    output: Annotated[
        Path | None, typer.Option(help="Adapter folder; default: adapters_dir/TASK.")
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Ignore a checkpoint of the same run.")] = False,
) -> None:
    """Train TASK's adapter with early stopping; a rerun of the same run resumes it."""
    import shutil

    from pydantic import ValidationError

    from toolkit.errors import InputError, field_errors
    from toolkit.finetune.data import load_examples
    from toolkit.finetune.train import TrainSettings, finetune
    from toolkit.llm.base_model import base_model_dir
    from toolkit.progress import progress_bar

    settings = load_settings()
    try:
        train_settings = TrainSettings(
            rank=rank,
            learning_rate=learning_rate,
            batch_size=batch_size,
            accumulate=accumulate,
            max_steps=steps,
            eval_every=eval_every,
            patience=patience,
        )
    except ValidationError as err:
        options = {"max_steps": "steps"}
        problems = {
            "--" + options.get(name, name).replace("_", "-"): problem
            for name, problem in field_errors(err).items()
        }
        raise InputError("finetune", problems) from None
    examples = load_examples(data)
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
    if report.best_step == 0:
        out.print(
            f"[yellow]validation loss never improved on {report.validation_loss_start:.3f}: "
            "no adapter saved[/yellow]"
        )
    print_json(report.model_dump(mode="json"))
