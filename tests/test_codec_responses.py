"""The Responses API codec on byte fixtures composed from the API reference
(tests/fixtures/responses_tool_stream.sse and responses_tool_reply.json: a
reasoning item with two summaries, a web search that finishes after the text
that cites it, a call streamed in argument deltas and one sent whole), fed
through the SSE decoder at arbitrary chunk boundaries; and the encoder."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._core.parts import part_dict, part_from_dict
from steadyllm._core.types import Request
from steadyllm.providers.anthropic.dialect import Dialect as AnthropicDialect
from steadyllm.providers.anthropic.encode import encode_body as anthropic_body
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.responses import decode
from steadyllm.providers.responses.encode import encode_body
from steadyllm.providers.responses.stream import StreamDecoder

from .wire import assemble, fixture, run_stream

DIALECT = Dialect(provider="openai-responses")
STREAM = fixture("responses_tool_stream.sse")
REPLY = fixture("responses_tool_reply.json")


def request(*messages: sl.Message, **options: Any) -> Request:
    return Request("openai-responses", "o4-mini", list(messages or [sl.user("x")]), **options)


def expect_tool_reply(got: sl.Response) -> None:
    assert got.text == "Checking Paris é."
    assert got.reasoning == "First, the city.\n\nThen the tool."
    assert [(c.id, c.name, c.parsed_arguments()) for c in got.tool_calls] == [
        ("call_abc", "weather", {"city": "Paris"}),
        ("call_def", "time", {"tz": "CET"}),
    ]
    assert got.finish_reason == "tool_calls"
    assert (got.usage.prompt_tokens, got.usage.completion_tokens, got.usage.total_tokens) == (
        120,
        90,
        210,
    )
    assert (got.usage.cached_tokens, got.usage.reasoning_tokens) == (64, 40)
    kinds = [type(p).__name__ for p in got.parts]
    assert kinds == ["ThinkingPart", "ServerToolPart", "TextPart"]  # the output's order
    thinking, search, text = got.parts
    assert isinstance(thinking, sl.ThinkingPart) and thinking.item is not None
    assert thinking.item["encrypted_content"] == "gAAAAB-fixture"
    assert isinstance(search, sl.ServerToolPart) and search.wire == "responses"
    assert (search.kind, search.id) == ("web_search_call", "ws_fixture1")
    assert isinstance(text, sl.TextPart) and text.citations[0].url == "https://example.com/w"
    assert got.response_id == "resp_fixture1"


def test_a_whole_reply() -> None:
    got = decode.decode_response(request(), 200, {"x-request-id": "req_1"}, REPLY, DIALECT)
    expect_tool_reply(got)
    assert got.request_id == "req_1" and got.model == "o4-mini-2025-04-16"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_the_stream_at_any_chunk_boundaries(cuts: list[int]) -> None:
    events = run_stream(StreamDecoder(request(stream=True), DIALECT, {}), STREAM, cuts)
    got = assemble(events)
    expect_tool_reply(got)
    assert [e.text for e in events if isinstance(e, sl.TextDelta)] == ["Check", "ing Paris", " é."]
    assert sum(isinstance(e, sl.CitationDelta) for e in events) == 1


def test_a_streamed_reply_and_a_whole_one_are_the_same_message() -> None:
    whole = decode.decode_response(request(), 200, {}, REPLY, DIALECT)
    streamed = assemble(run_stream(StreamDecoder(request(stream=True), DIALECT, {}), STREAM))
    assert streamed.message == whole.message
    assert [part_dict(p) for p in streamed.parts] == [part_dict(p) for p in whole.parts]


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def completed(status: str = "completed", **response: Any) -> dict[str, Any]:
    body = {"id": "resp_1", "status": status, "output": [], "usage": None, **response}
    return {"type": f"response.{status}", "response": body}


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("max_output_tokens", "length"), ("content_filter", "content_filter"), (None, "length")],
)
def test_an_incomplete_response_says_why(reason: str | None, finish: str) -> None:
    details = {"reason": reason} if reason else None
    data = sse(completed("incomplete", incomplete_details=details))
    got = assemble(run_stream(StreamDecoder(request(stream=True), DIALECT, {}), data))
    assert got.finish_reason == finish
    body = json.dumps(completed("incomplete", incomplete_details=details)["response"]).encode()
    assert decode.decode_response(request(), 200, {}, body, DIALECT).finish_reason == finish


def test_a_refusal_is_its_own_field_in_both_forms() -> None:
    item = {"type": "message", "content": [{"type": "refusal", "refusal": "I can't help."}]}
    body = json.dumps({"id": "r", "status": "completed", "output": [item]}).encode()
    whole = decode.decode_response(request(), 200, {}, body, DIALECT)
    data = sse(
        {"type": "response.refusal.delta", "output_index": 0, "delta": "I can't "},
        {"type": "response.refusal.delta", "output_index": 0, "delta": "help."},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        completed(),
    )
    streamed = assemble(run_stream(StreamDecoder(request(stream=True), DIALECT, {}), data))
    for got in (whole, streamed):
        assert (got.text, got.refusal, got.finish_reason) == ("", "I can't help.", "refusal")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("server_error", sl.ServerError),
        ("rate_limit_exceeded", sl.RateLimitError),
        ("invalid_prompt", sl.InvalidRequestError),
        ("vector_store_timeout", sl.ServerError),
        ("something_new", sl.ServerError),
    ],
)
def test_a_failed_response_is_the_error_its_code_names(code: str, error: type[sl.LLMError]) -> None:
    failure = {"code": code, "message": f"failed: {code}"}
    data = sse({"type": "response.failed", "response": {"status": "failed", "error": failure}})
    with pytest.raises(error, match=f"failed: {code}") as caught:
        run_stream(StreamDecoder(request(stream=True), DIALECT, {}), data)
    assert caught.value.retryable == (error is not sl.InvalidRequestError)
    body = json.dumps({"id": "r", "status": "failed", "error": failure, "output": []}).encode()
    with pytest.raises(error):
        decode.decode_response(request(), 200, {}, body, DIALECT)


def test_an_error_event_is_raised_typed() -> None:
    data = sse(
        {"type": "response.output_text.delta", "delta": "par"},
        {"type": "error", "code": "rate_limit_exceeded", "message": "slow down", "param": None},
    )
    with pytest.raises(sl.RateLimitError, match="slow down"):
        run_stream(StreamDecoder(request(stream=True), DIALECT, {}), data)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"data: {not json\n\n", "malformed JSON"),
        (b"data: [1, 2]\n\n", "not a JSON object"),
        (
            b'data: {"type": "response.output_text.delta", "delta": "a"}\n\n',
            "before response.completed",
        ),
    ],
)
def test_a_broken_stream_is_interrupted(data: bytes, why: str) -> None:
    with pytest.raises(sl.StreamInterruptedError, match=why):
        run_stream(StreamDecoder(request(stream=True), DIALECT, {}), data)


def test_a_reply_that_is_not_a_response_object_is_invalid() -> None:
    with pytest.raises(sl.InvalidResponseError, match="not a Responses object"):
        decode.decode_response(request(), 200, {}, b'{"output": "text"}', DIALECT)
    with pytest.raises(TypeError):  # a shape error: the provider makes it InvalidResponseError
        decode.decode_response(request(), 200, {}, b'{"output": [5]}', DIALECT)


# ------------------------------------------------------------------ encoding


def test_messages_become_instructions_and_input_items() -> None:
    pdf = sl.document(data=b"%PDF-1.4 x", title="a.pdf")
    body = encode_body(
        request(
            sl.system("Be brief."),
            sl.system("Use metric."),
            sl.user("Look:", sl.image(url="https://x/a.png", detail="low"), pdf),
            sl.user(sl.document(url="https://x/b.pdf"), sl.document(text="plain words")),
            max_tokens=50,
            temperature=0.2,
            tool_choice="weather",
            tools=[sl.ToolSpec("weather", "w", {"type": "object"})],
            response_format={"type": "json_object"},
            reasoning_effort="high",
            prompt_cache_key="k1",
        ),
        DIALECT,
    )
    assert body["instructions"] == "Be brief.\n\nUse metric."
    first, second = body["input"]
    assert first["content"][0] == {"type": "input_text", "text": "Look:"}
    assert first["content"][1] == {
        "type": "input_image",
        "image_url": "https://x/a.png",
        "detail": "low",
    }
    assert first["content"][2]["file_data"].startswith("data:application/pdf;base64,")
    assert second["content"] == [
        {"type": "input_file", "filename": "document.pdf", "file_url": "https://x/b.pdf"},
        {"type": "input_text", "text": "plain words"},
    ]
    assert body["tool_choice"] == {"type": "function", "name": "weather"}
    assert body["tools"][0]["type"] == "function" and body["tools"][0]["strict"] is False
    assert body["text"] == {"format": {"type": "json_object"}}
    assert body["reasoning"] == {"effort": "high"} and body["prompt_cache_key"] == "k1"
    assert (body["max_output_tokens"], body["temperature"]) == (50, 0.2)
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]


def test_only_encrypted_reasoning_goes_back_to_a_stateless_server() -> None:
    kept = sl.ThinkingPart("t", item={"id": "rs_1", "type": "reasoning", "encrypted_content": "e"})
    lost = sl.ThinkingPart("t", item={"id": "rs_2", "type": "reasoning", "summary": []})
    anthropic_thought = sl.ThinkingPart("signed", signature="sig")
    anthropic_tool = sl.ServerToolPart("server_tool_use", "srv_1", "web_search", {"id": "srv_1"})
    turn = sl.Message(
        "assistant", (kept, lost, anthropic_thought, anthropic_tool, sl.TextPart("ok"))
    )
    items = encode_body(request(sl.user("x"), turn, sl.user("y")), DIALECT)["input"]
    assert [i.get("id") or i.get("role") for i in items] == ["user", "rs_1", "assistant", "user"]
    stateful = encode_body(request(sl.user("x"), turn, extra={"store": True}), DIALECT)
    assert [i.get("id") for i in stateful["input"][1:3]] == ["rs_1", "rs_2"]
    assert "store" in stateful and stateful["store"] is True and "include" not in stateful


def test_each_wire_keeps_its_own_blocks() -> None:
    """A Responses built-in tool item is never sent to Anthropic, and Anthropic's
    blocks are never sent to the Responses API: a conversation may move between them."""
    responses_item = sl.ServerToolPart(
        "web_search_call", "ws_1", None, {"id": "ws_1", "type": "web_search_call"}, "responses"
    )
    turn = sl.Message("assistant", (responses_item, sl.TextPart("found it")))
    messages = [sl.user("x"), turn, sl.user("y")]
    body = anthropic_body(
        Request("anthropic", "claude", messages, max_tokens=10), AnthropicDialect()
    )
    assert body["messages"][1]["content"] in ("found it", [{"type": "text", "text": "found it"}])
    items = encode_body(request(*messages), DIALECT)["input"]
    assert items[1] == {"id": "ws_1", "type": "web_search_call"}


def test_parts_round_trip_through_their_json() -> None:
    item = {"id": "rs_1", "type": "reasoning", "encrypted_content": "e"}
    tool = sl.ServerToolPart("web_search_call", "ws_1", None, {"id": "ws_1"}, "responses")
    for part in (sl.ThinkingPart("t", item=item), tool, sl.ThinkingPart("s", signature="x")):
        back = part_from_dict(json.loads(json.dumps(part_dict(part))))
        assert part_dict(back) == part_dict(part)
    assert part_from_dict(part_dict(tool)).wire == "responses"  # type: ignore[union-attr]


def test_a_model_that_does_not_reason_is_not_asked_for_encrypted_reasoning() -> None:
    plain = encode_body(Request("openai-responses", "gpt-4.1", [sl.user("x")]), DIALECT)
    assert "include" not in plain and plain["store"] is False
    asked = encode_body(
        Request("openai-responses", "my-deployment", [sl.user("x")], reasoning_summary="auto"),
        DIALECT,
    )
    assert asked["include"] == ["reasoning.encrypted_content"]
    assert asked["reasoning"] == {"summary": "auto"}
