"""The HTTP/1.1 transport against loopback servers that write exact bytes:
framing, keep-alive, the pool, flow control, compression, TLS and every way a
response can be wrong."""

from __future__ import annotations

import asyncio
import gzip
import logging
import socketserver
import ssl
import threading
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import steadyllm as sl
from steadyllm._http import request as _request
from steadyllm._http import tls as _tls
from steadyllm._http import transport as _transport
from steadyllm._http.request import HTTPRequest
from steadyllm._http.transport import HTTPTransport

from .netservers import server_tls

JSON = b'{"ok": true}'


@dataclass
class Received:
    head: bytes
    body: bytes

    def header(self, name: str) -> list[str]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        return [v.strip() for k, _, v in (ln.partition(":") for ln in lines) if k.lower() == name]


Respond = Callable[[Received, asyncio.StreamWriter], Awaitable[bool]]


@dataclass
class RawServer:
    """Reads each request whole, lets ``respond`` write raw bytes; ``respond``
    returns False to close the connection."""

    respond: Respond
    tls: ssl.SSLContext | None = None
    requests: list[Received] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    def url(self, path: str = "/v1/chat/completions") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                received = Received(head, b"")
                length = received.header("content-length")
                received.body = await reader.readexactly(int(length[0])) if length else b""
                self.requests.append(received)
                if not await self.respond(received, writer):
                    return
                await writer.drain()
        finally:
            self.open_now -= 1
            writer.close()


def ok(body: bytes = JSON, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def always(reply: bytes, keep: bool = True) -> Respond:
    async def respond(_: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply)
        return keep

    return respond


def after(gate: asyncio.Event, reply: bytes) -> Respond:
    """Answers each request with ``reply`` once ``gate`` is set."""

    async def respond(_: Received, writer: asyncio.StreamWriter) -> bool:
        await gate.wait()
        writer.write(reply)
        return True

    return respond


def post(url: str, body: bytes = b"{}", headers: dict[str, str] | None = None) -> HTTPRequest:
    return HTTPRequest("POST", url, {"content-type": "application/json", **(headers or {})}, body)


async def fetch(
    transport: HTTPTransport, request: HTTPRequest
) -> tuple[int, dict[str, str], bytes]:
    response = await transport.send(request)
    try:
        return response.status, dict(response.headers), await response.read()
    finally:
        response.close()


ANY_HEADERS = {"content-type": "application/json", "content-length": "12"}


async def settled(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (events already in flight)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def test_keep_alive_reuses_one_connection_and_frames_the_request() -> None:
    async with RawServer(always(ok())) as server:
        transport = HTTPTransport()
        for _ in range(3):
            assert await fetch(transport, post(server.url(), b'{"a":1}', {"Host": "evil"})) == (
                200,
                {"content-type": "application/json", "content-length": "12"},
                JSON,
            )
        assert server.connections == 1 and transport.open_connections == 1
        first = server.requests[0]
        assert first.head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
        assert first.header("host") == [f"127.0.0.1:{server.port}"]  # the caller's is dropped
        assert first.header("content-length") == ["7"] and first.body == b'{"a":1}'
        assert first.header("accept-encoding") == ["gzip, deflate"]
        await transport.aclose()
        assert transport.open_connections == 0


async def test_connection_close_and_http_1_0_are_not_reused() -> None:
    replies = [
        ok(extra=b"connection: close\r\n"),
        b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nhi",
    ]

    async def respond(_: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(replies.pop(0))
        return False

    async with RawServer(respond) as server:
        transport = HTTPTransport()
        assert (await fetch(transport, post(server.url())))[2] == JSON
        assert (await fetch(transport, post(server.url())))[2] == b"hi"
        assert server.connections == 2 and transport.open_connections == 0


async def test_a_body_ended_by_closing_the_connection() -> None:
    reply = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end"
    async with RawServer(always(reply, keep=False)) as server:
        transport = HTTPTransport()
        assert (await fetch(transport, post(server.url())))[2] == b"until the end"
        assert transport.open_connections == 0


async def test_chunked_gzip_body_read_whole_and_streamed() -> None:
    payload = b"data: " + b"x" * 5000 + b"\n\n"
    packed = gzip.compress(payload)
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(packed[i : i + 700]), packed[i : i + 700])
        for i in range(0, len(packed), 700)
    )
    reply = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-encoding: gzip\r\n\r\n"
        + chunked
        + b"0\r\n\r\n"
    )
    async with RawServer(always(reply)) as server:
        transport = HTTPTransport()
        assert (await fetch(transport, post(server.url())))[2] == payload
        response = await transport.send(post(server.url()))
        try:
            pieces = [chunk async for chunk in response.iter_chunks()]
        finally:
            response.close()
        assert b"".join(pieces) == payload
        assert server.connections == 1  # chunked bodies read to the end keep the connection
        await transport.aclose()


