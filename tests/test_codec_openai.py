"""OpenAI / Azure / compatible codec: bytes in, types out (spec §1, §3, §4)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._http.request import HTTPRequest
from steadyllm.providers._http import Endpoint, HTTPProvider
from steadyllm.providers.openai import CODEC
from steadyllm.providers.openai.decode import decode_error, decode_response
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.openai.encode import encode_body
from steadyllm.providers.openai.endpoint import AzureEndpoint, OpenAIEndpoint
from steadyllm.providers.openai.stream import StreamDecoder

from .wire import assemble, fixture, fixture_json, run_stream

OPENAI = Dialect()
WEATHER = sl.ToolSpec(
    "current_weather",
    "Current conditions for a city",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    strict=True,
)


def request(**kw: object) -> sl.Request:
    base: dict[str, object] = {
        "provider": "openai",
        "model": "gpt-4.1-mini",
        "messages": [sl.user("hi")],
    }
    return sl.Request(**{**base, **kw})  # type: ignore[arg-type]


def test_encode_matches_the_spec_tool_conversation() -> None:
    call = sl.ToolCall("call_7Qm2xLr9", "current_weather", '{"city":"Lyon"}')
    req = request(
        messages=[
            sl.system("You answer weather questions briefly."),
            sl.user("Is it raining in Lyon?"),
            sl.assistant("", [call]),
            sl.tool_result("call_7Qm2xLr9", '{"sky":"drizzle","temp_c":11}'),
        ],
        tools=[WEATHER],
        tool_choice="auto",
        max_tokens=300,
        temperature=0.2,
        stream=True,
    )
    expected = fixture_json("openai_request_tools.json")
    expected["messages"][0]["role"] = "system"  # we send "system"; OpenAI maps it for o-series
    assert encode_body(req, OPENAI) == expected


def test_encode_images_json_schema_stop_seed_user_and_extra() -> None:
    req = request(
        messages=[
            sl.user(
                "What is this?",
                sl.image(url="https://x/a.png", detail="low"),
                sl.image(data=b"\x89PNG", media_type="image/png"),
            )
        ],
        response_format={
            "type": "json_schema",
            "name": "city_report",
            "schema": {"type": "object"},
            "strict": True,
        },
        stop=["END"],
        seed=7,
        user="u-1",
        top_p=0.5,
        tool_choice=None,
        extra={"service_tier": "flex"},
    )
    body = encode_body(req, OPENAI)
    parts = body["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "What is this?"}
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": "https://x/a.png", "detail": "low"},
    }
    assert parts[2]["image_url"]["url"] == "data:image/png;base64,iVBORw=="
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city_report", "schema": {"type": "object"}, "strict": True},
    }
    assert (body["stop"], body["seed"], body["user"], body["top_p"]) == (["END"], 7, "u-1", 0.5)
    assert body["service_tier"] == "flex" and "stream" not in body
    assert encode_body(request(response_format={"type": "json_object"}), OPENAI)[
        "response_format"
    ] == {"type": "json_object"}
    named = encode_body(request(tools=[WEATHER], tool_choice="current_weather"), OPENAI)
    assert named["tool_choice"] == {"type": "function", "function": {"name": "current_weather"}}


def test_compatible_servers_use_max_tokens_and_refuse_ignored_options() -> None:
    ollama = Dialect(
        provider="ollama", max_tokens_field="max_tokens", ignored=frozenset({"tool_choice", "user"})
    )
    assert encode_body(request(max_tokens=5), ollama)["max_tokens"] == 5
    with pytest.raises(sl.InvalidRequestError, match="ollama ignores 'user'"):
        encode_body(request(user="u"), ollama)
    with pytest.raises(sl.InvalidRequestError, match="ollama ignores 'tool_choice'"):
        encode_body(request(tools=[WEATHER], tool_choice="required"), ollama)
    assert "tool_choice" in encode_body(request(tools=[WEATHER], tool_choice="auto"), ollama)


def test_decode_the_spec_completion() -> None:
    headers = {
        "x-request-id": "req_123",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-remaining-tokens": "1000",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    r = decode_response(request(), 200, headers, fixture("openai_completion.json"), OPENAI)
    assert r.text == "Yes, light drizzle in Lyon right now, about 11 °C."
    assert (r.finish_reason, r.model, r.request_id) == (
        "stop",
        "gpt-4.1-mini-2025-04-14",
        "req_123",
    )
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (
        182,
        17,
        199,
    )
    assert r.usage.cached_tokens == 128 and r.usage.reasoning_tokens == 0
    assert r.rate_limit is not None and r.rate_limit.requests_reset == pytest.approx(0.12)
    assert r.rate_limit.tokens_reset == 360.0 and r.rate_limit.requests_remaining == 499


def test_decode_tool_calls_refusals_and_unknown_finish_reasons() -> None:
    body = {
        "id": "c",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a":1}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "g", "arguments": ""},
                        },
                    ],
                },
            }
        ],
    }
    r = decode_response(request(), 200, {}, json.dumps(body).encode(), OPENAI)
    assert r.tool_calls == [sl.ToolCall("call_1", "f", '{"a":1}'), sl.ToolCall("call_2", "g", "{}")]
    assert r.finish_reason == "tool_calls" and r.request_id == "c" and r.usage.total_tokens == 0
    refusal = {
        "choices": [{"finish_reason": "stop", "message": {"content": None, "refusal": "No."}}]
    }
    r = decode_response(request(), 200, {}, json.dumps(refusal).encode(), OPENAI)
    assert (r.text, r.refusal, r.finish_reason) == ("", "No.", "refusal")
    assert r.message.content == (sl.RefusalPart("No."),)
    odd = {
        "choices": [{"finish_reason": "eos_token", "message": {"content": "x", "reasoning": "hm"}}]
    }
    r = decode_response(request(), 200, {}, json.dumps(odd).encode(), OPENAI)
    assert (r.finish_reason, r.reasoning) == ("stop", "hm")


@pytest.mark.parametrize(
    "body", [b"<html>502</html>", b"[]", b'{"choices": []}', b'{"object": "x"}']
)
def test_unusable_success_bodies_are_invalid_response(body: bytes) -> None:
    with pytest.raises(sl.InvalidResponseError):
        decode_response(request(), 200, {}, body, OPENAI)


def test_an_error_inside_a_200_body_is_raised() -> None:
    body = b'{"error": {"message": "upstream died", "code": 502}}'
    with pytest.raises(sl.ServerError, match="upstream died"):
        decode_response(request(), 200, {}, body, OPENAI)
    in_choice = (
        b'{"choices": [{"error": {"message": "rate limited", "code": 429}, '
        b'"finish_reason": "error"}]}'
    )
    with pytest.raises(sl.RateLimitError):
        decode_response(request(), 200, {}, in_choice, OPENAI)


@given(st.lists(st.integers(min_value=0, max_value=3000), max_size=12))
def test_text_stream_any_chunking(cuts: list[int]) -> None:
    events = run_stream(
        StreamDecoder(request(), OPENAI, {}), fixture("openai_text_stream.sse"), cuts
    )
    r = assemble(events)
    assert r.text == "Light drizzle." and r.finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (182, 3)
    assert r.request_id == "chatcmpl-Q1" and r.model == "gpt-4.1-mini"
    assert isinstance(events[-1], sl.Done)


@given(st.lists(st.integers(min_value=0, max_value=3000), max_size=12))
def test_tool_stream_reassembles_parallel_calls(cuts: list[int]) -> None:
    events = run_stream(
        StreamDecoder(request(), OPENAI, {}), fixture("openai_tool_stream.sse"), cuts
    )
    r = assemble(events)
    assert r.tool_calls == [
        sl.ToolCall("call_A1", "current_weather", '{"city":"Lyon"}'),
        sl.ToolCall("call_B2", "current_weather", '{"city":"Nice"}'),
    ]
    assert r.finish_reason == "tool_calls" and r.usage.total_tokens == 0  # no include_usage


def test_azure_first_chunk_with_empty_choices_is_not_usage() -> None:
    events = run_stream(StreamDecoder(request(), OPENAI, {}), fixture("azure_text_stream.sse"))
    r = assemble(events)
    assert (
        r.text == "Light drizzle."
        and r.usage.prompt_tokens == 182
        and r.request_id == "chatcmpl-Q1"
    )


def chunk(delta: dict[str, object], finish: str | None = None, **extra: object) -> bytes:
    body = {
        "id": "x",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps({**body, **extra})}\n\n".encode()


def test_ollama_whole_tool_calls_repeated_ids_and_comments() -> None:
    call = {
        "index": 0,
        "id": "call_abcdefgh",
        "type": "function",
        "function": {"name": "f", "arguments": '{"x": 1}'},
    }
    body = (
        b": ping\n\n"
        + chunk({"role": "assistant"})
        + chunk({"tool_calls": [call]})
        + chunk({"tool_calls": [{**call, "index": 1}]})
        + chunk({}, "tool_calls")
        + b"data: [DONE]\n\n"
    )
    r = assemble(run_stream(StreamDecoder(request(), OPENAI, {}), body))
    assert [c.id for c in r.tool_calls] == ["call_abcdefgh", "call_abcdefgh"]
    assert r.tool_calls[1].arguments == '{"x": 1}'


def test_tool_deltas_without_index_and_with_object_arguments() -> None:
    body = (
        chunk({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": '{"k":'}}]})
        + chunk({"tool_calls": [{"function": {"arguments": "2}"}}]})
        + chunk({"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": {"z": 1}}}]})
        + chunk({}, "tool_calls")
    )
    r = assemble(run_stream(StreamDecoder(request(), OPENAI, {}), body))
    assert r.tool_calls == [sl.ToolCall("a", "f", '{"k":2}'), sl.ToolCall("b", "g", '{"z": 1}')]


def test_stream_endings() -> None:
    finished = chunk({"content": "hi"}) + chunk({}, "length")
    r = assemble(run_stream(StreamDecoder(request(), OPENAI, {}), finished))  # EOF, no [DONE]
    assert (r.text, r.finish_reason) == ("hi", "length")
    with pytest.raises(sl.StreamInterruptedError, match="ended before the completion finished"):
        run_stream(StreamDecoder(request(), OPENAI, {}), chunk({"content": "hi"}))
    # [DONE] without a finish reason: complete, its reason unknown.
    done = chunk({"content": "hi"}) + b"data: [DONE]\n\n"
    r = assemble(run_stream(StreamDecoder(request(), OPENAI, {}), done))
    assert (r.text, r.finish_reason) == ("hi", "unknown")
    with pytest.raises(sl.StreamInterruptedError, match="malformed JSON"):
        run_stream(StreamDecoder(request(), OPENAI, {}), b'data: {"choices": [\n\n')
    with pytest.raises(sl.StreamInterruptedError, match="not a JSON object"):
        run_stream(StreamDecoder(request(), OPENAI, {}), b"data: 42\n\n")


def test_in_band_stream_errors() -> None:
    vllm = (
        chunk({"content": "a"})
        + b'data: {"error": {"message": "boom", "type": "InternalServerError", "code": 500}}\n\n'
    )
    with pytest.raises(sl.ServerError, match="boom") as info:
        run_stream(StreamDecoder(request(), OPENAI, {}), vllm)
    assert info.value.status == 500
    openrouter = chunk({"content": "a"}, "error").replace(
        b'"finish_reason": "error"',
        b'"finish_reason": "error", "error": {"message": "upstream", "code": 502}',
    )
    with pytest.raises(sl.ServerError, match="upstream"):
        run_stream(StreamDecoder(request(), OPENAI, {}), openrouter)
    ollama = b'data: {"error": "model crashed"}\n\n'
    with pytest.raises(sl.ServerError, match="model crashed"):
        run_stream(StreamDecoder(request(), OPENAI, {}), ollama)


def err(
    status: int,
    body: object,
    headers: dict[str, str] | None = None,
    dialect: Dialect = OPENAI,
) -> sl.LLMError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return decode_error(request(), status, headers or {}, raw, dialect)


@pytest.mark.parametrize(
    ("status", "body", "cls", "retryable"),
    [
        (
            400,
            {"error": {"message": "bad", "type": "invalid_request_error", "code": None}},
            sl.InvalidRequestError,
            False,
        ),
        (
            400,
            {"error": {"message": "too long", "code": "context_length_exceeded"}},
            sl.ContextLengthError,
            False,
        ),
        (
            400,
            {
                "object": "error",
                "message": "This model's maximum context length is 4096",
                "code": 400,
            },
            sl.ContextLengthError,
            False,
        ),
        (
            401,
            {"error": {"message": "Incorrect API key", "code": "invalid_api_key"}},
            sl.AuthenticationError,
            False,
        ),
        (
            402,
            {"error": {"code": 402, "message": "Insufficient credits"}},
            sl.QuotaExceededError,
            False,
        ),
        (403, {"error": {"message": "region"}}, sl.PermissionDeniedError, False),
        (
            404,
            {"error": {"message": "no model", "code": "model_not_found"}},
            sl.NotFoundError,
            False,
        ),
        (408, {"error": {"message": "timeout"}}, sl.LLMTimeoutError, True),
        (409, {"error": {"message": "conflict"}}, sl.ServerError, True),
        (
            422,
            {"detail": [{"loc": ["body"], "msg": "field required"}]},
            sl.InvalidRequestError,
            False,
        ),
        (
            429,
            {"error": {"message": "slow", "type": "requests", "code": "rate_limit_exceeded"}},
            sl.RateLimitError,
            True,
        ),
        (
            429,
            {
                "error": {
                    "message": "quota",
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                }
            },
            sl.QuotaExceededError,
            False,
        ),
        (
            429,
            {"error": {"message": "quota", "type": "insufficient_quota", "code": None}},
            sl.QuotaExceededError,
            False,
        ),
        (500, {"error": {"message": "oops", "type": "server_error"}}, sl.ServerError, True),
        (
            503,
            {"error": {"message": "The engine is currently overloaded"}},
            sl.OverloadedError,
            True,
        ),
        (529, {"error": {"message": "x"}}, sl.OverloadedError, True),
        (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", sl.ServerError, True),
        (400, b"", sl.InvalidRequestError, False),
    ],
)
def test_error_classification(
    status: int, body: object, cls: type[sl.LLMError], retryable: bool
) -> None:
    error = err(status, body)
    assert type(error) is cls and error.retryable is retryable and error.status == status


def test_error_details_headers_and_redaction() -> None:
    headers = {
        "x-request-id": "req_9",
        "retry-after-ms": "1500",
        "retry-after": "3",
        "x-ratelimit-reset-requests": "20ms",
        "x-ratelimit-remaining-requests": "0",
    }
    e = err(
        429,
        {"error": {"message": "Limit for sk-abcdefghijklmnopqrstu", "code": "rate_limit_exceeded"}},
        headers,
    )
    assert e.retry_after == 1.5 and e.request_id == "req_9" and "sk-abcdefghijklm" not in str(e)
    assert e.rate_limit is not None and e.rate_limit.requests_remaining == 0
    assert e.body == {"error": {"code": "rate_limit_exceeded"}}
    reset_only = err(
        429,
        {"error": {"code": "rate_limit_exceeded", "message": "x"}},
        {"x-ratelimit-reset-requests": "250ms", "x-ratelimit-remaining-requests": "0"},
    )
    assert reset_only.retry_after == pytest.approx(0.25)
    no_retry = err(500, {"error": {"message": "x"}}, {"x-should-retry": "false"})
    assert no_retry.retryable is False
    forced = err(400, {"error": {"message": "x"}}, {"x-should-retry": "true"})
    assert forced.retryable is True
    html = err(
        502,
        b"<html><title>Bad Gateway</title> token sk-zzzzzzzzzzzzzzzzzzzz</html>",
        {"x-should-retry": "false"},
    )
    assert (
        "non-JSON body" in html.message
        and "Bad Gateway" in html.message
        and "sk-zzzz" not in html.message
    )
    assert html.retryable is False
    assert "check OPENAI_API_KEY" in err(401, {"error": {"message": "bad key"}}).message


def test_azure_errors_and_url_forms() -> None:
    azure = Dialect(provider="azure", send_model=False, key_variable="AZURE_OPENAI_API_KEY")
    filtered = err(400, fixture_json("azure_content_filter_error.json"), dialect=azure)
    assert isinstance(filtered, sl.ContentFilterError)
    limited = err(
        429, fixture_json("azure_429.json"), {"retry-after": "6", "retry-after-ms": "6000"}, azure
    )
    assert isinstance(limited, sl.RateLimitError) and limited.retry_after == 6.0
    key = sl.Secret("azure-key-123456")
    classic = AzureEndpoint("https://r.openai.azure.com/", key, api_version="2024-10-21")
    built = build(classic, azure, request(model="my-deploy"))
    assert built.url == "https://r.openai.azure.com/openai/deployments/my-deploy/chat/completions"
    assert built.params == {"api-version": "2024-10-21"} and built.headers["api-key"] == key.get()
    assert "model" not in json.loads(built.body)
    v1 = AzureEndpoint(
        "https://r.openai.azure.com", api_version="v1", ad_token=sl.Secret("entra-token-abcdef")
    )
    built = build(v1, Dialect(provider="azure"), request(model="my-deploy", stream=True))
    assert built.url == "https://r.openai.azure.com/openai/v1/chat/completions" and not built.params
    assert built.headers["authorization"] == "Bearer entra-token-abcdef"
    assert (
        json.loads(built.body)["model"] == "my-deploy"
        and built.headers["accept"] == "text/event-stream"
    )


def build(endpoint: Endpoint, dialect: Dialect, req: sl.Request) -> HTTPRequest:
    """The HTTP request a provider of ``endpoint`` would send for ``req``."""
    return HTTPProvider(endpoint, CODEC, dialect)._build(req)


def test_openai_endpoint_headers() -> None:
    endpoint = OpenAIEndpoint(
        "openai", "https://api.openai.com/v1/", sl.Secret("sk-test-abcdef123")
    )
    built = build(endpoint, Dialect(), request(stream=True))
    assert built.url == "https://api.openai.com/v1/chat/completions"
    assert built.headers["authorization"] == "Bearer sk-test-abcdef123"
    assert json.loads(built.body)["stream_options"] == {"include_usage": True}
    keyless = build(OpenAIEndpoint("ollama", "http://localhost:11434/v1"), Dialect(), request())
    assert "authorization" not in keyless.headers
