"""The Redis cache backend against a real redis-server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

import steadyllm as sl

from .conftest import RedisServer


def settings(url: str, **extra: Any) -> sl.Settings:
    return sl.Settings.load(
        env={},
        dotenv=False,
        enable_cache=True,
        redis_url=url,
        redis_prefix=f"test-{uuid.uuid4().hex[:8]}",
        **extra,
    )


async def test_clients_share_the_cache_through_redis_with_a_ttl(redis_url: str) -> None:
    import redis.asyncio as redis_asyncio

    shared = settings(redis_url, cache_ttl_ms=60_000)
    assert shared.redis_url is not None
    fake = sl.FakeProvider()
    async with sl.Client(shared, providers={"fake": fake}, clock=sl.FakeClock()) as first:
        await first.chat("fake:m", [sl.user("shared")])
    async with sl.Client(shared, providers={"fake": fake}, clock=sl.FakeClock()) as second:
        hit = await second.chat("fake:m", [sl.user("shared")])
    assert hit.cached and len(fake.requests) == 1
    direct = redis_asyncio.from_url(redis_url)  # the test server has no password
    keys = [k async for k in direct.scan_iter(f"{shared.redis_prefix}:cache:*")]
    assert len(keys) == 1 and 0 < await direct.pttl(keys[0]) <= 60_000
    await direct.aclose()
    other = settings(redis_url)  # another application's prefix: no hit
    async with sl.Client(other, providers={"fake": fake}, clock=sl.FakeClock()) as third:
        assert not (await third.chat("fake:m", [sl.user("shared")])).cached


def test_redis_backend_needs_a_url() -> None:
    s = sl.Settings.load(env={}, dotenv=False, enable_cache=True, cache_backend="redis")
    with pytest.raises(sl.ConfigError, match="needs STEADYLLM_REDIS_URL"):
        sl.Client(s).response_cache()


async def test_a_redis_outage_is_a_miss_and_the_cache_recovers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = own_redis.url
    fake = sl.FakeProvider()
    async with sl.Client(settings(url), providers={"fake": fake}, clock=sl.FakeClock()) as client:
        await client.chat("fake:m", [sl.user("x")])
        assert (await client.chat("fake:m", [sl.user("x")])).cached
        await asyncio.to_thread(own_redis.stop)  # waits for the process: off the loop
        down = await client.chat("fake:m", [sl.user("x")])  # fails open: the provider answers
        assert not down.cached and "response cache unavailable" in caplog.text
        # An empty server comes back: redis-py reconnects by itself.
        await asyncio.to_thread(own_redis.start)
        await client.chat("fake:m", [sl.user("x")])
        assert (await client.chat("fake:m", [sl.user("x")])).cached
    assert len(fake.requests) == 3
