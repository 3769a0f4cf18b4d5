"""One HTTP/1.1 connection as an asyncio protocol, its response parsed by
httptools (llhttp): status, headers (bounded), body (decompressed, bounded),
flow control; and ``HTTPResponse``, the caller's view of one response, which
gives the connection back to its pool only when the response arrived whole.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from .._core.errors import InvalidResponseError, LLMConnectionError
from .request import HIGH_WATER, MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_HEADER_LINES, Target

if TYPE_CHECKING:
    from .proxy import Proxy
    from .transport import HTTPTransport


class RefusedError(Exception):
    """Raised in a parser callback: the response breaks a limit (not retried)."""


class Connection(asyncio.Protocol):
    """One keep-alive connection and the response being read on it."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        target: Target,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        import httptools

        self.loop = loop
        self.target = target
        #: The proxy it goes through (None: direct); part of its pool's key.
        self.proxy: Proxy | None = None
        #: Taken from the idle pool (it served a response before this request).
        self.reused = False
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.alive = True
        self.idle_since = 0.0
        self.waiter: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None
        self.prepare()

    def prepare(self) -> None:
        """Ready for the next response."""
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.head_done = False
        self.done = False
        self.keep_alive = False
        self.until_close = False
        self.interim = False
        self.reading_paused = False
        self.decompressor: Any = None
        self.error: str | None = None
        #: The error is the server's answer being unacceptable (too large, malformed),
        #: not the connection failing: an InvalidResponseError, not retried.
        self.invalid = False
        self.head_bytes = 0
        self.header_lines = 0
        self.body_bytes = 0

    # -- asyncio protocol --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        head_done = self.head_done
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # llhttp's errors, an upgrade, our callbacks' refusals
            cause = exc.__context__ if isinstance(exc.__context__, Exception) else exc
            refused = isinstance(cause, RefusedError)  # a limit or a status we never accept
            self.fail(f"sent an invalid HTTP response ({cause})", invalid=refused)
            return
        if not head_done and not self.head_done:  # the head is still arriving: bound it
            self.head_bytes += len(data)
            if self.head_bytes > self.max_header_bytes:
                self.fail(
                    f"sent response headers larger than {self.max_header_bytes:,} bytes "
                    "(LLM_MAX_HEADER_BYTES)",
                    invalid=True,
                )

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if self.until_close and self.head_done and not self.done and self.error is None:
            self.finish()  # a body delimited by the end of the connection
        elif not self.done and self.error is None:
            reason = f": {exc}" if exc is not None else ""
            self.error = f"closed the connection{reason}"
        self.wake()
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)

    def pause_writing(self) -> None:
        self.drain = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)
        self.drain = None

    # -- httptools callbacks -------------------------------------------------

    def on_message_begin(self) -> None:
        if self.done:  # a second answer nobody asked for: stop parsing, retire the connection
            raise ConnectionError("sent bytes after its response")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_lines += 1
        if self.header_lines > MAX_HEADER_LINES:
            raise RefusedError(f"more than {MAX_HEADER_LINES} header lines")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        old = self.headers.get(key)
        self.headers[key] = text if old is None else f"{old}, {text}"

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status == 101:  # an upgrade nobody asked for: this is not an HTTP answer
            raise RefusedError("101 Switching Protocols to an API request")
        if status < 200:  # 1xx interim (103 Early Hints): the real answer follows
            self.headers = {}
            self.interim = True
            return
        self.status = status
        self.head_done = True
        headers = self.headers
        self.until_close = (
            "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "")
            and status not in (204, 304)
        )
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "deflate", "x-gzip"):
            import zlib

            self.decompressor = zlib.decompressobj(47)  # 32 + 15: a gzip or zlib header
        elif encoding != "identity":
            self.fail(f"sent a body in content-encoding {encoding!r}, which was not asked for")
            return
        self.wake()

    def on_body(self, body: bytes) -> None:
        if self.error is not None:
            return
        if self.decompressor is not None:
            body = self.inflate(body)
        self.body_bytes += len(body)
        if self.body_bytes > self.max_body_bytes:
            self.fail(
                f"sent a body larger than {self.max_body_bytes:,} bytes"
                f"{' once decompressed' if self.decompressor is not None else ''} "
                "(LLM_MAX_BODY_BYTES)",
                invalid=True,
            )
            return
        if body:
            self.chunks.append(body)
            self.buffered += len(body)
            if self.buffered > HIGH_WATER and not self.reading_paused and self.transport:
                self.transport.pause_reading()
                self.reading_paused = True
            self.wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.keep_alive = self.parser.should_keep_alive()
        self.finish()

    # -- helpers -------------------------------------------------------------

    def inflate(self, body: bytes) -> bytes:
        import zlib

        # Never more than one byte past the limit: a small gzip bomb cannot allocate
        # its gigabytes before the limit is checked.
        room = max(0, self.max_body_bytes - self.body_bytes) + 1
        try:
            out: bytes = self.decompressor.decompress(body, room)
        except zlib.error as exc:
            self.fail(f"sent a body that does not decompress ({exc})")
            return b""
        return out

    def finish(self) -> None:
        if self.error is not None:
            return
        self.done = True
        self.wake()

    def fail(self, problem: str, *, invalid: bool = False) -> None:
        """The connection is unusable: record why, close it, wake the reader."""
        if self.error is None and not self.done:
            self.error = problem
            self.invalid = invalid
        self.alive = False
        if self.transport is not None:
            self.transport.abort()
        self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until something happens on the connection (caller re-checks the state)."""
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        self.waiter = self.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def broken(self, doing: str) -> LLMConnectionError | InvalidResponseError:
        message = f"{self.target.origin} {self.error or 'closed the connection'} while {doing}"
        if self.invalid:
            return InvalidResponseError(message, retryable=False)
        return LLMConnectionError(message)

    def close(self) -> None:
        self.alive = False
        if self.transport is not None:
            self.transport.close()


class HTTPResponse:
    """Status, lower-cased headers (repeated ones joined with ", "), and the body
    as bytes or as chunks."""

    __slots__ = ("_conn", "_pool", "headers", "status")

    def __init__(self, pool: HTTPTransport, conn: Connection) -> None:
        self._pool = pool
        self._conn: Connection | None = conn
        self.status: int = conn.status
        self.headers: Mapping[str, str] = conn.headers

    async def read(self) -> bytes:
        conn = self._conn
        assert conn is not None, "read() after close()"
        parts: list[bytes] = []
        while True:
            if conn.error is not None:
                raise conn.broken("sending the response body")
            if conn.chunks:
                parts.extend(conn.chunks)
                conn.chunks.clear()
                conn.buffered = 0
            if conn.done:
                return parts[0] if len(parts) == 1 else b"".join(parts)
            await conn.wait()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, in whatever pieces the network delivers."""
        conn = self._conn
        assert conn is not None, "iter_chunks() after close()"
        chunks = conn.chunks
        while True:  # what arrived before a failure is still handed over
            if chunks:
                chunk = chunks.popleft()
                conn.buffered -= len(chunk)
                yield chunk
            elif conn.done:
                return
            elif conn.error is not None:
                raise conn.broken("streaming the response")
            else:
                await conn.wait()

    def close(self) -> None:
        """Release the connection: back to the pool if the whole response arrived
        and the server keeps connections alive, else closed."""
        conn = self._conn
        if conn is not None:
            self._conn = None
            self._pool._release(conn)
