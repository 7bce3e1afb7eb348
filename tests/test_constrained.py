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
