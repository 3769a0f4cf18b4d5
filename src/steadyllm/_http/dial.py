"""Opening one connection: directly, through an HTTP proxy (forwarded, or a
CONNECT tunnel), or through SOCKS5; and translating what the socket layer
raises into steadyllm's errors, naming the proxy when it was the proxy.

``connect_timeout`` bounds the whole set-up: TCP to the proxy or origin, the
CONNECT exchange, and TLS (inside the tunnel too). The call's own deadline
cancels it from outside as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._core.errors import LLMConnectionError, LLMTimeoutError
from .connection import Connection
from .request import Target
from .tunnel import Progress, socks_socket, tunnel

if TYPE_CHECKING:
    import ssl

    from .proxy import Proxy
    from .tls import TLSConfig

_dual: dict[tuple[str, int], bool] = {}


async def _dual_stack(loop: asyncio.AbstractEventLoop, host: str, port: int) -> bool:
    """Whether ``host`` resolves to both address families (remembered)."""
    key = (host, port)
    found = _dual.get(key)
    if found is None:
        import ipaddress
        import socket

        try:
            ipaddress.ip_address(host)
            found = False  # a literal address: one family
        except ValueError:
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError:
                return False  # create_connection reports the failure with its own words
            found = len({info[0] for info in infos}) > 1
        if len(_dual) > 256:
            _dual.clear()
        _dual[key] = found
    return found


async def dial(
    loop: asyncio.AbstractEventLoop,
    target: Target,
    proxy: Proxy | None,
    protocol: Callable[[], Connection],
    tls: Callable[[], ssl.SSLContext],
    seconds: float,
    config: TLSConfig,
) -> Connection:
    """A connection to ``target`` (through ``proxy``), within ``seconds``."""
    progress = Progress()
    try:
        async with asyncio.timeout(seconds):
            return await _open(loop, target, proxy, protocol, tls, seconds, progress)
    except TimeoutError:
        raise LLMTimeoutError(_timed_out(target, proxy, progress, seconds)) from None
    except OSError as exc:
        raise _failed(exc, target, proxy, progress, config) from None


async def _open(
    loop: asyncio.AbstractEventLoop,
    target: Target,
    proxy: Proxy | None,
    protocol: Callable[[], Connection],
    tls: Callable[[], ssl.SSLContext],
    seconds: float,
    progress: Progress,
) -> Connection:
    origin_tls = tls() if target.tls else None
    if proxy is None:
        progress.step = "origin"
        # Happy eyeballs (RFC 8305) only where it can help, a name with both IPv6 and
        # IPv4 addresses: on Python 3.11 its racing leaks the winning socket when the
        # caller is cancelled mid-connect.
        race = 0.25 if await _dual_stack(loop, target.host, target.port) else None
        _, conn = await loop.create_connection(
            protocol,
            target.host,
            target.port,
            ssl=origin_tls,
            server_hostname=target.host if origin_tls is not None else None,
            happy_eyeballs_delay=race,
        )
        return conn
    if proxy.scheme.startswith("socks"):
        sock = await socks_socket(proxy, target, seconds)
        progress.step = "origin"
        _, conn = await loop.create_connection(
            protocol,
            sock=sock,
            ssl=origin_tls,
            server_hostname=target.host if origin_tls is not None else None,
        )
        return conn
    proxy_tls = tls() if proxy.scheme == "https" else None
    if origin_tls is not None:
        return await tunnel(loop, target, proxy, protocol, proxy_tls, origin_tls, progress)
    # An http origin is forwarded: the connection is to the proxy itself.
    _, conn = await loop.create_connection(
        protocol,
        proxy.host,
        proxy.port,
        ssl=proxy_tls,
        server_hostname=proxy.host if proxy_tls is not None else None,
    )
    return conn


def _timed_out(target: Target, proxy: Proxy | None, progress: Progress, timeout: float) -> str:
    after = f"after {timeout:g}s; check the endpoint or raise LLM_CONNECT_TIMEOUT_MS"
    if proxy is None:
        return f"timed out connecting to {target.origin} {after}"
    doing = {
        "proxy": f"connecting to {proxy.describe()}",
        "tunnel": f"waiting for {proxy.describe()} to open a tunnel to {target.origin}",
        "origin": f"the TLS handshake with {target.origin} through {proxy.describe()}",
    }[progress.step]
    return f"timed out {doing} {after}"


def _failed(
    exc: OSError, target: Target, proxy: Proxy | None, progress: Progress, config: TLSConfig
) -> LLMConnectionError:
    what = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    at_proxy = proxy is not None and progress.step != "origin"
    if type(exc).__name__ == "SSLCertVerificationError":  # ssl is imported lazily
        reason = getattr(exc, "verify_message", None) or what
        whose = proxy.describe() if at_proxy and proxy is not None else target.origin
        return LLMConnectionError(
            f"the TLS certificate of {whose} could not be verified ({reason}; "
            f"CERTIFICATE_VERIFY_FAILED); {config.hint()}",
            retryable=False,  # the same certificate fails again
        )
    if at_proxy and proxy is not None:
        if progress.step == "proxy":
            return LLMConnectionError(
                f"cannot connect to {proxy.describe()} ({what}) to reach {target.origin}; "
                f"check {proxy.source}, or exempt the host with NO_PROXY"
            )
        return LLMConnectionError(
            f"{proxy.describe()} {what} while opening a tunnel to {target.origin}"
        )
    via = f" through {proxy.describe()}" if proxy is not None else ""
    return LLMConnectionError(
        f"cannot connect to {target.origin}{via} ({what}); "
        "check the base URL and that the server is running"
    )
