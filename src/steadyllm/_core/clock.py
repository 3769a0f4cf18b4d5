"""Time, injected: every wait and deadline in steadyllm goes through a Clock.

``SystemClock`` is the event loop's monotonic clock. ``FakeClock`` is virtual
time for tests: nothing sleeps for real. With ``auto_advance=True`` (the
default) a sleep moves time forward at once, so retry back-offs and chunk
delays cost nothing; with ``auto_advance=False`` sleepers wait until a test
calls ``advance()``, for exact control over concurrent timelines.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""

    async def sleep(self, seconds: float) -> None: ...

    def timeout_at(self, deadline: float | None) -> asyncio.Timeout | _FakeTimeout:
        """An async context manager that raises ``TimeoutError`` at ``deadline``
        (a ``now()`` value); ``None`` means no deadline."""


class SystemClock:
    """Real time, from ``time.monotonic`` (the same clock asyncio uses)."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def timeout_at(self, deadline: float | None) -> asyncio.Timeout:
        if deadline is None:
            return asyncio.timeout(None)
        # Translate from time.monotonic to the loop's clock (identical on CPython,
        # but a custom loop may differ).
        loop_deadline = asyncio.get_running_loop().time() + (deadline - time.monotonic())
        return asyncio.timeout_at(loop_deadline)


class _FakeTimeout:
    """An ``asyncio.Timeout`` that fires when the FakeClock passes a deadline."""

    def __init__(self, clock: FakeClock, deadline: float | None) -> None:
        self._clock = clock
        self._deadline = deadline
        self._inner = asyncio.timeout(None)
        self._cancel: Callable[[], None] | None = None

    async def __aenter__(self) -> _FakeTimeout:
        await self._inner.__aenter__()
        if self._deadline is not None:
            loop = asyncio.get_running_loop()
            self._cancel = self._clock.call_at(
                self._deadline, lambda: self._inner.reschedule(loop.time())
            )
        return self

    def expired(self) -> bool:
        return self._inner.expired()

    async def __aexit__(self, *exc: object) -> bool | None:
        if self._cancel is not None:
            self._cancel()
        await self._inner.__aexit__(*exc)  # type: ignore[arg-type]
        return None


class FakeClock:
    """Virtual time for tests. ``sleeps`` records every sleep requested."""

    def __init__(self, start: float = 0.0, *, auto_advance: bool = True) -> None:
        self._now = start
        self.auto_advance = auto_advance
        self.sleeps: list[float] = []
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` once time reaches ``when``; returns a cancel function."""
        seq = next(self._seq)
        heapq.heappush(self._timers, (when, seq, callback))
        if when <= self._now:
            self.advance(0.0)  # already due: fire now
        return lambda: self._cancelled.add(seq)

    def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper and deadline that falls due, in order."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, seq, callback = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            if seq not in self._cancelled:
                callback()
            self._cancelled.discard(seq)
        self._now = target

    async def tick(self, seconds: float, *, settle: int = 10) -> None:
        """Like ``advance``, but one timer at a time, letting the loop run after
        each, so every woken task observes exactly its own wake-up time. Tasks
        that are ready run first, so a task created just before ``tick`` has
        set its timers before time moves."""
        for _ in range(settle):
            await asyncio.sleep(0)
        target = self._now + seconds
        while (due := self._next_timer()) is not None and due <= target:
            self.advance(due - self._now)
            for _ in range(settle):
                await asyncio.sleep(0)
        self.advance(target - self._now)
        for _ in range(settle):
            await asyncio.sleep(0)

    def _next_timer(self) -> float | None:
        while self._timers and self._timers[0][1] in self._cancelled:
            self._cancelled.discard(heapq.heappop(self._timers)[1])
        return self._timers[0][0] if self._timers else None

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        target = self._now + seconds
        if self.auto_advance:
            # Jump straight to each timer due before our wake-up time (a deadline
            # that cancels us, say), then to the wake-up time itself.
            while (due := self._next_timer()) is not None and due <= target:
                self.advance(due - self._now)
                await asyncio.sleep(0)  # lets a timeout that just fired cancel us
            if not math.isinf(target):
                self.advance(target - self._now)
                await asyncio.sleep(0)
                return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        cancel = self.call_at(target, wake)
        try:
            await future
        finally:
            cancel()

    def timeout_at(self, deadline: float | None) -> _FakeTimeout:
        return _FakeTimeout(self, deadline)


async def sleep_until(clock: Clock, when: float, interrupt: asyncio.Event) -> None:
    """Sleep on ``clock`` until ``when``, or until ``interrupt`` is set, whichever is first.
    (Used by waiters that must wake early when capacity changes.)"""
    if interrupt.is_set():
        return
    sleeper = asyncio.ensure_future(clock.sleep(when - clock.now()))
    waker = asyncio.ensure_future(interrupt.wait())
    try:
        await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, waker):
            task.cancel()
        await asyncio.gather(sleeper, waker, return_exceptions=True)
