"""Reading what providers say in response headers: retry hints, whether to
retry at all, and rate-limit budgets. Pure functions over a header mapping
(case-insensitive lookups are the caller's: aiohttp's headers already are)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from .._core.types import RateLimitInfo

_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")  # "ms" is tried before "m"
_SCALE = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value: str) -> float | None:
    """A Go-style duration (``6m0s``, ``20ms``, ``2m59.56s``) or a bare number of
    seconds; ``None`` if it is neither."""
    text = value.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    total, pos = 0.0, 0
    for m in _PART.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _SCALE[m.group(2)]
        pos = m.end()
    return total if pos == len(text) else None


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The server's wait hint: ``retry-after-ms``, then ``retry-after`` as seconds or
    an HTTP date. ``None`` when absent or unparseable; may be <= 0 (a past date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - (time.time() if now is None else now)


def should_retry(headers: Mapping[str, str]) -> bool | None:
    """``x-should-retry: true|false`` if present: the server's word wins over the status."""
    value = headers.get("x-should-retry")
    if value is None:
        return None
    value = value.strip().lower()
    return True if value == "true" else False if value == "false" else None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def openai_rate_limit(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """``x-ratelimit-*`` (OpenAI, Azure): limits, remaining, and reset durations."""
    if (
        "x-ratelimit-remaining-requests" not in headers
        and "x-ratelimit-remaining-tokens" not in headers
    ):
        return None
    reset_r = headers.get("x-ratelimit-reset-requests")
    reset_t = headers.get("x-ratelimit-reset-tokens")
    return RateLimitInfo(
        requests_limit=_int(headers.get("x-ratelimit-limit-requests")),
        requests_remaining=_int(headers.get("x-ratelimit-remaining-requests")),
        requests_reset=duration_seconds(reset_r) if reset_r else None,
        tokens_limit=_int(headers.get("x-ratelimit-limit-tokens")),
        tokens_remaining=_int(headers.get("x-ratelimit-remaining-tokens")),
        tokens_reset=duration_seconds(reset_t) if reset_t else None,
    )


def _rfc3339_in(value: str | None, now: float | None) -> float | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when.timestamp() - (time.time() if now is None else now)


def anthropic_rate_limit(
    headers: Mapping[str, str], now: float | None = None
) -> RateLimitInfo | None:
    """``anthropic-ratelimit-*``: resets are RFC 3339 instants, turned into seconds from now."""
    if "anthropic-ratelimit-requests-remaining" not in headers and (
        "anthropic-ratelimit-tokens-remaining" not in headers
    ):
        return None
    return RateLimitInfo(
        requests_limit=_int(headers.get("anthropic-ratelimit-requests-limit")),
        requests_remaining=_int(headers.get("anthropic-ratelimit-requests-remaining")),
        requests_reset=_rfc3339_in(headers.get("anthropic-ratelimit-requests-reset"), now),
        tokens_limit=_int(headers.get("anthropic-ratelimit-tokens-limit")),
        tokens_remaining=_int(headers.get("anthropic-ratelimit-tokens-remaining")),
        tokens_reset=_rfc3339_in(headers.get("anthropic-ratelimit-tokens-reset"), now),
    )
