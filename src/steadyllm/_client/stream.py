"""A streamed call as an async context manager and async iterator.

Entering the context opens the stream and waits for its first event, inside
the client's retry loop: a failure before any event reached the caller is
retried like any call; after that, an error ends the stream with the partial
response attached. Every wait for an event is bounded by the call's total
deadline. The provider's iterator is always closed on exit, also when the
caller stops early, so no connection leaks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .._core.errors import LLMError, StreamInterruptedError
from .._core.types import (
    CacheMode,
    Done,
    FallbackInfo,
    ProviderEvent,
    Response,
    ResponseMeta,
    StreamEvent,
)
from .._resilience.attempts import deadline_error, run_attempts, with_fallbacks
from .assemble import StreamAssembler

if TYPE_CHECKING:
    from .._resilience.guard import Guard
    from .pipeline import Pipeline
    from .plan import CallPlan


class ChatStream:
    def __init__(
        self, pipeline: Pipeline, chain: list[CallPlan], cache: CacheMode = "bypass"
    ) -> None:
        self._pipeline = pipeline
        self._cache_mode: CacheMode = cache
        self._hit: Response | None = None
        self._chain = chain
        self._plan = chain[0]
        self._guard: Guard | None = None
        self._fallback: FallbackInfo | None = None
        self._iterator: AsyncIterator[ProviderEvent] | None = None
        self._assembler = StreamAssembler()
        self._first: StreamEvent | None = None
        self._attempt_started = chain[0].started
        self._ttft_ms: float | None = None
        self._attempts = 0
        self._finished = False
        self._response: Response | None = None
        self._recorded = False
        #: The cache key this stream leads (identical requests wait for its answer).
        self._flight: str | None = None

    # ------------------------------------------------------------ opening

    async def __aenter__(self) -> ChatStream:
        if self._cache_mode == "use":
            first = self._chain[0]
            cache = self._pipeline.cache()
            hit = await cache.lookup(first.request, first.deadline)
            if hit is None:  # an identical call in flight: wait for its answer instead
                key, flight = cache.lead(first.request)
                if flight is None:
                    self._flight = key
                else:
                    hit = await cache.follow(flight, first.deadline)
            if hit is not None:  # replay the cached (or just answered) reply as a stream
                self._hit = hit
                self._iterator = replay(hit)
                self._first = await self._first_visible(self._iterator)
                return self

        async def run(plan: CallPlan) -> tuple[StreamEvent, int]:
            self._plan = plan
            return await run_attempts(self._pipeline.clock, plan, self._open)

        meter = self._pipeline.meter
        if meter.traced:  # opened now, ended when the stream ends (not current: the
            meter.open_span(self._chain[0], current=False)  # caller's loop runs between)

        try:
            (self._first, self._attempts), _, self._fallback = await with_fallbacks(
                self._chain, run, self._pipeline.settings, self._pipeline.clock
            )
        except LLMError as error:
            await self._close_iterator()
            self._record(error=error)
            raise
        except BaseException:  # cancelled while opening: the attempt is booked by its guard
            await self._close_iterator()
            self._record(abandoned="cancelled")
            raise
        return self

    def _record(
        self,
        *,
        response: Response | None = None,
        error: LLMError | None = None,
        abandoned: str | None = None,
    ) -> None:
        """Account for the call once: cost tracker, request log, statistics."""
        if self._recorded:
            return
        self._recorded = True
        if self._flight is not None:  # followers get a complete answer, or call themselves
            self._pipeline.cache().land(self._flight, response)
            self._flight = None
        self._pipeline.record(
            self._chain,
            self._plan,
            response=response,
            error=error,
            abandoned=abandoned,
            stream=True,
        )

    async def _open(self) -> StreamEvent:
        """One attempt: pass the guard, start the provider stream, pull its first visible event."""
        await self._close_iterator()
        self._assembler = StreamAssembler()
        guard = self._guard = await self._pipeline.admit(self._plan)
        return await guard.run(self._first_event())

    async def _first_event(self) -> StreamEvent:
        self._attempt_started = self._pipeline.clock.now()
        self._iterator = self._plan.provider.stream(self._plan.request)
        return await self._first_visible(self._iterator)

    async def _first_visible(self, iterator: AsyncIterator[ProviderEvent]) -> StreamEvent:
        while True:
            try:
                event = await iterator.__anext__()
            except StopAsyncIteration:
                raise StreamInterruptedError(
                    "the stream ended before sending anything",
                    provider=self._plan.request.provider,
                    model=self._plan.request.model,
                    retryable=True,
                ) from None
            except StreamInterruptedError as error:
                error.retryable = True  # nothing reached the caller yet: safe to try again
                raise
            self._assembler.add(event)
            if not isinstance(event, ResponseMeta):
                self._ttft_ms = (self._pipeline.clock.now() - self._attempt_started) * 1000.0
                return event

    async def __aexit__(self, *exc: object) -> None:
        if self._hit is not None and not self._recorded:  # a replay left early: still a hit
            self._recorded = True
            self._pipeline.serve_hit(self._plan, self._hit, stream=True)
        partial = self.partial() if not self._recorded and self._attempts else None
        if self._guard is not None and not self._guard.settled:
            # The caller left early: no verdict on the provider; what it sent is booked.
            self._guard.abandon(partial)
        if partial is not None:  # entered, but left before the end
            self._record(response=partial, abandoned="abandoned")
        await self._close_iterator()

    async def _close_iterator(self) -> None:
        iterator, self._iterator = self._iterator, None
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()

    # ------------------------------------------------------------ iterating

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._first is not None:
            event, self._first = self._first, None
            return await self._deliver(event)
        if self._finished or self._iterator is None:
            raise StopAsyncIteration
        clock, plan = self._pipeline.clock, self._plan
        scope = clock.timeout_at(plan.deadline)
        try:
            async with scope:
                delivered = await self._deliver(await self._next_visible(self._iterator))
            if isinstance(delivered, Done):
                await self._store()
            return delivered
        except StopAsyncIteration:
            self._finished = True
            if self._assembler.done:
                raise
            cut = self._interrupted("the stream ended before it was complete")
            await self._failed(cut)
            raise cut from None
        except TimeoutError:
            if not scope.expired():
                raise
            error = deadline_error(plan, self._attempts)
            error.message += f" (stream cut; {len(self.partial().text)} characters received)"
            error.args = (error.message,)
            error.partial = self.partial()
            self._finished = True
            if self._guard is not None:
                self._guard.abandon(error.partial)  # our deadline, not the provider's fault
            self._record(error=error)
            raise error from None
        except LLMError as error:
            await self._failed(error)
            raise error from None

    async def _next_visible(self, iterator: AsyncIterator[ProviderEvent]) -> StreamEvent:
        """The provider's next event the caller sees (metadata is only assembled)."""
        while True:
            item = await iterator.__anext__()
            self._assembler.add(item)
            if not isinstance(item, ResponseMeta):
                return item

    async def _failed(self, error: LLMError) -> None:
        """The stream broke after its first event: a verdict for the breaker, the spend
        of what arrived, one record."""
        self._finished = True
        error.partial = self.partial()
        if self._guard is not None:
            await self._guard.fail(error)
        self._record(error=self._tag(error))

    async def _deliver(self, event: StreamEvent) -> StreamEvent:
        if isinstance(event, Done):
            self._finished = True
            self._response = self._finish(
                self._assembler.response(
                    provider=self._plan.request.provider, model=self._plan.request.model
                )
            )
            self._response.fallback = self._fallback
            if self._hit is not None:
                self._recorded = True
                self._pipeline.serve_hit(self._plan, self._response, stream=True)
                return event
            if self._guard is not None:
                await self._guard.succeed(self._response)
            self._record(response=self._response)
        return event

    async def _store(self) -> None:
        """Keep a finished stream's answer for the cache (not a replay)."""
        if self._hit is None and self._response is not None:
            await self._pipeline.keep(self._chain, self._plan, self._response, self._cache_mode)

    def _tag(self, error: LLMError) -> LLMError:
        return error.locate(self._plan.request.provider, self._plan.request.model, self._attempts)

    def _interrupted(self, message: str) -> StreamInterruptedError:
        return StreamInterruptedError(
            message,
            partial=self.partial(),
            provider=self._plan.request.provider,
            model=self._plan.request.model,
            attempt=self._attempts,
        )

    def _finish(self, response: Response) -> Response:
        self._pipeline.stamp(self._plan, response, self._attempts).ttft_ms = self._ttft_ms
        return response

    # ------------------------------------------------------------ results

    def partial(self) -> Response:
        """What has arrived so far, as a Response (``finish_reason="error"`` until done)."""
        return self._finish(
            self._assembler.response(
                provider=self._plan.request.provider, model=self._plan.request.model
            )
        )

    @property
    def response(self) -> Response:
        """The whole Response, once the stream has been read to the end."""
        if self._response is None:
            raise RuntimeError(
                "the stream has not finished; iterate it to the end first, "
                "or use `await stream.final_response()`"
            )
        return self._response

    async def final_response(self) -> Response:
        """Read whatever is left of the stream and return the whole Response."""
        async for _ in self:
            pass
        return self.response

    def __repr__(self) -> str:
        state = "finished" if self._finished else "open"
        return f"<ChatStream {self._plan.request.model_id} {state}>"


__all__ = ["ChatStream"]


async def replay(response: Response) -> AsyncIterator[ProviderEvent]:
    """A cached Response as the events a provider would have streamed: every part
    comes back (signed thinking included), so the replayed reply's message is the
    one that was cached."""
    from .._core.chunking import split_text
    from .._core.types import (
        CitationDelta,
        PartDone,
        ReasoningDelta,
        RefusalDelta,
        TextDelta,
        ToolCallDelta,
        Usage,
    )

    yield ResponseMeta(response.request_id, response.model)
    if response.reasoning:
        yield ReasoningDelta(response.reasoning)
    for piece in split_text(response.text, None):
        yield TextDelta(piece)
    if response.refusal:
        yield RefusalDelta(response.refusal)
    for citation in response.citations:
        yield CitationDelta(citation)
    for index, call in enumerate(response.tool_calls):
        yield ToolCallDelta(index, id=call.id, name=call.name, arguments=call.arguments)
    for part in response.parts:
        yield PartDone(part)
    yield Usage(**{**response.usage.to_dict(), "cost_usd": None})
    yield Done(response.finish_reason)