async def test_a_callers_accept_encoding_is_kept() -> None:
    async with RawServer(always(ok())) as server:
        transport = HTTPTransport()
        await fetch(transport, post(server.url(), headers={"Accept-Encoding": "identity"}))
        assert server.requests[0].header("accept-encoding") == ["identity"]
        await transport.aclose()


def test_parsed_urls_are_remembered_within_a_bound() -> None:
    first = _request.target_of("http://127.0.0.1:1/a")
    assert _request.target_of("http://127.0.0.1:1/a") is first
    for i in range(600):
        _request.target_of(f"http://127.0.0.1:1/{i}")
    assert len(_request._targets) <= 257


async def test_deflate_bodies_are_inflated() -> None:
    async with RawServer(
        always(ok(zlib.compress(JSON), b"content-encoding: deflate\r\n"))
    ) as server:
        transport = HTTPTransport()
        assert (await fetch(transport, post(server.url())))[2] == JSON
        await transport.aclose()


async def test_repeated_headers_are_joined_and_names_lower_cased() -> None:
    extra = b"X-RateLimit-Remaining-Requests: 9\r\nVia: a\r\nvia: b\r\n"
    async with RawServer(always(ok(extra=extra))) as server:
        transport = HTTPTransport()
        _, headers, _ = await fetch(transport, post(server.url()))
        assert headers["x-ratelimit-remaining-requests"] == "9" and headers["via"] == "a, b"
        await transport.aclose()


async def test_interim_1xx_responses_are_skipped() -> None:
    reply = b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" + ok(extra=b"x-request-id: r1\r\n")
    async with RawServer(always(reply)) as server:
        transport = HTTPTransport()
        status, headers, body = await fetch(transport, post(server.url()))
        assert (status, body, headers["x-request-id"]) == (200, JSON, "r1")
        assert "link" not in headers
        await transport.aclose()


async def test_query_parameters_and_path_quoting() -> None:
    async with RawServer(always(ok())) as server:
        transport = HTTPTransport()
        url = server.url("/openai/deployments/my dep/chat/completions")
        request = HTTPRequest("POST", url, {}, b"{}", params={"api-version": "2024-10-21"})
        await fetch(transport, request)
        await fetch(transport, post(server.url("/x?a=1")))
        lines = [r.head.split(b"\r\n")[0] for r in server.requests]
        assert lines[0] == (
            b"POST /openai/deployments/my%20dep/chat/completions?api-version=2024-10-21 HTTP/1.1"
        )
        assert lines[1] == b"POST /x?a=1 HTTP/1.1"
        await transport.aclose()


@pytest.mark.parametrize(
    ("headers", "culprit", "problem"),
    [
        ({"authorization": "Bearer sk-secret-key\n"}, "authorization", "contains a line break"),
        (
            {"x-latin": "caf\u00e9", "x-note": "sk-secret\u2603"},
            "x-note",
            "characters HTTP headers cannot carry",
        ),
    ],
)
async def test_bad_header_values_are_a_config_error_that_hides_the_value(
    headers: dict[str, str], culprit: str, problem: str
) -> None:
    transport = HTTPTransport()
    with pytest.raises(sl.ConfigError, match=problem) as info:
        await transport.send(post("http://127.0.0.1:9/v1", headers=headers))
    assert "sk-secret" not in str(info.value)
    assert f"the {culprit!r} header" in str(info.value)
    assert transport.open_connections == 0


async def test_credentials_in_the_url_are_basic_auth_unless_the_caller_authorizes() -> None:
    async with RawServer(always(ok())) as server:
        transport = HTTPTransport()
        url = server.url().replace("http://", "http://user%40corp:p%3Ass@")
        await fetch(transport, post(url))
        await fetch(transport, post(url, headers={"Authorization": "Bearer sk-own"}))
        first, second = server.requests
        assert first.header("authorization") == ["Basic dXNlckBjb3JwOnA6c3M="]  # user@corp:p:ss
        assert second.header("authorization") == ["Bearer sk-own"]
        await transport.aclose()
    with pytest.raises(sl.ConfigError, match="port") as info:
        _request.target_of("http://user:hunter2@127.0.0.1:x/v1")
    assert "hunter2" not in str(info.value)


