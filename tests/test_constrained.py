"""The local engine's JSON-schema mask: lm-format-enforcer in its bitmask mode, with a
cheaper vocabulary walk that must allow exactly what the library allows."""

from __future__ import annotations

import pytest
import torch


def test_the_enforcers_bitmask_unpacks_to_the_allowed_tokens() -> None:
    from pitchcraft.llm.constrained import unpacked

    bits = torch.zeros(2, dtype=torch.int32)
    for token in (0, 5, 31, 33):  # bit 31 makes the word negative: shifts must still read it
        bits[token >> 5] |= 1 << (token & 31)
    flags = unpacked(bits, 70)  # wider than the packed 64: the rest is not allowed
    assert flags.nonzero().flatten().tolist() == [0, 5, 31, 33]
    assert unpacked(bits, 20).nonzero().flatten().tolist() == [0, 5]


def test_token_ids_pack_into_the_enforcers_bitmask() -> None:
    from pitchcraft.llm.constrained import packed, unpacked

    bits = packed([0, 5, 31, 33, 5], 70)
    assert bits.dtype == torch.int32 and bits.shape == (3,)
    assert unpacked(bits, 70).nonzero().flatten().tolist() == [0, 5, 31, 33]


@pytest.mark.slow  # the embedded model's tokenizer
def test_the_fast_enforcer_and_string_cache_allow_exactly_the_librarys_tokens() -> None:
    from lmformatenforcer import JsonSchemaParser, TokenEnforcer
    from transformers import AutoTokenizer

    from pitchcraft.llm.base_model import base_model_dir
    from pitchcraft.llm.constrained import (
        fast_enforcer_class,
        library_tokenizer_data,
        tokenizer_data,
    )
    from tests.llm_fixtures import MODEL_CACHE

    tokenizer = AutoTokenizer.from_pretrained(base_model_dir(MODEL_CACHE))
    vocabulary = tokenizer_data(tokenizer)
    library = library_tokenizer_data(tokenizer)
    schema = {
        "type": "object",
        "properties": {
            "headline": {"type": "string", "maxLength": 30, "minLength": 4},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "stars": {"type": "integer"},
        },
        "required": ["headline", "tags", "stars"],
    }
    prompt = tokenizer.encode("Reply in JSON.")
    for reply in (
        '{"headline": "保温杯 500ml, steel", "tags": ["gift", "户外"], "stars": 5}',
        # compact, a Chinese character first: the library's default ASCII alphabet stopped
        # such a reply at its first character
        '{"headline":"您的保温杯 500ml","tags":["礼物"],"stars":5}',
    ):
        ours = fast_enforcer_class()(vocabulary.data, JsonSchemaParser(schema, vocabulary.config))
        theirs = TokenEnforcer(library, JsonSchemaParser(schema, vocabulary.config))
        tokens = tokenizer.encode(reply)
        for step in range(len(tokens) + 1):
            sequence = prompt + tokens[:step]
            mine = ours.get_allowed_tokens(sequence).allowed_tokens
            assert torch.equal(mine, theirs.get_allowed_tokens(sequence).allowed_tokens), step
            if step < len(tokens):  # the reply is valid: each of its tokens is allowed
                allowed = mine[tokens[step] >> 5] & (1 << (tokens[step] & 31))
                assert allowed, (reply, tokenizer.decode(tokens[: step + 1]))


def test_soft_limits_become_the_enforcers_hard_ones_for_rows_that_land() -> None:
    from pitchcraft.llm.structured import SOFT_MAX_LENGTH, resolve_soft_limits

    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", SOFT_MAX_LENGTH: 30},
            "tags": {"type": "array", "items": {"type": "string", SOFT_MAX_LENGTH: 15}},
            "note": {"type": "string", "maxLength": 8, SOFT_MAX_LENGTH: 20},
        },
    }
    hard, lands = resolve_soft_limits(schema, as_max_length=True)
    props = hard["properties"]
    assert lands and props["title"] == {"type": "string", "maxLength": 30}
    assert props["tags"]["items"] == {"type": "string", "maxLength": 15}
    assert props["note"]["maxLength"] == 8  # the stricter of the two
    plain = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}}
    assert resolve_soft_limits(plain, as_max_length=True) == (plain, False)


def test_closing_a_string_gains_more_the_nearer_its_limit() -> None:
    from pitchcraft.llm.landing import LANDING_BIAS, LANDING_START, landing_bias

    before = int(LANDING_START * 100) - 1
    assert landing_bias(0, 100) == landing_bias(before, 100) == 0.0
    rising = [landing_bias(n, 100) for n in range(before + 1, 101, 5)]
    assert rising == sorted(rising) and rising[0] < rising[-1]
    assert landing_bias(100, 100) == landing_bias(120, 100) == LANDING_BIAS


@pytest.mark.slow  # the embedded model's tokenizer
def test_a_string_near_its_soft_limit_favours_its_closing_tokens() -> None:
    from transformers import AutoTokenizer

    from pitchcraft.llm.base_model import base_model_dir
    from pitchcraft.llm.constrained import SchemaMask, tokenizer_data
    from pitchcraft.llm.structured import SOFT_MAX_LENGTH
    from tests.llm_fixtures import MODEL_CACHE

    tokenizer = AutoTokenizer.from_pretrained(base_model_dir(MODEL_CACHE))
    vocabulary = tokenizer_data(tokenizer)
    soft = {"type": "object", "properties": {"t": {"type": "string", SOFT_MAX_LENGTH: 12}}}
    plain = {"type": "object", "properties": {"t": {"type": "string"}}}
    quote, letter = tokenizer.encode('"')[-1], tokenizer.encode("x")[-1]
    prompt = tokenizer.encode("Reply in JSON.")

    def scores_after(schema: dict, text: str) -> torch.Tensor:
        mask = SchemaMask(vocabulary, [schema])
        ids = prompt + tokenizer.encode(text)
        for step in range(len(prompt), len(ids)):  # the enforcer follows the reply token by token
            mask(torch.tensor([ids[:step]]), torch.zeros(1, len(tokenizer)))
        return mask(torch.tensor([ids]), torch.zeros(1, len(tokenizer)))[0]

    early = scores_after(soft, '{"t": "abc')
    assert early[quote] == early[letter] == 0  # far from the limit: nothing changes
    near = scores_after(soft, '{"t": "abcdefghij')
    assert near[quote] > 0 and near[letter] == 0
    assert scores_after(plain, '{"t": "abcdefghij')[quote] == 0
    at_limit = scores_after(soft, '{"t": "abcdefghijkl')
    assert at_limit[letter] == float("-inf") and at_limit[quote] > 0  # only closing is left
