"""Calls: the default model, the deadline and its parts, retries, size limits
of what a server may send, and when a fallback applies.

Each setting is written once, here: its type (the annotation), variable,
default, meaning and range; ``Settings`` and the README table derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import _DAY_MS, setting


@dataclass(frozen=True, slots=True)
class _Calls:
    provider: str | None = setting(
        "LLM_PROVIDER",
        None,
        "Provider for model names given without a `provider:` prefix.",
    )
    default_model: str | None = setting(
        "LLM_DEFAULT_MODEL",
        None,
        "Model used when a call passes `model=None`.",
    )
    timeout_ms: int = setting(
        "LLM_TIMEOUT_MS",
        30_000,
        "Total deadline of one call, retries and stream included (ms).",
        minimum=1,
        maximum=_DAY_MS,
    )
    max_retries: int = setting(
        "LLM_MAX_RETRIES",
        3,
        "Retries after the first attempt, for retryable errors only.",
        minimum=0,
        maximum=100,
    )
    retry_base_delay_ms: int = setting(
        "LLM_RETRY_BASE_DELAY_MS",
        500,
        "First back-off ceiling; doubles per retry (full jitter below it) (ms).",
        minimum=0,
        maximum=_DAY_MS,
    )
    retry_max_delay_ms: int = setting(
        "LLM_RETRY_MAX_DELAY_MS",
        8000,
        "Largest back-off between retries (ms).",
        minimum=0,
        maximum=_DAY_MS,
    )
    connect_timeout_ms: int = setting(
        "LLM_CONNECT_TIMEOUT_MS",
        10_000,
        "Longest wait to open a connection (ms).",
        minimum=1,
        maximum=_DAY_MS,
    )
    first_token_timeout_ms: int | None = setting(
        "LLM_FIRST_TOKEN_TIMEOUT_MS",
        None,
        "Longest wait for a stream's first content event (ms); unset: the total deadline.",
        minimum=1,
        maximum=_DAY_MS,
    )
    stream_idle_timeout_ms: int = setting(
        "LLM_STREAM_IDLE_TIMEOUT_MS",
        30_000,
        "Longest gap between stream events; comments and pings do not count (ms).",
        minimum=1,
        maximum=_DAY_MS,
    )
    max_header_bytes: int = setting(
        "LLM_MAX_HEADER_BYTES",
        65_536,
        "Largest response header block accepted (bytes); more is an invalid response.",
        minimum=1024,
        maximum=1024 << 20,
    )
    max_body_bytes: int = setting(
        "LLM_MAX_BODY_BYTES",
        256 << 20,
        "Largest response body accepted after decompression (bytes).",
        minimum=1024,
        maximum=1048576 << 20,
    )
    max_event_bytes: int = setting(
        "LLM_MAX_EVENT_BYTES",
        16 << 20,
        "Largest single server-sent event accepted in a stream (bytes).",
        minimum=1024,
        maximum=1048576 << 20,
    )
    fallback_on_context_length: bool = setting(
        "LLM_FALLBACK_ON_CONTEXT_LENGTH",
        False,
        "Fall back along the chain when the prompt is too long for a model.",
    )
    fallback_on_content_filter: bool = setting(
        "LLM_FALLBACK_ON_CONTENT_FILTER",
        False,
        "Fall back along the chain when a provider's content filter blocks the call.",
    )