async def test_a_line_break_in_the_url_cannot_add_a_header() -> None:
    async with RawServer(always(ok())) as server:
        transport = HTTPTransport()
        await fetch(transport, post(server.url("/v1/dep\r\nX-Injected: y")))
        assert server.requests[0].head.startswith(b"POST /v1/depX-Injected:%20y HTTP/1.1\r\n")
        assert server.requests[0].header("x-injected") == []
        await transport.aclose()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("ftp://127.0.0.1/v1", "must start with http:// or https://"),
        ("http:///v1", "name a host"),
        ("http://127.0.0.1:99999/v1", "port"),
    ],
)
def test_bad_urls_are_config_errors(url: str, match: str) -> None:
    with pytest.raises(sl.ConfigError, match=match):
        _request.target_of(url)


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", "invalid HTTP response"),
        (ok(b"\x1f\x8bnot gzip", b"content-encoding: gzip\r\n"), "does not decompress"),
        (ok(b"???", b"content-encoding: br\r\n"), "content-encoding 'br'"),
        (ok()[:-4], "closed the connection while sending the response body"),
        (b"", "closed the connection while sending the request"),
    ],
)
async def test_broken_responses_are_connection_errors(reply: bytes, match: str) -> None:
    async with RawServer(always(reply, keep=False)) as server:
        transport = HTTPTransport()
        with pytest.raises(sl.LLMConnectionError, match=match) as info:
            await fetch(transport, post(server.url()))
        assert f"127.0.0.1:{server.port}" in info.value.message
        assert info.value.retryable and transport.open_connections == 0


async def test_bytes_after_a_response_retire_the_connection() -> None:
    async with RawServer(always(ok() + ok())) as server:
        transport = HTTPTransport()
        assert (await fetch(transport, post(server.url())))[2] == JSON
        await settled(lambda: transport.open_connections == 0)
        assert (await fetch(transport, post(server.url())))[2] == JSON
        assert server.connections == 2
        await transport.aclose()


async def test_an_answer_sent_to_an_idle_connection_is_not_taken_for_the_next_one() -> None:
    released = asyncio.Event()
    late: list[asyncio.Task[None]] = []

    async def unasked(writer: asyncio.StreamWriter) -> None:
        await released.wait()  # what some servers send on an idle connection before closing
        writer.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n")

    async def respond(_: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok())
        if not late:
            late.append(asyncio.create_task(unasked(writer)))
        return True

    async with RawServer(respond) as server:
        transport = HTTPTransport()
        assert await fetch(transport, post(server.url())) == (200, ANY_HEADERS, JSON)
        assert transport.open_connections == 1  # idle in the pool
        released.set()
        await late[0]
        await settled(lambda: transport.open_connections == 0)
        status, _, body = await fetch(transport, post(server.url()))
        assert (status, body, server.connections) == (200, JSON, 2)
        await transport.aclose()


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async with RawServer(always(ok(), keep=False)) as server:  # no "connection: close" header
        transport = HTTPTransport()
        for _ in range(2):
            assert (await fetch(transport, post(server.url())))[2] == JSON
            await settled(lambda: transport.open_connections == 0)
        assert server.connections == 2


async def test_a_reused_connection_closed_before_answering_is_retried_once_fresh() -> None:
    """The server's keep-alive timeout races ours: it closes the connection just as
    the next request arrives on it. Not a byte came back, so the request goes again
    on a new connection; a new connection that fails the same way is an error."""
    served: list[int] = []

    async def respond(received: Received, writer: asyncio.StreamWriter) -> bool:
        served.append(len(served))
        if len(served) == 2:  # the 2nd request, on the kept-alive connection: hang up
            return False
        writer.write(ok())
        return True

    async with RawServer(respond) as server:
        transport = HTTPTransport()
        for _ in range(2):
            assert (await fetch(transport, post(server.url())))[2] == JSON
        assert server.connections == 2 and len(server.requests) == 3
        await transport.aclose()

    async with RawServer(always(b"", keep=False)) as silent:  # never answers anything
        transport = HTTPTransport()
        with pytest.raises(sl.LLMConnectionError, match="closed the connection"):
            await fetch(transport, post(silent.url()))
        assert silent.connections == 1  # a fresh connection is not retried
        await transport.aclose()


