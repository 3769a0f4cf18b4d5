"""Real Together AI exchanges (Llama-3.3-70B-Instruct-Turbo-Free), from
llamastack/llama-stack's integration-test recordings (commit f9cd397fe; taken by
scripts/pick_llama_stack_recordings.py, tests/fixtures/recorded/SOURCES.md). The
recordings keep the values the openai SDK parsed, so these are Together's values
in the SDK's field order, not its bytes: Together's own fields ride along (a
choice's ``text``, ``seed`` and ``delta.token_id``, a top-level ``prompt`` list and
``usage.cached_tokens``), the usage comes on the last chunk with the finish reason,
and a tool call streams its name and then its arguments whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.providers.openai.decode import decode_response
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.openai.stream import StreamDecoder

from .test_recorded_anthropic import serve_bytes
from .wire import FIXTURES, assemble, run_stream, sdk_stream_completion

RECORDED = FIXTURES / "recorded" / "together"
TOGETHER = Dialect(provider="together")
#: recording -> (text it starts with, tool calls as (name, arguments), finish, prompt, completion)
EXPECTED: dict[str, tuple[str, list[tuple[str, Any]], str, int, int]] = {
    "6730dcde0b73": ("Hello! It's nice to meet you.", [], "stop", 39, 25),
    "52b4e16b7289": ("", [("get_weather", {"city": "Tokyo"})], "tool_calls", 201, 24),
    "0c1f45455d3b": ("Hello! It's nice to meet you.", [], "stop", 39, 25),
    "6857b19d3f0a": ("", [("get_weather", {"city": "Tokyo"})], "tool_calls", 193, 24),
    "d2e057a81717": ("I'll do my best", [], "length", 43, 100),
}
STREAMS = [name for name in EXPECTED if (RECORDED / f"{name}.sse").exists()]
WHOLE = [name for name in EXPECTED if name not in STREAMS]


def sent(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((RECORDED / f"{name}.request.json").read_text())
    return body


def request(name: str) -> Request:
    body = sent(name)
    tools = [
        sl.ToolSpec(
            t["function"]["name"], t["function"]["description"], t["function"]["parameters"]
        )
        for t in body.get("tools", ())
    ]
    messages = [sl.user(m["content"]) for m in body["messages"]]
    return Request("together", body["model"], messages, tools=tools, stream=name in STREAMS)


def check(name: str, response: sl.Response) -> None:
    text, calls, finish, prompt, completion = EXPECTED[name]
    assert response.text.startswith(text) and response.finish_reason == finish
    assert [(c.name, c.parsed_arguments()) for c in response.tool_calls] == calls
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (prompt, completion)
    assert response.usage.cached_tokens == 0  # Together's top-level usage.cached_tokens


@pytest.mark.parametrize("name", STREAMS)
@settings(max_examples=20, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0), max_size=10))
def test_a_recorded_together_stream_at_any_boundaries(name: str, cuts: list[int]) -> None:
    data = (RECORDED / f"{name}.sse").read_bytes()
    decoder = StreamDecoder(request(name), TOGETHER, {})
    check(name, assemble(run_stream(decoder, data, [c % (len(data) + 1) for c in cuts])))


@pytest.mark.parametrize("name", STREAMS)
def test_the_openai_sdk_reads_each_together_stream_the_same_way(name: str) -> None:
    data = (RECORDED / f"{name}.sse").read_bytes()
    choice = sdk_stream_completion(data, drop_nulls=True).choices[0]
    ours = assemble(run_stream(StreamDecoder(request(name), TOGETHER, {}), data))
    assert (choice.message.content or "") == ours.text
    assert choice.finish_reason == ours.finish_reason
    theirs = [
        (c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or []
    ]
    assert theirs == [(c.id, c.name, c.arguments) for c in ours.tool_calls]


@pytest.mark.parametrize("name", WHOLE)
def test_a_recorded_together_reply(name: str) -> None:
    data = (RECORDED / f"{name}.json").read_bytes()
    check(name, decode_response(request(name), 200, {}, data, TOGETHER))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_steadyllm_sends_together_what_the_recorded_client_sent(name: str) -> None:
    from steadyllm.providers.openai.encode import encode_body

    expected = sent(name)
    ours = encode_body(request(name), TOGETHER)
    if ours.get("stream"):  # steadyllm asks for usage; Together sends it anyway
        assert ours.pop("stream_options") == {"include_usage": True}
    for field in ("response_format", "max_tokens", "temperature"):
        expected.pop(field, None)  # options of the recorded test, not of the request built here
    expected.setdefault("stream", False)
    if not expected["stream"]:
        ours.setdefault("stream", False)
    for tool in expected.get("tools", ()):
        tool["function"].pop("type", None)  # llama-stack's own extra field
        tool["function"].pop("strict", None)
    assert ours == expected


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_each_together_exchange_over_http_is_priced(name: str) -> None:
    streamed = name in STREAMS
    data = (RECORDED / f"{name}.{'sse' if streamed else 'json'}").read_bytes()
    seen: list[bytes] = []
    kind = "text/event-stream" if streamed else "application/json"
    server, url = await serve_bytes(data, seen, content_type=kind)
    settings_ = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        providers={"together": {"base_url": url + "/v1", "api_key": "tg-recorded"}},
        max_retries=0,
    )
    # the paid twin of the free model: genai-prices knows its rate (USD 0.88 per MTok)
    model = "together:meta-llama/Llama-3.3-70B-Instruct-Turbo"
    asked = request(name)
    try:
        async with sl.Client(settings_) as client:
            if streamed:
                async with client.stream(model, asked.messages, tools=asked.tools) as stream:
                    async for _ in stream:
                        pass
                response = stream.response
            else:
                response = await client.chat(model, asked.messages, tools=asked.tools)
        assert response is not None
        check(name, response)
        _, _, _, prompt, completion = EXPECTED[name]
        assert response.usage.cost_usd == pytest.approx((prompt + completion) * 0.88 / 1e6)
        assert not response.cost_estimated
        assert seen[0].startswith(b"POST /v1/chat/completions")
        assert b"authorization: bearer tg-recorded" in seen[0].lower()
    finally:
        server.close()
        await server.wait_closed()


def test_together_top_level_cached_tokens_are_read() -> None:
    # The recorded reply with a cache hit written in: Together reports it at the top
    # of usage, not in prompt_tokens_details; a detail given wins.
    reply = json.loads((RECORDED / "0c1f45455d3b.json").read_text())
    reply["usage"]["cached_tokens"] = 32
    data = json.dumps(reply).encode()
    assert (
        decode_response(request("0c1f45455d3b"), 200, {}, data, TOGETHER).usage.cached_tokens == 32
    )
    reply["usage"]["prompt_tokens_details"] = {"cached_tokens": 16}
    data = json.dumps(reply).encode()
    assert (
        decode_response(request("0c1f45455d3b"), 200, {}, data, TOGETHER).usage.cached_tokens == 16
    )
