"""The training loop: LoRA on the embedded base model, with checkpoints, resume and early stop.

One optimizer step = `accumulate` batches. The validation loss is measured every
`eval_every` steps; the best adapter so far is what gets saved, and training stops
after `patience` evaluations without improvement. A checkpoint (adapter, optimizer,
schedule, step) is written at each evaluation; a rerun with the same data and
settings resumes from it. The base weights are bfloat16 on CUDA and on CPUs with native
bf16, float32 otherwise; the adapter's own weights stay float32.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from pitchcraft.finetune.data import (
    IGNORE,
    DataError,
    Encoded,
    Example,
    answer_span,
    batches,
    capped_per_system,
    collate,
    encode,
    fingerprint,
    split,
)
from pitchcraft.llm.base_model import compute_dtype_name

TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]
Progress = Callable[[int, int, str], None]


class TrainSettings(BaseModel):
    rank: int = Field(default=8, ge=1, le=256, description="LoRA rank.")
    alpha: int = Field(default=16, ge=1, description="LoRA alpha (scale = alpha / rank).")
    dropout: float = Field(default=0.05, ge=0, lt=1)
    learning_rate: float = Field(default=2e-4, gt=0, le=1)
    batch_size: int = Field(default=4, ge=1)
    accumulate: int = Field(default=4, ge=1, description="Batches per optimizer step.")
    max_steps: int = Field(default=200, ge=1, description="Optimizer steps at most.")
    warmup_steps: int = Field(default=10, ge=0)
    eval_every: int = Field(default=20, ge=1, description="Steps between validation losses.")
    patience: int = Field(default=3, ge=1, description="Evaluations without improvement.")
    max_length: int = Field(default=768, ge=16, description="Tokens per example at most.")
    validation: float = Field(default=0.1, gt=0, lt=1, description="Share held out.")
    per_system: int = Field(
        default=0,
        ge=0,
        description="Examples sharing a system message at most (0: all), in file order.",
    )
    seed: int = 0


class TrainReport(BaseModel):
    task: str
    adapter: str
    examples_train: int
    examples_validation: int
    examples_too_long: int = 0  # left out: longer than max_length
    steps: int
    resumed_from_step: int
    stopped_early: bool
    validation_loss_start: float
    validation_loss_best: float
    best_step: int
    train_tokens: int
    seconds: float
    tokens_per_second: float
    device: str
    settings: TrainSettings
    data_fingerprint: str


def fitting(encoded: Iterable[Encoded | None]) -> list[Encoded]:
    return [e for e in encoded if e is not None]


def finetune(
    task: str,
    examples: Sequence[Example],
    model_dir: Path,
    adapter_dir: Path,
    work_dir: Path,
    settings: TrainSettings,
    progress: Progress | None = None,
) -> TrainReport:
    """Train the `task` adapter; the best one is saved to `adapter_dir` with training.json."""
    import torch

    torch.manual_seed(settings.seed)
    examples = capped_per_system(examples, settings.per_system)
    train_set, held_out = split(examples, settings.validation)
    data = fingerprint(examples)
    stamp = _stamp(task, data, settings)
    model, tokenizer, device = _load(model_dir, settings)
    train = fitting(encode(tokenizer, e, settings.max_length) for e in train_set)
    valid = fitting(encode(tokenizer, e, settings.max_length) for e in held_out)
    too_long = len(train_set) + len(held_out) - len(train) - len(valid)
    if not train or not valid:
        raise DataError(f"every example of a split is over {settings.max_length} tokens")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_then_linear(settings))
    checkpoint = work_dir / "checkpoint.pt"
    state = {"step": 0, "best": math.inf, "best_step": 0, "start": math.nan, "bad": 0, "tokens": 0}
    if checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)  # our own file
        if saved["stamp"] == stamp:
            _set_adapter(model, saved["adapter"])
            optimizer.load_state_dict(saved["optimizer"])
            schedule.load_state_dict(saved["schedule"])
            state = saved["state"]
    resumed_from = int(state["step"])
    if math.isnan(state["start"]):
        state["start"] = _loss(model, valid, settings.batch_size, pad, device)
        state["best"] = state["start"]
    started = time.monotonic()
    tokens_before = int(state["tokens"])
    stopped_early = False
    epoch = 0
    pending: list[list[Encoded]] = []
    recent: list[float] = []
    while state["step"] < settings.max_steps and not stopped_early:
        for batch in batches(train, settings.batch_size, settings.seed, epoch):
            pending.append(batch)
            if len(pending) < settings.accumulate:
                continue
            recent.append(_step(model, optimizer, schedule, pending, pad, device, params))
            state["tokens"] += sum(len(e.input_ids) for b in pending for e in b)
            pending = []
            state["step"] += 1
            note = f"loss {sum(recent[-10:]) / len(recent[-10:]):.3f}"
            if state["step"] % settings.eval_every == 0 or state["step"] == settings.max_steps:
                loss = _loss(model, valid, settings.batch_size, pad, device)
                if loss < state["best"]:
                    state.update(best=loss, best_step=state["step"], bad=0)
                    _save_adapter(model, adapter_dir)
                else:
                    state["bad"] += 1
                note += f" · validation {loss:.3f} (best {state['best']:.3f})"
                _checkpoint(checkpoint, stamp, model, optimizer, schedule, state)
                stopped_early = state["bad"] >= settings.patience
            if progress is not None:
                progress(int(state["step"]), settings.max_steps, note)
            if stopped_early or state["step"] >= settings.max_steps:
                break
        epoch += 1
    seconds = time.monotonic() - started
    trained = int(state["tokens"]) - tokens_before
    report = TrainReport(
        task=task,
        adapter=str(adapter_dir),
        examples_train=len(train),
        examples_validation=len(valid),
        examples_too_long=too_long,
        steps=int(state["step"]),
        resumed_from_step=resumed_from,
        stopped_early=stopped_early,
        validation_loss_start=float(state["start"]),
        validation_loss_best=float(state["best"]),
        best_step=int(state["best_step"]),
        train_tokens=int(state["tokens"]),
        seconds=round(seconds, 1),
        tokens_per_second=round(trained / seconds, 1) if seconds > 0 else 0.0,
        device=_device_name(device),
        settings=settings,
        data_fingerprint=data,
    )
    if adapter_dir.is_dir():
        (adapter_dir / "training.json").write_text(report.model_dump_json(indent=2) + "\n")
    return report


def _stamp(task: str, data: str, settings: TrainSettings) -> str:
    """What a checkpoint must match to be resumed: more steps or patience may be asked."""
    same = settings.model_dump(exclude={"max_steps", "patience"})
    return json.dumps([task, data, same], sort_keys=True)


def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def _load(model_dir: Path, settings: TrainSettings) -> tuple[Any, Any, str]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = getattr(torch, compute_dtype_name(cuda=device == "cuda"))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device)
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=TARGET_MODULES,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(base, config), tokenizer, device


def _warmup_then_linear(settings: TrainSettings) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < settings.warmup_steps:
            return (step + 1) / (settings.warmup_steps + 1)
        remaining = settings.max_steps - step
        return max(0.0, remaining / max(1, settings.max_steps - settings.warmup_steps))

    return factor


def _step(
    model: Any,
    optimizer: Any,
    schedule: Any,
    group: list[list[Encoded]],
    pad: int,
    device: str,
    params: list[Any],
) -> float:
    """One optimizer step over `group` batches (gradients weighted by label tokens)."""
    import torch

    model.train()
    total = sum(sum(t != IGNORE for t in e.labels) for b in group for e in b) or 1
    loss_sum = 0.0
    for batch in group:
        summed, _ = _summed_loss(model, batch, pad, device)
        loss = summed / total
        loss.backward()
        loss_sum += float(loss.detach())
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum


def _loss(model: Any, encoded: Sequence[Encoded], size: int, pad: int, device: str) -> float:
    """Mean loss per assistant token over `encoded`."""
    import torch

    model.eval()
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for batch in batches(encoded, size, 0, 0):
            summed, counted = _summed_loss(model, batch, pad, device)
            total += float(summed)
            tokens += counted
    return total / max(1, tokens)


def _summed_loss(model: Any, batch: list[Encoded], pad: int, device: str) -> tuple[Any, int]:
    """Summed cross-entropy of the batch's assistant tokens, and their count. Only the
    columns holding them go through the vocabulary layer (a quarter of the model's work
    per token otherwise)."""
    import torch

    inputs = {k: v.to(device) for k, v in collate(batch, pad).items()}
    labels = inputs.pop("labels")
    width = inputs["input_ids"].shape[1]
    span = min(max(answer_span(e.labels) for e in batch), width - 1)
    if span == 0:
        return torch.zeros((), device=device), 0
    logits = model(**inputs, logits_to_keep=span + 1).logits[:, :-1]
    targets = labels[:, -span:]
    summed = torch.nn.functional.cross_entropy(
        logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE, reduction="sum"
    )
    return summed, int((targets != IGNORE).sum())


def _save_adapter(model: Any, folder: Path) -> None:
    """The adapter as peft writes it (what vLLM's --lora-modules and the local backend load),
    swapped in whole so a reader never sees half of it."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.replace(folder)


def _set_adapter(model: Any, weights: dict[str, Any]) -> None:
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, weights)


def _checkpoint(
    path: Path, stamp: str, model: Any, optimizer: Any, schedule: Any, state: dict[str, Any]
) -> None:
    import torch
    from peft import get_peft_model_state_dict

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(
        {
            "stamp": stamp,
            "adapter": get_peft_model_state_dict(model),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "state": dict(state),
        },
        partial,
    )
    partial.replace(path)