async def test_idle_connections_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    async with RawServer(always(ok())) as server:
        transport = HTTPTransport()
        await fetch(transport, post(server.url()))
        monkeypatch.setattr(_transport, "IDLE_SECONDS", -1.0)
        await fetch(transport, post(server.url()))
        assert server.connections == 2 and transport.open_connections == 1
        await transport.aclose()


async def test_the_pool_bounds_connections_and_serves_waiters_in_turn() -> None:
    gate = asyncio.Event()
    async with RawServer(after(gate, ok())) as server:
        transport = HTTPTransport(max_connections=2)
        calls = [asyncio.create_task(fetch(transport, post(server.url()))) for _ in range(6)]
        await settled(lambda: len(server.requests) == 2)
        assert transport.busy_connections == 2
        gate.set()
        assert all(r[2] == JSON for r in await asyncio.gather(*calls))
        assert server.most_open == 2 and server.connections == 2
        assert transport.busy_connections == 0
        await transport.aclose()


async def test_cancelled_callers_give_their_turn_and_connection_back() -> None:
    gate = asyncio.Event()
    async with RawServer(after(gate, ok())) as server:
        transport = HTTPTransport(max_connections=1)
        holder = asyncio.create_task(fetch(transport, post(server.url())))
        waiter = asyncio.create_task(fetch(transport, post(server.url())))
        await settled(lambda: len(server.requests) == 1)
        waiter.cancel()  # cancelled while waiting for a connection
        holder.cancel()  # cancelled while waiting for the answer: its connection is closed
        for task in (holder, waiter):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert transport.busy_connections == 0 and transport.open_connections == 0
        gate.set()
        assert (await fetch(transport, post(server.url())))[2] == JSON
        await transport.aclose()


@pytest.mark.parametrize("cancel_first", [False, True])
async def test_a_waiter_cancelled_around_its_wake_up_passes_the_turn_on(cancel_first: bool) -> None:
    async with RawServer(always(ok())) as server:
        transport = HTTPTransport(max_connections=1)
        held = await transport.send(post(server.url()))
        second = asyncio.create_task(fetch(transport, post(server.url())))
        third = asyncio.create_task(fetch(transport, post(server.url())))
        await settled(lambda: len(transport._waiters) == 2)
        if cancel_first:  # cancelled, then skipped by the release before it runs
            second.cancel()
            held.close()
        else:  # woken by the release, then cancelled before it runs
            held.close()
            second.cancel()
        assert (await third)[2] == JSON
        with pytest.raises(asyncio.CancelledError):
            await second
        assert not transport._waiters and transport.busy_connections == 0
        await transport.aclose()


async def test_slow_readers_pause_the_socket_and_lose_nothing() -> None:
    blob = bytes(range(256)) * (6 * 4096)  # 6 MiB

    async def respond(_: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(blob))
        for i in range(0, len(blob), 65536):
            writer.write(blob[i : i + 65536])
            await writer.drain()
        return True

    async with RawServer(respond) as server:
        transport = HTTPTransport()
        response = await transport.send(post(server.url(), b"x" * (16 << 20)))  # a big body too
        conn = response._conn
        assert conn is not None
        paused = False
        got = bytearray()
        try:
            async for chunk in response.iter_chunks():
                got += chunk
                await settled(lambda: conn.done or conn.reading_paused)  # fall behind
                paused |= conn.reading_paused
        finally:
            response.close()
        assert bytes(got) == blob and paused
        assert len(server.requests[0].body) == 16 << 20
        assert (await fetch(transport, post(server.url())))[2] == blob  # read() resumes too
        assert server.connections == 1
        await transport.aclose()


