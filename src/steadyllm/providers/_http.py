"""A provider that speaks a wire protocol over the transport.

``HTTPProvider`` is generic over a wire family: its ``Codec`` (pure
functions: the body, the reply, the stream), the server's dialect (what it
accepts) and an ``Endpoint`` (URL, authentication, headers) say what to send
and how to read the reply; the transport sends it. Streams are read chunk by
chunk through the SSE decoder with two timeouts of their own: the first
content event must arrive within ``first_token_timeout``, and after that no
gap between events may exceed ``stream_idle_timeout`` (SSE comments and pings
do not reset it). The
response is closed in ``finally``, also when the caller stops early.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._config.rotating import TokenProvider
from .._core import fastjson as _json
from .._core.clock import Clock, SystemClock
from .._core.errors import (
    InvalidRequestError,
    InvalidResponseError,
    LLMConnectionError,
    LLMError,
    LLMTimeoutError,
    StreamInterruptedError,
)
from .._core.redact import get_logger
from .._core.types import ProviderEvent, Request, Response, ResponseMeta
from .._http.connection import HTTPResponse
from .._http.request import HTTPRequest
from .._http.transport import HTTPTransport
from ..sse import MAX_EVENT_BYTES, EventTooLargeError, ServerSentEvent, SSEDecoder
from ._base import Provider
from ._common import snippet, token_count
from ._network import provider_headers, provider_transport
from ._wire import SHAPE_ERRORS, Codec, CountCodec, D, EmbedCodec, Endpoint, StreamState

__all__ = [
    "Codec",
    "CountCodec",
    "EmbedCodec",
    "Endpoint",
    "HTTPProvider",
    "StreamState",
    "http_provider",
]

logger = get_logger("steadyllm")

if TYPE_CHECKING:
    from .._config.settings import Settings

#: After a stream's final event, the rest of the body is read for at most this long and
#: this many bytes (usually it is the chunked terminator, or nothing).
TAIL_SECONDS = 1.0
TAIL_BYTES = 65_536
T = TypeVar("T")


def http_provider(
    endpoint: Endpoint, codec: Codec[D], dialect: D, settings: Settings
) -> HTTPProvider[D]:
    """A provider for ``endpoint`` with the transport, timeouts and limits of ``settings``."""

    def seconds(ms: int | None) -> float | None:
        return None if ms is None else ms / 1000.0

    return HTTPProvider(
        endpoint,
        codec,
        dialect,
        transport=provider_transport(settings, endpoint.provider),
        headers=provider_headers(settings, endpoint.provider),
        first_token_timeout=seconds(settings.first_token_timeout_ms),
        stream_idle_timeout=seconds(settings.stream_idle_timeout_ms),
        max_event_bytes=settings.max_event_bytes,
    )


def rotating_credentials(endpoint: object) -> tuple[TokenProvider, ...]:
    """The ``TokenProvider``s among an endpoint's fields (a rotating key, an Entra token)."""
    from dataclasses import fields, is_dataclass

    if not is_dataclass(endpoint):
        return ()
    found = (getattr(endpoint, f.name) for f in fields(endpoint))
    return tuple(value for value in found if isinstance(value, TokenProvider))


def raw_event(sse: ServerSentEvent) -> dict[str, Any]:
    """An SSE event as ``keep_raw`` keeps it: its type and its data (parsed JSON, or
    the text when it is not JSON, as ``[DONE]``)."""
    try:
        data: Any = _json.loads(sse.data)
    except ValueError:
        data = sse.data
    return {"event": sse.event, "data": data}


