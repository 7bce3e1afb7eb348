"""JSON-schema constrained decoding for the local backend, with lm-format-enforcer's core.

(Its own transformers integration imports a module transformers 5 moved; the
core is tokenizer-agnostic, so the small adapter it needs lives here.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def tokenizer_data(tokenizer: Any) -> Any:
    """What the enforcer must know about the vocabulary (built once: a few seconds)."""
    from lmformatenforcer.tokenenforcer import TokenEnforcerTokenizerData

    zero = tokenizer.encode("0")[-1]
    special = set(tokenizer.all_special_ids)
    vocab_size = len(tokenizer)
    regular = []
    for token in range(vocab_size):
        if token in special:
            continue
        after_zero = tokenizer.decode([zero, token])[1:]
        alone = tokenizer.decode([token])
        regular.append((token, after_zero, len(after_zero) > len(alone)))

    def decode(tokens: list[int]) -> str:
        return str(tokenizer.decode(tokens)).rstrip("\ufffd")

    return TokenEnforcerTokenizerData(regular, decode, tokenizer.eos_token_id, False, vocab_size)


def allowed_tokens_fn(
    data: Any, schemas: Sequence[dict[str, Any]]
) -> Callable[[int, Any], list[int]]:
    """`prefix_allowed_tokens_fn` for generate(): row i follows schemas[i]."""
    from lmformatenforcer import JsonSchemaParser, TokenEnforcer

    enforcers = [TokenEnforcer(data, JsonSchemaParser(schema)) for schema in schemas]

    def allowed(batch_id: int, sequence: Any) -> list[int]:
        return list(enforcers[batch_id].get_allowed_tokens(sequence.tolist()).allowed_tokens)

    return allowed
