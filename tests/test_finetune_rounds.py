"""Training on several prepared sets at once (rounds of drafting): each distinct example once,
at most so many a system message, and a model card that says where each set came from."""

from __future__ import annotations

import json
from pathlib import Path

from pitchcraft.finetune.card import data_section
from pitchcraft.finetune.data import capped_per_system, load_sets
from tests.test_finetune import chat, write


def test_sets_are_joined_in_order_with_each_distinct_example_once(tmp_path: Path) -> None:
    first = write(tmp_path / "r1.jsonl", [chat("Price?", "$5 [1]"), chat("Stock?", "Yes [1]")])
    second = write(tmp_path / "r2.jsonl", [chat("Stock?", "Yes [1]"), chat("Brand?", "Acme [2]")])
    answers = [e.messages[-1].content for e in load_sets([first, second])]
    assert answers == ["$5 [1]", "Yes [1]", "Acme [2]"]


def test_the_card_names_the_command_and_origin_of_every_set(tmp_path: Path) -> None:
    first = write(tmp_path / "r1.jsonl", [chat("a", "b")])
    second = write(tmp_path / "r2.jsonl", [chat("c", "d")])
    first.with_suffix(".json").write_text(
        json.dumps({"origin": "Drafts by base.", "command": "pitchcraft finetune prepare x"})
    )
    built, origins = data_section("support", [first])
    assert built == ", built with `pitchcraft finetune prepare x`."
    assert origins == ["Drafts by base."]
    built, origins = data_section("support", [first, second])
    assert "2 sets" in built
    assert origins[0] == "1. `pitchcraft finetune prepare x`: Drafts by base."
    assert origins[1].startswith("2. not recorded")


def test_at_most_so_many_examples_a_system_message_are_kept_in_file_order(tmp_path: Path) -> None:
    def on(channel: str, n: int) -> dict:
        row = chat(f"product {n}", f"{channel} copy {n}")
        row["messages"].insert(0, {"role": "system", "content": f"You write {channel} copy."})
        return row

    rows = [on("amazon", 1), on("amazon", 2), on("email", 1), on("amazon", 3), chat("q", "a")]
    examples = load_sets([write(tmp_path / "r.jsonl", rows)])
    kept = [e.messages[-1].content for e in capped_per_system(examples, 2)]
    assert kept == ["amazon copy 1", "amazon copy 2", "email copy 1", "a"]
    assert capped_per_system(examples, 0) == examples
