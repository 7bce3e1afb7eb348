"""JSON-schema constrained decoding for the local backend, with lm-format-enforcer's core.

(Its own transformers integration imports a module transformers 5 moved; the
core is tokenizer-agnostic, so the small adapter it needs lives here.) The enforcer
runs in its bitmask mode: the allowed tokens come as packed bits that a few tensor
operations turn into a mask, where a list of up to the whole vocabulary per row and
step (what `prefix_allowed_tokens_fn` takes) cost more than the model's own step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

RegularTokens = list[tuple[int, str, bool]]  # (id, text, starts a word)


def regular_tokens(tokenizer: Any) -> RegularTokens:
    """Every token but the special ones, as the library's own integration lists them."""
    zero = tokenizer.encode("0")[-1]
    special = set(tokenizer.all_special_ids)
    regular = []
    for token in range(len(tokenizer)):
        if token in special:
            continue
        after_zero = tokenizer.decode([zero, token])[1:]
        alone = tokenizer.decode([token])
        regular.append((token, after_zero, len(after_zero) > len(alone)))
    return regular


def library_tokenizer_data(tokenizer: Any, regular: RegularTokens | None = None) -> Any:
    """What the enforcer must know about the vocabulary, as the library builds it."""
    from lmformatenforcer.tokenenforcer import TokenEnforcerTokenizerData

    def decode(tokens: list[int]) -> str:
        return str(tokenizer.decode(tokens)).rstrip("\ufffd")

    return TokenEnforcerTokenizerData(
        regular_tokens(tokenizer) if regular is None else regular,
        decode,
        tokenizer.eos_token_id,
        True,
        len(tokenizer),
    )


def json_string_alphabet(regular: RegularTokens) -> str:
    """The characters a JSON string may hold raw: the library's ASCII default (its parser
    gives up on any other character, so a reply stopped at its first Chinese character)
    and every other printable character the vocabulary writes. Control characters and the
    backslash stay out: JSON escapes them."""
    from lmformatenforcer.consts import COMPLETE_ALPHABET

    seen = {char for _, text, _ in regular for char in text}
    extra = sorted(c for c in seen - set(COMPLETE_ALPHABET) if c >= " " and c not in "\\\x7f\ufffd")
    return COMPLETE_ALPHABET + "".join(extra)


@dataclass(frozen=True)
class MaskVocabulary:
    """The enforcer's view of the vocabulary and the parser settings that go with it."""

    data: Any  # lmformatenforcer's TokenEnforcerTokenizerData
    config: Any  # lmformatenforcer's CharacterLevelParserConfig
    quoting: Any  # booleans over the vocabulary: the token writes a double quote


def tokenizer_data(tokenizer: Any) -> MaskVocabulary:
    """The library's tokenizer data (built once: a few seconds) with its JSON-string token
    lists packed in one vectorised step (`fast_freetext_cache_class`), and a parser config
    whose alphabet is the vocabulary's."""
    import torch
    from lmformatenforcer import CharacterLevelParserConfig

    regular = regular_tokens(tokenizer)
    data = library_tokenizer_data(tokenizer, regular)
    data.tokenizer_tree.json_freetext_tokens.__class__ = fast_freetext_cache_class()
    quoting = torch.zeros(len(tokenizer), dtype=torch.bool)
    quoting[[token for token, text, _ in regular if '"' in text]] = True
    config = CharacterLevelParserConfig(alphabet=json_string_alphabet(regular))
    return MaskVocabulary(data, config, quoting)


