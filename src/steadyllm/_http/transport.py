"""The transport: the only code in steadyllm that touches the network.

HTTP/1.1 on asyncio protocols, with responses parsed by httptools (llhttp, the
parser of Node.js). aiohttp's client spent ~60 µs of CPU per request on
machinery steadyllm does not use (its request/response objects, tracing,
cookie jar, redirect handling): as much as the whole pipeline above it
(docs/architecture.md, "Choosing the HTTP library"). What is written here is
the part no library gives us cheaply: a keep-alive connection pool (this
module), the request framing (``request``) and the connection protocol
(``connection``); llhttp does the parsing (status line, headers, chunked
bodies, keep-alive rules).

Network failures are translated at this boundary: a refused or reset
connection becomes ``LLMConnectionError``, a connect timeout
``LLMTimeoutError``; nothing from the socket layer leaks upward. A response is
always released: ``HTTPResponse.close()`` runs in the caller's ``finally``;
a connection goes back to the pool only when its response arrived whole and
the server allows keep-alive, so a half-read stream never poisons the next
request. Credentials in a URL are sent as Basic auth.

Proxies (``proxy``) and TLS trust (``tls``) are decided per origin: ``dial``
opens a connection directly, through a forwarding proxy, a CONNECT tunnel or
SOCKS5, and the pool keeps connections per origin and proxy, so keep-alive
works through a proxy as it does without one.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

from .._core.dispatch import mark
from .._core.errors import LLMConnectionError
from .connection import Connection, HTTPResponse
from .dial import dial
from .request import (
    IDLE_SECONDS,
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    HTTPRequest,
    Target,
    request_head,
    target_of,
)
from .tls import TLSConfig, tls_context
from .tunnel import refusal

if TYPE_CHECKING:
    import ssl

    from .proxy import Proxy, ProxyRules

_NO_TLS = TLSConfig()


class HTTPTransport:
    """A pooled HTTP/1.1 client. ``connect_timeout`` bounds connection set-up
    (TCP and TLS); everything else is bounded by the caller's deadline and
    stream timeouts. ``max_connections`` bounds connections in use at once;
    callers beyond it wait, first come first served. ``proxies`` chooses a proxy
    per origin (None: always direct); ``tls`` what TLS trusts and shows
    (``ssl_context`` replaces it outright)."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        max_connections: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
        proxies: ProxyRules | None = None,
        tls: TLSConfig | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.max_connections = max_connections
        self._ssl = ssl_context
        self.tls = _NO_TLS if tls is None else tls
        self.proxies = proxies
        self._routes: dict[Target, Proxy | None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: dict[tuple[tuple[str, str, int], Proxy | None], list[Connection]] = {}
        self._busy: set[Connection] = set()
        self._connecting = 0
        self._given = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send and return once the response headers arrived. The caller must
        ``close()`` the response (use try/finally)."""
        target = target_of(request.url)
        proxy = self._route(target)
        forwarded = proxy is not None and not target.tls and not proxy.scheme.startswith("socks")
        head = request_head(request, target, proxy if forwarded else None)
        mark(False)  # until the first byte is written, the provider cannot bill this attempt
        conn = await self._acquire(target, proxy)
        try:
            await self._exchange(conn, head, request.body)
        except LLMConnectionError:
            self._release(conn)
            if not (conn.reused and conn.head_bytes == 0 and not conn.invalid):
                raise
            # A kept-alive connection the server closed just as it was reused (its idle
            # timeout raced ours): not a byte came back, so the request is sent again,
            # once, on a new connection, as urllib3 and httpcore do.
            conn = await self._acquire(target, proxy, fresh=True)
            try:
                await self._exchange(conn, head, request.body)
            except BaseException:
                self._release(conn)
                raise
        except BaseException:
            self._release(conn)
            raise
        if forwarded and conn.status == 407 and proxy is not None:
            self._release(conn)
            raise refusal(407, "Proxy Authentication Required", proxy, target)
        return HTTPResponse(self, conn)

    async def _exchange(self, conn: Connection, head: bytes, body: bytes) -> None:
        """Write the request on ``conn`` and wait for the response head."""
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

    def _route(self, target: Target) -> Proxy | None:
        """The proxy for ``target`` (None: direct), decided once per origin."""
        if self.proxies is None:
            return None
        try:
            return self._routes[target]
        except KeyError:
            found = self.proxies.choose(target.tls, target.host, target.port)
            if len(self._routes) > 256:
                self._routes.clear()
            self._routes[target] = found
            return found

    async def _acquire(
        self, target: Target, proxy: Proxy | None, *, fresh: bool = False
    ) -> Connection:
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
        idle = None if fresh else self._idle.get((target.key, proxy))
        if idle:
            now = time.monotonic()
            while idle and now - idle[0].idle_since > IDLE_SECONDS:
                idle.pop(0).close()  # the oldest first: expired
            while idle:
                conn = idle.pop()  # the most recently used: the warmest
                if conn.alive:
                    conn.prepare()
                    conn.reused = True
                    self._busy.add(conn)
                    return conn
        return await self._connect(loop, target, proxy)

    def _in_use(self) -> int:
        return len(self._busy) + self._connecting + self._given

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, target: Target, proxy: Proxy | None
    ) -> Connection:
        self._connecting += 1
        conn: Connection | None = None
        try:
            if self._ssl is None and (
                target.tls or (proxy is not None and proxy.scheme == "https")
            ):
                # Loading a CA store blocks for 10-50 ms: once per process, off the loop.
                self._ssl = await asyncio.to_thread(tls_context, self.tls)
            conn = await dial(
                loop,
                target,
                proxy,
                lambda: Connection(loop, target, self.max_header_bytes, self.max_body_bytes),
                self._tls,
                self.connect_timeout,
                self.tls,
            )
        finally:
            self._connecting -= 1
            if conn is None:  # failed or cancelled: the slot it held is free for a waiter
                self._wake_one()
        conn.proxy = proxy
        self._busy.add(conn)
        return conn

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:  # loading a CA store costs ~10-30 ms: once per process
            self._ssl = tls_context(self.tls)
        return self._ssl

    def _release(self, conn: Connection) -> None:
        self._busy.discard(conn)
        if conn.done and conn.keep_alive and conn.alive and self._loop is conn.loop:
            # Kept as it is (done) until reused: anything the server sends while the
            # connection is idle (a 408, say) is then "bytes after its response".
            conn.idle_since = time.monotonic()
            self._idle.setdefault((conn.target.key, conn.proxy), []).append(conn)
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