async def test_a_stream_cut_short_hands_over_what_arrived_then_fails() -> None:
    async def respond(_: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst part")
        return False

    async with RawServer(respond) as server:
        transport = HTTPTransport()
        response = await transport.send(post(server.url()))
        got = b""

        async def consume() -> None:
            nonlocal got
            try:
                async for chunk in response.iter_chunks():
                    got += chunk
            finally:
                response.close()

        with pytest.raises(sl.LLMConnectionError, match="while streaming the response"):
            await consume()
        assert got == b"first part" and transport.open_connections == 0


async def test_a_failed_connect_frees_its_slot_for_a_waiter() -> None:
    async with RawServer(always(ok())) as server:
        url = server.url()  # closed when the block ends: connections are refused
    transport = HTTPTransport(max_connections=1)
    first = asyncio.create_task(transport.send(post(url)))
    second = asyncio.create_task(transport.send(post(url)))
    await settled(lambda: len(transport._waiters) == 1)  # second waits for first's slot
    for task in (first, second):  # (wait_for only turns a hang into a failure)
        with pytest.raises(sl.LLMConnectionError, match="cannot connect"):
            await asyncio.wait_for(task, 10)
    assert transport.busy_connections == 0 and not transport._waiters


async def test_refused_connection() -> None:
    async with RawServer(always(ok())) as server:
        url = server.url()
    with pytest.raises(sl.LLMConnectionError, match=r"cannot connect to http://127\.0\.0\.1"):
        await HTTPTransport().send(post(url))


async def test_tls_with_a_trusted_ca(ca: object) -> None:
    server_ctx = await server_tls(ca, "127.0.0.1")
    client_ctx = await asyncio.to_thread(ssl.create_default_context)  # reads the CA store
    ca.configure_trust(client_ctx)  # type: ignore[attr-defined]
    async with RawServer(always(ok()), tls=server_ctx) as server:
        transport = HTTPTransport(ssl_context=client_ctx)
        for _ in range(2):
            assert await fetch(transport, post(server.url())) == (
                200,
                {"content-type": "application/json", "content-length": "12"},
                JSON,
            )
        assert server.connections == 1
        await transport.aclose()
        untrusted = HTTPTransport()  # the system CA store does not know this CA
        with pytest.raises(sl.LLMConnectionError, match="CERTIFICATE_VERIFY_FAILED") as info:
            await untrusted.send(post(server.url()))
        assert untrusted.open_connections == 0
        # Not retried (the same certificate fails again), and says how to trust a CA.
        assert not info.value.retryable and "SSL_CERT_FILE" in info.value.message


class ThreadServer(socketserver.ThreadingTCPServer):
    """A keep-alive server on threads, so it outlives any one event loop."""

    daemon_threads = True

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while self.rfile.readline():
                length = 0
                while (line := self.rfile.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                self.rfile.read(length)
                self.wfile.write(ok())

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), self.Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/chat/completions"


async def test_ssl_cert_file_trusts_a_private_ca(
    ca: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_ctx = await server_tls(ca, "127.0.0.1")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))  # type: ignore[attr-defined]
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setattr(_tls, "_contexts", {})  # SSL_CERT_FILE is read when first needed
    async with RawServer(always(ok()), tls=server_ctx) as server:
        transport = HTTPTransport()
        assert (await fetch(transport, post(server.url())))[2] == JSON
        await transport.aclose()


def test_a_transport_moves_to_a_new_event_loop() -> None:
    server = ThreadServer()
    transport = HTTPTransport()

    async def in_new_loop() -> bytes:
        # The old loop's connection cannot be used here: it is let go, a new one opened.
        _, _, body = await fetch(transport, post(server.url()))
        assert transport.open_connections == 1
        await transport.aclose()
        return body

    old = asyncio.new_event_loop()
    try:
        assert old.run_until_complete(fetch(transport, post(server.url())))[2] == JSON
        assert transport.open_connections == 1
        assert asyncio.run(in_new_loop()) == JSON
        old.run_until_complete(asyncio.sleep(0))  # where the old connection is closed
    finally:
        old.close()
        server.shutdown()
        server.server_close()
    assert transport.open_connections == 0


