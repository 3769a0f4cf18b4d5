"""Breakers, limiters and fallbacks composed by the client (fake provider, virtual time)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import steadyllm as sl


def setup(
    *steps: Any,
    clock: sl.Clock | None = None,
    scripts: dict[str, Any] | None = None,
    **settings: Any,
) -> tuple[sl.Client, sl.FakeProvider, sl.FakeClock]:
    fake = sl.FakeProvider(steps, scripts=scripts)
    fake_clock = clock if isinstance(clock, sl.FakeClock) else sl.FakeClock()
    base = {"max_retries": 1, "retry_base_delay_ms": 100, "retry_max_delay_ms": 100}
    client = sl.Client(
        sl.Settings.load(env={}, dotenv=False, **{**base, **settings}),
        providers={"fake": fake},
        clock=fake_clock,
    )
    return client, fake, fake_clock


CHAIN = {"fake:primary": ["fake:secondary", "fake:tertiary"]}


async def test_exhausted_retries_fall_back_and_the_response_says_why() -> None:
    client, fake, _ = setup(
        scripts={
            "primary": [sl.FakeFault("server_error", times=2)],
            "secondary": [sl.FakeReply("from secondary")],
        },
        fallbacks=CHAIN,
    )
    r = await client.chat("fake:primary", [sl.user("x")])
    assert (r.text, r.model, r.attempts) == ("from secondary", "secondary", 1)
    assert r.fallback is not None and r.fallback.requested == "fake:primary"
    assert r.fallback.reason == "server_error" and r.fallback.errors[0]["model"] == "fake:primary"
    assert [q.model for q in fake.requests] == ["primary", "primary", "secondary"]
    assert r.to_dict()["fallback"]["reason"] == "server_error"


async def test_non_retryable_errors_do_not_fall_back_and_the_chain_is_reported() -> None:
    client, fake, _ = setup(scripts={"primary": [sl.FakeFault("authentication")]}, fallbacks=CHAIN)
    with pytest.raises(sl.AuthenticationError):
        await client.chat("fake:primary", [sl.user("x")])
    assert len(fake.requests) == 1
    client, _, _ = setup(
        scripts={
            "primary": [sl.FakeFault("overloaded", times=2)],
            "secondary": [sl.FakeFault("quota_exceeded")],
            "tertiary": [sl.FakeFault("invalid_request")],
        },
        fallbacks=CHAIN,
    )
    with pytest.raises(sl.FallbackError) as caught:
        await client.chat("fake:primary", [sl.user("x")])
    group = caught.value
    # Every model's error is kept, in the order tried; the last one ended the chain.
    assert [type(e) for e in group.exceptions] == [
        sl.OverloadedError,
        sl.QuotaExceededError,
        sl.InvalidRequestError,
    ]
    assert [e.model for e in group.exceptions] == ["primary", "secondary", "tertiary"]
    assert group.kind == "invalid_request" and group.retryable is False
    assert (group.provider, group.model) == ("fake", "tertiary")
    assert "fake:primary [overloaded], fake:secondary [quota_exceeded]" in str(group)
    assert isinstance(group, ExceptionGroup) and isinstance(group, sl.LLMError)


async def test_a_failed_chain_can_be_picked_apart_with_except_star() -> None:
    client, _, _ = setup(
        scripts={
            "primary": [sl.FakeFault("rate_limit", times=3)],
            "secondary": [sl.FakeFault("overloaded", times=3)],
            "tertiary": [sl.FakeFault("rate_limit", times=3)],
        },
        fallbacks=CHAIN,
        max_retries=0,
    )
    limited: list[sl.LLMError] = []
    try:
        await client.chat("fake:primary", [sl.user("x")])
    except* sl.RateLimitError as group:
        limited += [e for e in group.exceptions if isinstance(e, sl.LLMError)]
    except* sl.OverloadedError:
        pass
    assert [e.model for e in limited] == ["primary", "tertiary"]


def test_a_fallback_error_pickles_with_every_error() -> None:
    import pickle

    errors: list[sl.LLMError] = [
        sl.RateLimitError("slow down", provider="openai", model="a", retry_after=2.0),
        sl.ServerError("boom", provider="anthropic", model="b", status=500),
    ]
    group = sl.FallbackError("every model failed", errors)
    copy = pickle.loads(pickle.dumps(group))
    assert [type(e) for e in copy.exceptions] == [sl.RateLimitError, sl.ServerError]
    assert (copy.message, copy.kind, copy.status, copy.model) == (
        "every model failed",
        "server_error",
        500,
        "b",
    )
    assert copy.last.message == "boom" and copy.retryable is True


async def test_context_length_and_content_filter_fall_back_only_when_configured() -> None:
    scripts = {
        "primary": [sl.FakeFault("context_length")],
        "secondary": [sl.FakeReply("big model")],
    }
    client, _, _ = setup(scripts=scripts, fallbacks=CHAIN)
    with pytest.raises(sl.ContextLengthError):
        await client.chat("fake:primary", [sl.user("x")])
    client, _, _ = setup(scripts=scripts, fallbacks=CHAIN, fallback_on_context_length=True)
    r = await client.chat("fake:primary", [sl.user("x")])
    assert (
        r.text == "big model" and r.fallback is not None and r.fallback.reason == "context_length"
    )
    refusing = {
        "primary": [sl.FakeReply("", finish_reason="content_filter")],
        "secondary": [sl.FakeReply("ok elsewhere")],
    }
    client, _, _ = setup(scripts=dict(refusing), fallbacks=CHAIN)
    assert (await client.chat("fake:primary", [sl.user("x")])).finish_reason == "content_filter"
    client, _, _ = setup(scripts=dict(refusing), fallbacks=CHAIN, fallback_on_content_filter=True)
    r = await client.chat("fake:primary", [sl.user("x")])
    assert (
        r.text == "ok elsewhere"
        and r.fallback is not None
        and r.fallback.reason == "content_filter"
    )


async def test_fallback_chains_from_toml_with_arrows_and_aliases(tmp_path: Any) -> None:
    (tmp_path / "steadyllm.toml").write_text(
        '[aliases]\nbackup = "fake:secondary"\n'
        '[fallbacks]\n"fake:primary" = "fake:primary -> backup"\n'
    )
    settings = sl.Settings.load(env={}, dotenv=False)
    assert settings.fallbacks == {"fake:primary": ("fake:primary", "backup")}
    fake = sl.FakeProvider(scripts={"primary": [sl.FakeFault("server_error", times=4)]})
    client = sl.Client(
        settings.replace(max_retries=0), providers={"fake": fake}, clock=sl.FakeClock()
    )
    r = await client.chat("fake:primary", [sl.user("hello")])
    assert r.model == "secondary" and r.text == "hello"  # the repeated primary is skipped


@pytest.mark.parametrize("chain", [{"fake:a": " "}, {"fake:a": []}, ["x"], {"fake:a": [3]}])
def test_bad_fallback_tables_are_config_errors(chain: Any) -> None:
    with pytest.raises(sl.ConfigError, match="invalid fallbacks"):
        sl.Settings.load(env={}, dotenv=False, fallbacks=chain)


async def test_a_misconfigured_fallback_fails_before_sending() -> None:
    client, fake, _ = setup(fallbacks={"fake:primary": ["openai:gpt-4o"]})
    with pytest.raises(sl.ConfigError, match="OPENAI_API_KEY"):
        await client.chat("fake:primary", [sl.user("x")])
    assert fake.requests == []


async def test_streams_fall_back_before_the_first_event() -> None:
    client, _, _ = setup(
        scripts={
            "primary": [sl.FakeFault("overloaded", times=2)],
            "secondary": [sl.FakeReply("streamed elsewhere")],
        },
        fallbacks=CHAIN,
    )
    async with client.stream("fake:primary", [sl.user("x")]) as s:
        r = await s.final_response()
    assert r.text == "streamed elsewhere" and r.model == "secondary"
    assert r.fallback is not None and r.fallback.reason == "overloaded"


async def test_the_breaker_opens_fails_fast_falls_back_and_recovers_through_a_probe() -> None:
    changes: list[tuple[str, str, str]] = []
    clock = sl.FakeClock()
    fake = sl.FakeProvider(scripts={"primary": [sl.FakeFault("server_error", times=3)]})
    client = sl.Client(
        sl.Settings.load(
            env={},
            dotenv=False,
            max_retries=0,
            circuit_breaker_failure_threshold=3,
            circuit_breaker_reset_timeout_ms=30_000,
            fallbacks=CHAIN,
        ),
        providers={"fake": fake},
        clock=clock,
        on_circuit_change=lambda *c: changes.append(c),
    )
    for _ in range(3):  # three failures, each falling back to the secondary
        assert (await client.chat("fake:primary", [sl.user("x")])).model == "secondary"
    assert client.resilience.breakers.snapshot()["fake:primary"]["state"] == "open"
    sent = len(fake.requests)
    r = await client.chat("fake:primary", [sl.user("x")])  # fails fast: no request to primary
    assert r.model == "secondary" and r.fallback is not None and r.fallback.reason == "circuit_open"
    assert [q.model for q in fake.requests[sent:]] == ["secondary"]
    clock.advance(30.0)
    r = await client.chat("fake:primary", [sl.user("probe")])  # the probe succeeds (echo)
    assert r.model == "primary" and r.fallback is None
    assert [c[1:] for c in changes] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


async def test_circuit_open_without_fallback_is_raised_with_the_reopen_time() -> None:
    client, _, _ = setup(
        sl.FakeFault("server_error", times=5), max_retries=0, circuit_breaker_failure_threshold=2
    )
    for _ in range(2):
        with pytest.raises(sl.ServerError):
            await client.chat("fake:m", [sl.user("x")])
    with pytest.raises(sl.CircuitOpenError) as info:
        await client.chat("fake:m", [sl.user("x")])
    assert info.value.retry_after == pytest.approx(60.0) and info.value.attempt == 1


async def test_a_breaker_counts_a_broken_stream_and_a_stream_success() -> None:
    client, _, _ = setup(
        sl.FakeReply("a b c", cut_after=1),
        sl.FakeReply("fine"),
        circuit_breaker_failure_threshold=1,
        max_retries=0,
    )
    async with client.stream("fake:m", [sl.user("x")]) as s:
        with pytest.raises(sl.StreamInterruptedError):
            await s.final_response()
    assert client.resilience.breakers.snapshot()["fake:m"]["failures"] == 1
    with pytest.raises(sl.CircuitOpenError):
        async with client.stream("fake:m", [sl.user("x")]):
            pass  # pragma: no cover


async def test_the_client_paces_calls_to_the_configured_rate() -> None:
    clock = sl.FakeClock(auto_advance=False)
    client, _, _ = setup(
        clock=clock, rate_limit_per_minute=60, timeout_ms=600_000, rate_limit_margin_ms=0
    )
    done: list[float] = []

    async def call() -> None:
        await client.chat("fake:m", [sl.user("x")])
        done.append(clock.now())

    tasks = [asyncio.create_task(call()) for _ in range(70)]
    await clock.tick(0)
    assert len(done) == 60
    await clock.tick(10)
    await asyncio.gather(*tasks)
    assert done[60:] == pytest.approx([float(i) for i in range(1, 11)])
    assert await client.predicted_wait("fake:m", [sl.user("x")]) == pytest.approx(1.0)
    assert client.resilience.limiters.snapshot()["fake:m"]["granted"] == 70


async def test_a_429_pauses_the_key_and_tokens_are_reserved_with_max_tokens() -> None:
    clock = sl.FakeClock(auto_advance=False)
    client, fake, _ = setup(
        sl.FakeFault("rate_limit", retry_after=5.0),
        clock=clock,
        tokens_per_minute=10_000,
        max_retries=1,
    )
    call = asyncio.create_task(client.chat("fake:m", [sl.user("x")], max_tokens=500))
    other = asyncio.create_task(client.chat("fake:m", [sl.user("y")], max_tokens=500))
    await clock.tick(4.9)
    assert len(fake.requests) == 1  # the other caller is held while the key is paused
    await clock.tick(0.2)
    await asyncio.gather(call, other)
    assert len(fake.requests) == 3
    assert client.resilience.limiters.snapshot()["fake:m"]["backoffs"] == 1


async def test_per_model_limits_from_settings() -> None:
    client, _, _ = setup(limits={"fake:slow": {"rpm": 1}}, timeout_ms=5_000, rate_limit_margin_ms=0)
    await client.chat("fake:slow", [sl.user("x")])
    with pytest.raises(sl.RateLimitError, match=r"would wait 60\.00s"):
        await client.chat("fake:slow", [sl.user("x")])
    await client.chat("fake:fast", [sl.user("x")])
    with pytest.raises(sl.ConfigError, match="invalid limits for 'fake:x'"):
        sl.Settings.load(env={}, dotenv=False, limits={"fake:x": {"rpm": 0}})
