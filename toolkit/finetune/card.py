"""The model card written next to a trained adapter (README.md), from training.json and the
prepared data's origin."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from pitchcraft.finetune.train import TrainReport

EVALUATION = (
    "Measured against the base model on held-out data by `python -m benchmarks.adapters_eval`"
    " (the task's own metric); see the project README for the figures of the shipped adapters."
)


class PreparedSet(BaseModel):
    """What `pitchcraft finetune prepare` recorded next to a data file, if it did."""

    origin: str = "not recorded (the data was not built by `pitchcraft finetune prepare`)"
    command: str = ""


def prepared_set(task: str, data: Path) -> PreparedSet:
    origin_file = data.with_suffix(".json")
    if not origin_file.is_file():
        return PreparedSet()
    meta = json.loads(origin_file.read_text(encoding="utf-8"))
    command = meta.get("command") or (
        f"pitchcraft finetune prepare {task} --examples {meta.get('examples')}"
        f" --seed {meta.get('seed')}"
    )
    return PreparedSet(origin=meta.get("origin", PreparedSet().origin), command=command)


def data_section(task: str, data: Sequence[Path]) -> tuple[str, list[str]]:
    """How the data was built: the command after the counts, then each set's origin."""
    sets = [prepared_set(task, path) for path in data]
    if len(sets) == 1:
        built = f", built with `{sets[0].command}`." if sets[0].command else "."
        return built, [sets[0].origin]
    built = f", the distinct examples of {len(sets)} sets (below)."
    return built, [
        f"{number}. " + (f"`{one.command}`: " if one.command else "") + one.origin
        for number, one in enumerate(sets, 1)
    ]


def write_card(adapter_dir: Path, report: TrainReport, data: Sequence[Path]) -> Path:
    built, origins = data_section(report.task, data)
    s = report.settings
    lines = [
        f"# `{report.task}` adapter",
        "",
        "A LoRA adapter of the embedded base model (Qwen2.5-Coder-0.5B-Instruct), loaded by name"
        f" (`{report.task}`) by the local backend and by `pitchcraft model serve`.",
        "",
        "## Data",
        "",
        f"{report.examples_train} training and {report.examples_validation} validation examples"
        f" (held out by content hash; fingerprint `{report.data_fingerprint}`)"
        + built
        + (
            f" {report.examples_too_long} more were longer than {report.settings.max_length}"
            " tokens and left out."
            if report.examples_too_long
            else ""
        )
        + (
            f" At most {s.per_system} examples a system message were kept (in file order), so"
            " no one kind of request (a channel) crowds out the others."
            if s.per_system
            else ""
        ),
        "",
        *origins,
        "",
        "## Training",
        "",
        "| setting | value |",
        "| --- | --- |",
        f"| LoRA rank / alpha / dropout | {s.rank} / {s.alpha} / {s.dropout} |",
        "| modules | q_proj, k_proj, v_proj, o_proj |",
        f"| learning rate, warm-up | {s.learning_rate:g}, {s.warmup_steps} steps, linear decay |",
        f"| batch x accumulation | {s.batch_size} x {s.accumulate} |",
        f"| steps (best at) | {report.steps} ({report.best_step}) |",
        f"| validation loss per answer token | {report.validation_loss_start:.3f} at the start,"
        f" {report.validation_loss_best:.3f} at best |",
        f"| tokens trained | {report.train_tokens:,} |",
        f"| time, tokens/s | {report.seconds:.0f} s, {report.tokens_per_second:.0f} |",
        f"| device | {report.device} |",
        "",
        "## Evaluation",
        "",
        EVALUATION,
        "",
    ]
    card = adapter_dir / "README.md"
    card.write_text("\n".join(lines), encoding="utf-8")
    return card
