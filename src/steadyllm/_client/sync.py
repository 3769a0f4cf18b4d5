"""SyncClient: the Client's calls for code that is not async.

It owns an event loop on a private daemon thread and runs each call there, so
it works anywhere, also inside a thread that already runs a loop (Jupyter).
The caller's ``sl.context(...)`` is resolved in the calling thread and passed
along explicitly, because context variables do not cross threads.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, overload

from .._agents.loop import OnLimit, ToolRunResult
from .._cache.response import ResponseCache
from .._config.settings import Settings
from .._core.clock import Clock
from .._core.context import effective_context
from .._core.counts import TokenCount
from .._core.embeddings import Embeddings
from .._core.types import Message, Response
from .._metering.costs import CostTracker
from .._metering.meter import Meter
from .._metering.observe import Stats
from .._resilience.breaker import BreakerPolicy
from .._resilience.guard import Resilience
from .._resilience.retry import RetryPolicy
from ..providers import Provider
from .client import CallOptions, Client, LoopOptions
from .loop_call import submit
from .plan import CountOptions, EmbedOptions
from .sync_streams import SyncChatStream, SyncToolStream

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .._shared.state import SharedState

T = TypeVar("T")
M = TypeVar("M", bound="BaseModel")


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The loop thread: run until stopped, then release the loop's worker threads."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """Stop a loop thread (``close()``, or a SyncClient dropped without it)."""
    if not loop.is_closed():
        loop.call_soon_threadsafe(loop.stop)
    if thread is not threading.current_thread():
        thread.join(timeout=10.0)


class SyncClient:
    """``Client`` for synchronous code; same calls, same results, no ``await``.

    Its loop thread stops on ``close()`` (or ``with``), and also when the client is
    garbage collected without it. Ctrl-C (any exception in the calling thread while
    it waits) cancels the running call, which is then booked as cancelled. A client
    cannot cross ``os.fork()``: in the child it raises at once; create one there."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        env: bool = True,
        providers: Mapping[str, Provider] | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        on_circuit_change: Callable[[str, str, str], None] | None = None,
        on_cost_alert: Callable[[float, float], None] | None = None,
    ) -> None:
        self._closed = True  # until the loop runs: a failed constructor leaves no thread
        self.client = Client(
            settings,
            env=env,
            providers=providers,
            clock=clock,
            retry=retry,
            breaker=breaker,
            on_circuit_change=on_circuit_change,
            on_cost_alert=on_cost_alert,
        )
        self._pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=_serve, args=(self._loop,), name="steadyllm-sync", daemon=True
        )
        self._thread.start()
        self._finalizer = weakref.finalize(self, _stop, self._loop, self._thread)
        self._closed = False

    @classmethod
    def from_env(
        cls,
        *,
        providers: Mapping[str, Provider] | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        on_circuit_change: Callable[[str, str, str], None] | None = None,
        on_cost_alert: Callable[[float, float], None] | None = None,
        **overrides: Any,
    ) -> SyncClient:
        """Same as ``Client.from_env``."""
        return cls(
            Settings.load(**overrides),
            providers=providers,
            clock=clock,
            retry=retry,
            breaker=breaker,
            on_circuit_change=on_circuit_change,
            on_cost_alert=on_cost_alert,
        )

    @property
    def settings(self) -> Settings:
        return self.client.settings

    @property
    def costs(self) -> CostTracker:
        """Same as ``Client.costs``."""
        return self.client.costs

    @property
    def stats(self) -> Stats | None:
        """Same as ``Client.stats``."""
        return self.client.stats

    def sink_failures(self) -> dict[str, int]:
        """Same as ``Client.sink_failures``."""
        return self.client.sink_failures()

    @property
    def meter(self) -> Meter:
        return self.client.meter

    def response_cache(self) -> ResponseCache:
        """Same as ``Client.response_cache`` (hit and miss counts in ``.hits``, ``.misses``)."""
        return self.client.response_cache()

    @property
    def resilience(self) -> Resilience:
        """Circuit breakers and rate limiters (``.breakers``, ``.limiters``)."""
        return self.client.resilience

    @property
    def shared(self) -> SharedState | None:
        """Same as ``Client.shared``: the link to Redis, when configured."""
        return self.client.shared

    def embed(
        self,
        model: str | None,
        inputs: str | Sequence[str],
        *,
        dimensions: int | None = None,
        task: str | None = None,
        concurrency: int = 4,
        **options: Unpack[EmbedOptions],
    ) -> Embeddings:
        """Same as ``Client.embed``."""
        options["context"] = effective_context(options.get("context"))
        return self._run(
            self.client.embed(
                model, inputs, dimensions=dimensions, task=task, concurrency=concurrency, **options
            )
        )

    def count_tokens(
        self, model: str | None, messages: Sequence[Message], **options: Unpack[CountOptions]
    ) -> TokenCount:
        """Same as ``Client.count_tokens``."""
        options["context"] = effective_context(options.get("context"))
        return self._run(self.client.count_tokens(model, messages, **options))

    def predicted_wait(
        self, model: str | None, messages: Sequence[Message], max_tokens: int | None = None
    ) -> float:
        """Same as ``Client.predicted_wait``."""
        return self._run(self.client.predicted_wait(model, messages, max_tokens))

    def fleet_costs(self) -> dict[str, Any]:
        """Same as ``Client.fleet_costs``."""
        return self._run(self.client.fleet_costs())

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this SyncClient is closed; create a new one")
        if os.getpid() != self._pid:
            coro.close()
            raise RuntimeError(
                "this SyncClient was created in another process (before os.fork()); its "
                "loop thread does not exist here: create a new SyncClient in this process"
            )
        finished = threading.Event()

        async def call() -> T:
            try:
                return await coro
            finally:
                finished.set()

        future: Future[T] = Future()
        try:
            submit(self._loop, call(), future, finished.set)
            return future.result()
        except BaseException:  # KeyboardInterrupt while waiting: cancel the call too
            if future.cancel():
                finished.wait(timeout=5.0)  # until it is cancelled and booked
            raise

    def chat(
        self, model: str | None, messages: Sequence[Message], **options: Unpack[CallOptions]
    ) -> Response:
        """Same as ``Client.chat``."""
        options["context"] = effective_context(options.get("context"))
        return self._run(self.client.chat(model, messages, **options))

    def stream(
        self, model: str | None, messages: Sequence[Message], **options: Unpack[CallOptions]
    ) -> SyncChatStream:
        """Same as ``Client.stream``: ``with client.stream(...) as s: for ev in s: ...``."""
        options["context"] = effective_context(options.get("context"))
        return SyncChatStream(self, self.client.stream(model, messages, **options))

    def chat_with_tools(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        tools: Sequence[Any],
        handlers: Mapping[str, Callable[..., Any]] | None = None,
        max_iterations: int = 10,
        on_max_iterations: OnLimit = "error",
        tool_timeout_ms: float | None = 30_000,
        **options: Unpack[LoopOptions],
    ) -> ToolRunResult:
        """Same as ``Client.chat_with_tools`` (handlers run on the client's loop thread,
        sync ones in worker threads)."""
        options["context"] = effective_context(options.get("context"))
        return self._run(
            self.client.chat_with_tools(
                model,
                messages,
                tools=tools,
                handlers=handlers,
                max_iterations=max_iterations,
                on_max_iterations=on_max_iterations,
                tool_timeout_ms=tool_timeout_ms,
                **options,
            )
        )

    def stream_with_tools(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        tools: Sequence[Any],
        handlers: Mapping[str, Callable[..., Any]] | None = None,
        max_iterations: int = 10,
        on_max_iterations: OnLimit = "error",
        tool_timeout_ms: float | None = 30_000,
        **options: Unpack[LoopOptions],
    ) -> SyncToolStream:
        """Same as ``Client.stream_with_tools``: ``for event in ...``, then ``.result``."""
        options["context"] = effective_context(options.get("context"))
        return SyncToolStream(
            self,
            self.client.stream_with_tools(
                model,
                messages,
                tools=tools,
                handlers=handlers,
                max_iterations=max_iterations,
                on_max_iterations=on_max_iterations,
                tool_timeout_ms=tool_timeout_ms,
                **options,
            ),
        )

    @overload
    def chat_json(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        schema: type[M],
        max_repairs: int = 2,
        **options: Unpack[CallOptions],
    ) -> M: ...

    @overload
    def chat_json(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any],
        max_repairs: int = 2,
        **options: Unpack[CallOptions],
    ) -> Any: ...

    def chat_json(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        schema: Any,
        max_repairs: int = 2,
        **options: Unpack[CallOptions],
    ) -> Any:
        """Same as ``Client.chat_json``."""
        options["context"] = effective_context(options.get("context"))
        return self._run(
            self.client.chat_json(
                model, messages, schema=schema, max_repairs=max_repairs, **options
            )
        )

    def chat_json_response(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        schema: Any,
        max_repairs: int = 2,
        **options: Unpack[CallOptions],
    ) -> tuple[Any, Response]:
        """Same as ``Client.chat_json_response``."""
        options["context"] = effective_context(options.get("context"))
        return self._run(
            self.client.chat_json_response(
                model, messages, schema=schema, max_repairs=max_repairs, **options
            )
        )

    def close(self) -> None:
        """Close connections and stop the loop thread. Safe to call twice."""
        if self._closed:
            return
        if os.getpid() == self._pid:
            self._run(self.client.aclose())
        self._closed = True
        self._finalizer()  # stops the loop thread (once)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
