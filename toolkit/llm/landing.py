"""Landing a JSON string by its soft limit: the tokens that close the string gain on their
logits as the string nears its limit, so a model ends its own sentence there instead of
running past it (or, with a hard cap, being cut at it).

The embedded engine reads where a reply stands from its schema mask's parser
(pitchcraft.llm.constrained); a vLLM server started by pitchcraft runs `LandingProcessor`
below, which reads it from the decoded text. This file is also copied into the vLLM
virtualenv's path as `pitchcraft_landing`, so it imports nothing of pitchcraft's and
nothing the vLLM virtualenv lacks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

# From LANDING_START of the limit the closing tokens gain up to LANDING_BIAS, at the limit.
# Chosen on copy for products of the copy adapter's training half: starting at 0.6 closed
# phrases that would have fitted ("..., Trusted" of "Trusted Battery Brand"); at 0.75, 17 of
# 18 first drafts fitted their channel (7 of 12 without landing).
LANDING_START = 0.75
LANDING_BIAS = 8.0
# At the limit closing is all that is left: a bias no other token outweighs (the embedded
# engine's mask allows nothing else there; a vLLM server's grammar still has its say).
STOP_BIAS = 1e4
XARG = "pitchcraft_soft_limits"  # the request's vllm_xargs key: JSON {field: limit}


def landing_bias(written: int, limit: int) -> float:
    """What the closing tokens of a string gain after `written` of its `limit` characters."""
    share = written / limit
    if share < LANDING_START:
        return 0.0
    return LANDING_BIAS * min(1.0, (share - LANDING_START) / (1 - LANDING_START))


class JsonPosition:
    """Where a JSON text fed piece by piece stands: inside the string value of which field
    (an array's items belong to the array's field) and how many characters it holds."""

    def __init__(self) -> None:
        self.frames: list[list[Any]] = []  # [kind "{" or "[", field, expecting a key]
        self.key = ""  # the last key read in the innermost object
        self.in_string = self.in_key = self.escaped = False
        self.field: str | None = None  # the field of the string value being read
        self.length = 0
        self._key_chars: list[str] = []

    def _value_field(self) -> str | None:
        if not self.frames:
            return None
        kind, field, _ = self.frames[-1]
        return self.key if kind == "{" else field

    def feed(self, text: str) -> None:
        for char in text:
            if self.in_string:
                self._string_char(char)
            elif char == '"':
                top = self.frames[-1] if self.frames else None
                self.in_string, self.length, self._key_chars = True, 0, []
                self.in_key = top is not None and top[0] == "{" and top[2]
                self.field = None if self.in_key else self._value_field()
            elif char in "{[":
                self.frames.append([char, self._value_field(), char == "{"])
            elif char in "}]":
                if self.frames:
                    self.frames.pop()
            elif char == ":" and self.frames:
                self.frames[-1][2] = False
            elif char == "," and self.frames and self.frames[-1][0] == "{":
                self.frames[-1][2] = True

    def _string_char(self, char: str) -> None:
        if self.escaped:
            self.escaped = False
        elif char == "\\":
            self.escaped = True
            return
        elif char == '"':
            self.in_string = False
            if self.in_key:
                self.key = "".join(self._key_chars)
            return
        self.length += 1
        if self.in_key:
            self._key_chars.append(char)

    def open_value(self) -> tuple[str, int] | None:
        """(field, characters written) of the string value the text is inside, if any."""
        if self.in_string and not self.in_key and self.field is not None:
            return self.field, self.length
        return None


class RequestLanding:
    """One request's landing on a server: called with the tokens written so far and the
    next token's logits, it raises the closing tokens' logits in place and, near the limit,
    rules out the tokens too long for what is left (the server's grammar knows no limit)."""

    def __init__(
        self,
        limits: dict[str, int],
        decode: Callable[[Sequence[int]], str],
        closing: Any,  # booleans over the vocabulary: the token writes a double quote
        lengths: Any,  # each token's length in characters
    ) -> None:
        self.limits, self.decode = limits, decode
        self.closing, self.lengths = closing, lengths
        self.longest = int(lengths.max())
        self.text = ""
        self.position = JsonPosition()

    def __call__(self, output_ids: Sequence[int], logits: Any) -> Any:
        text = self.decode(output_ids)
        if text.startswith(self.text):
            self.position.feed(text[len(self.text) :])
        else:  # a token completed a character the last decode had cut: read it afresh
            self.position = JsonPosition()
            self.position.feed(text)
        self.text = text
        here = self.position.open_value()
        limit = self.limits.get(here[0]) if here else None
        if not (here and limit):
            return logits
        written = here[1]
        bias = STOP_BIAS if written >= limit else landing_bias(written, limit)
        if bias:
            logits[self.closing] += bias
        left = limit - written
        if left < self.longest and not self.position.escaped:
            logits.masked_fill_((self.lengths > max(left, 0)) & ~self.closing, float("-inf"))
        return logits


def request_limits(extra_args: dict[str, Any] | None) -> dict[str, int]:
    """The soft limits a request carries in its vllm_xargs, {} when none (or unreadable)."""
    raw = (extra_args or {}).get(XARG)
    try:
        limits = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return {}
    if not isinstance(limits, dict):
        return {}
    return {str(k): int(v) for k, v in limits.items() if isinstance(v, int) and v > 0}


try:  # inside a vLLM server; pitchcraft itself imports this file without vLLM
    from vllm.v1.sample.logits_processor import AdapterLogitsProcessor
except ImportError:  # pragma: no cover - the class is only defined where vLLM is
    AdapterLogitsProcessor = None

if AdapterLogitsProcessor is not None:

    class LandingProcessor(AdapterLogitsProcessor):  # type: ignore[misc, valid-type]
        """vLLM logits processor: requests carrying soft limits (vllm_xargs) land by them."""

        def __init__(self, vllm_config: Any, device: Any, is_pin_memory: bool) -> None:
            super().__init__(vllm_config, device, is_pin_memory)
            import torch
            from transformers import AutoTokenizer

            config = vllm_config.model_config
            self.tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
            texts = [self._decode([i]) for i in range(len(self.tokenizer))]
            width = config.get_vocab_size()  # the logits' width: may exceed the tokenizer's
            texts += [""] * (width - len(texts))
            self.closing = torch.tensor(['"' in t for t in texts], device=device)
            self.lengths = torch.tensor([len(t) for t in texts], device=device)

        def is_argmax_invariant(self) -> bool:
            return False  # it changes which token greedy decoding picks

        def new_req_logits_processor(self, params: Any) -> RequestLanding | None:
            limits = request_limits(params.extra_args)
            if not limits:
                return None
            return RequestLanding(limits, self._decode, self.closing, self.lengths)

        def _decode(self, ids: Sequence[int]) -> str:
            return str(self.tokenizer.decode(list(ids))).rstrip("\ufffd")