class HTTPProvider(Provider, Generic[D]):
    """A provider that speaks ``codec`` in ``dialect`` to ``endpoint`` over the transport."""

    def __init__(
        self,
        endpoint: Endpoint,
        codec: Codec[D],
        dialect: D,
        *,
        transport: HTTPTransport | None = None,
        first_token_timeout: float | None = None,
        stream_idle_timeout: float | None = None,
        clock: Clock | None = None,
        max_event_bytes: int = MAX_EVENT_BYTES,
        tail_timeout: float = TAIL_SECONDS,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.codec = codec
        self.dialect = dialect
        self.max_event_bytes = max_event_bytes
        self.tail_timeout = tail_timeout
        self.name = endpoint.provider
        #: Added to every request (``[providers.NAME] headers``); a call's own win.
        self.headers = dict(headers or {})
        #: Keys and tokens that expire or rotate, refreshed before each request.
        self.credentials = rotating_credentials(endpoint)
        self.transport = transport if transport is not None else HTTPTransport()
        self.first_token_timeout = first_token_timeout
        self.stream_idle_timeout = stream_idle_timeout
        self.clock: Clock = clock if clock is not None else SystemClock()

    def attach(self, clock: Clock) -> None:
        self.clock = clock

    async def aclose(self) -> None:
        await self.transport.aclose()

    def embed_batch(self, model: str) -> int | None:
        embed = self.codec.embed
        return None if embed is None else embed.max_batch(self.dialect, model)

    def _build(self, request: Request) -> HTTPRequest:
        encode = self.codec.encode_body
        if request.embed:
            encode = self._embed_codec(request).encode_body
        elif request.count and self.codec.count is not None:
            encode = self.codec.count.encode_body
        body = _json.dumps(encode(request, self.dialect))
        built = self.endpoint.request(request, body)
        if self.headers:
            built.headers.update(self.headers)
        if request.headers:  # checked with the request: never auth or framing headers
            built.headers.update({k.lower(): v for k, v in request.headers.items()})
        return built

    async def _send(self, request: Request) -> HTTPResponse:
        """Send ``request`` with fresh credentials; a rotating one the server refuses
        (401) is fetched again and the request sent once more: it may have rotated."""
        if not self.credentials:
            return await self.transport.send(self._build(request))
        for credential in self.credentials:
            await credential.fresh()
        response = await self.transport.send(self._build(request))
        if response.status != 401:
            return response
        try:
            await response.read()
        finally:
            response.close()
        for credential in self.credentials:
            credential.expire()
            await credential.fresh()
        return await self.transport.send(self._build(request))

    async def complete(self, request: Request) -> Response:
        decode = self.codec.decode_response
        if request.embed:
            decode = self._embed_codec(request).decode_response
        return await self._exchange(request, decode)

    async def count_tokens(self, request: Request) -> int | None:
        count = self.codec.count
        if count is None:
            return None

        def read(request: Request, status: int, headers: Any, body: bytes, dialect: D) -> int:
            data = _json.loads(body)  # not JSON, not an object, no count: a shape error
            if count.field not in data:
                raise KeyError(f"no {count.field!r} in the count reply")
            return token_count(data, count.field, provider=self.name, model=request.model)

        return await self._exchange(request, read)

    async def _exchange(
        self, request: Request, decode: Callable[[Request, int, Mapping[str, str], bytes, D], T]
    ) -> T:
        """Send ``request``, read the whole reply, and decode it (an error status
        through the codec's errors); a reply of a shape the codec did not expect is an
        ``InvalidResponseError``."""
        response = await self._send(request)
        try:
            body = await response.read()
        finally:
            response.close()
        status, headers = response.status, response.headers
        problem: Exception | None = None
        try:
            if status >= 300:
                raise self.codec.decode_error(request, status, headers, body, self.dialect)
            return decode(request, status, headers, body, self.dialect)
        except SHAPE_ERRORS as exc:
            problem = exc
        raise self._unexpected(request, problem, body, status)  # outside: no __context__

    def _embed_codec(self, request: Request) -> EmbedCodec[D]:
        if self.codec.embed is None:
            raise InvalidRequestError(
                f"{self.name} has no embeddings endpoint; use an embedding model of "
                "openai:, azure:, gemini: or an OpenAI-compatible server",
                provider=self.name,
                model=request.model,
            )
        return self.codec.embed

    def _unexpected(
        self, request: Request, problem: Exception, data: bytes, status: int | None
    ) -> InvalidResponseError:
        """JSON of a shape the codec did not expect (a message that is a string, a list
        where an object belongs): the provider's fault, typed, with a short snippet."""
        return InvalidResponseError(
            f"{self.name} sent a response of an unexpected shape "
            f"({type(problem).__name__}: {str(problem)[:80]}): {snippet(data)}",
            provider=self.name,
            model=request.model,
            status=status,
        )

    async def stream(self, request: Request) -> AsyncIterator[ProviderEvent]:
        started = self.clock.now()
        first = self.first_token_timeout
        scope = self.clock.timeout_at(None if first is None else started + first)
        try:
            async with scope:  # the first-token clock runs from sending, headers included
                response = await self._send(request)
        except TimeoutError:
            if not scope.expired():
                raise
            raise LLMTimeoutError(
                f"{self.name} stream stalled: no first token within {first:g}s",
                provider=self.name,
                model=request.model,
            ) from None
        try:
            if response.status >= 300:
                body = await response.read()
                relaxed = self.codec.relax and self.codec.relax(self.dialect, response.status, body)
                if relaxed:
                    logger.warning(
                        "%s refused a stream option (%s); sent again without it, and from "
                        "now on: its streams report no usage, so they are booked at an "
                        "estimate",
                        self.name,
                        snippet(body),
                    )
                    self.dialect = relaxed
                    async for event in self.stream(request):
                        yield event
                    return
                raise self.codec.decode_error(
                    request, response.status, response.headers, body, self.dialect
                )
            ctype = response.headers.get("content-type", "")
            if "text/event-stream" not in ctype:
                # Some servers answer a stream request with a JSON error (or a whole
                # completion) and status 200: read it as an error if it is one.
                body = await response.read()
                error = self.codec.decode_error(request, 502, response.headers, body, self.dialect)
                if "non-JSON" in error.message:
                    raise InvalidResponseError(
                        f"{self.name} answered a stream request with {ctype or 'no content type'} "
                        "instead of text/event-stream",
                        provider=self.name,
                        model=request.model,
                        status=response.status,
                    )
                raise error
            async for event in self._events(request, response, started):
                yield event
        finally:
            response.close()

    async def _events(
        self, request: Request, response: HTTPResponse, started: float
    ) -> AsyncIterator[ProviderEvent]:
        decoder = SSEDecoder(self.max_event_bytes)
        state = self.codec.stream(request, self.dialect, response.headers)
        chunks = response.iter_chunks()
        clock = self.clock
        got_content = False
        last_event = started
        while True:
            limit, what = self._next_limit(got_content, started, last_event)
            scope = clock.timeout_at(limit)
            try:
                async with scope:
                    chunk = await anext(chunks, b"")
            except TimeoutError:
                if not scope.expired():
                    raise
                raise LLMTimeoutError(
                    f"{self.name} stream stalled: {what}", provider=self.name, model=request.model
                ) from None
            except LLMConnectionError as exc:
                raise StreamInterruptedError(
                    f"{self.name} stream interrupted: {exc.message}",
                    provider=self.name,
                    model=request.model,
                ) from None
            if not chunk:
                break
            try:
                decoded = decoder.feed(chunk)
            except EventTooLargeError as exc:
                raise InvalidResponseError(
                    f"{self.name} stream: {exc} (LLM_MAX_EVENT_BYTES)",
                    provider=self.name,
                    model=request.model,
                    retryable=False,
                ) from None
            for sse in decoded:
                if request.keep_raw:
                    yield ResponseMeta(raw=raw_event(sse))
                events = self._feed(request, state, sse)
                if not events:
                    continue
                last_event = clock.now()
                if not got_content:
                    got_content = any(not isinstance(e, ResponseMeta) for e in events)
                if state.done:
                    await self._drain_tail(chunks)
                for event in events:
                    yield event
                if state.done:
                    return
        decoder.close()
        for event in self._feed(request, state, None):
            yield event

    def _next_limit(
        self, got_content: bool, started: float, last_event: float
    ) -> tuple[float | None, str]:
        """When the next chunk must arrive, and what it means if it does not: the
        first-token timer until content came, then the idle timer."""
        if not got_content and self.first_token_timeout is not None:
            first = self.first_token_timeout
            return started + first, f"no first token within {first:g}s"
        if self.stream_idle_timeout is not None:
            idle = self.stream_idle_timeout
            return last_event + idle, f"no stream event for {idle:g}s"
        return None, ""

    async def _drain_tail(self, chunks: AsyncIterator[bytes]) -> None:
        """After the final event: read the rest of the body so the connection can be
        reused, but only ``TAIL_BYTES`` within ``tail_timeout``. A server that keeps the
        response open, sends more, or closes without ending the body just loses the
        connection; a complete answer never becomes an error."""
        got = 0
        scope = self.clock.timeout_at(self.clock.now() + self.tail_timeout)
        try:
            async with scope:
                async for chunk in chunks:
                    got += len(chunk)
                    if got > TAIL_BYTES:
                        return
        except TimeoutError:
            if not scope.expired():
                raise
        except LLMError:
            pass  # closed early: the answer is whole, the connection is not reused

    def _feed(
        self, request: Request, state: StreamState, sse: ServerSentEvent | None
    ) -> list[ProviderEvent]:
        """One event through the codec (None: the end of the body); a shape the codec
        did not expect is an ``InvalidResponseError``, never a raw ``TypeError``."""
        problem: Exception | None = None
        try:
            return state.end() if sse is None else state.feed(sse)
        except SHAPE_ERRORS as exc:
            problem = exc
        data = b"" if sse is None else sse.data.encode("utf-8", "replace")
        raise self._unexpected(request, problem, data, None)
