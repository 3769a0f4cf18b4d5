"""Token counts and rate-limit budgets: what a provider reports about one call."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

# ---------------------------------------------------------------- usage


@dataclass(slots=True)
class Usage:
    """Token counts, normalised to OpenAI's convention.

    ``prompt_tokens`` includes ``cached_tokens`` (and, for Anthropic, cache
    writes); ``completion_tokens`` includes ``reasoning_tokens``.
    ``cost_usd`` is ``None`` when the price is unknown, never a silent 0.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    #: Web searches the provider ran for the call (Anthropic's server tool), priced
    #: per thousand where the price is known.
    web_search_requests: int = 0
    #: The part of ``cache_write_tokens`` written for one hour (Anthropic's 1h TTL),
    #: billed at its own, higher rate.
    cache_write_1h_tokens: int = 0
    #: Audio tokens among the prompt and the completion tokens (OpenAI audio models,
    #: Gemini).
    audio_prompt_tokens: int = 0
    audio_completion_tokens: int = 0
    #: Predicted Outputs (OpenAI): prediction tokens that appeared in the reply, and
    #: those that did not (billed as completion tokens all the same).
    accepted_prediction_tokens: int = 0
    rejected_prediction_tokens: int = 0
    #: The audio among ``cached_tokens`` (Gemini's ``cacheTokensDetails``), priced
    #: at the cached-audio rate where one is known.
    cached_audio_tokens: int = 0
    #: Pages the provider fetched for the call (Anthropic's web fetch tool; no charge
    #: beyond the tokens the pages add).
    web_fetch_requests: int = 0

    def __post_init__(self) -> None:
        if not self.total_tokens:
            self.total_tokens = self.prompt_tokens + self.completion_tokens

    def __iadd__(self, other: Usage) -> Usage:
        """Add ``other``'s counts in place (the cost is left alone): the per-attempt
        sum of a call's ledger, so written out rather than looped over fields.
        tests/test_types.py checks that it covers every count."""
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens += other.total_tokens
        self.cached_tokens += other.cached_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.web_search_requests += other.web_search_requests
        self.cache_write_1h_tokens += other.cache_write_1h_tokens
        self.audio_prompt_tokens += other.audio_prompt_tokens
        self.audio_completion_tokens += other.audio_completion_tokens
        self.accepted_prediction_tokens += other.accepted_prediction_tokens
        self.rejected_prediction_tokens += other.rejected_prediction_tokens
        self.cached_audio_tokens += other.cached_audio_tokens
        self.web_fetch_requests += other.web_fetch_requests
        return self

    def __add__(self, other: Usage) -> Usage:
        cost = None
        if self.cost_usd is not None or other.cost_usd is not None:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        total = replace(self, cost_usd=cost)
        total += other
        return total

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}


#: Every field of Usage, in order.
_FIELDS = tuple(f.name for f in fields(Usage))


# ---------------------------------------------------------------- rate limits


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What a provider's rate-limit headers said. Resets are seconds from when the
    response arrived until the budget is fully replenished."""

    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset: float | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset: float | None = None


@dataclass(frozen=True, slots=True)
class ContentFilterResult:
    """One category of a provider's content filter (Azure OpenAI), for the prompt or
    the completion: whether it filtered, and the severity or detection it found."""

    source: Literal["prompt", "completion"]
    category: str
    filtered: bool
    severity: str | None = None
    detected: bool | None = None


def content_filter_results(
    raw: Any, source: Literal["prompt", "completion"]
) -> tuple[ContentFilterResult, ...]:
    """``{"hate": {"filtered": false, "severity": "safe"}, ...}`` as results; entries
    of another shape (an ``error`` note, say) are left out."""
    if not isinstance(raw, dict):
        return ()
    out = []
    for category, value in raw.items():
        if isinstance(value, dict) and isinstance(value.get("filtered"), bool):
            severity, detected = value.get("severity"), value.get("detected")
            out.append(
                ContentFilterResult(
                    source,
                    str(category),
                    value["filtered"],
                    severity if isinstance(severity, str) else None,
                    detected if isinstance(detected, bool) else None,
                )
            )
    return tuple(out)


def prompt_filter_results(raw: Any) -> tuple[ContentFilterResult, ...]:
    """Azure's ``prompt_filter_results``: a list of {prompt_index, content_filter_results}."""
    if not isinstance(raw, list):
        return ()
    return tuple(
        r
        for entry in raw
        if isinstance(entry, dict)
        for r in content_filter_results(entry.get("content_filter_results"), "prompt")
    )
