"""Bytes from the network are untrusted: every decoder, fed arbitrary JSON and
arbitrary SSE, either decodes it into well-typed values or raises an LLMError
(issue 13, "Untrusted bytes from the network"). The transport is a stub here
(a unit-level seam); the codecs, the SSE decoder and HTTPProvider are real."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._core.types import Request, Response, Usage
from steadyllm._http.request import HTTPRequest
from steadyllm.providers._http import HTTPProvider
from steadyllm.providers.anthropic import make_anthropic
from steadyllm.providers.openai import make_azure, make_compatible, make_openai

SETTINGS = sl.Settings.load(
    env={},
    dotenv=False,
    config_file=False,
    openai_api_key="sk-test",
    anthropic_api_key="sk-ant-test",
    azure_openai_api_key="azure-test",
    azure_openai_endpoint="https://example.openai.azure.com",
    compatible_base_url="http://127.0.0.1:9/v1",
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def mutated(template: Any) -> st.SearchStrategy[Any]:
    """``template`` with any of its values (at any depth) replaced by arbitrary JSON."""
    if isinstance(template, dict):
        return st.fixed_dictionaries({k: mutated(v) for k, v in template.items()})
    if isinstance(template, list):
        return st.tuples(*(mutated(v) for v in template)).map(list)
    return st.one_of(st.just(template), json_values)


def either(template: Any) -> st.SearchStrategy[Any]:
    return st.one_of(json_values, mutated(template), mutated(template).flatmap(_shuffle_deep))


def _shuffle_deep(value: Any) -> st.SearchStrategy[Any]:
    # Wrap a valid-looking value where an object or list is expected.
    return st.sampled_from([value, [value], {"data": value}, json.dumps(value)])


OPENAI_BODY = {
    "id": "chatcmpl-1",
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "hi",
                "refusal": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 3,
        "completion_tokens": 2,
        "total_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}
OPENAI_CHUNK = {
    "id": "chatcmpl-1",
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "delta": {
                "content": "hi",
                "reasoning_content": "r",
                "tool_calls": [
                    {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{"}}
                ],
            },
            "finish_reason": None,
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2},
}
ANTHROPIC_BODY = {
    "id": "msg_1",
    "type": "message",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "text", "text": "hi"},
        {"type": "thinking", "thinking": "hm"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}},
    ],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 0},
}
ANTHROPIC_EVENTS = [
    {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 3}},
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "t1", "name": "f"},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": "{}"},
    },
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
    {"type": "message_stop"},
]
ERROR_BODY = {"error": {"type": "invalid_request_error", "message": "bad", "code": "x"}}


class StubResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self._body = status, headers, body

    async def read(self) -> bytes:
        return self._body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self._body), 7):  # small pieces: events split anywhere
            yield self._body[start : start + 7]

    def close(self) -> None:
        pass


class StubTransport:
    def __init__(self, response: StubResponse) -> None:
        self.response = response

    async def send(self, request: HTTPRequest) -> StubResponse:
        return self.response

    async def aclose(self) -> None:
        pass


PROVIDERS: dict[str, Callable[[], HTTPProvider[Any]]] = {
    "openai": lambda: make_openai(SETTINGS),
    "azure": lambda: make_azure(SETTINGS),
    "compatible": lambda: make_compatible("compatible", SETTINGS),
    "anthropic": lambda: make_anthropic(SETTINGS),
}


def provider_with(name: str, status: int, body: bytes, ctype: str) -> HTTPProvider[Any]:
    provider = PROVIDERS[name]()
    assert isinstance(provider, HTTPProvider)
    provider.transport = StubTransport(StubResponse(status, {"content-type": ctype}, body))  # type: ignore[assignment]
    return provider


def check_usage(usage: Usage) -> None:
    for value in (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
    ):
        assert isinstance(value, int) and value >= 0


def check_response(response: Response) -> None:
    assert isinstance(response.text, str) and isinstance(response.reasoning, str)
    for call in response.tool_calls:
        assert isinstance(call.id, str) and isinstance(call.name, str)
        assert isinstance(call.arguments, str)
    check_usage(response.usage)


def request(name: str, stream: bool) -> Request:
    return Request(name, "m", [sl.user("hi")], stream=stream)


async def complete(name: str, status: int, payload: Any) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    provider = provider_with(name, status, body, "application/json")
    try:
        response = await provider.complete(request(name, False))
    except sl.LLMError:
        return
    check_response(response)


async def stream(name: str, events: list[Any], status: int = 200) -> None:
    body = b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n"
        for e in events
    )
    provider = provider_with(name, status, body, "text/event-stream")
    try:
        async for event in provider.stream(request(name, True)):
            if isinstance(event, Usage):
                check_usage(event)
            text = getattr(event, "text", "")
            assert isinstance(text, str)
    except sl.LLMError:
        return


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    name=st.sampled_from(["openai", "azure", "compatible"]),
    payload=either(OPENAI_BODY),
    status=st.sampled_from([200, 200, 400, 429, 500]),
)
async def test_openai_bodies_of_any_shape_decode_or_raise_llm_errors(
    name: str, payload: Any, status: int
) -> None:
    await complete(name, status, payload)


@FAST
@given(payload=either(ANTHROPIC_BODY), status=st.sampled_from([200, 200, 400, 529]))
async def test_anthropic_bodies_of_any_shape_decode_or_raise_llm_errors(
    payload: Any, status: int
) -> None:
    await complete("anthropic", status, payload)


@FAST
@given(payload=either(ERROR_BODY), name=st.sampled_from(sorted(PROVIDERS)))
async def test_error_bodies_of_any_shape_become_llm_errors(payload: Any, name: str) -> None:
    await complete(name, 400, payload)


@FAST
@given(
    name=st.sampled_from(["openai", "azure", "compatible"]),
    events=st.lists(either(OPENAI_CHUNK), max_size=4),
    done=st.booleans(),
)
async def test_openai_streams_of_any_shape_decode_or_raise_llm_errors(
    name: str, events: list[Any], done: bool
) -> None:
    await stream(name, [*events, b"[DONE]"] if done else events)


@FAST
@given(events=st.tuples(*(either(e) for e in ANTHROPIC_EVENTS)).map(list))
async def test_anthropic_streams_of_any_shape_decode_or_raise_llm_errors(
    events: list[Any],
) -> None:
    await stream("anthropic", events)


@FAST
@given(name=st.sampled_from(sorted(PROVIDERS)), raw=st.binary(max_size=200))
async def test_arbitrary_bytes_in_a_stream_decode_or_raise_llm_errors(
    name: str, raw: bytes
) -> None:
    provider = provider_with(name, 200, raw, "text/event-stream")
    try:
        async for _event in provider.stream(request(name, True)):
            pass
    except sl.LLMError:
        return


# ------------------------------------------------------------------ specific shapes


async def test_content_as_a_list_of_text_parts_is_read_as_text() -> None:
    body = json.loads(json.dumps(OPENAI_BODY))
    body["choices"][0]["message"]["content"] = [
        {"type": "text", "text": "hello "},
        {"type": "text", "text": "world"},
    ]
    provider = provider_with("compatible", 200, json.dumps(body).encode(), "application/json")
    response = await provider.complete(request("compatible", False))
    assert response.text == "hello world"


@pytest.mark.parametrize(
    ("usage", "needle"),
    [
        ({"prompt_tokens": -100000, "completion_tokens": 1}, "outside 0.."),
        ({"prompt_tokens": "12", "completion_tokens": 1}, "not a whole number"),
        ({"prompt_tokens": 10**12, "completion_tokens": 1}, "outside 0.."),
    ],
)
async def test_negative_or_absurd_usage_is_an_invalid_response(
    usage: dict[str, Any], needle: str
) -> None:
    body = {**OPENAI_BODY, "usage": usage}
    provider = provider_with("openai", 200, json.dumps(body).encode(), "application/json")
    with pytest.raises(sl.InvalidResponseError, match=needle):
        await provider.complete(request("openai", False))


async def test_a_message_that_is_a_string_is_an_invalid_response_with_a_snippet() -> None:
    body = {**OPENAI_BODY, "choices": [{"index": 0, "message": "hi there", "finish_reason": "x"}]}
    provider = provider_with("openai", 200, json.dumps(body).encode(), "application/json")
    with pytest.raises(sl.InvalidResponseError, match="not an object") as info:
        await provider.complete(request("openai", False))
    assert "hi there" in str(info.value)


async def test_an_anthropic_block_of_the_wrong_shape_is_an_invalid_response() -> None:
    body = {**ANTHROPIC_BODY, "content": [{"type": "text", "text": ["not", "text"]}]}
    provider = provider_with("anthropic", 200, json.dumps(body).encode(), "application/json")
    with pytest.raises(sl.InvalidResponseError) as info:
        await provider.complete(request("anthropic", False))
    assert info.value.__context__ is None or info.value.__suppress_context__


async def test_negative_usage_never_credits_a_budget() -> None:
    from steadyllm.emulator import Behavior, Emulator

    async with Emulator() as emu:
        emu.push(Behavior(usage={"prompt_tokens": -100000}))
        prices = {"openai:gpt-4o-mini": {"input": 1.0, "output": 10.0}}
        async with sl.Client(emu.settings(prices=prices, budget_usd=1.0, max_retries=0)) as client:
            with pytest.raises(sl.InvalidResponseError):
                await client.chat("openai:gpt-4o-mini", [sl.user("x")])
            budget = client.meter.budgets.snapshot()["global"]
            assert budget["spent"] >= 0 and budget["reserved"] == 0
            assert client.costs.summary()["total"]["cost_usd"] >= 0