def packed(token_ids: Sequence[int], vocab_size: int) -> Any:
    """Token ids as the enforcer's packed int32 bitmask (token i: bit i % 32 of word i // 32)."""
    import numpy as np
    import torch

    ids = np.asarray(token_ids, dtype=np.int64)
    words = np.zeros((vocab_size + 31) // 32, dtype=np.uint32)
    np.bitwise_or.at(words, ids >> 5, np.left_shift(1, ids & 31).astype(np.uint32))
    return torch.from_numpy(words.view(np.int32))


@lru_cache(maxsize=1)
def fast_freetext_cache_class() -> type:
    """lm-format-enforcer's cache of the tokens allowed inside a JSON string, with each new
    list packed by numpy: the library sets its 150k bits one Python operation at a time,
    about 0.1 s a list and some 30 s over a first batch of structured replies here."""
    from lmformatenforcer.tokenizerprefixtree import JsonFreetextTokenCache
    from lmformatenforcer.tokenlist import TokenList

    class FastFreetextCache(JsonFreetextTokenCache):  # type: ignore[misc]
        def lookup_allowed_tokens(self, min_remaining: int, max_len: int) -> Any:
            key = (min_remaining, max_len)
            if key not in self.allowlist_cache:  # the library's selection, packed at once
                quoted = self.quote_tokens_length_cache.get_indices_between_length(
                    min_remaining + 1, max_len + 1
                )
                plain = self.regular_tokens_length_cache.get_indices_between_length(-1, max_len)
                tokens = TokenList(True, self.vocab_size)
                tokens.allowed_tokens = packed(quoted + plain, self.vocab_size)
                self.allowlist_cache[key] = tokens
            return self.allowlist_cache[key]

    return FastFreetextCache


def unpacked(bits: Any, width: int) -> Any:
    """The enforcer's packed int32 bitmask as `width` booleans (token i: bit i % 32 of word
    i // 32); tokens past the packed vocabulary (the model's padding rows) are not allowed."""
    import torch

    shifts = torch.arange(32, dtype=torch.int32, device=bits.device)
    flags = ((bits.unsqueeze(1) >> shifts) & 1).bool().flatten()
    if flags.shape[0] >= width:
        return flags[:width]
    return torch.cat([flags, flags.new_zeros(width - flags.shape[0])])


@lru_cache(maxsize=4096)
def character_set(characters: str) -> frozenset[str]:
    return frozenset(characters)


@lru_cache(maxsize=1)  # one class a process, not one a batch
def fast_enforcer_class() -> type:
    """lm-format-enforcer's TokenEnforcer with its vocabulary walk made cheap: the library
    builds a set of a node's children (20k+ characters at the root) to intersect with the
    characters the parser allows, at every node and step, which took a third of a
    constrained step here (in a JSON string the parser allows 17.8k characters); this
    intersects a cached set of the allowed characters with the children, walking the
    smaller of the two. Same tokens allowed (tests/test_constrained.py compares the two)."""
    from lmformatenforcer import TokenEnforcer

    class FastTokenEnforcer(TokenEnforcer):  # type: ignore[misc]
        def _collect_allowed_tokens(  # the library's method, but for the lines marked below
            self, parser: Any, tree_node: Any, allowed_tokens: Any, shortcut_key: Any
        ) -> None:
            allowed_tokens.extend(tree_node.tokens)
            children = tree_node.children
            allowed = parser.get_allowed_characters()
            # the changed lines: intersect by walking the smaller side
            wanted = character_set(allowed)
            if len(children) < len(wanted):
                explore = wanted.intersection(children)
            else:
                explore = children.keys() & wanted
            if isinstance(shortcut_key, tuple) and shortcut_key[0] == "json_freetext":
                _, cur_len, min_len, max_len = shortcut_key
                cache = self.tokenizer_tree.json_freetext_tokens
                min_remaining = min(cache.max_token_len, max(0, min_len - cur_len))
                max_allowed_len = min(cache.max_token_len, max_len - cur_len)
                free = cache.lookup_allowed_tokens(min_remaining, max_allowed_len)
                allowed_tokens.extend(free.allowed_tokens)
                explore &= {'"'}
            for character in explore:
                self._collect_allowed_tokens(
                    parser.add_character(character), children[character], allowed_tokens, None
                )

    return FastTokenEnforcer


def open_string(enforcer: Any, token_ids: tuple[int, ...]) -> tuple[int, int] | None:
    """(characters written, limit) of the limited string the reply is inside, if any."""
    from lmformatenforcer.jsonschemaparser import StringParsingState

    state = enforcer.prefix_states.get(token_ids)
    stack = getattr(state.parser, "object_stack", None) if state is not None else None
    top = stack[-1] if stack else None
    if (
        isinstance(top, StringParsingState)
        and top.max_length
        and top.seen_opening_quote
        and not top.seen_closing_quote
    ):
        return len(top.parsed_string), top.max_length
    return None


class SchemaMask:
    """Logits processor: each row's scores kept only for the tokens its JSON schema allows
    next; a row without a schema is left as it is. Strings with a soft limit land by it
    (pitchcraft.llm.landing; the limit itself is the enforcer's maxLength)."""

    def __init__(
        self, vocabulary: MaskVocabulary, schemas: Sequence[dict[str, Any] | None]
    ) -> None:
        from lmformatenforcer import JsonSchemaParser

        from pitchcraft.llm.structured import resolve_soft_limits

        enforcer = fast_enforcer_class()
        self.quoting = vocabulary.quoting
        self.enforcers: list[Any] = []
        self.lands: list[bool] = []
        for schema in schemas:
            if schema is None:
                self.enforcers.append(None)
                self.lands.append(False)
                continue
            hard, soft = resolve_soft_limits(schema, as_max_length=True)
            parser = JsonSchemaParser(hard, vocabulary.config)
            self.enforcers.append(enforcer(vocabulary.data, parser))
            self.lands.append(soft)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        from pitchcraft.llm.landing import landing_bias

        for row, enforcer in enumerate(self.enforcers):
            if enforcer is None:
                continue
            sequence = input_ids[row].tolist()
            bits = enforcer.get_allowed_tokens(sequence).allowed_tokens
            allowed = unpacked(bits.to(scores.device), scores.shape[1])
            scores[row].masked_fill_(~allowed, float("-inf"))
            inside = open_string(enforcer, tuple(sequence)) if self.lands[row] else None
            bias = landing_bias(*inside) if inside else 0.0
            if bias:  # the quoting tokens a string allows are those that close it
                width = min(len(self.quoting), scores.shape[1])
                closing = self.quoting[:width].to(scores.device) & allowed[:width]
                scores[row, :width] += closing * bias
        return scores
