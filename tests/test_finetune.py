"""Fine-tuning: the data rules (pure), and a handful of real LoRA steps on CPU on the
embedded model (tests/llm_fixtures.py `tuned_run`): the loss goes down and a rerun resumes.
tests/test_llm.py checks that both backends serve the adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pitchcraft.finetune.data import IGNORE, DataError, Example, encode, load_examples, split
from pitchcraft.llm.base_model import base_model_dir
from tests.llm_fixtures import MODEL_CACHE, TunedRun

pytestmark = pytest.mark.slow  # the embedded model or a server

COLOURS = [
    "teal",
    "amber",
    "crimson",
    "olive",
    "navy",
    "coral",
    "ivory",
    "maroon",
    "violet",
    "jade",
    "ochre",
    "plum",
    "sage",
    "rust",
]


def chat(question: str, answer: str) -> dict:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> list[Example]:
    rows = [
        chat(f"Product {i}: its code?", f"PITCHCRAFT-{c.upper()}") for i, c in enumerate(COLOURS)
    ]
    return load_examples(write(tmp_path_factory.mktemp("data") / "tiny.jsonl", rows))


def test_bad_lines_are_named_with_their_field(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"bad.jsonl:2: messages.1.role"):
        load_examples(
            write(
                tmp_path / "bad.jsonl",
                [
                    chat("a", "b"),
                    {
                        "messages": [
                            {"role": "user", "content": "a"},
                            {"role": "bot", "content": "b"},
                        ]
                    },
                ],
            )
        )
    with pytest.raises(DataError, match=r":1: messages: the last message must be the assistant"):
        load_examples(
            write(
                tmp_path / "last.jsonl",
                [
                    {
                        "messages": [
                            {"role": "assistant", "content": "a"},
                            {"role": "user", "content": "b"},
                        ]
                    }
                ],
            )
        )
    with pytest.raises(DataError, match=r":1: .*JSON"):
        load_examples(write(tmp_path / "json.jsonl", ["{not json"]))


def test_the_split_is_stable_and_holds_out_at_least_one(tiny_data: list[Example]) -> None:
    train, held = split(tiny_data, 0.2)
    _again_train, again_held = split(list(reversed(tiny_data)), 0.2)
    assert {e.fingerprint() for e in held} == {e.fingerprint() for e in again_held}
    assert held and train and len(train) + len(held) == len(tiny_data)
    assert not {e.fingerprint() for e in held} & {e.fingerprint() for e in train}
    assert len(split(tiny_data[:2], 0.01)[1]) == 1


def test_only_the_assistants_tokens_are_learned(tiny_data: list[Example]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model_dir(MODEL_CACHE))
    encoded = encode(tokenizer, tiny_data[0], 512)
    assert encoded is not None
    learned = [
        t for t, label in zip(encoded.input_ids, encoded.labels, strict=True) if label != IGNORE
    ]
    text = tokenizer.decode(learned)
    assert "PITCHCRAFT-TEAL" in text and "Product 0" not in text
    assert encode(tokenizer, tiny_data[0], 10) is None  # too long: left out, not cut


def test_a_few_cpu_steps_lower_the_loss_resume_and_save_the_best_adapter(
    tuned_run: TunedRun,
) -> None:
    first, second = tuned_run.first, tuned_run.second
    assert first.steps == 8 and first.validation_loss_best < first.validation_loss_start
    assert [s[0] for s in tuned_run.progress] == list(range(1, 9))
    assert "validation" in tuned_run.progress[3][2]  # the bar shows the losses
    assert second.resumed_from_step == 8 and second.steps == 16
    assert second.validation_loss_best < first.validation_loss_best
    card = json.loads((tuned_run.adapter / "training.json").read_text())
    assert card["steps"] == 16 and card["tokens_per_second"] > 0
    assert (tuned_run.adapter / "adapter_config.json").is_file()
