"""Opening a connection through a proxy.

An https origin goes through an HTTP ``CONNECT`` tunnel, and TLS to the origin
runs inside it (``loop.start_tls``; over an ``https://`` proxy that is TLS in
TLS, which asyncio supports from Python 3.11). An http origin is forwarded:
the connection goes to the proxy, and the request line carries the absolute
URL (``request_head``). SOCKS5 goes through python-socks (the ``socks``
extra), which hands back a connected socket. Each step records where it is in
``Progress``, so a failure or a timeout can say whether the proxy or the
origin was at fault.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._core.errors import ConfigError, ProxyError
from .connection import Connection
from .request import Target

if TYPE_CHECKING:
    import socket
    import ssl

    from .proxy import Proxy

#: A proxy's answer to CONNECT larger than this is not an answer.
MAX_CONNECT_HEAD = 65_536


class Progress:
    """How far a connection got: ``proxy`` (reaching the proxy), ``tunnel``
    (waiting for its answer to CONNECT), ``origin`` (TLS with the origin)."""

    __slots__ = ("step",)

    def __init__(self) -> None:
        self.step = "proxy"


class _ConnectReader(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT: the head, up to its blank line."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.head: asyncio.Future[bytes] = loop.create_future()
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        if self.head.done():
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end >= 0:
            self.head.set_result(bytes(self.buffer[:end]))
        elif len(self.buffer) > MAX_CONNECT_HEAD:
            self.head.set_exception(ConnectionError("sent an answer to CONNECT without an end"))

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(ConnectionError("closed the connection before answering"))


def connect_request(target: Target, proxy: Proxy) -> bytes:
    """``CONNECT host:port`` with the host as written in the base URL (the proxy
    resolves it, and may apply its own rules to the name)."""
    authority = (
        f"[{target.host}]:{target.port}" if ":" in target.host else (f"{target.host}:{target.port}")
    )
    lines = [f"CONNECT {authority} HTTP/1.1", f"host: {authority}"]
    if proxy.authorization is not None:
        lines.append(f"proxy-authorization: {proxy.authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _status(head: bytes) -> tuple[int, str]:
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ConnectionError(f"answered CONNECT with {line[:80]!r}, not HTTP")
    return int(code), reason.strip()


def refusal(status: int, reason: str, proxy: Proxy, target: Target) -> ProxyError:
    """The proxy answered CONNECT with something other than 2xx."""
    if status in (401, 407):  # 401: tinyproxy's answer to wrong credentials
        return ProxyError(
            f"proxy authentication failed: {proxy.describe()} answered {status} {reason} "
            f"to a request for {target.origin}; check the user and password in {proxy.source}",
            status=status,
            retryable=False,
        )
    return ProxyError(
        f"{proxy.describe()} refused the tunnel to {target.origin}: {status} {reason}",
        status=status,
        retryable=status in (502, 503, 504),  # the proxy could not reach the origin (yet)
    )


async def tunnel(
    loop: asyncio.AbstractEventLoop,
    target: Target,
    proxy: Proxy,
    protocol: Callable[[], Connection],
    proxy_tls: ssl.SSLContext | None,
    origin_tls: ssl.SSLContext,
    progress: Progress,
) -> Connection:
    """A connection to an https ``target`` through ``proxy``'s CONNECT tunnel."""
    transport, reader = await loop.create_connection(
        lambda: _ConnectReader(loop),
        proxy.host,
        proxy.port,
        ssl=proxy_tls,
        server_hostname=proxy.host if proxy_tls is not None else None,
    )
    try:
        progress.step = "tunnel"
        transport.write(connect_request(target, proxy))
        head = await reader.head
        status, reason = _status(head)
        if not 200 <= status < 300:
            raise refusal(status, reason, proxy, target)
        if len(reader.buffer) > len(head) + 4:
            raise ConnectionError("sent bytes after its answer to CONNECT")
        progress.step = "origin"
        conn = protocol()
        tls_transport = await loop.start_tls(
            transport, conn, origin_tls, server_hostname=target.host
        )
    except BaseException:
        transport.abort()
        raise
    assert tls_transport is not None
    conn.connection_made(tls_transport)
    return conn


async def socks_socket(proxy: Proxy, target: Target, seconds: float) -> socket.socket:
    """A socket connected to ``target`` through a SOCKS5 proxy (python-socks):
    ``socks5h://`` lets the proxy resolve the name, ``socks5://`` resolves here."""
    try:
        from python_socks import ProxyError as SocksRefused
        from python_socks import ProxyType
        from python_socks.async_.asyncio import Proxy as SocksProxy
    except ImportError:
        raise ConfigError(
            f"{proxy.describe()} is a SOCKS proxy, which needs python-socks: "
            "pip install 'steadyllm[socks]'"
        ) from None
    socks = SocksProxy(
        ProxyType.SOCKS5,
        proxy.host,
        proxy.port,
        proxy.username,
        proxy.password,
        rdns=proxy.scheme == "socks5h",
    )
    try:
        return await socks.connect(target.host, target.port, timeout=seconds)
    except SocksRefused as exc:  # the proxy's own answer: a refusal or failed authentication
        raise ProxyError(
            f"{proxy.describe()} refused the connection to {target.origin}: {exc}; check "
            f"the user and password in {proxy.source}, and that the proxy may reach the host",
            retryable=False,
        ) from None
