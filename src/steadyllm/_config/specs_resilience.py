"""Resilience: rate limits and circuit breakers.

Each setting is written once, here: its type (the annotation), variable,
default, meaning and range; ``Settings`` and the README table derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import _DAY_MS, setting
from .specs_network import _Network


@dataclass(frozen=True, slots=True)
class _Resilience(_Network):
    rate_limit_per_minute: int | None = setting(
        "LLM_RATE_LIMIT_PER_MINUTE",
        None,
        "Requests per minute per model; calls wait their turn.",
        minimum=1,
        maximum=10_000_000,
    )
    tokens_per_minute: int | None = setting(
        "LLM_TOKENS_PER_MINUTE",
        None,
        "Tokens per minute per model (prompt estimate plus max_tokens); calls wait.",
        minimum=1,
        maximum=10_000_000_000,
    )
    requests_per_day: int | None = setting(
        "LLM_REQUESTS_PER_DAY",
        None,
        "Requests per day per model; calls wait.",
        minimum=1,
        maximum=10_000_000_000,
    )
    tokens_per_day: int | None = setting(
        "LLM_TOKENS_PER_DAY",
        None,
        "Tokens per day per model; calls wait.",
        minimum=1,
        maximum=10_000_000_000_000,
    )
    rate_limit_scope: str = setting(
        "LLM_RATE_LIMIT_SCOPE",
        "model",
        "Share limits per `provider:model` (model) or per provider / API key (provider).",
        kind="choice",
        choices=("model", "provider"),
    )
    rate_limit_refund_unused: bool = setting(
        "LLM_RATE_LIMIT_REFUND_UNUSED",
        False,
        "Return reserved but unused tokens to the limiter (for providers that count real "
        "output, not max_tokens).",
    )
    rate_limit_margin_ms: int = setting(
        "LLM_RATE_LIMIT_MARGIN_MS",
        1000,
        "Refill time the limiter keeps in reserve (1 s = 1/60 of a per-minute limit) so "
        "that latency jitter never lets a call reach the provider before its budget does "
        "(ms); the long-run rate is unchanged.",
        minimum=0,
        maximum=60_000,
    )
    circuit_breaker_failure_threshold: int = setting(
        "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
        5,
        "Consecutive infrastructure failures that open a model's circuit.",
        minimum=1,
        maximum=10_000,
    )
    circuit_breaker_reset_timeout_ms: int = setting(
        "CIRCUIT_BREAKER_RESET_TIMEOUT_MS",
        60_000,
        "How long an open circuit fails fast before a probe (ms).",
        minimum=1,
        maximum=_DAY_MS,
    )
    circuit_breaker_failure_rate: float | None = setting(
        "CIRCUIT_BREAKER_FAILURE_RATE",
        None,
        "Also open when this share (0-1] of calls in the window failed.",
        minimum=0.01,
        maximum=1.0,
    )
    circuit_breaker_window_ms: int = setting(
        "CIRCUIT_BREAKER_WINDOW_MS",
        60_000,
        "Rolling window for the failure rate (ms).",
        minimum=1,
        maximum=_DAY_MS,
    )
    circuit_breaker_min_calls: int = setting(
        "CIRCUIT_BREAKER_MIN_CALLS",
        10,
        "Calls in the window before the failure rate is judged.",
        minimum=1,
        maximum=1_000_000,
    )
    circuit_breaker_half_open_calls: int = setting(
        "CIRCUIT_BREAKER_HALF_OPEN_CALLS",
        1,
        "Probe calls let through when an open circuit's reset time is up.",
        minimum=1,
        maximum=1000,
    )
    circuit_breaker_max_reset_timeout_ms: int = setting(
        "CIRCUIT_BREAKER_MAX_RESET_TIMEOUT_MS",
        600_000,
        "Cap on the open period, which doubles after each failed probe (ms).",
        minimum=1,
        maximum=604_800_000,
    )
    circuit_breaker_count_rate_limits: bool = setting(
        "CIRCUIT_BREAKER_COUNT_RATE_LIMITS",
        False,
        "Count 429 rate limits as failures.",
    )
    circuit_breaker_scope: str = setting(
        "CIRCUIT_BREAKER_SCOPE",
        "model",
        "One breaker per `provider:model` (model) or per provider (provider).",
        kind="choice",
        choices=("model", "provider"),
    )
