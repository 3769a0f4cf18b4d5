"""The transport: the only code in steadyllm that touches the network.

HTTP/1.1 on asyncio protocols, with responses parsed by httptools (llhttp, the
parser of Node.js). aiohttp's client spent ~60 µs of CPU per request on
machinery steadyllm does not use (its request/response objects, tracing,
cookie jar, redirect handling): as much as the whole pipeline above it
(docs/architecture.md, "Choosing the HTTP library"). What is written here is
the part no library gives us cheaply: a keep-alive connection pool and the
request framing; llhttp does the parsing (status line, headers, chunked
bodies, keep-alive rules).

Network failures are translated at this boundary: a refused or reset
connection becomes ``LLMConnectionError``, a connect timeout
``LLMTimeoutError``; nothing from the socket layer leaks upward. A response is
always released: ``HTTPResponse.close()`` runs in the caller's ``finally``;
a connection goes back to the pool only when its response arrived whole and
the server allows keep-alive, so a half-read stream never poisons the next
request. TLS is the standard library's (default CA store, which honours
``SSL_CERT_FILE``); credentials in a URL are sent as Basic auth; proxies are
not supported.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from .._core.dispatch import mark
from .._core.errors import ConfigError, InvalidResponseError, LLMConnectionError, LLMTimeoutError
from .._core.redact import redact, register_url_credentials

if TYPE_CHECKING:
    import ssl

#: Idle connections older than this are closed instead of reused: below the
#: keep-alive timeout of common servers (uvicorn 5 s is the exception; a
#: server that closes first is noticed at once, the socket reports it).
IDLE_SECONDS = 15.0
#: A streamed body buffered and not yet consumed beyond this pauses reading.
HIGH_WATER = 1 << 20
#: Defaults for what a server may send (settings LLM_MAX_HEADER_BYTES, LLM_MAX_BODY_BYTES).
MAX_HEADER_BYTES = 65_536
MAX_HEADER_LINES = 500  # as many as any API sends, many times over
MAX_BODY_BYTES = 256 << 20
#: Headers the transport writes itself; a caller's copy would be sent twice.
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


#: Headers whose values are credentials: never shown in a repr.
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})


@dataclass(slots=True)
class HTTPRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    #: Extra query parameters (Azure's api-version).
    params: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        headers = {
            k: "[REDACTED]" if k.lower() in SECRET_HEADERS else redact(v)
            for k, v in self.headers.items()
        }
        return (
            f"HTTPRequest({self.method} {redact(self.url)!r}, headers={headers!r}, "
            f"body={len(self.body)} bytes)"
        )


@dataclass(frozen=True, slots=True)
class _Target:
    """What a URL means to the pool, parsed once per distinct URL."""

    origin: str  # scheme://host:port, for messages
    key: tuple[str, str, int]  # the pool a connection belongs to
    host: str
    port: int
    tls: bool
    host_header: str
    path: str  # path and query, percent-encoded
    #: ``authorization`` value from credentials in the URL (``https://user:pass@host``).
    basic_auth: str | None = None


_targets: dict[str, _Target] = {}
_default_tls: ssl.SSLContext | None = None


def _target(url: str) -> _Target:
    found = _targets.get(url)
    if found is not None:
        return found
    register_url_credentials(url)
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # "http://[::1/v1": an unclosed IPv6 bracket
        problem = str(exc)
        parts = None
    if parts is None:
        raise ConfigError(
            f"cannot send a request to {redact(url)!r}: {problem}; check the base URL"
        )
    scheme = parts.scheme.lower()
    shown_url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # no credentials
    if scheme not in ("http", "https") or not hostname:
        raise ConfigError(
            f"cannot send a request to {shown_url!r}: a base URL must start with http:// or "
            "https:// and name a host"
        )
    host = hostname
    if (":" not in host and any(len(label) > 63 for label in host.split("."))) or len(host) > 253:
        raise ConfigError(
            f"the host in {shown_url!r} is not a valid name: each dot-separated part may "
            "have at most 63 characters, the whole at most 253"
        )
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"the port in {shown_url!r} is not a number from 0 to 65535") from None
    basic_auth = None
    if parts.username is not None:
        import base64

        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        basic_auth = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    default_port = port == (443 if scheme == "https" else 80)
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if default_port else f"{shown}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    found = _Target(
        f"{scheme}://{host_header}",
        (scheme, host, port),
        host,
        port,
        scheme == "https",
        host_header,
        path,
        basic_auth,
    )
    if len(_targets) > 256:  # URLs are few (one per endpoint); never let them pile up
        _targets.clear()
    _targets[url] = found
    return found


def _head(request: HTTPRequest, target: _Target) -> bytes:
    path = target.path
    if request.params:
        path += ("&" if "?" in path else "?") + urlencode(request.params)
    lines = [f"{request.method} {path} HTTP/1.1", f"host: {target.host_header}"]
    gzip, auth = True, target.basic_auth
    for name, value in request.headers.items():
        lower = name.lower()
        if lower in _OWN_HEADERS:
            continue
        if lower == "accept-encoding":
            gzip = False
        elif lower == "authorization":
            auth = None  # the caller's wins over credentials in the URL
        lines.append(f"{name}: {value}")
    if gzip:
        lines.append("accept-encoding: gzip, deflate")
    if auth is not None:
        lines.append(f"authorization: {auth}")
    lines.append(f"content-length: {len(request.body)}")
    text = "\r\n".join(lines)
    # A line break inside a name or value would end the header early (and let the
    # rest be read as another header): one count proves there is none.
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        raise _bad_header(request, "contains a line break", _has_line_break)
    try:
        return (text + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        pass  # raised below: the UnicodeEncodeError holds the whole head, keys included
    raise _bad_header(request, "has characters HTTP headers cannot carry", _not_latin1)


def _has_line_break(text: str) -> bool:
    return "\r" in text or "\n" in text


def _not_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return True
    return False


def _bad_header(request: HTTPRequest, problem: str, bad: Callable[[str], bool]) -> ConfigError:
    for name, value in request.headers.items():
        if bad(name) or bad(value):
            # Never the value: it is usually an API key.
            return ConfigError(
                f"the {name!r} header {problem}; check the value it comes from (an API "
                "key read from a file often ends with a newline)"
            )
    # The request line cannot be the culprit: urlsplit drops line breaks, quote() encodes.
    raise AssertionError("a header check failed without a bad header")  # pragma: no cover


_dual: dict[tuple[str, int], bool] = {}


async def _dual_stack(loop: asyncio.AbstractEventLoop, target: _Target) -> bool:
    """Whether ``target``'s host resolves to both address families (remembered)."""
    key = (target.host, target.port)
    found = _dual.get(key)
    if found is None:
        import ipaddress
        import socket

        try:
            ipaddress.ip_address(target.host)
            found = False  # a literal address: one family
        except ValueError:
            try:
                infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
            except OSError:
                return False  # create_connection reports the failure with its own words
            found = len({info[0] for info in infos}) > 1
        if len(_dual) > 256:
            _dual.clear()
        _dual[key] = found
    return found


