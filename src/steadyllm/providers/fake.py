"""The ``fake`` provider: deterministic, offline, scriptable.

With no script it echoes the last user message (``fake:echo``, or any model
name). A script is a list of steps consumed one per call, for all models or
per model name; when a script runs out the provider echoes again::

    fake = sl.FakeProvider(script=[
        sl.FakeFault("rate_limit", times=2, retry_after=1.0),   # two 429s...
        sl.FakeReply("Paris", chunks=3, chunk_delay=0.05),       # ...then an answer
    ])
    client = sl.Client(providers={"fake": fake}, clock=sl.FakeClock())

Embeddings (``client.embed("fake:any", ...)``) are unit vectors derived from a
hash of each input (``fake_vector``): the same text always gives the same vector,
8 numbers unless ``dimensions`` is set, at most ``embed_batch`` inputs per request.

Time goes through the client's clock, so with a ``FakeClock`` latencies,
chunk delays and hangs cost no real time. Every request received is kept in
``fake.requests`` for assertions.
"""

from __future__ import annotations

import hashlib
import json
import math
from array import array
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .._core.chunking import split_text
from .._core.clock import Clock, SystemClock
from .._core.errors import ConfigError, LLMError, StreamInterruptedError, error_class
from .._core.types import (
    Done,
    FinishReason,
    ProviderEvent,
    Request,
    Response,
    ResponseMeta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    Vector,
)
from .._metering.tokens import approximate_prompt_tokens, approximate_text_tokens
from ._base import Provider


@dataclass(frozen=True)
class FakeReply:
    """A successful reply. ``json`` (any JSON-able value) replaces ``text``."""

    text: str = ""
    json: Any = None
    tool_calls: Sequence[ToolCall] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    #: Stream the text in this many chunks (default: one chunk per word).
    chunks: int | None = None
    #: Seconds between streamed chunks.
    chunk_delay: float = 0.0
    #: Seconds before the reply (or the first chunk) arrives.
    latency: float = 0.0
    #: Break the stream with ``stream_interrupted`` after this many text chunks.
    cut_after: int | None = None

    def body(self) -> str:
        return self.text if self.json is None else json.dumps(self.json)


@dataclass(frozen=True)
class FakeFault:
    """Fail ``times`` calls in a row with an error of ``kind`` (see ``LLMError``)."""

    kind: str = "server_error"
    times: int = 1
    retry_after: float | None = None
    status: int | None = None
    message: str | None = None
    #: Seconds before the failure arrives.
    latency: float = 0.0

    def __post_init__(self) -> None:
        error_class(self.kind)  # fail fast on a typo
        if self.times < 1:
            raise ConfigError(f"FakeFault.times={self.times} must be at least 1")


@dataclass(frozen=True)
class FakeHang:
    """Never answer (or answer after ``seconds``): for deadline tests."""

    seconds: float = math.inf
    then: FakeReply = field(default_factory=FakeReply)


FakeStep: TypeAlias = FakeReply | FakeFault | FakeHang
_STATUS = {
    "rate_limit": 429,
    "quota_exceeded": 429,
    "invalid_request": 400,
    "context_length": 400,
    "authentication": 401,
    "permission": 403,
    "not_found": 404,
    "content_filter": 400,
    "server_error": 500,
    "overloaded": 529,
    "timeout": 408,
}


