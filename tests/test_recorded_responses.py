"""Real recorded OpenAI Responses API exchanges (tests/fixtures/recorded/corpus/,
``api: responses`` in its INDEX.json, from pydantic-ai's VCR cassettes), read by
steadyllm and by the openai SDK's own models, which must agree: text, tool calls
with their arguments, finish reason, usage (cached and reasoning tokens), the
reasoning and built-in tool items kept as parts; for errors, the kind of error.

Streams go through the SSE decoder at chunk boundaries chosen from the file's
name; every event is validated by the SDK's event types, and the SDK's reading
of the final ``response.completed`` is the expected reply.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.responses import decode
from steadyllm.providers.responses.stream import StreamDecoder
from steadyllm.sse import SSEDecoder

from .test_recorded_corpus import INDEX, SDK_KINDS, _httpx_response, body, cuts, ids
from .wire import assemble, run_stream

openai_sdk = pytest.importorskip("openai")

RESPONSES = [e for e in INDEX if e["api"] == "responses"]


def of(stream: bool, ok: bool = True) -> list[dict[str, Any]]:
    return [e for e in RESPONSES if e["stream"] == stream and (e["status"] == 200) == ok]


def request_for(entry: dict[str, Any], stream: bool = False) -> Request:
    model = str(entry.get("model") or "m")
    return Request(provider="openai-responses", model=model, messages=[sl.user("x")], stream=stream)


DIALECT = Dialect(provider="openai-responses")


def test_the_corpus_has_responses_streams_replies_and_errors() -> None:
    assert len(RESPONSES) >= 30
    assert of(True) and of(False) and of(False, ok=False)
    assert any("azure.com" in e["host"] for e in RESPONSES)


def expect(got: sl.Response, sdk: Any) -> None:
    """steadyllm's reading of a reply against the SDK's ``Response``."""
    assert got.text == sdk.output_text
    calls = [
        (item.call_id, item.name, json.loads(item.arguments or "{}"))
        for item in sdk.output
        if item.type == "function_call"
    ]
    assert [(c.id, c.name, c.parsed_arguments()) for c in got.tool_calls] == calls
    if sdk.status == "incomplete":
        reason = sdk.incomplete_details.reason
        assert got.finish_reason == ("content_filter" if reason == "content_filter" else "length")
    else:
        assert got.finish_reason == ("tool_calls" if calls else "stop")
    if sdk.usage is not None:
        usage = sdk.usage
        assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (
            usage.input_tokens,
            usage.output_tokens,
        )
        assert got.usage.cached_tokens == usage.input_tokens_details.cached_tokens
        assert got.usage.reasoning_tokens == usage.output_tokens_details.reasoning_tokens
    reasoning = [p.item["id"] for p in got.parts if isinstance(p, sl.ThinkingPart) and p.item]
    recorded = [item.id for item in sdk.output if item.type == "reasoning"]
    if all(i.startswith("rs_tmp_") for i in recorded):  # OpenRouter renames its temporary
        assert len(reasoning) == len(recorded)  # ids between the stream and its end
    else:
        assert reasoning == recorded
    built_in = [p for p in got.parts if isinstance(p, sl.ServerToolPart)]
    assert [(p.kind, p.id) for p in built_in] == [
        (item.type, getattr(item, "id", ""))
        for item in sdk.output
        if item.type not in ("message", "reasoning", "function_call")
    ]
    assert not any(c.id == "" for c in got.tool_calls)  # built-in tools are never client calls


@pytest.mark.parametrize("entry", of(False), ids=ids)
def test_a_recorded_response_reads_as_the_openai_sdk_reads_it(entry: dict[str, Any]) -> None:
    data = body(entry)
    sdk = sdk_read(openai_sdk.types.responses.Response, json.loads(data))
    got = decode.decode_response(request_for(entry), 200, {}, data, DIALECT)
    expect(got, sdk)
    assert got.response_id == sdk.id


def sdk_read(kind: Any, value: Any) -> Any:
    """``value`` read as the SDK reads an API reply: ``construct_type``, which builds
    its models without rejecting fields a newer API added or an older one left out."""
    from openai._models import construct_type

    return construct_type(type_=kind, value=value)


def sdk_final(data: bytes) -> Any:
    """Every event read by the SDK's event union; the final response it carries."""
    final = None
    for sse in SSEDecoder().feed(data):
        if sse.data == "[DONE]":  # OpenRouter's end of a Responses stream
            break
        event = sdk_read(openai_sdk.types.responses.ResponseStreamEvent, json.loads(sse.data))
        if event.type in ("response.completed", "response.incomplete"):
            final = event.response
    assert final is not None, "the recording never completed"
    return final


@pytest.mark.parametrize("entry", of(True), ids=ids)
def test_a_recorded_response_stream_reads_as_the_openai_sdk_reads_it(
    entry: dict[str, Any],
) -> None:
    data = body(entry)
    sdk = sdk_final(data)
    for points in cuts(entry, data):
        decoder = StreamDecoder(request_for(entry, True), DIALECT, {})
        got = assemble(run_stream(decoder, data, points))
        expect(got, sdk)
        assert got.response_id == sdk.id


@pytest.mark.parametrize("entry", of(False, ok=False), ids=ids)
def test_a_recorded_responses_error_is_the_error_the_sdk_raises(entry: dict[str, Any]) -> None:
    data, status = body(entry), entry["status"]
    sdk_error = openai_sdk.OpenAI(api_key="sk-x")._make_status_error_from_response(
        _httpx_response(status, data)
    )
    got = decode.decode_error(request_for(entry), status, {}, data, DIALECT)
    assert got.kind in SDK_KINDS[type(sdk_error).__name__]
    assert not got.retryable and got.status == status
    assert str(json.loads(data)["error"]["message"])[:40] in got.message


def test_a_recorded_reply_sent_back_is_a_valid_next_turn() -> None:
    """The second turn, not only the first: a recorded reply with reasoning and
    built-in tool items, appended to the history, encodes as input items that carry
    each item back verbatim (ids and encrypted content included)."""
    from steadyllm.providers.responses.encode import encode_body

    entry = next(e for e in of(True) if "web_search_tool_stream" in e["file"])
    got = assemble(run_stream(StreamDecoder(request_for(entry, True), DIALECT, {}), body(entry)))
    history = [sl.user("What is the weather in SF?"), got.message, sl.user("And tomorrow?")]
    sent = encode_body(
        Request(
            provider="openai-responses", model="gpt-5", messages=history, extra={"store": True}
        ),
        DIALECT,
    )
    kinds = [item.get("type") or item.get("role") for item in sent["input"]]
    assert kinds[0] == "user" and kinds[-1] == "user"
    sdk = sdk_final(body(entry))
    recorded = [item.type for item in sdk.output if item.type != "message"]
    assert [k for k in kinds[1:-1] if k != "assistant"] == recorded
    assert "assistant" in kinds  # the answer text, as an assistant message
