"""`pitchcraft finetune prepare`: the training sets plugins build from real data use the
plugin's own prompts, hold the evaluation data out, and have targets that pass the
plugin's own checks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pitchcraft.cli import app
from pitchcraft.context import Context
from pitchcraft.finetune.data import Example
from pitchcraft.settings import Settings
from tests.llm_fixtures import MODEL_CACHE


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(Settings(cache_dir=MODEL_CACHE))


def test_review_readings_come_from_the_training_split_with_checked_targets(ctx: Context) -> None:
    from pitchcraft.llm.structured import instruction
    from pitchcraft.plugins.sentiment.corpus import chinese_examples, english_examples, is_test
    from pitchcraft.plugins.sentiment.shared import reading_request
    from pitchcraft.plugins.sentiment.training import READING

    labels = {e.text: e.label for e in chinese_examples() + english_examples()}
    examples = list(READING.build(ctx, 12, 3))
    assert len(examples) == 12
    languages = set()
    for example in examples:
        system, user, answer = example.messages
        text = user.content.rsplit('"""', 2)[1]  # the review closes the prompt
        assert not is_test(text)  # the evaluation's reviews are never trained on
        schema, prompt = reading_request(text, "zh" if "评价" in user.content else "en", ctx)
        languages.add("zh" if "评价" in user.content else "en")
        assert (system.content, user.content) == (instruction(schema), prompt)
        reading = schema.model_validate_json(answer.content)
        assert reading.overall == labels[text]
        assert all(a.evidence in text for a in reading.aspects)
    assert languages == {"zh", "en"}


def test_reasons_use_the_training_half_and_pass_the_grounding_check(ctx: Context) -> None:
    from pitchcraft.data import demo_shop
    from pitchcraft.llm.structured import json_safe_quotes
    from pitchcraft.plugins.recommender.reasons import (
        DraftReason,
        ReasonFacts,
        price_text,
        reason_problems,
    )
    from pitchcraft.plugins.recommender.training import GROUNDED_REASONS, in_training_half
    from pitchcraft.text.terms import load_lexicon

    products = demo_shop.load_products()
    shown = {json_safe_quotes(p.title): p for p in products}  # as prompts and targets show them
    trained = {t for t, p in shown.items() if in_training_half(p)}
    held_out = {t for t, p in shown.items() if not in_training_half(p)} - trained
    assert len(held_out) > 100
    examples = list(GROUNDED_REASONS.build(ctx, 30, 1))
    lexicon = load_lexicon(ctx.settings)
    languages: set[tuple[str, str]] = set()
    for example in examples:
        prompt, answer = example.messages[1].content, example.messages[2].content
        title = re.search(r"^(?:Recommended product: |推荐商品：)(.+)$", prompt, re.M)
        assert title is not None and title.group(1) in trained
        reason = DraftReason.model_validate_json(answer).reason
        assert '"' not in reason  # copied unescaped, a quote would end the JSON string
        product = shown[title.group(1)]
        language = "zh" if "推荐商品：" in prompt else "en"
        languages.add((language, product.language))
        bought = set(re.findall(r"^- (.+)$", prompt, re.M))
        history = [shown[t] for t in bought]
        # the need or history only widens the facts: the product alone must ground the rest
        facts = ReasonFacts(product, history=history, need=prompt)
        assert reason_problems(reason, facts, language, lexicon) == []
        if product.price is not None:  # the price is copied as the prompt shows it
            assert price_text(product, language) in reason  # type: ignore[arg-type]
    assert len({e.messages[2].content for e in examples}) == 30
    assert ("zh", "en") in languages  # Chinese reasons for English listings too


