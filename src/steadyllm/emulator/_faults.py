"""Faults the emulator injects: before the response (status codes with real
bodies, 429 with headers, HTML from a proxy, hangs) and inside a started
stream (stalls with keep-alives, dropped connections, malformed and in-band
error events)."""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING

from ._behavior import Behavior
from ._frames import sse

if TYPE_CHECKING:
    from aiohttp import web

    from ._server import Handler

#: A hang ends eventually, so a forgotten emulator cannot pin a client forever.
_MAX_HANG_S = 600.0


async def pre_response_fault(
    handler: Handler, b: Behavior, headers: dict[str, str]
) -> web.StreamResponse | None:
    from aiohttp import web

    if b.retry_after is not None:
        headers["retry-after"] = f"{b.retry_after:g}"
    if b.retry_after_ms is not None:
        headers["retry-after-ms"] = f"{b.retry_after_ms:g}"
    if b.should_retry is not None:
        headers["x-should-retry"] = "true" if b.should_retry else "false"
    fault = b.fault
    if fault == "hang":
        await asyncio.sleep(min(_MAX_HANG_S, (b.hang_ms or math.inf) / 1000.0))
        return None
    if fault == "html":
        status = b.status or 502
        page = (
            f"<html><head><title>{status} Bad Gateway</title></head><body><center>"
            f"<h1>{status} Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
        )
        return web.Response(status=status, text=page, content_type="text/html", headers=headers)
    simple = {
        "status": (b.status or 500, "The server had an error while processing your request."),
        "rate_limit": (
            429,
            "Rate limit reached for requests per min (RPM). Please try again in 1s.",
        ),
        "quota": (
            429,
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        "overloaded": (529 if handler.api == "anthropic" else 503, "Overloaded"),
        "context_length": (
            400,
            "This model's maximum context length is 128000 tokens. "
            "However, your messages resulted in 210000 tokens."
            if handler.api != "anthropic"
            else "prompt is too long: 210000 tokens > 200000 maximum",
        ),
        "auth": (401, "Incorrect API key provided: sk-emu***123."),
    }
    if fault == "rate_limit":
        headers.setdefault("retry-after", "1")
        headers.setdefault("x-ratelimit-remaining-requests", "0")
        headers.setdefault("x-ratelimit-reset-requests", "1s")
    if fault == "content_filter" and handler.api == "azure":
        return handler.error(
            400,
            "content_filter",
            "The response was filtered due to the prompt "
            "triggering Azure OpenAI's content management policy.",
            headers,
        )
    if fault in simple:
        status, message = simple[fault]
        return handler.error(status, fault, b.message or message, headers)
    return None


async def mid_stream_fault(
    handler: Handler, request: web.Request, response: web.StreamResponse, b: Behavior
) -> bool:
    """Inject a fault into a started stream; True when the stream is over."""
    if b.fault == "stall":
        end = time.monotonic() + min(_MAX_HANG_S, (b.stall_ms or math.inf) / 1000.0)
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.05) if b.comments else left)
            if b.comments:  # keep-alives during the stall must not count as progress
                await response.write(b": keep-alive\n\n")
                if handler.api == "anthropic":
                    await response.write(sse({"type": "ping"}, "ping"))
        return False
    if b.fault == "malformed":
        await response.write(sse('{"choices": [{"delta": {"content": "oops'))
        await response.write_eof()
        return True
    if b.fault == "error_event":
        await response.write(handler.render.error_event(b.message or "Overloaded", b.error_type))
        if handler.sends_done and not b.no_done:
            await response.write(b"data: [DONE]\n\n")  # vLLM sends [DONE] after an error
        await response.write_eof()
        return True
    # drop: close the socket without ending the chunked body
    if request.transport is not None:
        request.transport.close()
    return True
