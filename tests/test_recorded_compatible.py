"""Real recorded streams from OpenAI-compatible servers (tests/fixtures/recorded/
SOURCES.md), replayed byte for byte: an error event inside a 200 stream is
classified by the status it names (Groq's ``status_code``, OpenRouter's integer
``code``), so a 400 is an ``InvalidRequestError`` that is not retried, not a
retryable server error; and a stream the server ends with ``[DONE]`` is complete
even when it never names a finish reason (Snowflake Cortex); and web search
citations (OpenRouter) are typed on the text part they belong to, streamed or
not."""

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
from .wire import FIXTURES, assemble, run_stream

RECORDED = FIXTURES / "recorded" / "compatible"
#: file -> words of the error message the server sent.
CASES = {
    "groq_tool_use_failed_stream": "did not match schema",
    "groq_tool_choice_required_stream": "Tool choice is required",
    "openrouter_stream_error": "Token limit reached",
}


def body(name: str) -> bytes:
    return (RECORDED / f"{name}.sse").read_bytes()


def decode(name: str, cuts: list[int] | None = None) -> sl.LLMError:
    request = Request(provider="compatible", model="m", messages=[sl.user("x")])
    with pytest.raises(sl.LLMError) as caught:
        run_stream(StreamDecoder(request, Dialect(provider="compatible"), {}), body(name), cuts)
    return caught.value


def check(error: sl.LLMError, name: str) -> None:
    assert isinstance(error, sl.InvalidRequestError), type(error)
    assert error.status == 400 and not error.retryable
    assert CASES[name] in str(error) and "inside a 200 response" in str(error)


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_in_stream_error_is_classified_by_the_status_it_names(name: str) -> None:
    check(decode(name), name)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(CASES)), st.lists(st.integers(min_value=0), max_size=12))
def test_the_same_at_any_chunk_boundaries(name: str, cuts: list[int]) -> None:
    data = body(name)
    check(decode(name, [c % (len(data) + 1) for c in cuts]), name)


async def drain(client: sl.Client) -> None:
    async with client.stream("compatible:m", [sl.user("x")]) as stream:
        async for _ in stream:
            pass


@pytest.mark.parametrize("name", sorted(CASES))
async def test_over_http_the_call_fails_once_without_a_retry(name: str) -> None:
    seen: list[bytes] = []
    server, url = await serve_bytes(body(name), seen)
    settings_ = sl.Settings.load(
        env={}, dotenv=False, config_file=False, compatible_base_url=url + "/v1", max_retries=3
    )
    try:
        async with sl.Client(settings_) as client:
            with pytest.raises(sl.InvalidRequestError) as caught:
                await drain(client)
        check(caught.value, name)
        assert len(seen) == 1  # a 400 is not retried, whatever max_retries says
        assert seen[0].startswith(b"POST /v1/chat/completions")
    finally:
        server.close()
        await server.wait_closed()


#: Streams that end with [DONE] and never name a finish reason: text, usage, and
#: the reasoning, which Snowflake sends only as ``reasoning_details``.
COMPLETE = {
    "snowflake_no_finish_reason_stream": ("4", 22, 5, ""),
    "snowflake_thinking_no_finish_reason_stream": (
        "15 \u00d7 27 = **405**",
        45,
        73,
        "15 * 27 = 405",
    ),
}


@pytest.mark.parametrize("name", sorted(COMPLETE))
async def test_a_stream_ended_by_done_without_a_reason_is_complete(name: str) -> None:
    text, prompt, completion, reasoning = COMPLETE[name]
    server, url = await serve_bytes(body(name))
    settings_ = sl.Settings.load(
        env={}, dotenv=False, config_file=False, compatible_base_url=url + "/v1", max_retries=0
    )
    try:
        async with (
            sl.Client(settings_) as client,
            client.stream("compatible:m", [sl.user("x")]) as stream,
        ):
            async for _ in stream:
                pass
        response = stream.response
        assert response.text.startswith(text) and response.finish_reason == "unknown"
        assert response.reasoning == reasoning
        assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (
            prompt,
            completion,
        )
    finally:
        server.close()
        await server.wait_closed()


# ------------------------------------------------------------------ citations (OpenRouter)

ANNOTATED = "openrouter_web_search_annotations"


