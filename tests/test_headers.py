from __future__ import annotations

import pytest

from steadyllm._http.headers import (
    anthropic_rate_limit,
    duration_seconds,
    openai_rate_limit,
    retry_after_seconds,
    should_retry,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360.0),
        ("1s", 1.0),
        ("20ms", 0.02),
        ("2m59.56s", 179.56),
        ("1h2m3.5s", 3723.5),
        ("8.64s", 8.64),
        ("12", 12.0),
        ("500us", 0.0005),
        ("3µs", 3e-6),
        ("10ns", 1e-8),
        ("abc", None),
        ("", None),
        ("1s x", None),
        ("5x", None),
    ],
)
def test_durations(text: str, seconds: float | None) -> None:
    assert duration_seconds(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_retry_after_order_and_forms() -> None:
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after-ms": "soon", "retry-after": "2.5"}) == 2.5
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    assert retry_after_seconds({"retry-after": date}, now=1792567670.0) == pytest.approx(10.0)
    assert retry_after_seconds({"retry-after": "tomorrow"}) is None
    assert retry_after_seconds({}) is None


def test_should_retry() -> None:
    assert should_retry({"x-should-retry": "true"}) is True
    assert should_retry({"x-should-retry": "False"}) is False
    assert should_retry({"x-should-retry": "maybe"}) is None
    assert should_retry({}) is None


def test_rate_limit_headers() -> None:
    info = openai_rate_limit(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-tokens": "2",
        }
    )
    assert info is not None and (info.requests_limit, info.tokens_remaining, info.tokens_reset) == (
        500,
        29000,
        2.0,
    )
    assert openai_rate_limit({}) is None
    assert openai_rate_limit({"x-ratelimit-remaining-tokens": "-1"}).tokens_remaining == -1  # type: ignore[union-attr]
    anth = anthropic_rate_limit(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2026-09-05T21:31:00Z",
            "anthropic-ratelimit-tokens-remaining": "1000",
            "anthropic-ratelimit-tokens-reset": "garbage",
        },
        now=1788643850.0,
    )
    assert (
        anth is not None
        and anth.requests_reset == pytest.approx(10.0)
        and anth.tokens_reset is None
    )
    assert anthropic_rate_limit({}) is None
