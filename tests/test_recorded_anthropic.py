"""Real recorded Anthropic streams (tests/fixtures/recorded/SOURCES.md), replayed
byte for byte: through the stream decoder at any chunk boundaries, and through
``Client.stream`` over real HTTP on loopback.

What they pin down: a server tool (web search) is never a client tool call, a
paused turn is reported as ``pause_turn``, and thinking tokens are read where
Anthropic reports them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.providers.anthropic.dialect import Dialect
from steadyllm.providers.anthropic.stream import StreamDecoder

from .wire import FIXTURES, assemble, run_stream

RECORDED = FIXTURES / "recorded" / "anthropic"
MODEL = "claude-sonnet-4-0"


@dataclass(frozen=True)
class Expected:
    finish: str
    text_starts: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int


CASES = {
    "web_search_thinking_stream": Expected("stop", "Based on the search results", 22397, 637, 0),
    "pause_turn_stream": Expected("pause_turn", "", 404500, 943, 261),
    "pause_turn_resumed_stream": Expected("stop", "", 482529, 1310, 0),
    "redacted_thinking_stream": Expected("stop", "", 92, 189, 0),
}


def body(name: str) -> bytes:
    return (RECORDED / f"{name}.sse").read_bytes()


def request() -> Request:
    return Request(provider="anthropic", model=MODEL, messages=[sl.user("x")])


def check(response: sl.Response, expected: Expected) -> None:
    assert response.tool_calls == []  # a server tool is Anthropic's to run
    assert response.finish_reason == expected.finish
    assert response.text.startswith(expected.text_starts) and response.text
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (
        expected.prompt_tokens,
        expected.completion_tokens,
        expected.reasoning_tokens,
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_recorded_stream_decodes_whole(name: str) -> None:
    events = run_stream(StreamDecoder(request(), Dialect(), {}), body(name))
    check(assemble(events, "anthropic", MODEL), CASES[name])


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(CASES)), st.lists(st.integers(min_value=0), max_size=20))
def test_a_recorded_stream_decodes_the_same_at_any_chunk_boundaries(
    name: str, cuts: list[int]
) -> None:
    data = body(name)
    points = [c % (len(data) + 1) for c in cuts]
    events = run_stream(StreamDecoder(request(), Dialect(), {}), data, points)
    check(assemble(events, "anthropic", MODEL), CASES[name])


async def serve_bytes(data: bytes, seen: list[bytes] | None = None) -> tuple[asyncio.Server, str]:
    """An HTTP/1.1 server on loopback that answers every request with ``data`` as an
    event stream, written in odd-sized pieces; each request's head goes to ``seen``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if seen is not None:
            seen.append(head)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            b"request-id: req_recorded\r\ncontent-length: %d\r\n\r\n" % len(data)
        )
        for start in range(0, len(data), 7919):  # a prime: pieces cut events anywhere
            writer.write(data[start : start + 7919])
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("name", sorted(CASES))
async def test_a_recorded_stream_over_http_through_the_client(name: str) -> None:
    server, url = await serve_bytes(body(name))
    settings_ = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        anthropic_api_key="sk-ant-recorded",
        anthropic_base_url=url,
        max_retries=0,
    )
    try:
        async with sl.Client(settings_) as client:
            async with client.stream(f"anthropic:{MODEL}", [sl.user("x")]) as stream:
                events = [event async for event in stream]
            assert events and not any(isinstance(e, sl.ToolCallDelta) for e in events)
            check(stream.response, CASES[name])
            assert stream.response.request_id == "req_recorded"
    finally:
        server.close()
        await server.wait_closed()