def fake_vector(text: str, dimensions: int = 8) -> Vector:
    """A deterministic unit vector for ``text``: the same text, the same vector."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    del values[dimensions:]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return array("f", (v / norm for v in values))


class FakeProvider(Provider):
    name = "fake"

    def __init__(
        self,
        script: Iterable[FakeStep] = (),
        *,
        scripts: dict[str, Iterable[FakeStep]] | None = None,
        clock: Clock | None = None,
        embed_batch: int = 16,
    ) -> None:
        #: The most inputs one embeddings request carries (small, so batching shows).
        self.max_embed_batch = embed_batch
        self._default: deque[FakeStep] = deque()
        self._per_model: dict[str, deque[FakeStep]] = {}
        self.clock: Clock | None = clock
        #: Every request received, in order.
        self.requests: list[Request] = []
        self.add_script(script)
        for model, steps in (scripts or {}).items():
            self.add_script(steps, model=model)

    def attach(self, clock: Clock) -> None:
        if self.clock is None:
            self.clock = clock

    def add_script(self, steps: Iterable[FakeStep], *, model: str | None = None) -> None:
        """Append steps, for every model or for one model name."""
        queue = self._default if model is None else self._per_model.setdefault(model, deque())
        for step in steps:
            if not isinstance(step, FakeReply | FakeFault | FakeHang):
                raise ConfigError(
                    f"a fake script step must be FakeReply, FakeFault or FakeHang, not {step!r}"
                )
            if isinstance(step, FakeFault):
                queue.extend(
                    [
                        FakeFault(
                            step.kind, 1, step.retry_after, step.status, step.message, step.latency
                        )
                    ]
                    * step.times
                )
            else:
                queue.append(step)

    @property
    def pending(self) -> int:
        """Steps not yet consumed (all scripts)."""
        return len(self._default) + sum(len(q) for q in self._per_model.values())

    # ------------------------------------------------------------ behaviour

    def _next_step(self, request: Request) -> FakeStep:
        self.requests.append(request)
        queue = self._per_model.get(request.model)
        if queue:
            return queue.popleft()
        if self._default:
            return self._default.popleft()
        return self._echo(request)

    @staticmethod
    def _echo(request: Request) -> FakeReply:
        last = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        if request.response_format is not None:
            return FakeReply(json={"echo": last})
        return FakeReply(last)

    def _clock(self) -> Clock:
        if self.clock is None:
            self.clock = SystemClock()
        return self.clock

    async def _before(self, step: FakeStep, request: Request) -> FakeReply:
        clock = self._clock()
        if isinstance(step, FakeHang):
            await clock.sleep(step.seconds)
            return step.then
        if step.latency:
            await clock.sleep(step.latency)
        if isinstance(step, FakeFault):
            raise self._error(step, request)
        return step

    @staticmethod
    def _error(fault: FakeFault, request: Request) -> LLMError:
        cls = error_class(fault.kind)
        return cls(
            fault.message or f"fake {fault.kind} (scripted)",
            status=fault.status if fault.status is not None else _STATUS.get(fault.kind),
            provider="fake",
            model=request.model,
            request_id="fake-req",
            retry_after=fault.retry_after,
        )

    @staticmethod
    def _usage(reply: FakeReply, request: Request) -> Usage:
        if reply.usage is not None:
            return reply.usage
        completion = approximate_text_tokens(reply.body()) + sum(
            approximate_text_tokens(c.name) + approximate_text_tokens(c.arguments)
            for c in reply.tool_calls
        )
        return Usage(approximate_prompt_tokens(request.messages), completion)

    @staticmethod
    def _finish(reply: FakeReply) -> FinishReason:
        if reply.finish_reason is not None:
            return reply.finish_reason
        return "tool_calls" if reply.tool_calls else "stop"

    def embed_batch(self, model: str) -> int | None:
        return self.max_embed_batch

    async def count_tokens(self, request: Request) -> int | None:
        """What the fake books as a reply's prompt tokens; scripted faults apply."""
        reply = await self._before(self._next_step(request), request)
        if reply.usage is not None:
            return reply.usage.prompt_tokens
        return approximate_prompt_tokens(request.messages)

    async def complete(self, request: Request) -> Response:
        reply = await self._before(self._next_step(request), request)
        if request.embed:
            return self._embeddings(reply, request)
        return Response(
            text=reply.body(),
            finish_reason=self._finish(reply),
            tool_calls=list(reply.tool_calls),
            usage=self._usage(reply, request),
            model=request.model,
            provider="fake",
            request_id=f"fake-{len(self.requests)}",
        )

    def _embeddings(self, reply: FakeReply, request: Request) -> Response:
        dimensions = request.dimensions or 8
        prompt = sum(approximate_text_tokens(m.text) for m in request.messages)
        return Response(
            usage=reply.usage if reply.usage is not None else Usage(prompt),
            model=request.model,
            provider="fake",
            request_id=f"fake-{len(self.requests)}",
            embeddings=tuple(fake_vector(m.text, dimensions) for m in request.messages),
        )

    async def stream(self, request: Request) -> AsyncIterator[ProviderEvent]:
        reply = await self._before(self._next_step(request), request)
        clock = self._clock()
        yield ResponseMeta(request_id=f"fake-{len(self.requests)}", model=request.model)
        for i, piece in enumerate(split_text(reply.body(), reply.chunks)):
            if reply.cut_after is not None and i >= reply.cut_after:
                raise StreamInterruptedError(
                    f"fake stream cut after {reply.cut_after} chunks (scripted)",
                    provider="fake",
                    model=request.model,
                )
            if i and reply.chunk_delay:
                await clock.sleep(reply.chunk_delay)
            yield TextDelta(piece)
        for index, call in enumerate(reply.tool_calls):
            half = len(call.arguments) // 2  # split the JSON mid-way, as real servers do
            yield ToolCallDelta(index, id=call.id, name=call.name, arguments=call.arguments[:half])
            yield ToolCallDelta(index, arguments=call.arguments[half:])
        yield self._usage(reply, request)
        yield Done(self._finish(reply))
