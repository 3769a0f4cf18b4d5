"""Real recorded Anthropic streams (tests/fixtures/recorded/SOURCES.md), replayed
byte for byte: through the stream decoder at any chunk boundaries, and through
``Client.stream`` over real HTTP on loopback.

What they pin down: a server tool (web search) is never a client tool call, a
paused turn is reported as ``pause_turn``, thinking tokens are read where
Anthropic reports them, and every content block (signed thinking, redacted
thinking, server tool calls and results, cited text) is kept in order in the
reply's parts and sent back as the next turn: compared with the request that
resumed the paused turn in the same recording, which Anthropic accepted."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.providers.anthropic.dialect import Dialect
from steadyllm.providers.anthropic.encode import encode_body, encode_messages
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


def recorded_blocks(name: str) -> list[dict[str, Any]]:
    return blocks_from_events(body(name))


def blocks_from_events(data: bytes) -> list[dict[str, Any]]:
    """The blocks of a recorded stream, read straight from its events (not through
    steadyllm): each content_block_start's block with its deltas applied."""
    blocks: dict[int, dict[str, Any]] = {}
    for line in data.decode().splitlines():
        if not line.startswith("data:"):
            continue
        event = json.loads(line[5:])
        if event["type"] == "content_block_start":
            blocks[event["index"]] = {**event["content_block"], "_json": ""}
        elif event["type"] == "content_block_delta":
            block, delta = blocks[event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "citations_delta":
                block.setdefault("citations", []).append(delta["citation"])
            elif delta["type"] == "input_json_delta":
                block["_json"] += delta["partial_json"]
    out = []
    for _, block in sorted(blocks.items()):
        text = block.pop("_json")
        if text:
            block["input"] = json.loads(text)
        out.append(block)
    return out


def check_parts(response: sl.Response, name: str) -> None:
    """The reply's parts are the recording's blocks, in order, each complete."""
    blocks = recorded_blocks(name)
    assert len(response.parts) == len(blocks)
    for part, block in zip(response.parts, blocks, strict=True):
        if block["type"] == "text":
            assert isinstance(part, sl.TextPart) and part.text == block["text"]
            assert [c.raw for c in part.citations] == block.get("citations", [])
        elif block["type"] == "thinking":
            assert part == sl.ThinkingPart(block["thinking"], block["signature"])
            assert part.signature  # every recorded thinking block is signed
        elif block["type"] == "redacted_thinking":
            assert part == sl.RedactedThinkingPart(block["data"])
        else:
            assert isinstance(part, sl.ServerToolPart) and part.kind == block["type"]
            assert part.block == block
    assert response.citations == tuple(
        c for p in response.parts if isinstance(p, sl.TextPart) for c in p.citations
    )


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
    response = assemble(events, "anthropic", MODEL)
    check(response, CASES[name])
    check_parts(response, name)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(CASES)), st.lists(st.integers(min_value=0), max_size=20))
def test_a_recorded_stream_decodes_the_same_at_any_chunk_boundaries(
    name: str, cuts: list[int]
) -> None:
    data = body(name)
    points = [c % (len(data) + 1) for c in cuts]
    events = run_stream(StreamDecoder(request(), Dialect(), {}), data, points)
    response = assemble(events, "anthropic", MODEL)
    check(response, CASES[name])
    check_parts(response, name)


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One HTTP/1.1 request with a content-length body: (head, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)


async def serve_bytes(
    data: bytes | list[bytes],
    seen: list[bytes] | None = None,
    *,
    status: int = 200,
    content_type: str = "text/event-stream; charset=utf-8",
) -> tuple[asyncio.Server, str]:
    """An HTTP/1.1 server on loopback that answers every request with ``data`` (or
    the next of a list of bodies), an event stream unless told otherwise, written in
    odd-sized pieces; each request (head and body) goes to ``seen``."""
    replies = list(data) if isinstance(data, list) else None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, sent = await read_request(reader)
        if seen is not None:
            seen.append(head + sent)
        reply = replies.pop(0) if replies is not None else data
        assert isinstance(reply, bytes)
        writer.write(
            b"HTTP/1.1 %d Recorded\r\ncontent-type: %s\r\n" % (status, content_type.encode())
            + b"request-id: req_recorded\r\nconnection: close\r\n"
            + b"content-length: %d\r\n\r\n" % len(reply)
        )
        for start in range(0, len(reply), 7919):  # a prime: pieces cut events anywhere
            writer.write(reply[start : start + 7919])
            await writer.drain()
            await asyncio.sleep(0)  # one piece per loop turn, as a network delivers them
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def settings_for(url: str, **more: Any) -> sl.Settings:
    """Settings sending Anthropic to ``url``, no retries, nothing from the environment."""
    options: Any = {"anthropic_api_key": "sk-ant-recorded", "anthropic_base_url": url}
    return sl.Settings.load(
        env={}, dotenv=False, config_file=False, max_retries=0, **options, **more
    )


@pytest.mark.parametrize("name", sorted(CASES))
async def test_a_recorded_stream_over_http_through_the_client(name: str) -> None:
    server, url = await serve_bytes(body(name))
    settings_ = settings_for(url)
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


RESUMED_REQUEST = json.loads((RECORDED / "pause_turn_resumed_request.json").read_text())


