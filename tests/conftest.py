from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl

_CONFIG_VARS = {spec.env for spec in sl.SETTINGS} | {"STEADYLLM_CONFIG"}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts in an empty directory with no steadyllm variables set,
    so a developer's own .env or keys never leak into the results."""
    for name in _CONFIG_VARS & set(os.environ):
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


class _SlowCallbacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "took" in message and "Executing" in message:
            self.messages.append(message)


@pytest.fixture
async def _no_blocking_in_the_loop() -> AsyncIterator[None]:
    """Fails an async test during which something blocked the event loop for
    a second or more (asyncio debug mode reports such slow callbacks)."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 1.0
    handler = _SlowCallbacks()
    logging.getLogger("asyncio").addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger("asyncio").removeHandler(handler)
    assert not handler.messages, f"the event loop was blocked: {handler.messages}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.fixturenames.insert(0, "_no_blocking_in_the_loop")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may send a request anywhere but this machine."""
    from urllib.parse import urlsplit

    from steadyllm._transport import HTTPRequest, HTTPResponse, HTTPTransport

    real_send = HTTPTransport.send

    async def guarded(self: HTTPTransport, request: HTTPRequest) -> HTTPResponse:
        host = urlsplit(request.url).hostname
        assert host in ("127.0.0.1", "localhost", "::1"), f"test tried to reach {host}"
        return await real_send(self, request)

    monkeypatch.setattr(HTTPTransport, "send", guarded)


@pytest.fixture
def redis_url() -> str:
    """The redis-server that `make test` started (skipped when pytest runs without it)."""
    url = os.environ.get("STEADYLLM_TEST_REDIS_URL")
    if not url:
        pytest.skip("no redis-server: run the suite with `make test`, which starts one")
    return url


@pytest.fixture
def clock() -> sl.FakeClock:
    return sl.FakeClock()


def make_client(
    *steps: sl.FakeReply | sl.FakeFault | sl.FakeHang,
    clock: sl.Clock | None = None,
    **settings: Any,
) -> tuple[sl.Client, sl.FakeProvider]:
    """A Client on virtual time whose fake provider follows ``steps``."""
    fake = sl.FakeProvider(script=steps)
    client = sl.Client(
        sl.Settings.load(env={}, dotenv=False, **settings),
        providers={"fake": fake},
        clock=clock or sl.FakeClock(),
    )
    return client, fake
