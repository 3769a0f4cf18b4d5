"""The emulator on a loop of its own, in a daemon thread: usable from sync tests
and from async tests under any plugin (pytest-asyncio, anyio), whose event
loop then only runs the client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from .._client.client import Client
from .._config.settings import Settings
from ..emulator import Behavior, Emulator, RecordedRequest


class EmulatorThread:
    """``with EmulatorThread() as emu:`` the emulator on a free loopback port;
    ``emu.client()`` is a client configured for it, ``emu.requests`` what it got."""

    def __init__(self, **options: Any) -> None:
        self.emulator = Emulator(**options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatorThread:
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="llm-emulator", daemon=True)
        self._thread.start()
        self._loop = loop
        asyncio.run_coroutine_threadsafe(self.emulator.start(), loop).result(30)
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.emulator.url

    def settings(self, **overrides: Any) -> Settings:
        """Settings that send every provider here (see ``Emulator.settings``)."""
        return self.emulator.settings(**overrides)

    def client(self, **overrides: Any) -> Client:
        """A client whose every provider is this emulator; ``overrides`` are settings."""
        return Client(self.settings(**overrides))

    def _on_loop(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the emulator's loop and wait: done before the next request."""
        assert self._loop is not None, "start() first"

        async def run() -> None:
            action()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    def push(self, *behaviors: Behavior) -> None:
        """Queue behaviours (faults, scripted replies) for the next requests."""
        self._on_loop(lambda: self.emulator.push(*behaviors))

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first (a copy)."""
        return list(self.emulator.requests)

    def clear(self) -> None:
        """Forget queued behaviours and the request log."""
        self._on_loop(self.emulator.state.clear)
