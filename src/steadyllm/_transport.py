"""The transport: the only code in steadyllm that touches the network.

One aiohttp session per transport (created lazily inside the running loop),
so connections are pooled and kept alive across calls. aiohttp is imported on
first use, not with ``import steadyllm``. Network failures are translated at
this boundary: a refused or reset connection becomes ``LLMConnectionError``,
a connect timeout ``LLMTimeoutError``; nothing from aiohttp leaks upward.

A response body is always released: ``HTTPResponse.close()`` runs in the
caller's ``finally``; a body not read to the end is closed (not returned to
the pool) so a half-read stream never poisons the next request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import LLMConnectionError, LLMTimeoutError

if TYPE_CHECKING:
    import aiohttp


@dataclass(slots=True)
class HTTPRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    #: Extra query parameters (Azure's api-version).
    params: dict[str, str] = field(default_factory=dict)


class HTTPResponse:
    """Status, lower-cased headers, and the body as bytes or as chunks."""

    __slots__ = ("_raw", "headers", "status")

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self._raw = raw
        self.status: int = raw.status
        self.headers: Mapping[str, str] = raw.headers  # case-insensitive multidict

    async def read(self) -> bytes:
        try:
            return await self._raw.read()
        except Exception as exc:
            raise _translate(exc, "reading the response body") from exc

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, in whatever pieces the network delivers."""
        content = self._raw.content
        while True:
            try:
                chunk, _ = await content.readchunk()
            except Exception as exc:
                raise _translate(exc, "reading the stream") from exc
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        """Release the connection: back to the pool if the body was read, else closed."""
        if self._raw.content.is_eof():
            self._raw.release()
        else:
            self._raw.close()


class HTTPTransport:
    """A pooled HTTP/1.1 client. ``connect_timeout`` bounds connection set-up;
    everything else is bounded by the caller's deadline and stream timeouts."""

    def __init__(self, *, connect_timeout: float = 10.0, max_connections: int = 100) -> None:
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.max_connections, keepalive_timeout=30.0, ttl_dns_cache=300
                ),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.connect_timeout, connect=None
                ),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send and return once the response headers arrived. The caller must
        ``close()`` the response (use try/finally)."""
        session = self._get_session()
        try:
            raw = await session.request(
                request.method,
                request.url,
                data=request.body,
                headers=request.headers,
                params=request.params or None,
                allow_redirects=False,
            )
        except Exception as exc:
            raise _translate(exc, f"connecting to {_origin(request.url)}") from exc
        return HTTPResponse(raw)

    @property
    def open_connections(self) -> int:
        """Connections currently held by the pool (in use or idle), for leak checks."""
        if self._session is None or self._session.closed:
            return 0
        connector: Any = self._session.connector
        acquired = len(getattr(connector, "_acquired", ()))
        idle = sum(len(v) for v in getattr(connector, "_conns", {}).values())
        return acquired + idle

    @property
    def busy_connections(self) -> int:
        """Connections checked out and not yet released (should be 0 between calls)."""
        if self._session is None or self._session.closed:
            return 0
        connector: Any = self._session.connector
        return len(getattr(connector, "_acquired", ()))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _translate(exc: BaseException, doing: str) -> Exception:
    import aiohttp

    if isinstance(exc, LLMConnectionError | LLMTimeoutError):
        return exc
    if isinstance(exc, aiohttp.ServerTimeoutError | aiohttp.ConnectionTimeoutError):
        return LLMTimeoutError(
            f"timed out {doing}; check the endpoint or raise the connect timeout"
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return LLMConnectionError(f"the connection broke while {doing}: {type(exc).__name__}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return LLMConnectionError(
            f"cannot connect while {doing} ({exc.os_error.strerror or exc.os_error}); "
            "check the base URL and that the server is running"
        )
    if isinstance(exc, aiohttp.ClientError | OSError):
        return LLMConnectionError(f"network error while {doing}: {type(exc).__name__}: {exc}")
    if isinstance(exc, Exception):
        return exc
    raise exc  # pragma: no cover - BaseException (cancellation) is never translated