def test_prepare_writes_the_data_and_its_origin_and_names_an_unknown_task(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "reasons.jsonl"
    done = runner.invoke(
        app, ["finetune", "prepare", "reasons", "--examples", "5", "--output", str(out)]
    )
    assert done.exit_code == 0, done.output
    rows = [Example.model_validate_json(line) for line in out.read_text().splitlines()]
    assert len(rows) == 5
    origin = json.loads(out.with_suffix(".json").read_text())["origin"]
    assert "No model wrote any target" in origin
    unknown = runner.invoke(app, ["finetune", "prepare", "slogans"])
    assert unknown.exit_code != 0
    assert "no plugin prepares 'slogans'" in unknown.output and "reviews" in unknown.output
    assert "Traceback" not in unknown.output


def test_support_inputs_ask_about_the_training_half_with_the_responders_prompt(
    demo_store: Path,
) -> None:
    from pitchcraft.data import demo_shop
    from pitchcraft.llm.structured import json_safe_quotes
    from pitchcraft.plugins.support.answer import DraftAnswer
    from pitchcraft.plugins.support.training import PHRASED_ANSWERS, in_training_half

    ctx = Context(Settings(store_path=demo_store, cache_dir=MODEL_CACHE))
    assert PHRASED_ANSWERS.inputs is not None and PHRASED_ANSWERS.build is None
    held_out = [p for p in demo_shop.load_products() if not in_training_half(p)]
    assert len(held_out) > 100
    inputs = list(PHRASED_ANSWERS.inputs(ctx, 40, 2))
    assert len(inputs) >= 30  # a few questions find no source strong enough
    asked = [re.findall(r'"""(.+?)"""', str(i.prompt), re.S)[-1] for i in inputs]
    assert len(set(asked)) == len(asked)
    named_held_out = [
        q for q in asked for p in held_out if json_safe_quotes(p.title) in q and len(p.title) > 20
    ]
    assert named_held_out == []  # held-out products are never asked about
    assert any("配送" in q or "保修" in q or "退" in q for q in asked)  # policy questions, zh
    first = inputs[0]
    sources = re.findall(r"^\[(\d)\]", str(first.prompt), re.M)
    assert sources[0] == "1" and first.schema is DraftAnswer
    # the check refuses a draft that cites nothing, accepts none blindly
    assert first.check(DraftAnswer(answer="Yes.", sources=[])) == ["cites no valid source"]


def test_copy_inputs_are_half_chinese_and_from_the_training_half(ctx: Context) -> None:
    from pitchcraft.data import demo_shop
    from pitchcraft.plugins.copywriter.training import CHECKED_COPY, in_training_half

    assert CHECKED_COPY.inputs is not None
    held_out = {p.title for p in demo_shop.load_products() if not in_training_half(p)}
    inputs = list(CHECKED_COPY.inputs(ctx, 40, 3))
    prompts = [str(i.prompt) for i in inputs]
    assert len(set(prompts)) == 40
    # the catalogue is 4% Chinese; the inputs take the languages in turn, as the evaluation
    assert sum("你是资深电商文案" in p for p in prompts) == 20
    assert not [t for t in held_out if len(t) > 20 and any(t in p for p in prompts)]


def test_prepare_from_model_keeps_only_drafts_the_check_accepts(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded model drafts; every kept target passes the training check."""
    from pitchcraft.plugins.support.answer import DraftAnswer

    monkeypatch.setenv("PITCHCRAFT_STORE_PATH", str(demo_store))
    monkeypatch.setenv("PITCHCRAFT_CACHE_DIR", str(MODEL_CACHE))
    out = tmp_path / "support.jsonl"
    args = ["finetune", "prepare", "support", "--from-model", "--examples", "4", "--drafts", "3"]
    args += ["--adapter", "base"]
    done = CliRunner().invoke(app, [*args, "--seed", "5", "--output", str(out)])
    meta = json.loads(out.with_suffix(".json").read_text()) if out.exists() else {}
    if done.exit_code != 0:  # no draft of four inputs passed: said, not a stack trace
        assert "no draft of" in done.output and "Traceback" not in done.output
        return
    sampled = meta["sampled"]
    assert sampled["model"] == "base" and sampled["drafts"] == sampled["inputs"] * 3
    assert sampled["drafts_accepted"] >= meta["examples"] >= sampled["inputs_accepted"] >= 1
    assert "Targets: drafts by the model (base" in meta["origin"]
    for line in out.read_text().splitlines():
        answer = DraftAnswer.model_validate_json(
            Example.model_validate_json(line).messages[-1].content
        )
        assert answer.sources and answer.answer.strip()[-1] in '.!?。！？)）”"」'
