"""Retries, breakers, fallbacks and pacing end to end against the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

import steadyllm as sl
from steadyllm.emulator import Behavior, Emulator

from .conftest import spawn


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


def settings_for(emu: Emulator, **extra: Any) -> sl.Settings:
    return emu.settings(retry_base_delay_ms=10, retry_max_delay_ms=20, **extra)


CHAIN = {"openai:gpt-4o": ["anthropic:claude-sonnet-4-5"]}


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize(
    ("fault", "falls_back", "primary_requests"),
    [
        (Behavior(fault="status", status=500, times=3), True, 3),
        (Behavior(fault="overloaded", times=3), True, 3),
        (Behavior(fault="quota"), True, 1),
        (Behavior(fault="rate_limit", retry_after=60), True, 1),  # longer than the deadline allows
        (Behavior(fault="hang"), False, 1),  # the deadline is spent: nothing left to fall back with
        (Behavior(fault="auth"), False, 1),
        (Behavior(fault="context_length"), False, 1),
    ],
    ids=["500s", "overloaded", "quota", "long-retry-after", "hang", "auth", "context-length"],
)
async def test_fallback_matrix(
    emulator: Emulator, fault: Behavior, falls_back: bool, primary_requests: int, stream: bool
) -> None:
    emulator.push(fault)
    async with sl.Client(settings_for(emulator, fallbacks=CHAIN, max_retries=2)) as client:

        async def call() -> sl.Response:
            options: dict[str, Any] = {"timeout_ms": 1_000}
            if stream:
                async with client.stream("openai:gpt-4o", [sl.user("hello")], **options) as s:
                    return await s.final_response()
            return await client.chat("openai:gpt-4o", [sl.user("hello")], **options)

        if falls_back:
            r = await call()
            assert (r.provider, r.text) == ("anthropic", "hello")
            assert r.fallback is not None and r.fallback.requested == "openai:gpt-4o"
        else:
            with pytest.raises(sl.LLMError):
                await call()
    apis = [r.api for r in emulator.requests]
    assert apis.count("openai") == primary_requests
    assert apis.count("anthropic") == (1 if falls_back else 0)


async def test_breaker_opens_and_recovers_through_a_half_open_probe(emulator: Emulator) -> None:
    clock = sl.FakeClock()  # breaker time is virtual; the HTTP is real
    settings = settings_for(
        emulator,
        fallbacks=CHAIN,
        max_retries=0,
        circuit_breaker_failure_threshold=3,
        circuit_breaker_reset_timeout_ms=30_000,
    )
    emulator.push(Behavior(fault="status", status=503, times=3, api="openai"))
    async with sl.Client(settings, clock=clock) as client:
        for _ in range(3):
            assert (await client.chat("openai:gpt-4o", [sl.user("x")])).provider == "anthropic"
        before = len(emulator.requests)
        r = await client.chat("openai:gpt-4o", [sl.user("x")])  # open: fails fast, falls back
        assert r.fallback is not None and r.fallback.reason == "circuit_open"
        assert [q.api for q in emulator.requests[before:]] == ["anthropic"]
        clock.advance(30)
        emulator.push(Behavior(fault="status", status=503, api="openai"))
        r = await client.chat("openai:gpt-4o", [sl.user("x")])  # the half-open probe fails
        assert r.provider == "anthropic"
        assert client.resilience.breakers.snapshot()["openai:gpt-4o"]["state"] == "open"
        clock.advance(59)
        with pytest.raises(sl.CircuitOpenError):  # the failed probe doubled the open period
            await client.resilience.breakers.get("openai", "gpt-4o").admit(clock.now(), 10.0)
        clock.advance(1)
        r = await client.chat("openai:gpt-4o", [sl.user("recovered")])  # the probe succeeds
        assert (r.provider, r.text, r.fallback) == ("openai", "recovered", None)
        assert client.resilience.breakers.snapshot()["openai:gpt-4o"]["state"] == "closed"


@contextlib.asynccontextmanager
async def emulator_process(*flags: str) -> AsyncIterator[str]:
    """`steadyllm emulate` in its own process, as a provider is: its event loop is not
    slowed by the hundreds of client tasks of these tests. Yields its base URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "steadyllm",
        "emulate",
        "--port",
        "0",
        *flags,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await proc.stdout.readline()).decode()
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        await proc.wait()


async def health(url: str) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{url}/_emulator/health") as reply:
        return dict(await reply.json())


async def pace(url: str, callers: int, max_tokens: int, **limits: Any) -> float:
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        openai_api_key="sk-pacing-test",
        openai_base_url=f"{url}/v1",
        timeout_ms=60_000,
        **limits,
    )
    async with sl.Client(settings) as client:
        start = time.monotonic()

        async def call() -> None:
            await client.chat("openai:gpt-4o", [sl.user("x")], max_tokens=max_tokens)

        await asyncio.gather(*await spawn(call() for _ in range(callers)))
        return time.monotonic() - start


async def test_pacing_to_a_request_limit_gets_no_429_and_full_rate() -> None:
    # 120 requests/min: 120 at once (the bucket starts full), then 2 per second.
    async with emulator_process("--rpm", "120", "--tpm", "20000") as url:
        elapsed = await pace(url, 140, 50, rate_limit_per_minute=120, tokens_per_minute=20_000)
        served = await health(url)
    assert served["rate_limited"] == 0 and served["requests"] == 140
    assert elapsed >= (140 - 120) / 2.0 * 0.99  # never faster than the limit allows
    allowed = 120 + 2.0 * elapsed  # what the limit allowed in that time
    assert 140 / allowed >= 0.95  # and we used at least 95% of it


async def test_pacing_to_a_token_limit_gets_no_429_and_full_rate() -> None:
    # Each call reserves 5 prompt tokens + 95 max_tokens = 100; 6,000 tokens/min = 1 call/s.
    async with emulator_process("--tpm", "6000") as url:
        elapsed = await pace(url, 70, 95, tokens_per_minute=6_000)
        served = await health(url)
    assert served["rate_limited"] == 0 and served["requests"] == 70
    assert elapsed >= (70 - 60) / 1.0 * 0.99
    assert 70 / (60 + 1.0 * elapsed) >= 0.95


async def test_learning_the_limit_from_headers_avoids_a_429_storm() -> None:
    # Nothing configured: the first answers teach the limiter the server's 60 RPM.
    async with Emulator(rpm=60) as emulator:
        async with sl.Client(settings_for(emulator, timeout_ms=30_000)) as client:
            for _ in range(55):
                await client.chat("openai:gpt-4o", [sl.user("x")])
            await asyncio.gather(*(client.chat("openai:gpt-4o", [sl.user("x")]) for _ in range(10)))
        assert emulator.rate_limited == 0
