"""Cheap token estimates, for the fake provider and pre-flight reservations.

About four characters per token for English text is the usual rule of thumb;
exact counts need the model's tokenizer, which is heavy and provider-specific.
Estimates here err high on purpose (ceil, per-message overhead) because they
reserve budget and rate-limit capacity that is reconciled with real usage.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._types import ImagePart, Message, TextPart

PER_MESSAGE_OVERHEAD = 4
IMAGE_TOKENS = 765  # OpenAI's cost of a 1024x1024 image at high detail


def estimate_text_tokens(text: str) -> int:
    return -(-len(text) // 4) if text else 0


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    total = 0
    for msg in messages:
        total += PER_MESSAGE_OVERHEAD
        for part in msg.content:
            if isinstance(part, TextPart):
                total += estimate_text_tokens(part.text)
            elif isinstance(part, ImagePart):
                total += IMAGE_TOKENS
        for call in msg.tool_calls:
            total += estimate_text_tokens(call.name) + estimate_text_tokens(call.arguments)
    return total
