"""Azure OpenAI's content filter verdicts, typed: on the response (prompt and
completion, whole and streamed) and on a ``ContentFilterError``."""

from __future__ import annotations

import json
import pickle

import pytest

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.emulator import Behavior, Emulator
from steadyllm.providers.openai.decode import decode_error, decode_response
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.openai.stream import StreamDecoder

from .wire import assemble, fixture, fixture_json, run_stream

AZURE = Dialect(provider="azure", send_model=False, documents=False)
SAFE = {"filtered": False, "severity": "safe"}


def request(stream: bool = False) -> Request:
    return Request(provider="azure", model="dep", messages=[sl.user("x")], stream=stream)


def test_a_filtered_completion_carries_every_verdict() -> None:
    # Composed from Azure's documented response: prompt verdicts at the top level,
    # completion verdicts on the choice, and a filtered category.
    body = {
        "id": "c",
        "model": "gpt-4o",
        "prompt_filter_results": [
            {
                "prompt_index": 0,
                "content_filter_results": {
                    "hate": SAFE,
                    "jailbreak": {"filtered": False, "detected": False},
                },
            }
        ],
        "choices": [
            {
                "index": 0,
                "finish_reason": "content_filter",
                "message": {"role": "assistant", "content": None},
                "content_filter_results": {
                    "violence": {"filtered": True, "severity": "high"},
                    "hate": SAFE,
                    "error": {"code": "x", "message": "not a verdict"},
                },
            }
        ],
    }
    r = decode_response(request(), 200, {}, json.dumps(body).encode(), AZURE)
    assert r.finish_reason == "content_filter"
    assert r.content_filter == (
        sl.ContentFilterResult("prompt", "hate", False, "safe"),
        sl.ContentFilterResult("prompt", "jailbreak", False, None, False),
        sl.ContentFilterResult("completion", "violence", True, "high"),
        sl.ContentFilterResult("completion", "hate", False, "safe"),
    )


def test_a_stream_keeps_the_prompt_verdicts_of_its_empty_first_chunk() -> None:
    events = run_stream(StreamDecoder(request(True), AZURE, {}), fixture("azure_text_stream.sse"))
    r = assemble(events, "azure", "dep")
    prompt = {v.category: v for v in r.content_filter if v.source == "prompt"}
    assert set(prompt) == {"hate", "self_harm", "sexual", "violence"}
    assert not any(v.filtered for v in r.content_filter) and r.text


def test_a_content_filter_error_carries_its_verdicts_and_pickles_with_them() -> None:
    body = json.dumps(fixture_json("azure_content_filter_error.json")).encode()
    error = decode_error(request(), 400, {}, body, AZURE)
    assert isinstance(error, sl.ContentFilterError) and not error.retryable
    expected = (
        sl.ContentFilterResult("prompt", "jailbreak", True, None, True),
        sl.ContentFilterResult("prompt", "hate", False, "safe"),
    )
    assert error.results == expected
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, sl.ContentFilterError) and copy.results == expected
    assert sl.ContentFilterError("no body").results == ()


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_azure_verdicts_arrive_over_http(streamed: bool) -> None:
    async with Emulator() as emulator, sl.Client(emulator.settings()) as client:
        if streamed:
            async with client.stream("azure:dep", [sl.user("x")]) as s:
                r = await s.final_response()
        else:
            r = await client.chat("azure:dep", [sl.user("x")])
    assert {v.source for v in r.content_filter} == {"prompt", "completion"}
    assert all(not v.filtered and v.severity == "safe" for v in r.content_filter)


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_azure_says_which_verdict_stopped_a_completion(streamed: bool) -> None:
    async with Emulator() as emulator, sl.Client(emulator.settings()) as client:
        emulator.push(Behavior(finish_reason="content_filter"))
        if streamed:
            async with client.stream("azure:dep", [sl.user("x")]) as s:
                r = await s.final_response()
        else:
            r = await client.chat("azure:dep", [sl.user("x")])
    assert r.finish_reason == "content_filter"
    (stopped,) = [v for v in r.content_filter if v.filtered]
    assert (stopped.source, stopped.category, stopped.severity) == (
        "completion",
        "violence",
        "medium",
    )
    assert all(not v.filtered for v in r.content_filter if v.source == "prompt")
