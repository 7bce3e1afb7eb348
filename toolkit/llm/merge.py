"""Adapters merged into copies of the base model, for serving on CPUs.

vLLM's LoRA path on CPU runs at a fraction of the base model's speed (measured here: 41.8
tokens/s for the `support` adapter against 230.7 for the same adapter merged into the
weights, 32 requests in flight), so on CPUs `pitchcraft model serve --merge` serves an
adapter as a model of its own: the base weights with the adapter's update added, one
vLLM server each. A merged folder is made once per adapter version (seconds) and cached.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from pitchcraft.errors import PitchcraftError
from pitchcraft.llm.base_model import base_model_dir, exclusive

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
# Copied from the base folder unchanged: its config keeps the rope_theta vLLM needs
# (transformers 5 writes it elsewhere), and the tokenizer and generation defaults are shared.
BASE_FILES = ("config.json", "generation_config.json")
MERGE_FORMAT = b"float32 sum, one rounding"  # part of a folder's version: a change remakes it


def adapter_version(adapter_dir: Path) -> str:
    """A short digest of the adapter's weights and configuration."""
    digest = hashlib.sha256(MERGE_FORMAT)
    for name in ADAPTER_FILES:
        path = adapter_dir / name
        if not path.is_file():
            raise PitchcraftError(f"adapter {adapter_dir.name!r} has no {name} in {adapter_dir}")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def merged_model_dir(cache_dir: Path, name: str, adapter_dir: Path) -> Path:
    """The base model with adapter `name` merged in, made on first call and cached under
    `cache_dir/models/merged`; a changed adapter gets a new folder."""
    version = adapter_version(adapter_dir)
    target = cache_dir / "models" / "merged" / f"{name}-{version}"
    if (target / "READY").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(target.parent / f"{target.name}.lock"):
        if not (target / "READY").is_file():
            _merge(base_model_dir(cache_dir), adapter_dir, target, version)
    return target


def _merge(base: Path, adapter_dir: Path, target: Path, version: str) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Summed in float32 and rounded once: a bfloat16 sum rounds the update, then the total,
    # and a weakly trained adapter's replies drifted from the LoRA path's.
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    merged = merged.to(torch.bfloat16)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staging = Path(tmp) / "model"
        merged.save_pretrained(staging)
        AutoTokenizer.from_pretrained(base).save_pretrained(staging)
        for name in BASE_FILES:
            if (base / name).is_file():
                shutil.copyfile(base / name, staging / name)
        (staging / "READY").write_text(version)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
