"""Local token estimates, corrected by what Venice reports.

No tokenizer can be downloaded at run time and Venice serves models with different tokenizers
(Llama, Mistral, Qwen, …), so we estimate from the text's shape and learn a per-model correction
from `usage.prompt_tokens`. The estimate runs on every stored message, so it must stay cheap:
the common ASCII path is a handful of C-level string calls and no Python loop.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

# Chat templates wrap each message in role markers (e.g. "<|start_header_id|>user<|end_header_id|>"),
# which costs a few tokens regardless of content.
MESSAGE_OVERHEAD = 4
# The template also primes the assistant's reply ("<|start_header_id|>assistant…").
REPLY_PRIMING = 3

# Latin text: tokens ≈ chars / 6.4 + 0.7 per word. For average English (≈5.7 characters per word
# including its space) that is ≈1.6 tokens a word, i.e. the familiar chars / 3.6; the per-word part
# makes short words ("I am a cat") cost about a token each and long words less than chars / 3.6.
_CHARS_PER_TOKEN = 6.4
_TOKENS_PER_WORD = 0.7

# Non-ASCII characters, by how tokenizers treat them: CJK ideographs, kana and Hangul are about a
# token each; other two-byte letters (accents, Cyrillic, Greek) about half a token; other BMP
# symbols a token; astral characters (almost all emoji) fall back to byte tokens.
_WIDE_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_ASTRAL_RE = re.compile(r"[\U00010000-\U0010ffff]")
_WIDE_TOKENS = 1.2
_TWO_BYTE_TOKENS = 0.5
_THREE_BYTE_TOKENS = 1.0
_ASTRAL_TOKENS = 2.0


def estimate(text: str) -> int:
    """Estimate how many tokens `text` costs; 0 for an empty string, at least 1 otherwise."""
    if not text:
        return 0
    # Counting separators instead of `text.split()` avoids allocating a list of words; a blank line
    # then counts as a "word", which matches tokenizers giving "\n\n" a token of its own.
    words = text.count(" ") + text.count("\n") + 1
    if text.isascii():  # O(1) in CPython: str objects know whether they are ASCII
        return max(1, math.ceil(len(text) / _CHARS_PER_TOKEN + words * _TOKENS_PER_WORD))
    return max(1, math.ceil(_mixed_estimate(text, words)))


def _mixed_estimate(text: str, words: int) -> float:
    """The slower path for text with non-ASCII characters, still without a per-character loop."""
    ascii_chars = len(text.encode("ascii", "ignore"))
    others = len(text) - ascii_chars
    other_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars
    wide = len(_WIDE_RE.findall(text))
    astral = len(_ASTRAL_RE.findall(text))
    # What remains is two- or three-byte characters; their counts follow from chars and bytes.
    rest_chars = others - wide - astral
    rest_bytes = other_bytes - 3 * wide - 4 * astral
    three_byte = max(0, rest_bytes - 2 * rest_chars)
    two_byte = max(0, rest_chars - three_byte)
    return (
        ascii_chars / _CHARS_PER_TOKEN
        + words * _TOKENS_PER_WORD
        + wide * _WIDE_TOKENS
        + two_byte * _TWO_BYTE_TOKENS
        + three_byte * _THREE_BYTE_TOKENS
        + astral * _ASTRAL_TOKENS
    )


def estimate_message(message: dict[str, Any]) -> int:
    """Estimate one chat message: its content, an optional `name`, and the template overhead."""
    content = message.get("content") or ""
    if isinstance(content, list):  # OpenAI-style content parts; only text parts cost text tokens
        content = "\n".join(str(p["text"]) for p in content if isinstance(p, dict) and "text" in p)
    tokens = MESSAGE_OVERHEAD + estimate(str(content))
    name = message.get("name")
    if name:
        tokens += estimate(str(name)) + 1
    return tokens


def estimate_messages(messages: list[dict[str, Any]]) -> int:
    """Estimate a whole chat request, including the reply priming the template adds."""
    if not messages:
        return 0
    return REPLY_PRIMING + sum(estimate_message(m) for m in messages)


RATIO_MIN = 0.5
RATIO_MAX = 2.5


@dataclass(slots=True)
class TokenCalibrator:
    """Learns how far our estimate is from a model's real token count.

    Venice reports `usage.prompt_tokens` for every completion; comparing it with our estimate of the
    same prompt gives a ratio, smoothed with an exponential moving average so one odd prompt (say,
    one full of emoji) does not swing it. The state is a plain float (plus a sample count) so the
    service can persist one calibrator per model and restore it with `TokenCalibrator(ratio=…)`.
    """

    ratio: float = 1.0
    alpha: float = 0.2
    samples: int = 0

    def observe(self, estimated: int, actual: int) -> None:
        """Fold one (our estimate, Venice's count) pair into the ratio; nonsense pairs are ignored."""
        if estimated <= 0 or actual <= 0:
            return
        observed = min(RATIO_MAX, max(RATIO_MIN, actual / estimated))
        # The first sample replaces the neutral 1.0 outright: a fresh model is otherwise off for
        # several replies while the average climbs.
        if self.samples == 0:
            self.ratio = observed
        else:
            self.ratio += self.alpha * (observed - self.ratio)
        self.ratio = min(RATIO_MAX, max(RATIO_MIN, self.ratio))
        self.samples += 1

    def adjust(self, estimated: int) -> int:
        """Our estimate scaled to this model's tokenizer, rounded up (overshooting is the safe side)."""
        if estimated <= 0:
            return 0
        return math.ceil(estimated * self.ratio)

    def unadjust(self, tokens: int) -> int:
        """How many raw estimated tokens fit in `tokens` real tokens (the inverse of `adjust`)."""
        if tokens <= 0:
            return 0
        raw = math.floor(tokens / self.ratio)
        # Floating-point rounding can leave floor(t / r) * r a hair above t; step back so the
        # promise adjust(unadjust(t)) <= t always holds.
        while raw > 0 and self.adjust(raw) > tokens:
            raw -= 1
        return raw
