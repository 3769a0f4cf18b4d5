"""The corpus of real recorded exchanges (tests/fixtures/recorded/corpus/, sources
in its INDEX.json), each read by steadyllm and by the official SDK of its wire
format, which must agree: text, refusal, tool calls with their arguments,
finish reason, usage (cached and reasoning tokens), content blocks, and for
errors the kind of error and whether it is retried.

Streams are fed to steadyllm at several chunk boundaries chosen from the file's
name (so a failure reproduces) and accumulated by the SDK's own stream state
(openai's ``ChatCompletionStreamState``, anthropic's ``accumulate_event``).
The JSON bodies are the cassettes' parsed bodies written out again; the
streams are the recorded bytes."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.providers.anthropic import decode as anthropic_decode
from steadyllm.providers.anthropic.dialect import Dialect as AnthropicDialect
from steadyllm.providers.anthropic.encode import encode_messages
from steadyllm.providers.anthropic.stream import StreamDecoder as AnthropicStream
from steadyllm.providers.openai import decode as openai_decode
from steadyllm.providers.openai.dialect import Dialect as OpenAIDialect
from steadyllm.providers.openai.stream import StreamDecoder as OpenAIStream
from steadyllm.sse import SSEDecoder

from .test_recorded_anthropic import blocks_from_events, sdk_view
from .wire import FIXTURES, assemble, run_stream

openai_sdk = pytest.importorskip("openai")
anthropic_sdk = pytest.importorskip("anthropic")

CORPUS = FIXTURES / "recorded" / "corpus"
INDEX: list[dict[str, Any]] = json.loads((CORPUS / "INDEX.json").read_text())


def entries(api: str, *, stream: bool, ok: bool = True) -> list[dict[str, Any]]:
    return [
        e for e in INDEX if e["api"] == api and e["stream"] == stream and (e["status"] == 200) == ok
    ]


def ids(entry: dict[str, Any]) -> str:
    return str(entry["file"]).rsplit(".", 1)[0]


def test_the_corpus_covers_the_families_streams_and_errors() -> None:
    assert len(INDEX) >= 60
    assert all((CORPUS / e["file"]).exists() and e["source"] for e in INDEX)
    hosts = {e["host"] for e in INDEX}
    assert {"api.openai.com", "api.anthropic.com", "api.groq.com", "openrouter.ai"} <= hosts
    for api in ("chat", "anthropic"):
        assert entries(api, stream=True) and entries(api, stream=False)
        assert entries(api, stream=False, ok=False)


def body(entry: dict[str, Any]) -> bytes:
    return (CORPUS / str(entry["file"])).read_bytes()


def cuts(entry: dict[str, Any], data: bytes) -> list[list[int]]:
    rng = random.Random(entry["file"])
    return [[], *([rng.randrange(len(data) + 1) for _ in range(12)] for _ in range(2))]


def openai_dialect(entry: dict[str, Any]) -> OpenAIDialect:
    if entry["host"] == "api.openai.com":
        return OpenAIDialect()
    return OpenAIDialect("openrouter" if entry["host"] == "openrouter.ai" else "compatible")


def chat_request(entry: dict[str, Any], stream: bool = False) -> Request:
    model = str(entry.get("model") or "m")
    return Request(provider="openai", model=model, messages=[sl.user("x")], stream=stream)


def expect_chat(response: sl.Response, completion: Any) -> None:
    """steadyllm's reading of a Chat Completions reply against the SDK's."""
    choice = completion.choices[0]
    message = choice.message
    assert response.text == (message.content or "")
    assert response.refusal == (message.refusal or "")
    calls = [  # a call the server left without an id gets one, so its result can match
        (c.id or f"call_{i}", c.function.name, json.loads(c.function.arguments or "{}"))
        for i, c in enumerate(message.tool_calls or ())
    ]
    assert [(c.id, c.name, c.parsed_arguments()) for c in response.tool_calls] == calls
    finish = openai_decode.normalize_finish(choice.finish_reason)
    if message.refusal and finish == "stop":
        finish = "refusal"
    assert response.finish_reason in (finish, "unknown" if choice.finish_reason is None else finish)
    usage = completion.usage
    if usage is not None:
        assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (
            usage.prompt_tokens,
            usage.completion_tokens,
        )
        details = usage.prompt_tokens_details
        assert response.usage.cached_tokens == ((details and details.cached_tokens) or 0)
        out = usage.completion_tokens_details
        assert response.usage.reasoning_tokens == ((out and out.reasoning_tokens) or 0)
        assert response.usage.audio_prompt_tokens == ((details and details.audio_tokens) or 0)
        assert (
            response.usage.audio_completion_tokens,
            response.usage.accepted_prediction_tokens,
            response.usage.rejected_prediction_tokens,
        ) == (
            (out and out.audio_tokens) or 0,
            (out and out.accepted_prediction_tokens) or 0,
            (out and out.rejected_prediction_tokens) or 0,
        )


@pytest.mark.parametrize("entry", entries("chat", stream=False), ids=ids)
def test_a_recorded_chat_completion_reads_as_the_openai_sdk_reads_it(entry: dict[str, Any]) -> None:
    from pydantic import ValidationError

    data = body(entry)
    request, dialect = chat_request(entry), openai_dialect(entry)
    try:
        completion = openai_sdk.types.chat.ChatCompletion.model_validate(json.loads(data))
    except ValidationError:  # not a completion at all (a recorded invalid response)
        with pytest.raises(sl.InvalidResponseError):
            openai_decode.decode_response(request, 200, {}, data, dialect)
        return
    expect_chat(openai_decode.decode_response(request, 200, {}, data, dialect), completion)


def raw_chat_stream(data: bytes) -> tuple[str, bool]:
    """The text of a chat stream and whether it carries an error, read straight from
    its JSON: the check for bytes the SDK itself cannot accumulate."""
    text, failed = [], False
    for event in SSEDecoder().feed(data):
        if event.data.startswith("[DONE]"):
            break
        chunk = json.loads(event.data)
        failed = failed or bool(chunk.get("error"))
        for choice in chunk.get("choices") or ():
            text.append((choice.get("delta") or {}).get("content") or "")
    return "".join(text), failed


def sdk_chat_stream(data: bytes) -> Any:
    """The completion the openai SDK accumulates from a stream, or None when it
    cannot (OpenRouter's annotation deltas have no index)."""
    from openai.lib.streaming.chat import ChatCompletionStreamState

    state: Any = ChatCompletionStreamState()
    try:
        for event in SSEDecoder().feed(data):
            if event.data.startswith("[DONE]"):
                break
            chunk = openai_sdk.types.chat.ChatCompletionChunk.model_validate_json(event.data)
            state.handle_chunk(chunk)
    except RuntimeError:
        return None
    return state.get_final_completion()


@pytest.mark.parametrize("entry", entries("chat", stream=True), ids=ids)
def test_a_recorded_chat_stream_reads_as_the_openai_sdk_reads_it(entry: dict[str, Any]) -> None:
    data = body(entry)
    text, failed = raw_chat_stream(data)
    completion = None if failed else sdk_chat_stream(data)
    for points in cuts(entry, data):
        decoder = OpenAIStream(chat_request(entry, True), openai_dialect(entry), {})
        if failed:  # an error chunk: the SDK raises, and so must steadyllm
            with pytest.raises(sl.LLMError):
                run_stream(decoder, data, points)
            continue
        response = assemble(run_stream(decoder, data, points))
        assert response.text == text
        if completion is not None:
            expect_chat(response, completion)


#: The SDK's error class for a status, as steadyllm's error kinds.
SDK_KINDS = {
    "BadRequestError": {"invalid_request", "context_length", "content_filter"},
    "NotFoundError": {"not_found"},
    "RateLimitError": {"rate_limit", "quota_exceeded"},
    "AuthenticationError": {"authentication"},
    "PermissionDeniedError": {"permission_denied"},
}


@pytest.mark.parametrize(
    "entry",
    entries("chat", stream=False, ok=False) + entries("anthropic", stream=False, ok=False),
    ids=ids,
)
def test_a_recorded_error_is_the_error_the_sdk_raises(entry: dict[str, Any]) -> None:
    data, status = body(entry), entry["status"]
    response = _httpx_response(status, data)
    cls = type(
        openai_sdk.OpenAI(api_key="k")._make_status_error_from_response(response)
        if entry["api"] == "chat"
        else anthropic_sdk.Anthropic(api_key="k")._make_status_error_from_response(response)
    )
    if entry["api"] == "chat":
        error = openai_decode.decode_error(
            chat_request(entry), status, {}, data, openai_dialect(entry)
        )
    else:
        error = anthropic_decode.decode_error(
            anthropic_request(entry), status, {}, data, AnthropicDialect()
        )
    assert error.kind in SDK_KINDS[cls.__name__], (cls.__name__, error.kind, error.message)
    assert error.retryable == (error.kind == "rate_limit")
    assert error.status == status


def _httpx_response(status: int, data: bytes) -> Any:
    import httpx

    return httpx.Response(
        status,
        content=data,
        headers={"content-type": "application/json"},
        request=httpx.Request("POST", "https://example.invalid/"),
    )


def anthropic_request(entry: dict[str, Any], stream: bool = False) -> Request:
    model = str(entry.get("model") or "claude")
    return Request(provider="anthropic", model=model, messages=[sl.user("x")], stream=stream)


def expect_message(response: sl.Response, message: dict[str, Any]) -> None:
    """steadyllm's reading of a Messages reply (as a dict) against the SDK's."""
    _, sent = encode_messages([sl.user("x"), response.message])
    content = sent[1]["content"] if len(sent) > 1 else []
    blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
    expected = [
        sdk_view(b)
        for b in message["content"]
        if not (b["type"] == "text" and not b["text"])  # an empty text block is not sent back
    ]
    assert [sdk_view(b) for b in blocks] == expected
    uses = [b for b in message["content"] if b["type"] == "tool_use"]
    assert [(c.id, c.name, c.parsed_arguments()) for c in response.tool_calls] == [
        (b["id"], b["name"], b["input"]) for b in uses
    ]
    stop = anthropic_decode._STOP.get(message.get("stop_reason") or "", "stop")
    assert response.finish_reason == stop
    usage = message["usage"]
    read, write = (
        usage.get(k) or 0 for k in ("cache_read_input_tokens", "cache_creation_input_tokens")
    )
    assert response.usage.completion_tokens == usage["output_tokens"]
    assert response.usage.cached_tokens == read
    assert response.usage.prompt_tokens == usage["input_tokens"] + read + write


def sdk_message(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The reply as the anthropic SDK reads it, or None when it cannot (a block type
    newer than the installed SDK)."""
    from pydantic import ValidationError

    try:
        return dict(anthropic_sdk.types.Message.model_validate(raw).model_dump(exclude_none=True))
    except ValidationError:
        return None


@pytest.mark.parametrize("entry", entries("anthropic", stream=False), ids=ids)
def test_a_recorded_message_reads_as_the_anthropic_sdk_reads_it(entry: dict[str, Any]) -> None:
    data = body(entry)
    raw = json.loads(data)
    response = anthropic_decode.decode_response(
        anthropic_request(entry), 200, {}, data, AnthropicDialect()
    )
    expect_message(response, sdk_message(raw) or raw)  # else as recorded


def message_from_events(data: bytes) -> dict[str, Any]:
    """A stream's message read straight from its events, without the SDK."""
    message: dict[str, Any] = {}
    for event in SSEDecoder().feed(data):
        raw = json.loads(event.data)
        if raw["type"] == "message_start":
            message = {**raw["message"], "content": []}
        elif raw["type"] == "message_delta":
            message["stop_reason"] = raw["delta"].get("stop_reason")
            message["usage"] = {**message["usage"], **raw.get("usage", {})}
    message["content"] = blocks_from_events(data)
    return message


def sdk_message_stream(data: bytes) -> dict[str, Any] | None:
    """The message the anthropic SDK accumulates from a stream, or None when it cannot."""
    from anthropic.lib.streaming._messages import accumulate_event
    from pydantic import TypeAdapter, ValidationError

    adapter: Any = TypeAdapter(anthropic_sdk.types.RawMessageStreamEvent)
    snapshot: Any = None
    buffers: dict[int, bytes] = {}
    try:
        for event in SSEDecoder().feed(data):
            raw = json.loads(event.data)
            if raw.get("type") in ("ping", "error"):
                continue
            snapshot = accumulate_event(
                event=adapter.validate_python(raw), current_snapshot=snapshot, json_bufs=buffers
            )
    except ValidationError:
        return None
    return dict(snapshot.model_dump(exclude_none=True))


@pytest.mark.parametrize("entry", entries("anthropic", stream=True), ids=ids)
def test_a_recorded_message_stream_reads_as_the_anthropic_sdk_reads_it(
    entry: dict[str, Any],
) -> None:
    data = body(entry)
    expected = sdk_message_stream(data) or message_from_events(data)
    for points in cuts(entry, data):
        decoder = AnthropicStream(anthropic_request(entry, True), AnthropicDialect(), {})
        expect_message(assemble(run_stream(decoder, data, points)), expected)


def test_the_sdk_is_the_oracle_for_nearly_all_of_the_corpus() -> None:
    """Recordings newer than the installed SDKs are checked against their own JSON;
    at most a tenth of the corpus may be such."""
    beyond = []
    read: Any
    for entry in INDEX:
        if entry["status"] != 200:
            continue
        data = body(entry)
        if entry["api"] == "anthropic":
            read = sdk_message_stream(data) if entry["stream"] else sdk_message(json.loads(data))
        elif entry["api"] in ("responses", "gemini"):
            read = True  # read by their SDKs in test_recorded_responses.py, _gemini.py
        elif entry["stream"]:
            read = sdk_chat_stream(data) if not raw_chat_stream(data)[1] else True
        else:
            read = True  # a completion the SDK cannot validate must fail in steadyllm too
        if read is None:
            beyond.append(entry["file"])
    assert len(beyond) <= len(INDEX) // 10, beyond


# ------------------------------------------------------------------ over HTTP, priced


def settings_for(entry: dict[str, Any], url: str) -> tuple[sl.Settings, str]:
    """Settings sending the entry's provider to ``url``, and the model to call."""
    model = str(entry.get("model") or "m")
    common: Any = {"env": {}, "dotenv": False, "config_file": False, "max_retries": 0}
    if entry["api"] == "anthropic":
        options: Any = {"anthropic_api_key": "sk-ant-recorded", "anthropic_base_url": url}
        return sl.Settings.load(**common, **options), f"anthropic:{model}"
    if entry["api"] == "gemini" and entry["host"] == "aiplatform.googleapis.com":
        options = {
            "vertex_project": "recorded",
            "vertex_location": "global",
            "vertex_access_token": "ya29.recorded",
            "vertex_base_url": url,
        }
        return sl.Settings.load(**common, **options), f"vertex:{model}"
    if entry["api"] == "gemini":
        options = {"gemini_api_key": "gemini-recorded", "gemini_base_url": url}
        return sl.Settings.load(**common, **options), f"gemini:{model}"
    if entry["api"] == "responses" and "azure.com" in entry["host"]:
        options = {"azure_openai_api_key": "az-recorded", "azure_openai_endpoint": url}
        return sl.Settings.load(**common, **options), f"azure-responses:{model}"
    if entry["api"] == "responses":
        options = {"openai_api_key": "sk-recorded", "openai_base_url": url + "/v1"}
        return sl.Settings.load(**common, **options), f"openai-responses:{model}"
    if entry["host"] == "api.openai.com":
        options = {"openai_api_key": "sk-recorded", "openai_base_url": url + "/v1"}
        return sl.Settings.load(**common, **options), f"openai:{model}"
    if entry["host"] == "openrouter.ai":  # priced through genai-prices' OpenRouter list
        options = {"openrouter_api_key": "sk-or-recorded", "openrouter_base_url": url + "/v1"}
        return sl.Settings.load(**common, **options), f"openrouter:{model}"
    return sl.Settings.load(**common, compatible_base_url=url + "/v1"), f"compatible:{model}"


@pytest.mark.parametrize("entry", INDEX, ids=ids)
async def test_every_recording_over_http_through_the_client_reads_the_same_and_is_priced(
    entry: dict[str, Any],
) -> None:
    from .test_recorded_anthropic import serve_bytes

    data, status = body(entry), entry["status"]
    kind = "text/event-stream; charset=utf-8" if entry["stream"] else "application/json"
    server, url = await serve_bytes(data, status=status, content_type=kind)
    settings, model = settings_for(entry, url)
    try:
        async with sl.Client(settings) as client:
            got = await call_once(client, model, entry["stream"])
            price = client.meter.prices.lookup(*model.split(":", 1))
    finally:
        server.close()
        await server.wait_closed()
    direct = await asyncio.to_thread(read_directly, entry, data)  # off the loop: test work
    if isinstance(direct, sl.LLMError):
        assert isinstance(got, type(direct)) and got.retryable == direct.retryable
        return
    assert isinstance(got, sl.Response), got
    assert (got.text, got.finish_reason, got.refusal) == (
        direct.text,
        direct.finish_reason,
        direct.refusal,
    )
    assert [c.to_dict() for c in got.tool_calls] == [c.to_dict() for c in direct.tool_calls]
    assert got.message == direct.message and got.usage.total_tokens == direct.usage.total_tokens
    # At the rates of the tier the reply says served it (one recording ran at flex).
    expected = None if price is None else price.for_tier(direct.service_tier).cost(direct.usage)
    assert got.service_tier == direct.service_tier
    assert got.usage.cost_usd == pytest.approx(expected)
    if entry["host"] in ("api.openai.com", "api.anthropic.com", "openrouter.ai") and price:
        assert expected is not None and (expected > 0 or direct.usage.total_tokens == 0)


async def call_once(client: sl.Client, model: str, stream: bool) -> sl.Response | sl.LLMError:
    try:
        if not stream:
            return await client.chat(model, [sl.user("x")])
        async with client.stream(model, [sl.user("x")]) as s:
            return await s.final_response()
    except sl.LLMError as exc:
        return exc


def read_directly(entry: dict[str, Any], data: bytes) -> sl.Response | sl.LLMError:
    """The entry read by its codec alone (what the SDK checks above agree with)."""
    try:
        if entry["api"] == "anthropic":
            request, dialect_a = anthropic_request(entry, entry["stream"]), AnthropicDialect()
            if entry["stream"]:
                return assemble(run_stream(AnthropicStream(request, dialect_a, {}), data))
            if entry["status"] != 200:
                return anthropic_decode.decode_error(request, entry["status"], {}, data, dialect_a)
            return anthropic_decode.decode_response(request, 200, {}, data, dialect_a)
        if entry["api"] == "responses":
            return read_responses(entry, data)
        if entry["api"] == "gemini":
            return read_gemini(entry, data)
        request, dialect = chat_request(entry, entry["stream"]), openai_dialect(entry)
        if entry["stream"]:
            return assemble(run_stream(OpenAIStream(request, dialect, {}), data))
        if entry["status"] != 200:
            return openai_decode.decode_error(request, entry["status"], {}, data, dialect)
        return openai_decode.decode_response(request, 200, {}, data, dialect)
    except sl.LLMError as exc:
        return exc


def read_responses(entry: dict[str, Any], data: bytes) -> sl.Response | sl.LLMError:
    from steadyllm.providers.responses import decode as responses_decode
    from steadyllm.providers.responses.stream import StreamDecoder as ResponsesStream

    provider = "azure-responses" if "azure.com" in entry["host"] else "openai-responses"
    model = str(entry.get("model") or "m")
    request = Request(provider, model, [sl.user("x")], stream=entry["stream"])
    dialect = OpenAIDialect(provider)
    if entry["stream"]:
        return assemble(run_stream(ResponsesStream(request, dialect, {}), data))
    if entry["status"] != 200:
        return responses_decode.decode_error(request, entry["status"], {}, data, dialect)
    return responses_decode.decode_response(request, 200, {}, data, dialect)


def read_gemini(entry: dict[str, Any], data: bytes) -> sl.Response | sl.LLMError:
    from steadyllm.providers.gemini import decode as gemini_decode
    from steadyllm.providers.gemini.dialect import Dialect as GeminiDialect
    from steadyllm.providers.gemini.stream import StreamDecoder as GeminiStream

    provider = "vertex" if entry["host"] == "aiplatform.googleapis.com" else "gemini"
    request = Request(
        provider, str(entry.get("model") or "m"), [sl.user("x")], stream=entry["stream"]
    )
    dialect = GeminiDialect(provider)
    if entry["stream"]:
        return assemble(run_stream(GeminiStream(request, dialect, {}), data))
    return gemini_decode.decode_response(request, 200, {}, data, dialect)