class _RefusedError(Exception):
    """Raised in a parser callback: the response breaks a limit (not retried)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection and the response being read on it."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        target: _Target,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        import httptools

        self.loop = loop
        self.target = target
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
            refused = isinstance(cause, _RefusedError)  # a limit or a status we never accept
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
            raise _RefusedError(f"more than {MAX_HEADER_LINES} header lines")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        old = self.headers.get(key)
        self.headers[key] = text if old is None else f"{old}, {text}"

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status == 101:  # an upgrade nobody asked for: this is not an HTTP answer
            raise _RefusedError("101 Switching Protocols to an API request")
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

    def __init__(self, pool: HTTPTransport, conn: _Connection) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
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


class HTTPTransport:
    """A pooled HTTP/1.1 client. ``connect_timeout`` bounds connection set-up
    (TCP and TLS); everything else is bounded by the caller's deadline and
    stream timeouts. ``max_connections`` bounds connections in use at once;
    callers beyond it wait, first come first served."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        max_connections: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.max_connections = max_connections
        self._ssl = ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._connecting = 0
        self._given = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send and return once the response headers arrived. The caller must
        ``close()`` the response (use try/finally)."""
        target = _target(request.url)
        head = _head(request, target)
        mark(False)  # until the first byte is written, the provider cannot bill this attempt
        conn = await self._acquire(target)
        try:
            body = request.body
            transport = conn.transport
            assert transport is not None
            mark(True)
            if len(body) < 65536:
                transport.write(head + body)
            else:  # no copy of a large body (images)
                transport.write(head)
                transport.write(body)
            if conn.drain is not None:
                await conn.drain
            while not conn.head_done:
                if conn.error is not None or not conn.alive:
                    raise conn.broken("sending the request")
                await conn.wait()
        except BaseException:
            self._release(conn)
            raise
        return HTTPResponse(self, conn)

    async def _acquire(self, target: _Target) -> _Connection:
        """A connection for ``target``, in arrival order: while anyone is waiting, a
        newcomer queues behind them, and a freed slot is handed to the first waiter
        (counted in ``_given`` until it claims it), so nobody can take it in between
        (one queue, as httpcore's pool assigns requests)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._forget(loop)
        if self._waiters or self._in_use() >= self.max_connections:
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._given -= 1
                    self._wake_one()  # handed a slot and cancelled at once: pass it on
                elif waiter in self._waiters:  # (a cancelled waiter may have been skipped)
                    self._waiters.remove(waiter)
                raise
            self._given -= 1  # the slot handed to us is ours now
        idle = self._idle.get(target.key)
        if idle:
            now = time.monotonic()
            while idle and now - idle[0].idle_since > IDLE_SECONDS:
                idle.pop(0).close()  # the oldest first: expired
            while idle:
                conn = idle.pop()  # the most recently used: the warmest
                if conn.alive:
                    conn.prepare()
                    self._busy.add(conn)
                    return conn
        return await self._connect(loop, target)

    def _in_use(self) -> int:
        return len(self._busy) + self._connecting + self._given

    async def _connect(self, loop: asyncio.AbstractEventLoop, target: _Target) -> _Connection:
        self._connecting += 1
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                # Happy eyeballs (RFC 8305) only where it can help, a name with both IPv6
                # and IPv4 addresses: on Python 3.11 its racing leaks the winning socket
                # when the caller is cancelled mid-connect.
                race = 0.25 if await _dual_stack(loop, target) else None
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, target, self.max_header_bytes, self.max_body_bytes),
                    target.host,
                    target.port,
                    ssl=self._tls() if target.tls else None,
                    server_hostname=target.host if target.tls else None,
                    happy_eyeballs_delay=race,
                )
        except TimeoutError:
            raise LLMTimeoutError(
                f"timed out connecting to {target.origin} after {self.connect_timeout:g}s; "
                "check the endpoint or raise LLM_CONNECT_TIMEOUT_MS"
            ) from None
        except OSError as exc:
            what = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            if type(exc).__name__ == "SSLCertVerificationError":  # ssl is imported lazily
                reason = getattr(exc, "verify_message", None) or what
                raise LLMConnectionError(
                    f"the TLS certificate of {target.origin} could not be verified ({reason}; "
                    "CERTIFICATE_VERIFY_FAILED); if it is issued by a private CA (a corporate "
                    "proxy, say), set SSL_CERT_FILE to a PEM bundle that includes it",
                    retryable=False,  # the same certificate fails again
                ) from None
            raise LLMConnectionError(
                f"cannot connect to {target.origin} ({what}); "
                "check the base URL and that the server is running"
            ) from None
        finally:
            self._connecting -= 1
            if conn is None:  # failed or cancelled: the slot it held is free for a waiter
                self._wake_one()
        self._busy.add(conn)
        return conn

    def _tls(self) -> ssl.SSLContext:
        global _default_tls
        if self._ssl is None:
            if _default_tls is None:  # loading the CA store costs ~10-30 ms: once per process
                import ssl

                _default_tls = ssl.create_default_context()
                _default_tls.set_alpn_protocols(["http/1.1"])
            self._ssl = _default_tls
        return self._ssl

    def _release(self, conn: _Connection) -> None:
        self._busy.discard(conn)
        if conn.done and conn.keep_alive and conn.alive and self._loop is conn.loop:
            # Kept as it is (done) until reused: anything the server sends while the
            # connection is idle (a 408, say) is then "bytes after its response".
            conn.idle_since = time.monotonic()
            self._idle.setdefault(conn.target.key, []).append(conn)
        else:
            conn.close()
        self._wake_one()

    def _wake_one(self) -> None:
        """A slot was freed: hand it to the first waiter still waiting."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._given += 1
                waiter.set_result(None)
                return

    def _forget(self, loop: asyncio.AbstractEventLoop) -> None:
        """First use, or a new event loop: connections of another loop cannot be used."""
        old = self._loop
        self._loop = loop
        if old is not None and not old.is_closed():
            for idle in self._idle.values():
                for conn in idle:
                    old.call_soon_threadsafe(conn.close)
        self._idle = {}
        self._busy = set()
        self._connecting = 0
        self._given = 0
        self._waiters = deque()

    @property
    def open_connections(self) -> int:
        """Connections currently held by the pool (in use or idle), for leak checks."""
        idle = sum(1 for conns in self._idle.values() for c in conns if c.alive)
        return idle + len(self._busy)

    @property
    def busy_connections(self) -> int:
        """Connections checked out and not yet released (should be 0 between calls)."""
        return len(self._busy)

    async def aclose(self) -> None:
        """Close every connection; the transport can still be used afterwards."""
        if self._loop is not asyncio.get_running_loop():
            self._forget(asyncio.get_running_loop())
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        for conn in self._busy:
            conn.fail("was closed by the client")
        self._idle = {}
        self._busy = set()
        await asyncio.sleep(0)  # let the transports finish closing
