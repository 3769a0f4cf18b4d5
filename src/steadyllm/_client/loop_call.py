"""One coroutine run on another thread's event loop, for a caller that blocks on it
and may be interrupted at any moment (Ctrl-C).

``asyncio.run_coroutine_threadsafe`` hands back its future only after it has
scheduled the coroutine: a ``KeyboardInterrupt`` raised in between (the wake-up
write releases the GIL, so the loop thread can start the call first) leaves the
caller without a handle, and the call runs on unbooked. Here the future exists
before anything is scheduled, so the caller can always cancel it; cancelling
before the coroutine started drops it unstarted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeVar

T = TypeVar("T")


def submit(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, T],
    future: Future[T],
    dropped: Callable[[], None],
) -> None:
    """Run ``coro`` on ``loop`` with its outcome in ``future``; cancelling ``future``
    cancels the running task. ``dropped`` is called when ``future`` was cancelled
    before the coroutine could start (it is closed, never run)."""

    def start() -> None:
        if future.cancelled():
            coro.close()
            dropped()
            return
        task = loop.create_task(coro)
        task.add_done_callback(_settle)

        def interrupted(done: Future[T]) -> None:
            if done.cancelled():  # the caller gave up: cancel the task, on its loop
                loop.call_soon_threadsafe(task.cancel)

        future.add_done_callback(interrupted)

    def _settle(task: asyncio.Task[T]) -> None:
        try:
            if task.cancelled():
                future.cancel()
            elif (error := task.exception()) is not None:
                future.set_exception(error)
            else:
                future.set_result(task.result())
        except InvalidStateError:  # the caller cancelled it meanwhile
            pass

    loop.call_soon_threadsafe(start)
