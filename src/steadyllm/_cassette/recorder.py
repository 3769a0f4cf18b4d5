"""Recording and replaying at the transport: while a ``Cassette`` is active,
every ``HTTPTransport.send`` in the process goes through it (as vcrpy patches
the HTTP libraries it knows), so any client, provider, stream or retry path
is recorded exactly as it reached the network.

Modes, as vcrpy's: ``none`` replays only (a request with no recording fails
with ``CassetteError`` showing the closest one); ``once`` records a cassette
that does not exist yet, and replays one that does; ``new_episodes`` replays
what matches and records what does not; ``all`` records everything anew.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .._core.dispatch import mark
from .._core.errors import ConfigError, LLMConnectionError
from .._http.connection import HTTPResponse
from .._http.request import HTTPRequest
from .._http.transport import HTTPTransport
from . import MODES
from . import format as _format
from .format import SECRET_REQUEST_HEADERS, SECRET_RESPONSE_HEADERS, Exchange
from .match import DEFAULT_MATCH, Matcher, explain, find, matcher


class CassetteError(ConfigError):
    """A request the cassette has no recording for, in a mode that may not record."""


class Cassette:
    """Real exchanges in a file: ``with Cassette(path, mode="once"):`` (or ``async
    with``) records or replays every request of the process meanwhile."""

    def __init__(
        self,
        path: str | Path,
        *,
        mode: str = "none",
        match_on: Sequence[str] | Matcher = DEFAULT_MATCH,
        allow_repeats: bool = False,
        realtime: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"cassette mode {mode!r} is not one of {', '.join(MODES)}")
        self.path = Path(path)
        self.mode = mode
        self.match = matcher(match_on)
        #: Replay a matching exchange again once all its matches have played.
        self.allow_repeats = allow_repeats
        #: Replay chunks at their recorded pace (a stream's timing), not at once.
        self.realtime = realtime
        self.exchanges: list[Exchange] = []
        #: What this session recorded (written on exit).
        self.new: list[Exchange] = []
        self.replaying = self.recording = False
        self._original: Any = None

    @property
    def played(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.played]

    # -- activation --------------------------------------------------------

    def _open(self) -> None:
        """Read the file (blocking: ``async with`` runs this in a worker thread)."""
        exists = self.path.exists()
        self.exchanges = [] if self.mode == "all" else _format.load(self.path)
        self.replaying = self.mode in ("none", "new_episodes") or (self.mode == "once" and exists)
        self.recording = self.mode in ("new_episodes", "all") or (
            self.mode == "once" and not exists
        )

    def _install(self) -> Cassette:
        if getattr(HTTPTransport.send, "__cassette__", None) is not None:
            raise ConfigError("a cassette is already active; cassettes do not nest")
        self._original = HTTPTransport.send
        cassette, original = self, self._original

        async def send(transport: HTTPTransport, request: HTTPRequest) -> Any:
            return await cassette.handle(transport, request, original)

        send.__cassette__ = self  # type: ignore[attr-defined]
        HTTPTransport.send = send  # type: ignore[method-assign, assignment]
        return self

    def _write(self) -> None:
        if self.new:
            kept = [] if self.mode == "all" else self.exchanges
            _format.save(self.path, [*kept, *self.new])

    def __enter__(self) -> Cassette:
        self._open()
        return self._install()

    def __exit__(self, *exc: object) -> None:
        HTTPTransport.send = self._original  # type: ignore[method-assign]
        self._write()

    async def __aenter__(self) -> Cassette:
        await asyncio.to_thread(self._open)  # YAML and the disk stay off the event loop
        return self._install()

    async def __aexit__(self, *exc: object) -> None:
        HTTPTransport.send = self._original  # type: ignore[method-assign]
        await asyncio.to_thread(self._write)

    # -- one request ---------------------------------------------------------

    async def handle(self, transport: HTTPTransport, request: HTTPRequest, original: Any) -> Any:
        url = request.url
        if request.params:
            url += ("&" if "?" in url else "?") + urlencode(request.params)
        live = Exchange(
            request.method,
            _format.scrub_url(url),
            _format.scrub_headers(request.headers, SECRET_REQUEST_HEADERS),
            _format.parse_body(request.body),
        )
        if self.replaying:
            found = find(live, self.exchanges, self.match, self.allow_repeats)
            if found is not None:
                found.played = True
                mark(True)  # a replayed request counts as sent, as the recorded one was
                return ReplayResponse(found, self.realtime)
            if not self.recording:
                raise self._no_recording(live)
        response: HTTPResponse = await original(transport, request)
        live.status = response.status
        live.response_headers = _format.scrub_headers(
            dict(response.headers), SECRET_RESPONSE_HEADERS
        )
        live.complete = False  # until the body has been read to its end
        self.new.append(live)
        return RecordingResponse(response, live)

    def _no_recording(self, live: Exchange) -> CassetteError:
        where = f"cassette {self.path} (mode {self.mode})"
        if not self.path.exists():
            return CassetteError(
                f"no cassette at {self.path} for {live.method} {live.url}; record it with "
                "mode='once' (pytest --llm-record-mode=once), with real credentials set"
            )
        return CassetteError(explain(live, self.exchanges, self.match, where))


class RecordingResponse:
    """The real response, its body pieces copied into the exchange as they pass."""

    __slots__ = ("_exchange", "_response", "_started", "headers", "status")

    def __init__(self, response: HTTPResponse, exchange: Exchange) -> None:
        self._response = response
        self._exchange = exchange
        self._started = time.monotonic()
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    def _add(self, chunk: bytes) -> None:
        if chunk:
            self._exchange.chunks.append((time.monotonic() - self._started, chunk))

    async def read(self) -> bytes:
        try:
            body = await self._response.read()
        except LLMConnectionError as exc:
            self._exchange.error = exc.message
            raise
        self._add(body)
        self._exchange.complete = True
        return body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.iter_chunks():
                self._add(chunk)
                yield chunk
        except LLMConnectionError as exc:
            self._exchange.error = exc.message
            raise
        self._exchange.complete = True

    def close(self) -> None:
        self._response.close()


class ReplayResponse:
    """A recorded response, handed over as the transport would: whole or in pieces."""

    __slots__ = ("_exchange", "_realtime", "headers", "status")

    def __init__(self, exchange: Exchange, realtime: bool) -> None:
        self._exchange = exchange
        self._realtime = realtime
        self.status = exchange.status
        self.headers: Mapping[str, str] = exchange.response_headers

    async def read(self) -> bytes:
        parts = [chunk async for chunk in self.iter_chunks()]
        return b"".join(parts)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        started = time.monotonic()
        for at, chunk in self._exchange.chunks:
            if self._realtime:
                await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
            yield chunk
        if self._exchange.error is not None:
            raise LLMConnectionError(f"(replayed) {self._exchange.error}")

    def close(self) -> None:
        pass
