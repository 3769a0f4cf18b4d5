"""Circuit breaker policy on virtual time."""

from __future__ import annotations

import pytest

import steadyllm as sl
from steadyllm._resilience.breaker import BreakerBoard, BreakerPolicy, CircuitBreaker

FAIL = sl.ServerError("boom")


def breaker(**kw: object) -> tuple[CircuitBreaker, list[tuple[str, str, str]]]:
    changes: list[tuple[str, str, str]] = []
    policy = BreakerPolicy(**{"failure_threshold": 3, "reset_timeout": 10.0, **kw})  # type: ignore[arg-type]
    return CircuitBreaker("openai:gpt-4o", policy, lambda *c: changes.append(c)), changes


def state(b: CircuitBreaker) -> str:
    return b.state  # read through a function so mypy does not narrow across calls


def fail(b: CircuitBreaker, now: float, error: sl.LLMError = FAIL) -> None:
    b.failure(b.allow(now), error, now)


def test_opens_after_consecutive_failures_and_fails_fast() -> None:
    b, changes = breaker()
    fail(b, 0)
    fail(b, 1)
    b.success(b.allow(2), 2)  # a success resets the count
    fail(b, 3)
    fail(b, 4)
    assert state(b) == "closed"
    fail(b, 5)
    assert state(b) == "open" and b.reopen_at == 15.0
    with pytest.raises(sl.CircuitOpenError, match=r"will let a probe through in 7\.0s") as info:
        b.allow(8.0)
    assert info.value.retry_after == pytest.approx(7.0) and info.value.provider == "openai"
    assert info.value.model == "gpt-4o" and not info.value.retryable
    assert changes == [("openai:gpt-4o", "closed", "open")]
    assert b.stats.rejected == 1 and b.stats.opened == 1


def test_half_open_allows_bounded_probes_and_closes_on_success() -> None:
    b, changes = breaker(half_open_calls=2)
    for t in range(3):
        fail(b, t)
    first = b.allow(12.0)
    second = b.allow(12.0)
    assert state(b) == "half_open" and first.probe and second.probe
    with pytest.raises(sl.CircuitOpenError, match="half-open"):
        b.allow(12.0)  # a third probe is not allowed
    b.success(first, 12.5)
    assert state(b) == "closed"
    assert [c[2] for c in changes] == ["open", "half_open", "closed"]


def test_a_failed_probe_reopens_for_longer_up_to_the_cap() -> None:
    b, _ = breaker(max_reset_timeout=25.0)
    for t in range(3):
        fail(b, t)
    assert b.reopen_at == 12.0
    fail(b, 12.0)  # probe fails: 10s * 2
    assert state(b) == "open" and b.reopen_at == 32.0
    fail(b, 32.0)  # 40s capped at 25s
    assert b.reopen_at == 57.0
    b.success(b.allow(57.0), 57.0)
    for t in (60, 61, 62):
        fail(b, t)
    assert b.reopen_at == 72.0  # back to the base reset time after recovering


def test_a_server_retry_after_longer_than_the_reset_time_wins() -> None:
    b, _ = breaker()
    fail(b, 0)
    fail(b, 0)
    fail(b, 0, sl.OverloadedError("busy", retry_after=45.0))
    assert b.reopen_at == 45.0


def test_only_infrastructure_failures_count() -> None:
    b, _ = breaker(failure_threshold=1)
    for error in (
        sl.InvalidRequestError("bad"),
        sl.AuthenticationError("key"),
        sl.ContextLengthError("long"),
        sl.RateLimitError("slow"),
    ):
        fail(b, 0, error)
    assert state(b) == "closed" and b.stats.failures == 0
    infra: list[sl.LLMError] = [
        sl.LLMTimeoutError("t"),
        sl.LLMConnectionError("c"),
        sl.StreamInterruptedError("s"),
        sl.OverloadedError("o"),
    ]
    for failure in infra:
        b2, _ = breaker(failure_threshold=1)
        fail(b2, 0, failure)
        assert state(b2) == "open", failure.kind
    counting, _ = breaker(failure_threshold=1, count_rate_limits=True)
    fail(counting, 0, sl.RateLimitError("slow"))
    assert state(counting) == "open"


def test_failure_rate_in_a_rolling_window() -> None:
    b, _ = breaker(failure_threshold=100, failure_rate=0.5, window=10.0, min_calls=4)
    b.success(b.allow(0), 0)
    fail(b, 1)
    b.success(b.allow(2), 2)
    assert state(b) == "closed"  # 1 of 3, and too few calls
    fail(b, 3)
    assert state(b) == "open"  # 2 of 4 = 50%
    c, _ = breaker(failure_threshold=100, failure_rate=0.5, window=10.0, min_calls=2)
    fail(c, 0)
    for t in (20, 21, 22):  # the old failure has left the window
        c.success(c.allow(t), t)
    fail(c, 23)
    assert state(c) == "closed"


def test_a_cancelled_probe_frees_its_slot_and_settles_once() -> None:
    b, _ = breaker()
    for t in range(3):
        fail(b, t)
    probe = b.allow(13.0)
    b.release(probe)
    again = b.allow(13.0)
    b.success(again, 13.0)
    b.failure(again, FAIL, 13.0)  # already settled: ignored
    b.success(again, 13.0)
    assert state(b) == "closed" and b.stats.failures == 3


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"failure_rate": 1.5}, "failure_rate"),
        ({"window": 0}, "window"),
        ({"min_calls": 0}, "min_calls"),
        ({"reset_timeout": 0}, "reset_timeout"),
        ({"max_reset_timeout": 1.0}, "max_reset_timeout"),
        ({"backoff": 0.5}, "backoff"),
        ({"half_open_calls": 0}, "half_open_calls"),
    ],
)
def test_invalid_policies_name_the_setting(kw: dict[str, float], message: str) -> None:
    with pytest.raises(sl.ConfigError, match=message):
        BreakerPolicy(**kw)  # type: ignore[arg-type]


def test_board_scopes_and_snapshot() -> None:
    board = BreakerBoard(BreakerPolicy(failure_threshold=1))
    a = board.get("openai", "gpt-4o")
    assert isinstance(a, CircuitBreaker)
    assert board.get("openai", "gpt-4o") is a and board.get("openai", "mini") is not a
    fail(a, 0)
    snap = board.snapshot()
    assert snap["openai:gpt-4o"]["state"] == "open" and snap["openai:mini"]["state"] == "closed"
    per_provider = BreakerBoard(scope="provider")
    assert per_provider.get("openai", "a") is per_provider.get("openai", "b")


def test_the_failure_rate_window_has_constant_memory() -> None:
    rate = CircuitBreaker(
        "k", BreakerPolicy(failure_threshold=10**9, failure_rate=0.9, window=60.0)
    )
    count_only = CircuitBreaker("c", BreakerPolicy())
    for i in range(10_000):  # 10,000 calls over 500 s, every 7th failing
        now = i * 0.05
        for breaker in (rate, count_only):
            ticket = breaker.allow(now)
            if i % 7:
                breaker.success(ticket, now)
            else:
                breaker.failure(ticket, sl.ServerError("x"), now)
    assert len(rate._window) <= 21 and len(count_only._window) == 0
    assert sum(e[1] for e in rate._window) == pytest.approx(1_200, abs=60)  # the last 60 s
