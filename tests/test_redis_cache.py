"""The Redis cache backend against a real redis-server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl


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


@pytest.fixture
def own_redis(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A redis-server of this test's own, so it can be killed and restarted."""
    binary = shutil.which("redis-server")
    assert binary is not None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:  # wait until the server accepts connections
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                return proc
            except OSError:
                assert proc.poll() is None, "redis-server exited"
                time.sleep(0.02)
        proc.terminate()  # pragma: no cover
        raise AssertionError("redis-server did not start within 5s")  # pragma: no cover

    box = {"proc": start()}

    def restart(alive: bool) -> None:
        if alive:
            box["proc"] = start()
        else:
            box["proc"].terminate()
            box["proc"].wait()

    yield f"redis://127.0.0.1:{port}/0", restart
    box["proc"].terminate()
    box["proc"].wait()


async def test_a_redis_outage_is_a_miss_and_the_cache_recovers(
    own_redis: tuple[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    url, set_alive = own_redis
    fake = sl.FakeProvider()
    async with sl.Client(settings(url), providers={"fake": fake}, clock=sl.FakeClock()) as client:
        await client.chat("fake:m", [sl.user("x")])
        assert (await client.chat("fake:m", [sl.user("x")])).cached
        set_alive(False)
        down = await client.chat("fake:m", [sl.user("x")])  # fails open: the provider answers
        assert not down.cached and "response cache unavailable" in caplog.text
        set_alive(True)  # an empty server comes back: redis-py reconnects by itself
        await client.chat("fake:m", [sl.user("x")])
        assert (await client.chat("fake:m", [sl.user("x")])).cached
    assert len(fake.requests) == 3