def url_citations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The url_citation annotations of choice 0, read straight from the JSON."""
    out = []
    for event in events:
        for choice in event.get("choices") or ():
            holder = choice.get("message") or choice.get("delta") or {}
            out += [a for a in holder.get("annotations") or () if a["type"] == "url_citation"]
    return out


def recorded_chunks() -> list[dict[str, Any]]:
    lines = body(f"{ANNOTATED}_stream").decode().splitlines()
    return [json.loads(x[5:]) for x in lines if x.startswith("data: {")]


def test_openrouter_citations_are_typed_on_the_text_they_belong_to() -> None:
    raw = json.loads((RECORDED / f"{ANNOTATED}.json").read_text())
    request = Request(provider="openrouter", model="m", messages=[sl.user("x")])
    response = decode_response(request, 200, {}, json.dumps(raw).encode(), Dialect("openrouter"))
    expected = url_citations([raw])
    assert expected and [c.raw for c in response.citations] == expected
    assert [c.url for c in response.citations] == [a["url_citation"]["url"] for a in expected]
    assert [c.title for c in response.citations] == [
        a["url_citation"].get("title") for a in expected
    ]
    (text,) = [p for p in response.parts if isinstance(p, sl.TextPart)]
    assert text.text == response.text and text.citations == response.citations
    assert response.usage.web_search_requests == 1  # server_tool_use_details


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=12))
def test_openrouter_streamed_citations_arrive_as_events_and_end_on_the_text(
    cuts: list[int],
) -> None:
    data = body(f"{ANNOTATED}_stream")
    request = Request(provider="openrouter", model="m", messages=[sl.user("x")])
    points = [c % (len(data) + 1) for c in cuts]
    events = run_stream(StreamDecoder(request, Dialect("openrouter"), {}), data, points)
    expected = url_citations(recorded_chunks())
    streamed = [e.citation.raw for e in events if isinstance(e, sl.CitationDelta)]
    assert expected and streamed == expected
    response = assemble(events, "openrouter", "m")
    assert [c.raw for c in response.citations] == expected and response.text
    assert response.finish_reason == "stop" and response.usage.web_search_requests == 1


# ------------------------------------------------------------------ vLLM
# A vLLM server (Qwen2.5) streaming a tool call, as g0t4/ask-openai.nvim traced
# it from curl (lua/ask-openai/tools/notes/vllm-qwen.md, rebuilt by
# scripts/pick_vllm_capture.py): the call's id, type and name in one delta, its
# arguments in three more, vLLM's own ``stop_reason`` beside the finish reason,
# no usage (the request did not ask for it), then [DONE].
VLLM = "vllm_tool_call_stream"


def _vllm_request() -> Request:
    sent = json.loads((RECORDED / "vllm_tool_call_request.json").read_text())
    system, user = sent["messages"]
    tools = [
        sl.ToolSpec(t["function"]["name"], parameters=t["function"]["parameters"])
        for t in sent["tools"]
    ]
    return Request(
        provider="vllm",
        model=sent["model"],
        messages=[sl.system(system["content"]), sl.user(user["content"])],
        tools=tools,
        stream=True,
    )


def _check_vllm(response: sl.Response) -> None:
    (call,) = response.tool_calls
    assert (call.id, call.name) == ("chatcmpl-tool-ca99dda515524c6abe47d1ea22813507", "run_command")
    assert call.parsed_arguments() == {"command": "ls"}
    assert response.finish_reason == "tool_calls" and response.text == ""


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=12))
def test_a_recorded_vllm_tool_call_stream_at_any_boundaries(cuts: list[int]) -> None:
    data = body(VLLM)
    points = [c % (len(data) + 1) for c in cuts]
    decoder = StreamDecoder(_vllm_request(), Dialect(provider="vllm"), {})
    _check_vllm(assemble(run_stream(decoder, data, points)))


def test_the_openai_sdk_reads_the_vllm_stream_the_same_way() -> None:
    from .test_recorded_corpus import sdk_chat_stream

    completion = sdk_chat_stream(body(VLLM))
    (sdk_call,) = completion.choices[0].message.tool_calls
    decoder = StreamDecoder(_vllm_request(), Dialect(provider="vllm"), {})
    ours = assemble(run_stream(decoder, body(VLLM)))
    assert (sdk_call.id, sdk_call.function.name) == (ours.tool_calls[0].id, ours.tool_calls[0].name)
    assert sdk_call.function.arguments == ours.tool_calls[0].arguments
    assert completion.choices[0].finish_reason == ours.finish_reason


def test_steadyllm_sends_vllm_the_recorded_request() -> None:
    from steadyllm.providers.openai.encode import encode_body

    sent = json.loads((RECORDED / "vllm_tool_call_request.json").read_text())
    ours = encode_body(_vllm_request(), Dialect(provider="vllm"))
    # steadyllm asks for usage in streams, where the plugin did not
    assert ours.pop("stream_options") == {"include_usage": True}
    for tool in sent["tools"]:
        tool["function"].setdefault("description", "")
    assert ours == sent


async def test_the_vllm_stream_over_http_books_an_estimate() -> None:
    seen: list[bytes] = []
    server, url = await serve_bytes(body(VLLM), seen)
    settings_ = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        vllm_base_url=url + "/v1",
        prices={"vllm:qwen": {"input": 1.0, "output": 2.0}},
    )
    request = _vllm_request()
    try:
        async with (
            sl.Client(settings_) as client,
            client.stream("vllm:qwen", request.messages, tools=request.tools) as stream,
        ):
            async for _ in stream:
                pass
        response = stream.response
        _check_vllm(response)
        # vLLM sent no usage: the call is booked at an estimate, never at $0
        assert response.usage.cost_usd is not None and response.usage.cost_usd > 0
        assert response.cost_estimated
        assert seen[0].startswith(b"POST /v1/chat/completions")
    finally:
        server.close()
        await server.wait_closed()
