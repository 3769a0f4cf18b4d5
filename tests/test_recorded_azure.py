"""Real Azure OpenAI streams (gpt-5.2-chat deployed on Azure), kept as test data by
darkcodi/AzureOpsCrew (tests/Infrastructure.Ai.Tests/Clients/OpenAi/TestData.cs,
taken by scripts/pick_azure_captures.py; tests/fixtures/recorded/SOURCES.md): the
empty-choices first chunk carrying the prompt's filter verdicts, per-chunk
completion verdicts, Azure's ``obfuscation`` padding, a text answer and two tool
call turns, no usage (the client asked for none). Read at any chunk boundaries,
as the openai SDK reads them, and over HTTP through ``azure:``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.openai.stream import StreamDecoder

from .test_recorded_anthropic import serve_bytes
from .wire import FIXTURES, assemble, run_stream, sdk_stream_completion

RECORDED = FIXTURES / "recorded" / "azure"
AZURE = Dialect(provider="azure", send_model=False, documents=False)
SAFE = ("hate", "self_harm", "sexual", "violence")
#: stream -> (text, [(tool name, arguments)], finish reason)
EXPECTED: dict[int, tuple[str, list[str], str]] = {
    1: ("Hey! 👋  \nWhat are you working on right now", [], "stop"),
    2: ("", ["getMyIp"], "tool_calls"),
    3: ("", ["showMyIp"], "tool_calls"),
}


def body(n: int) -> bytes:
    return (RECORDED / f"stream_{n}.sse").read_bytes()


def _message(m: dict[str, Any]) -> sl.Message:
    """A recorded Chat Completions message as steadyllm's own."""
    if m["role"] == "tool":
        return sl.tool_result(m["tool_call_id"], m["content"])
    calls = tuple(
        sl.ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"])
        for c in m.get("tool_calls", ())
    )
    parts = (sl.TextPart(m["content"]),) if m.get("content") else ()
    return sl.Message(m["role"], parts, tool_calls=calls, name=m.get("name"))


def request(n: int) -> Request:
    sent = json.loads((RECORDED / f"request_{n}.json").read_text())
    messages = [_message(m) for m in sent["messages"]]
    tools = [
        sl.ToolSpec(t["function"]["name"], t["function"]["description"]) for t in sent["tools"]
    ]
    return Request("azure", sent["model"], messages, tools=tools, tool_choice="auto", stream=True)


def check(n: int, response: sl.Response) -> None:
    text, names, finish = EXPECTED[n]
    assert response.text.startswith(text) and response.finish_reason == finish
    assert [c.name for c in response.tool_calls] == names
    for call in response.tool_calls:
        assert isinstance(call.parsed_arguments(), dict) and call.id.startswith("call_")
    verdicts = response.content_filter
    prompt = [v for v in verdicts if v.source == "prompt"]
    assert sorted(v.category for v in prompt) == sorted(SAFE)
    assert all(not v.filtered and v.severity == "safe" for v in verdicts)
    if text:  # the text's chunks were judged: completion verdicts, all safe
        assert {v.category for v in verdicts if v.source == "completion"} == set(SAFE)


@pytest.mark.parametrize("n", sorted(EXPECTED))
@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0), max_size=10))
def test_a_recorded_azure_stream_at_any_boundaries(n: int, cuts: list[int]) -> None:
    data = body(n)
    decoder = StreamDecoder(request(n), AZURE, {})
    check(n, assemble(run_stream(decoder, data, [c % (len(data) + 1) for c in cuts])))


@pytest.mark.parametrize("n", sorted(EXPECTED))
def test_the_openai_sdk_reads_each_azure_stream_the_same_way(n: int) -> None:
    completion: Any = sdk_stream_completion(body(n))
    ours = assemble(run_stream(StreamDecoder(request(n), AZURE, {}), body(n)))
    choice = completion.choices[0]
    assert (choice.message.content or "") == ours.text
    assert choice.finish_reason == ours.finish_reason
    sdk_calls = [
        (c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or []
    ]
    assert sdk_calls == [(c.id, c.name, c.arguments) for c in ours.tool_calls]


@pytest.mark.parametrize("n", sorted(EXPECTED))
async def test_each_azure_stream_over_http(n: int) -> None:
    seen: list[bytes] = []
    server, url = await serve_bytes(body(n), seen)
    settings_ = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        azure_openai_endpoint=url,
        azure_openai_api_key="azure-key-recorded",
        prices={"azure:gpt-5-2-chat": {"input": 1.75, "output": 14.0}},
        max_retries=0,
    )
    sent = request(n)
    try:
        async with (
            sl.Client(settings_) as client,
            client.stream("azure:gpt-5-2-chat", sent.messages, tools=sent.tools) as stream,
        ):
            deltas = [e.text async for e in stream if isinstance(e, sl.TextDelta)]
        response = stream.response
        assert response is not None
        check(n, response)
        assert "".join(deltas) == response.text
        # Azure sent no usage: booked at an estimate, never at $0
        assert response.cost_estimated and (response.usage.cost_usd or 0) > 0
        head = seen[0].split(b"\r\n\r\n", 1)[0].decode()
        assert "/openai/deployments/gpt-5-2-chat/chat/completions?api-version=" in head
        assert "api-key: azure-key-recorded" in head.lower()
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("n", sorted(EXPECTED))
def test_steadyllm_sends_azure_what_the_recorded_client_sent(n: int) -> None:
    from steadyllm.providers.openai.encode import encode_body

    sent = json.loads((RECORDED / f"request_{n}.json").read_text())
    ours = encode_body(request(n), AZURE)
    assert ours.pop("stream_options") == {"include_usage": True}  # steadyllm asks for usage
    for tool in ours["tools"]:  # a schema-less tool: the empty object, in strict mode
        empty = {"type": "object", "properties": {}, "additionalProperties": False}
        assert tool["function"].pop("parameters") == empty
        assert tool["function"].pop("strict") is True
    for message in sent["messages"]:  # steadyllm leaves out a content it does not have
        if message["role"] == "assistant" and "tool_calls" in message:
            message.setdefault("content", None)
    sent.pop("model")  # Azure names the deployment in the URL
    assert ours == sent
