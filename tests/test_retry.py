from __future__ import annotations

import pytest

import steadyllm as sl


def policy(**kw: object) -> sl.RetryPolicy:
    return sl.RetryPolicy(**{"random": lambda: 1.0, **kw})  # type: ignore[arg-type]


def test_full_jitter_backoff_grows_exponentially_up_to_the_cap() -> None:
    p = policy(base_delay_ms=500, max_delay_ms=4000)
    assert [p.backoff(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    low = sl.RetryPolicy(random=lambda: 0.0)
    assert low.backoff(3) == 0.0
    assert policy().backoff(10_000) == 8.0  # no overflow on huge counts


def test_only_retryable_errors_within_the_budget_are_retried() -> None:
    p = policy(max_retries=2)
    assert p.next_delay(sl.ServerError("x"), 0, None) == 0.5
    assert p.next_delay(sl.ServerError("x"), 2, None) is None
    assert p.next_delay(sl.InvalidRequestError("x"), 0, None) is None
    assert p.next_delay(sl.RateLimitError("x", retryable=False), 0, None) is None


def test_server_hint_wins_but_not_past_the_cap_or_the_deadline() -> None:
    p = policy(max_retry_after_ms=60000)
    assert p.next_delay(sl.RateLimitError("x", retry_after=7.0), 0, None) == 7.0
    assert p.next_delay(sl.RateLimitError("x", retry_after=0.0), 1, None) == 1.0  # <=0: back-off
    assert p.next_delay(sl.RateLimitError("x", retry_after=61.0), 0, None) is None
    assert p.next_delay(sl.RateLimitError("x", retry_after=7.0), 0, 6.9) is None
    assert p.next_delay(sl.ServerError("x"), 0, 0.4) is None


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"max_retries": -1}, "max_retries=-1"),
        ({"base_delay_ms": 2000, "max_delay_ms": 1000}, "base_delay_ms <= max_delay_ms"),
    ],
)
def test_invalid_policies_fail_at_construction(kw: dict[str, float], message: str) -> None:
    with pytest.raises(sl.ConfigError, match=message):
        sl.RetryPolicy(**kw)  # type: ignore[arg-type]


def test_seconds_spellings_still_work_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="in seconds is deprecated"):
        old = sl.RetryPolicy(base_delay=0.25, max_delay=2.0, random=lambda: 1.0)
    assert (old.base_delay_ms, old.max_delay_ms) == (250.0, 2000.0)
    assert old == sl.RetryPolicy(base_delay_ms=250, max_delay_ms=2000)
    assert [old.backoff(n) for n in range(4)] == [0.25, 0.5, 1.0, 2.0]  # seconds, the clock's
    with pytest.raises(TypeError, match="unexpected keyword argument 'delay'"):
        sl.RetryPolicy(delay=1.0)
    assert old.with_retries(0).max_retries == 0 and old.with_retries(0).base_delay_ms == 250
