"""What ``client.count_tokens`` answers: how many input tokens a request is, and
whether the provider counted them or steadyllm estimated them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class TokenCount:
    """``input_tokens`` of a request: the provider's own count (``estimated`` False,
    ``source`` "provider": Anthropic's, Gemini's, Vertex AI's and the Responses API's
    count endpoints), or steadyllm's local estimate where a provider has none
    (``estimated`` True, ``source`` "estimate": an upper estimate, as the rate limiter
    and budgets use, that errs high)."""

    input_tokens: int
    model: str
    provider: str
    estimated: bool
    source: Literal["provider", "estimate"]
    #: Provider attempts it took (0 for an estimate).
    attempts: int = 0

    def __int__(self) -> int:
        return self.input_tokens