async def test_aclose_fails_responses_in_flight() -> None:
    gate = asyncio.Event()

    async def respond(_: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
        await gate.wait()
        return False

    async with RawServer(respond) as server:
        transport = HTTPTransport()
        response = await transport.send(post(server.url()))
        await transport.aclose()
        with pytest.raises(sl.LLMConnectionError, match="was closed by the client"):
            await response.read()
        response.close()
        gate.set()
        assert transport.open_connections == 0


# ------------------------------------------------------------------ limits (issue 13)


async def test_an_endless_header_line_is_refused_at_the_header_limit() -> None:
    async def endless(_request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nx-long: ")
        for _ in range(64):  # 4 MiB of one header value, never ended
            writer.write(b"a" * 65536)
            await writer.drain()
        return False

    async with RawServer(endless) as server:
        transport = HTTPTransport(max_header_bytes=100_000)
        with pytest.raises(sl.InvalidResponseError, match=r"headers larger than 100,000 bytes"):
            await fetch(transport, post(server.url()))
        assert transport.open_connections == 0


async def test_too_many_header_lines_are_refused() -> None:
    lines = b"".join(b"x-h%d: v\r\n" % i for i in range(1000))
    async with RawServer(always(b"HTTP/1.1 200 OK\r\n" + lines + b"\r\n", keep=False)) as server:
        with pytest.raises(sl.InvalidResponseError, match="more than 500 header lines") as info:
            await fetch(HTTPTransport(), post(server.url()))
        assert not info.value.retryable


async def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    # 64 MiB of zeros in ~64 KiB, compressed a MiB per loop step (zlib holds the GIL, so
    # a thread would block the loop all the same)
    packer, zeros, pieces = zlib.compressobj(wbits=31), bytes(1 << 20), []  # 31: gzip framing
    for _ in range(64):
        pieces.append(packer.compress(zeros))
        await asyncio.sleep(0)
    bomb = b"".join([*pieces, packer.flush()])
    assert len(bomb) < 1 << 20  # a small body that inflates 64-fold past the limit
    async with RawServer(always(ok(bomb, b"content-encoding: gzip\r\n"), keep=False)) as server:
        transport = HTTPTransport(max_body_bytes=1 << 20)
        with pytest.raises(sl.InvalidResponseError, match=r"larger than 1,048,576 bytes once") as e:
            await fetch(transport, post(server.url()))
        assert "LLM_MAX_BODY_BYTES" in str(e.value)


async def test_a_101_is_a_typed_error_and_asyncio_logs_no_fatal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    upgrade = (
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"
    )
    async with RawServer(always(upgrade + b"\x81\x05hello", keep=False)) as server:
        with caplog.at_level(logging.DEBUG, logger="asyncio"):
            with pytest.raises(sl.InvalidResponseError, match="101 Switching Protocols"):
                await fetch(HTTPTransport(), post(server.url()))
            await asyncio.sleep(0)
    assert "Fatal error" not in caplog.text


async def test_waiters_are_served_first_come_first_served() -> None:
    async with RawServer(always(ok())) as server:
        transport = HTTPTransport(max_connections=1)
        holder = await transport.send(post(server.url(), b'"holder"'))
        queued = []
        for name in ("a", "b", "c"):
            queued.append(
                asyncio.create_task(fetch(transport, post(server.url(), f'"{name}"'.encode())))
            )
            await asyncio.sleep(0)  # each one reaches the queue before the next starts
        assert len(transport._waiters) == 3
        # A newcomer that starts running right after the slot is freed, before the
        # first waiter resumes, must queue behind all three instead of taking it.
        late = asyncio.create_task(fetch(transport, post(server.url(), b'"late"')))
        await holder.read()
        holder.close()
        await asyncio.gather(*queued, late)
    order = [r.body.decode().strip('"') for r in server.requests]
    assert order == ["holder", "a", "b", "c", "late"]


# ------------------------------------------------------------------ the tail of a stream


def sse_head() -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


COMPLETE = (
    b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"whole"}}]}\n\n'
    b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


def tail_client(server: RawServer) -> sl.Client:
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        openai_api_key="sk-test",
        openai_base_url=server.url("/v1"),
        max_retries=0,
    )
    client = sl.Client(settings)
    provider = client._provider("openai")
    provider.tail_timeout = 0.05  # type: ignore[attr-defined]
    return client


@pytest.mark.parametrize("shape", ["closed early", "kept open", "more bytes"])
async def test_the_tail_after_the_final_event_never_breaks_a_complete_answer(shape: str) -> None:
    async def respond(_: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(sse_head() + chunk(COMPLETE))
        await writer.drain()
        if shape == "kept open":  # no terminating chunk, connection held open
            await asyncio.sleep(30)
        elif shape == "more bytes":  # garbage after the end, without end
            writer.write(chunk(b": " + b"x" * 100_000 + b"\n"))
            await writer.drain()
            await asyncio.sleep(30)
        return False  # closed early: the chunked body never ends

    async with RawServer(respond) as server, tail_client(server) as client:
        async with client.stream("openai:gpt-4o-mini", [sl.user("x")], timeout_ms=3000) as s:
            response = await s.final_response()
        assert response.text == "whole" and response.finish_reason == "stop"
        transport = client._provider("openai").transport  # type: ignore[attr-defined]
        assert transport.busy_connections == 0 and transport.open_connections == 0
