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
