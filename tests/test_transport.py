"""Transport and HTTP-provider edge cases against small purpose-built loopback servers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

import steadyllm as sl
from steadyllm._http.request import HTTPRequest
from steadyllm._http.transport import HTTPTransport

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve(handler: Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v1"


def client(base_url: str, **extra: Any) -> sl.Client:
    settings = sl.Settings.load(
        env={}, dotenv=False, openai_api_key="sk-transport-test", openai_base_url=base_url, **extra
    )
    return sl.Client(
        settings, retry=sl.RetryPolicy(max_retries=1, base_delay_ms=10, max_delay_ms=10)
    )


@pytest.fixture
async def json_for_stream() -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body["messages"][0]["content"] == "html":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        return web.json_response({"error": {"message": "model is loading", "code": 503}})

    runner, url = await serve(handler)
    yield url
    await runner.cleanup()


async def test_a_stream_request_answered_with_json_or_html(json_for_stream: str) -> None:
    async with client(json_for_stream, max_retries=0) as c:
        with pytest.raises(sl.ServerError, match="model is loading"):
            async with c.stream("openai:m", [sl.user("json")], max_retries=0):
                pass  # pragma: no cover
        with pytest.raises(sl.InvalidResponseError, match="instead of text/event-stream"):
            async with c.stream("openai:m", [sl.user("html")], max_retries=0):
                pass  # pragma: no cover


async def test_a_body_cut_short_is_a_connection_error_and_retried() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            response = web.StreamResponse(
                headers={"content-type": "application/json", "content-length": "500"}
            )
            await response.prepare(request)
            await response.write(b'{"choices": [')
            assert request.transport is not None
            request.transport.close()
            return response
        return web.json_response(
            {"choices": [{"message": {"content": "whole"}, "finish_reason": "stop"}]}
        )

    runner, url = await serve(handler)
    try:
        async with client(url) as c:
            r = await c.chat("openai:m", [sl.user("x")])
        assert r.text == "whole" and r.attempts == 2
    finally:
        await runner.cleanup()


async def test_connect_timeout() -> None:
    # A listener that never accepts: once its queue is full the kernel drops new SYNs,
    # so a connect neither succeeds nor fails until our connect timeout ends it.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        transport = HTTPTransport(connect_timeout=0.2)
        with pytest.raises((sl.LLMTimeoutError, sl.LLMConnectionError)):
            await asyncio.wait_for(
                transport.send(HTTPRequest("POST", f"http://127.0.0.1:{port}/v1/x", {}, b"{}")), 10
            )
        await transport.aclose()
    finally:
        for s in fillers:
            s.close()
        server.close()


async def test_transport_counts_and_close_are_safe() -> None:
    transport = HTTPTransport()
    assert transport.open_connections == 0 and transport.busy_connections == 0
    await transport.aclose()
    await transport.aclose()