def comparable(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks as the recorded resume request has them. pydantic-ai rebuilt its
    request from its own parts, leaving out the response's ``caller`` field, and its
    cassettes hold page titles with ASCII dashes and quotes for the typographic ones
    Anthropic sent; Anthropic's own advice is to send the blocks back as they came,
    which steadyllm does."""
    ascii_ = str.maketrans(
        {"\u2013": "-", "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'}
    )
    text = json.dumps(blocks, ensure_ascii=False).translate(ascii_)
    out: list[dict[str, Any]] = json.loads(text)
    for block in out:
        block.pop("caller", None)
    return out


def test_a_paused_turn_goes_back_as_the_recorded_resume_request_sent_it() -> None:
    events = run_stream(StreamDecoder(request(), Dialect(), {}), body("pause_turn_stream"))
    paused = assemble(events, "anthropic", MODEL)
    assert paused.finish_reason == "pause_turn"
    question = RESUMED_REQUEST["messages"][0]["content"][0]["text"]
    sent = encode_body(
        Request(provider="anthropic", model=MODEL, messages=[sl.user(question), paused.message]),
        Dialect(),
    )
    recorded = RESUMED_REQUEST["messages"]
    assert sent["messages"][0]["content"] == question
    assert sent["messages"][1]["role"] == "assistant"
    assert comparable(sent["messages"][1]["content"]) == comparable(recorded[1]["content"])
    thinking = sent["messages"][1]["content"][0]
    assert thinking["type"] == "thinking" and thinking["signature"]  # unchanged, signed


async def resume_paused_turn_over_http() -> tuple[list[bytes], sl.Response, sl.Response]:
    """The paused turn and its resumption, streamed through the client from a loopback
    server; returns the requests it received and both responses."""
    seen: list[bytes] = []
    server, url = await serve_bytes(
        [body("pause_turn_stream"), body("pause_turn_resumed_stream")], seen
    )
    settings_ = settings_for(
        url, prices={"anthropic:claude-sonnet-4-0": {"input": 3, "output": 15, "web_search": 10}}
    )
    question = RESUMED_REQUEST["messages"][0]["content"][0]["text"]
    try:
        async with sl.Client(settings_) as client:
            messages = [sl.user(question)]
            async with client.stream(f"anthropic:{MODEL}", messages) as stream:
                kinds = {type(event) async for event in stream}
            paused = stream.response
            assert paused.finish_reason == "pause_turn"
            assert {sl.PartDone, sl.ReasoningDelta, sl.TextDelta} <= kinds
            async with client.stream(f"anthropic:{MODEL}", [*messages, paused.message]) as stream:
                assert sl.CitationDelta in {type(event) async for event in stream}
            resumed = stream.response
    finally:
        server.close()
        await server.wait_closed()
    return seen, paused, resumed


def test_the_paused_turn_resumes_over_http_and_web_searches_are_priced() -> None:
    # A sync test: the 236 KB of JSON compared below are parsed after the loop has
    # stopped (in a thread, json.loads would still hold the GIL over the loop's steps).
    seen, paused, resumed = asyncio.run(resume_paused_turn_over_http())
    assert resumed.finish_reason == "stop" and resumed.text and resumed.citations
    second = json.loads(seen[1].split(b"\r\n\r\n", 1)[1])
    recorded = RESUMED_REQUEST["messages"][1]["content"]
    assert comparable(second["messages"][1]["content"]) == comparable(recorded)
    usage = paused.usage
    assert usage.web_search_requests == 10
    tokens = (usage.prompt_tokens * 3 + usage.completion_tokens * 15) / 1_000_000
    assert paused.usage.cost_usd == pytest.approx(tokens + 10 * 10 / 1000)


# ------------------------------------------------------------------ the official SDK agrees

anthropic_sdk = pytest.importorskip("anthropic")


def sdk_view(block: Any) -> dict[str, Any]:
    """What both readings must agree on, per block."""
    data = block if isinstance(block, dict) else block.model_dump(exclude_none=True)
    kind = data["type"]
    if kind == "text":
        return {"type": kind, "text": data["text"], "cites": len(data.get("citations") or ())}
    if kind == "thinking":
        return {"type": kind, "thinking": data["thinking"], "signature": data["signature"]}
    if kind == "redacted_thinking":
        return {"type": kind, "data": data["data"]}
    ident = data.get("id") or data.get("tool_use_id")
    return {"type": kind, "id": ident, "input": data.get("input")}


def sdk_and_steadyllm_agree(name: str, url: str) -> None:
    """The synchronous SDK reading the recording from ``url``, compared with steadyllm
    decoding the same bytes: run in a thread, as neither is the event loop's work."""
    with (
        anthropic_sdk.Anthropic(base_url=url, api_key="sk-ant-sdk", max_retries=0) as sdk,
        sdk.messages.stream(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        final = stream.get_final_message()
    ours = assemble(run_stream(StreamDecoder(request(), Dialect(), {}), body(name)))
    _, sent = encode_messages([sl.user("x"), ours.message])
    content = sent[1]["content"]
    blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
    assert [sdk_view(b) for b in blocks] == [sdk_view(b) for b in final.content]
    assert final.stop_reason in ("end_turn", "pause_turn")
    assert ours.finish_reason == {"end_turn": "stop", "pause_turn": "pause_turn"}[final.stop_reason]
    assert ours.usage.completion_tokens == final.usage.output_tokens


@pytest.mark.parametrize("name", sorted(CASES))
async def test_the_anthropic_sdk_reads_the_same_blocks_from_the_same_bytes(name: str) -> None:
    server, url = await serve_bytes(body(name))
    try:
        await asyncio.to_thread(sdk_and_steadyllm_agree, name, url)
    finally:
        server.close()
        await server.wait_closed()
