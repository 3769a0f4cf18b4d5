"""Anthropic Messages codec: bytes in, types out (spec §2)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm.providers._http import HTTPProvider
from steadyllm.providers.anthropic import CODEC
from steadyllm.providers.anthropic.decode import decode_error, decode_response
from steadyllm.providers.anthropic.dialect import DEFAULT_MAX_TOKENS, JSON_TOOL, Dialect
from steadyllm.providers.anthropic.encode import encode_body
from steadyllm.providers.anthropic.endpoint import AnthropicEndpoint, auth_headers
from steadyllm.providers.anthropic.stream import StreamDecoder

from .wire import assemble, fixture, fixture_json, run_stream

V1 = Dialect()
V2 = Dialect(version="2026-10-21")
WEATHER = sl.ToolSpec(
    "current_weather",
    "Current conditions for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def request(**kw: object) -> sl.Request:
    base: dict[str, object] = {
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "messages": [sl.user("hi")],
    }
    return sl.Request(**{**base, **kw})  # type: ignore[arg-type]


def test_encode_matches_the_spec_tool_conversation() -> None:
    call = sl.ToolCall("toolu_01Xy", "current_weather", '{"city": "Lyon"}')
    req = request(
        messages=[
            sl.system("You answer weather questions briefly."),
            sl.user("Is it raining in Lyon?"),
            sl.assistant("Let me check.", [call]),
            sl.tool_result("toolu_01Xy", '{"sky":"drizzle","temp_c":11}'),
        ],
        tools=[WEATHER],
        tool_choice="auto",
        max_tokens=1024,
        stop=["\n\nUser:"],
    )
    expected = fixture_json("anthropic_request_tools.json")
    del expected["stream"]  # we only send stream when streaming
    assert encode_body(req, V1) == expected


def test_encode_merges_turns_images_errors_and_defaults() -> None:
    req = request(
        messages=[
            sl.system("a"),
            sl.system("b"),
            sl.user(
                "look",
                sl.image(data=b"\x89PNG", media_type="image/png"),
                sl.image(url="https://x/y.png"),
            ),
            sl.assistant("", [sl.ToolCall("t1", "f", ""), sl.ToolCall("t2", "f", "{}")]),
            sl.tool_result("t1", "ok"),
            sl.tool_result("t2", "failed", is_error=True),
        ],
        tools=[sl.ToolSpec("f")],
        user="user-7",
        stream=True,
    )
    body = encode_body(req, V1)
    assert body["system"] == "a\n\nb" and body["max_tokens"] == DEFAULT_MAX_TOKENS
    assert body["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw=="},
    }
    assert body["messages"][0]["content"][2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://x/y.png"},
    }
    assert body["messages"][1]["content"][0]["input"] == {}
    results = body["messages"][2]
    assert results["role"] == "user" and len(results["content"]) == 2  # merged into one user turn
    assert results["content"][1]["is_error"] is True
    assert body["metadata"] == {"user_id": "user-7"} and body["stream"] is True


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("current_weather", {"type": "tool", "name": "current_weather"}),
    ],
)
def test_tool_choice_mapping(choice: str, expected: dict[str, str]) -> None:
    assert encode_body(request(tools=[WEATHER], tool_choice=choice), V1)["tool_choice"] == expected


def test_json_output_uses_a_forced_tool_and_comes_back_as_text() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    req = request(response_format={"type": "json_schema", "schema": schema})
    body = encode_body(req, V1)
    assert body["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    assert body["tools"][-1]["input_schema"] == schema
    reply = {
        "content": [{"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"city": "Lyon"}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 5, "output_tokens": 3},
    }
    r = decode_response(req, 200, {}, json.dumps(reply).encode(), V1)
    assert (
        json.loads(r.text) == {"city": "Lyon"} and r.tool_calls == [] and r.finish_reason == "stop"
    )
    assert encode_body(request(response_format={"type": "json_object"}), V1)["tools"][0][
        "input_schema"
    ] == {"type": "object"}


def test_version_rules() -> None:
    assert encode_body(request(temperature=0.5, top_p=0.9), V1)["temperature"] == 0.5
    with pytest.raises(sl.InvalidRequestError, match="2026-10-21 does not accept temperature"):
        encode_body(request(temperature=0.5), V2)
    with pytest.raises(sl.InvalidRequestError, match="out of range for Anthropic"):
        encode_body(request(temperature=1.5), V1)
    with pytest.raises(sl.InvalidRequestError, match="no seed"):
        encode_body(request(seed=1), V1)
    with pytest.raises(sl.InvalidRequestError, match="at least one user message"):
        encode_body(request(messages=[sl.system("only")]), V1)
    with pytest.raises(sl.InvalidRequestError, match="not JSON"):
        encode_body(
            request(messages=[sl.user("x"), sl.assistant("", [sl.ToolCall("t", "f", "{bad")])]), V1
        )
    assert auth_headers("k", "2023-06-01") == {
        "x-api-key": "k",
        "anthropic-version": "2023-06-01",
    }
    assert auth_headers("k", "2026-10-21") == {
        "authorization": "Bearer k",
        "anthropic-version": "2026-10-21",
    }
    endpoint = AnthropicEndpoint(sl.Secret("sk-ant-abcdefghij"), "https://api.anthropic.com/")
    built = HTTPProvider(endpoint, CODEC, V1)._build(request(stream=True))
    assert (
        built.url == "https://api.anthropic.com/v1/messages"
        and built.headers["accept"] == "text/event-stream"
    )


def test_decode_the_spec_message_with_cache_usage() -> None:
    r = decode_response(
        request(), 200, {"request-id": "req_01"}, fixture("anthropic_message.json"), V1
    )
    assert r.text == "Yes: light drizzle in Lyon, about 11 °C." and r.finish_reason == "stop"
    assert r.request_id == "req_01" and r.model == "claude-sonnet-4-5-20250929"
    # input 64 + cache writes 0 + cache reads 512 = 576 prompt tokens, 512 of them cached
    assert (r.usage.prompt_tokens, r.usage.cached_tokens, r.usage.completion_tokens) == (
        576,
        512,
        18,
    )
    assert r.usage.total_tokens == 594


def test_decode_tool_use_thinking_and_stop_reasons() -> None:
    body = {
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "text", "text": "Checking."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "current_weather",
                "input": {"city": "Lyon"},
            },
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 5,
            "output_tokens": 7,
            "output_tokens_details": {"thinking_tokens": 2},
        },
    }
    r = decode_response(request(), 200, {}, json.dumps(body).encode(), V1)
    assert r.tool_calls == [sl.ToolCall("toolu_1", "current_weather", '{"city": "Lyon"}')]
    assert (r.reasoning, r.text, r.finish_reason) == ("hmm", "Checking.", "tool_calls")
    assert (r.usage.prompt_tokens, r.usage.cache_write_tokens, r.usage.reasoning_tokens) == (
        15,
        5,
        2,
    )
    for stop, finish in [
        ("max_tokens", "length"),
        ("refusal", "refusal"),
        ("pause_turn", "pause_turn"),
        ("stop_sequence", "stop"),
        ("new_reason", "stop"),
    ]:
        data = json.dumps({"content": [], "stop_reason": stop, "usage": {}}).encode()
        assert decode_response(request(), 200, {}, data, V1).finish_reason == finish


@given(st.lists(st.integers(min_value=0, max_value=3000), max_size=12))
def test_spec_tool_stream_any_chunking(cuts: list[int]) -> None:
    events = run_stream(
        StreamDecoder(request(), V1, {"request-id": "req_s"}),
        fixture("anthropic_tool_stream.sse"),
        cuts,
    )
    r = assemble(events)
    assert r.text == "Checking Lyon." and r.finish_reason == "tool_calls"
    assert r.tool_calls == [sl.ToolCall("toolu_01Qz", "current_weather", '{"city": "Lyon"}')]
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (
        210,
        41,
    )  # message_delta overrides
    assert r.request_id == "req_s"


def frame(event: str, data: dict[str, object]) -> bytes:
    return f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode()


START = frame(
    "message_start",
    {
        "message": {
            "id": "msg_1",
            "model": "c",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 1},
        }
    },
)


def test_stream_thinking_json_mode_and_unknown_events() -> None:
    body = (
        START
        + frame(
            "content_block_start",
            {"index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        )
        + frame(
            "content_block_delta",
            {"index": 0, "delta": {"type": "thinking_delta", "thinking": "let me"}},
        )
        + frame(
            "content_block_delta",
            {"index": 0, "delta": {"type": "signature_delta", "signature": "x"}},
        )
        + frame("brand_new_event", {})
        + frame(
            "content_block_start",
            {
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": "t",
                    "name": JSON_TOOL,
                    "input": {},
                },
            },
        )
        + frame(
            "content_block_delta",
            {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a": '}},
        )
        + frame(
            "content_block_delta",
            {"index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
        )
        + frame(
            "message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}
        )
        + frame("message_stop", {})
    )
    req = request(response_format={"type": "json_object"})
    r = assemble(run_stream(StreamDecoder(req, V1, {}), body))
    assert (r.reasoning, r.text, r.tool_calls, r.finish_reason) == (
        "let me",
        '{"a": 1}',
        [],
        "stop",
    )
    assert (r.usage.prompt_tokens, r.usage.cached_tokens, r.usage.completion_tokens) == (100, 90, 9)


def test_stream_errors_and_truncation() -> None:
    overloaded = START + frame(
        "error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    with pytest.raises(sl.OverloadedError, match="overloaded_error") as info:
        run_stream(StreamDecoder(request(), V1, {}), overloaded)
    assert info.value.retryable and info.value.status is None
    with pytest.raises(sl.StreamInterruptedError, match="before message_stop"):
        run_stream(StreamDecoder(request(), V1, {}), START)
    with pytest.raises(sl.StreamInterruptedError, match="malformed JSON"):
        run_stream(StreamDecoder(request(), V1, {}), b"event: ping\ndata: {oops\n\n")
    with pytest.raises(sl.StreamInterruptedError, match="not a JSON object"):
        run_stream(StreamDecoder(request(), V1, {}), b"data: []\n\n")


def err(status: int, body: object, headers: dict[str, str] | None = None) -> sl.LLMError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return decode_error(request(), status, headers or {}, raw, V1)


def anthropic_error(etype: str, message: str = "m", **details: str) -> dict[str, object]:
    error: dict[str, object] = {"type": etype, "message": message}
    if details:
        error["details"] = details
    return {"type": "error", "error": error, "request_id": "req_body"}


@pytest.mark.parametrize(
    ("status", "body", "cls", "retryable"),
    [
        (400, anthropic_error("invalid_request_error"), sl.InvalidRequestError, False),
        (
            400,
            anthropic_error(
                "invalid_request_error", "prompt is too long: 205351 tokens > 200000 maximum"
            ),
            sl.ContextLengthError,
            False,
        ),
        (401, anthropic_error("authentication_error"), sl.AuthenticationError, False),
        (402, anthropic_error("billing_error"), sl.QuotaExceededError, False),
        (403, anthropic_error("permission_error"), sl.PermissionDeniedError, False),
        (404, anthropic_error("not_found_error"), sl.NotFoundError, False),
        (413, anthropic_error("request_too_large"), sl.InvalidRequestError, False),
        (429, anthropic_error("rate_limit_error"), sl.RateLimitError, True),
        (
            429,
            anthropic_error("rate_limit_error", error_code="enforced_spend_limit_reached"),
            sl.QuotaExceededError,
            False,
        ),
        (500, anthropic_error("api_error"), sl.ServerError, True),
        (504, anthropic_error("timeout_error"), sl.LLMTimeoutError, True),
        (529, anthropic_error("overloaded_error"), sl.OverloadedError, True),
        (503, b"<html>Service Unavailable</html>", sl.ServerError, True),
        (413, b"<html>413 Request Entity Too Large</html>", sl.InvalidRequestError, False),
    ],
)
def test_error_classification(
    status: int, body: object, cls: type[sl.LLMError], retryable: bool
) -> None:
    error = err(status, body)
    assert type(error) is cls and error.retryable is retryable


def test_error_fields() -> None:
    e = err(429, fixture_json("anthropic_rate_limit_error.json"), {"retry-after": "7"})
    assert (
        e.request_id == "req_011Cabc123"
        and e.retry_after == 7.0
        and isinstance(e, sl.RateLimitError)
    )
    assert err(500, anthropic_error("api_error"), {"x-should-retry": "false"}).retryable is False
    assert err(502, b"<html>bad</html>", {"x-should-retry": "false"}).retryable is False
    assert "check ANTHROPIC_API_KEY" in err(401, anthropic_error("authentication_error")).message
