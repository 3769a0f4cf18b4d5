"""Real recorded Gemini API and Vertex AI exchanges (tests/fixtures/recorded/corpus/,
``api: gemini`` in its INDEX.json, from pydantic-ai's VCR cassettes), read by
steadyllm and by google-genai's own ``GenerateContentResponse``, which must agree:
text, function calls with their arguments and thought signatures, finish reason,
usage (cached and thinking tokens, thinking counted as output). Streams go through
the SSE decoder at chunk boundaries chosen from the file's name. Error bodies (none
are in the cassettes) are Google's documented shapes as public reports show them
(tests/fixtures/gemini_errors/, sources in SOURCES.md there)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.providers.gemini import decode
from steadyllm.providers.gemini.dialect import Dialect
from steadyllm.providers.gemini.encode import LOCAL_ID, encode_body
from steadyllm.providers.gemini.stream import StreamDecoder
from steadyllm.sse import SSEDecoder

from .test_recorded_corpus import INDEX, body, cuts, ids
from .wire import FIXTURES, assemble, run_stream

genai_types = pytest.importorskip("google.genai.types")

GEMINI = [e for e in INDEX if e["api"] == "gemini"]
DIALECT = Dialect()
FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter"}


def of(stream: bool) -> list[dict[str, Any]]:
    return [e for e in GEMINI if e["stream"] == stream]


def request_for(entry: dict[str, Any], stream: bool = False) -> Request:
    return Request("gemini", str(entry.get("model") or "m"), [sl.user("x")], stream=stream)


def test_the_corpus_has_gemini_streams_and_replies() -> None:
    assert len(GEMINI) >= 30 and of(True) and of(False)
    assert any(e["host"] == "aiplatform.googleapis.com" for e in GEMINI)


def sdk_read(data: Any) -> Any:
    """A reply as google-genai reads one from the API (fields newer than it are dropped)."""
    return genai_types.GenerateContentResponse._from_response(response=data, kwargs={})


def sdk_chunks(data: bytes) -> list[Any]:
    return [sdk_read(json.loads(sse.data)) for sse in SSEDecoder().feed(data)]


def expected(chunks: list[Any]) -> dict[str, Any]:
    """What google-genai reads from a reply (or a stream's chunks, joined)."""
    text, calls, thoughts, finish, usage = [], [], [], None, None
    for chunk in chunks:
        usage = chunk.usage_metadata or usage
        if not chunk.candidates:
            continue
        candidate = chunk.candidates[0]
        finish = candidate.finish_reason or finish
        for part in (candidate.content and candidate.content.parts) or ():
            if part.function_call is not None:
                calls.append((part.function_call.name, part.function_call.args or {}))
                thoughts.append(part.thought_signature)
            elif part.text is not None and not part.thought:
                text.append(part.text)
    return {
        "text": "".join(text),
        "calls": calls,
        "signatures": thoughts,
        "finish": finish,
        "usage": usage,
    }


def expect(got: sl.Response, sdk: dict[str, Any]) -> None:
    assert got.text == sdk["text"]
    assert [(c.name, c.parsed_arguments()) for c in got.tool_calls] == sdk["calls"]
    signatures = [None if s is None else base64.b64encode(s).decode() for s in sdk["signatures"]]
    assert [c.signature for c in got.tool_calls] == signatures
    finish = FINISH.get(sdk["finish"].value if sdk["finish"] else "", "unknown")
    if finish == "stop" and sdk["calls"]:
        finish = "tool_calls"
    assert got.finish_reason == finish
    usage = sdk["usage"]
    if usage is not None:
        thoughts = usage.thoughts_token_count or 0
        assert got.usage.completion_tokens == (usage.candidates_token_count or 0) + thoughts
        assert got.usage.reasoning_tokens == thoughts
        assert got.usage.prompt_tokens == (usage.prompt_token_count or 0) + (
            usage.tool_use_prompt_token_count or 0
        )
        assert got.usage.cached_tokens == (usage.cached_content_token_count or 0)


@pytest.mark.parametrize("entry", of(False), ids=ids)
def test_a_recorded_reply_reads_as_google_genai_reads_it(entry: dict[str, Any]) -> None:
    data = body(entry)
    sdk = sdk_read(json.loads(data))
    expect(decode.decode_response(request_for(entry), 200, {}, data, DIALECT), expected([sdk]))


@pytest.mark.parametrize("entry", of(True), ids=ids)
def test_a_recorded_stream_reads_as_google_genai_reads_it(entry: dict[str, Any]) -> None:
    data = body(entry)
    sdk = expected(sdk_chunks(data))
    for points in cuts(entry, data):
        got = assemble(
            run_stream(StreamDecoder(request_for(entry, True), DIALECT, {}), data, points)
        )
        expect(got, sdk)


def test_a_recorded_call_with_its_signature_makes_a_valid_next_turn() -> None:
    """The second turn, not only the first: the recorded function call goes back with
    its thoughtSignature on the same part, and its result is a functionResponse named
    after it."""
    entry = next(e for e in of(True) if "thought_signature__0" in e["file"])
    got = assemble(run_stream(StreamDecoder(request_for(entry, True), DIALECT, {}), body(entry)))
    call = got.tool_calls[0]
    history = [sl.user("Where am I?"), got.message, sl.tool_result(call.id, {"country": "France"})]
    sent = encode_body(Request("gemini", "gemini-3-pro-preview", history), DIALECT)
    model_turn, results = sent["contents"][1], sent["contents"][2]
    (part,) = [p for p in model_turn["parts"] if "functionCall" in p]
    assert part["thoughtSignature"] == call.signature and part["functionCall"]["name"] == call.name
    assert "id" not in part["functionCall"] and call.id.startswith(LOCAL_ID)  # no id was sent
    assert results == {
        "role": "user",
        "parts": [{"functionResponse": {"name": call.name, "response": {"country": "France"}}}],
    }


ERRORS = FIXTURES / "gemini_errors"


@pytest.mark.parametrize(
    ("name", "status", "kind", "retryable", "retry_after"),
    [
        ("api_key_invalid.json", 400, "authentication", False, None),
        ("resource_exhausted_quota.json", 429, "rate_limit", True, 38.0),
        ("vertex_resource_exhausted_array.json", 429, "rate_limit", True, None),
        ("invalid_argument.json", 400, "invalid_request", False, None),
        ("unavailable.json", 503, "overloaded", True, None),
        ("permission_denied.json", 403, "permission", False, None),
        ("not_found.json", 404, "not_found", False, None),
        ("deadline_exceeded.json", 504, "timeout", True, None),
    ],
)
def test_a_google_error_body_is_classified(
    name: str, status: int, kind: str, retryable: bool, retry_after: float | None
) -> None:
    data = (ERRORS / name).read_bytes()
    error = decode.decode_error(Request("gemini", "m", [sl.user("x")]), status, {}, data, DIALECT)
    assert (error.kind, error.retryable, error.status) == (kind, retryable, status)
    assert error.retry_after == retry_after
    shown = json.loads(data)
    shown = shown[0] if isinstance(shown, list) else shown
    assert shown["error"]["message"][:30] in error.message
