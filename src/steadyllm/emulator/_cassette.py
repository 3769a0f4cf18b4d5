"""Serving a cassette: the emulator answers each request with the recorded
response whose method, path and body match (the host differs: the recording
was made against the real provider), so a recording made in Python can be
shared with services in other languages (``steadyllm emulate --cassette``).
A request with no recording gets a 404 whose message names the closest one
and how it differs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._cassette import format as _format
from .._cassette.match import explain, find, matcher

if TYPE_CHECKING:
    from aiohttp import web

    from ._state import EmulatorState

MATCH_ON = ("method", "path", "body")


class CassetteReplay:
    """The recorded exchanges of ``path``, each served once (or again and again
    with ``repeats``), at their recorded pace with ``realtime``."""

    def __init__(self, path: str | Path, *, repeats: bool = True, realtime: bool = False) -> None:
        self.path = Path(path)
        if not self.path.exists():
            from .._core.errors import ConfigError

            raise ConfigError(f"no cassette at {self.path}")
        self.exchanges = _format.load(self.path)
        self.match = matcher(MATCH_ON)
        self.repeats = repeats
        self.realtime = realtime

    async def handle(self, request: web.Request, state: EmulatorState) -> web.StreamResponse:
        from aiohttp import web

        from ._state import RecordedRequest

        raw = await request.read()
        live = _format.Exchange(request.method, str(request.rel_url), {}, _format.parse_body(raw))
        state.requests.append(
            RecordedRequest(
                "cassette",
                request.method,
                request.path,
                dict(request.query),
                {k.lower(): v for k, v in request.headers.items()},
                live.body,
            )
        )
        found = find(live, self.exchanges, self.match, self.repeats)
        if found is None:
            message = explain(live, self.exchanges, self.match, f"cassette {self.path}")
            return web.json_response(
                {
                    "error": {
                        "message": message,
                        "type": "invalid_request_error",
                        "code": "no_recording",
                    }
                },
                status=404,
            )
        found.played = True
        return await self._replay(request, found)

    async def _replay(self, request: web.Request, found: _format.Exchange) -> web.StreamResponse:
        from aiohttp import web

        headers = {k: v for k, v in found.response_headers.items() if k not in _format.WIRE_HEADERS}
        response = web.StreamResponse(status=found.status, headers=headers)
        await response.prepare(request)
        started = time.monotonic()
        for at, chunk in found.chunks:
            if self.realtime:
                await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
            await response.write(chunk)
        if found.error is not None:  # the recorded connection broke here: so does this one
            transport: Any = request.transport
            if transport is not None:
                transport.abort()
            return response
        await response.write_eof()
        return response
