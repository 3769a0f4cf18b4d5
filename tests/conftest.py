from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

import steadyllm as sl
from steadyllm._config.settings import SETTINGS

# The client, the wire providers and the emulator load on first use. Loaded here,
# once, so that the loop-blocking guard below judges what a call does, not the one
# import (and, after an edit, the compile) of a module in a test's first step;
# import cost has its own test (test_import_cost.py) and benchmark.
for _module in (
    "steadyllm._client.client",
    "steadyllm._agents.loop",
    "steadyllm.providers.openai",
    "steadyllm.providers.anthropic",
    "steadyllm.emulator",
    "steadyllm._shared.state",
    "redis.asyncio",
):
    __import__(_module)

T = TypeVar("T")

_CONFIG_VARS = {spec.env for spec in SETTINGS} | {"STEADYLLM_CONFIG"}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts in an empty directory with no steadyllm variables set,
    so a developer's own .env or keys never leak into the results."""
    for name in _CONFIG_VARS & set(os.environ):
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # never the real home
    monkeypatch.chdir(tmp_path)


class _SlowCallbacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "took" in message and "Executing" in message:
            self.messages.append(message)


#: 0.1 s of wall time, scaled under a line tracer (make test measures coverage): the
#: tracer makes Python run 2-3x slower, and on the two-core CI machine, steps of ~50 ms
#: untraced (a CA store, a test's key generation) crossed 0.1 s traced, each run in
#: another test. A step the guard exists for (a blocking read, a sleep) still fails.
_SLOW_STEP = "0.25" if sys.gettrace() is not None or "COV_CORE_SOURCE" in os.environ else "0.1"


@pytest.fixture
async def _no_blocking_in_the_loop() -> AsyncIterator[None]:
    """Fails an async test during which something blocked the event loop for
    0.1 s or more (asyncio debug mode reports such slow callbacks; STEADYLLM_SLOW_STEP
    sets another threshold, to look for steps that come close)."""
    # No collection during the test: a full collection of a long session's heap pauses
    # whatever step it lands in (tens of ms under coverage) and is not the code's doing.
    gc.collect()
    gc.disable()
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = float(os.environ.get("STEADYLLM_SLOW_STEP", _SLOW_STEP))
    handler = _SlowCallbacks()
    logging.getLogger("asyncio").addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger("asyncio").removeHandler(handler)
        gc.enable()
    assert not handler.messages, f"the event loop was blocked: {handler.messages}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The objects of collection (and of the session so far) are moved out of the
    # collector's reach: a full collection over them would pause the loop for tens of
    # milliseconds and trip the 0.1 s guard in whatever test it fell on.
    gc.collect()
    gc.freeze()
    for item in items:
        if item.get_closest_marker("third_party_blocking") is not None:
            continue  # a vendor SDK's first-use imports on the loop are not ours to fix
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.fixturenames.insert(0, "_no_blocking_in_the_loop")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may send a request anywhere but this machine."""
    from urllib.parse import urlsplit

    from steadyllm._http.connection import HTTPResponse
    from steadyllm._http.request import HTTPRequest
    from steadyllm._http.transport import HTTPTransport

    real_send = HTTPTransport.send

    async def guarded(self: HTTPTransport, request: HTTPRequest) -> HTTPResponse:
        host = urlsplit(request.url).hostname
        assert host in ("127.0.0.1", "localhost", "::1"), f"test tried to reach {host}"
        return await real_send(self, request)

    monkeypatch.setattr(HTTPTransport, "send", guarded)


@pytest.fixture
def brief_close_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closing client retries what it owes Redis for the close grace (5 s); a test of a
    Redis that stays broken would wait that long at every close, so it waits 0.3 s."""
    from steadyllm._shared import state

    monkeypatch.setattr(state, "CLOSE_GRACE_SECONDS", 0.3)


@pytest.fixture(scope="module")
def ca() -> Any:
    """A throw-away certificate authority (trustme), one per test module."""
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture
def bundle(ca: Any, tmp_path: Path) -> str:
    """``ca``'s certificate as a PEM file, for LLM_CA_BUNDLE and SSL_CERT_FILE."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def redis_url() -> str:
    """The redis-server that `make test` started (skipped when pytest runs without it)."""
    url = os.environ.get("STEADYLLM_TEST_REDIS_URL")
    if not url:
        pytest.skip("no redis-server: run the suite with `make test`, which starts one")
    return url


class RedisServer:
    """A redis-server of a test's own on a free loopback port, so it can be stopped
    and started again; with ``persist``, every write is in an fsynced append-only
    file, so a restarted server has the state of the one that was killed."""

    def __init__(self, directory: Path, persist: bool = False) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.argv += ["--dir", str(directory), "--appendonly", "yes" if persist else "no"]
        if persist:
            self.argv += ["--appendfsync", "always"]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:  # until the server answers PING
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert self.proc.poll() is None, "redis-server exited"
            time.sleep(0.02)  # polling a child process's start-up, not a race in our code
        raise AssertionError("redis-server did not start within 10s")  # pragma: no cover

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def own_redis(redis_url: str, tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server this test may stop and restart (needs the suite's redis-server binary)."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


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


async def outcomes(tasks: Sequence[asyncio.Task[T]]) -> list[T | BaseException]:
    """``asyncio.gather(*tasks, return_exceptions=True)``, but waiting one task at a
    time: gather adds a callback to every task at once, and in debug mode each one on a
    task already done is scheduled with its creation stack recorded, so a thousand done
    tasks make one step long enough to trip the blocking guard (in the test, not the
    library). A cancelled task's outcome is its ``CancelledError``."""
    out: list[T | BaseException] = []
    for task in tasks:
        if not task.done():
            await asyncio.wait([task])
        if task.cancelled():
            out.append(asyncio.CancelledError())
        else:
            error = task.exception()
            out.append(error if error is not None else task.result())
    return out


async def spawn(
    coros: Iterable[Coroutine[Any, Any, T]],
    batch: int = 10,
    into: list[asyncio.Task[T]] | None = None,
) -> list[asyncio.Task[T]]:
    """Tasks for ``coros``, created ``batch`` at a time with a yield between: in debug
    mode each task records its creation stack, and a thousand at once would be one
    loop step long enough to trip the blocking guard (in the test, not the library)."""
    tasks: list[asyncio.Task[T]] = [] if into is None else into
    for coro in coros:
        tasks.append(asyncio.ensure_future(coro))
        if len(tasks) % batch == 0:
            await asyncio.sleep(0)
    return tasks
