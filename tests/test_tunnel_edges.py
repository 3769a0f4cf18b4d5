"""What a broken or hostile proxy can answer to CONNECT, byte by byte (a raw
server plays the proxy), and what the user is told each time."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

import steadyllm as sl
from steadyllm._http.proxy import proxy_rules
from steadyllm._http.request import HTTPRequest
from steadyllm._http.transport import HTTPTransport


@asynccontextmanager
async def fake_proxy(answer: bytes, *, close: bool = True) -> AsyncIterator[int]:
    """Reads the CONNECT head, writes ``answer``, then closes (or holds) the connection."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        if close:
            writer.close()
        else:
            await reader.read()  # until the client gives up

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def through(port: int, url: str = "https://127.0.0.1:1/v1/chat") -> None:
    rules = proxy_rules({"HTTPS_PROXY": f"http://127.0.0.1:{port}"})
    transport = HTTPTransport(proxies=rules, connect_timeout=5)
    try:
        await transport.send(HTTPRequest("POST", url, {}, b"{}"))
    finally:
        await transport.aclose()


@pytest.mark.parametrize(
    ("answer", "kind", "words"),
    [
        (
            b"HTTP/1.1 403 Forbidden\r\n\r\n",
            sl.ProxyError,
            "refused the tunnel to https://127.0.0.1:1: 403 Forbidden",
        ),
        (
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
            sl.ProxyError,
            "proxy authentication failed",
        ),
        (
            b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
            sl.LLMConnectionError,
            "answered CONNECT with 'SSH-2.0-OpenSSH_9.2', not HTTP",
        ),
        (b"", sl.LLMConnectionError, "closed the connection before answering"),
        (b"x" * 70_000, sl.LLMConnectionError, "answer to CONNECT without an end"),
        (
            b"HTTP/1.1 200 OK\r\n\r\nearly",
            sl.LLMConnectionError,
            "bytes after its answer to CONNECT",
        ),
    ],
)
async def test_a_bad_answer_to_connect(answer: bytes, kind: type[sl.LLMError], words: str) -> None:
    async with fake_proxy(answer) as port:
        with pytest.raises(kind) as caught:
            await through(port)
    error = caught.value
    assert words in error.message
    assert f"the proxy http://127.0.0.1:{port} (from HTTPS_PROXY)" in error.message
    # A refusal is the proxy's decision; a broken answer may be a passing fault.
    assert error.retryable is (kind is not sl.ProxyError)


async def test_a_proxy_that_cannot_reach_the_origin_is_retryable() -> None:
    async with fake_proxy(b"HTTP/1.1 502 Bad Gateway\r\n\r\n") as port:
        with pytest.raises(sl.ProxyError) as caught:
            await through(port)
    assert caught.value.status == 502 and caught.value.retryable


async def test_socks_without_its_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "python_socks", None)
    rules = proxy_rules({"ALL_PROXY": "socks5h://127.0.0.1:1080"})
    transport = HTTPTransport(proxies=rules)
    with pytest.raises(sl.ConfigError, match=r"pip install 'steadyllm\[socks\]'"):
        await transport.send(HTTPRequest("POST", "http://127.0.0.1:1/v1", {}, b""))
