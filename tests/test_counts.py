"""Token counts: ``client.count_tokens`` with each provider's own count endpoint
(Anthropic, the Gemini API, Vertex AI, the Responses API) over loopback HTTP
against the emulator and against real recorded exchanges, a flagged local
estimate elsewhere, retries under the deadline, typed errors."""

from __future__ import annotations

from typing import Any

import pytest

import steadyllm as sl
from steadyllm.emulator import Behavior, Emulator

from .test_e2e_providers import client_for, emulator
from .test_recorded_embeddings import Replay, replay, settings_for

__all__ = ["emulator", "replay"]

COUNTED = [
    ("anthropic:claude-sonnet-4-5", "/v1/messages/count_tokens"),
    ("gemini:gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:countTokens"),
    (
        "vertex:gemini-2.5-flash",
        "/v1/projects/emulator-project/locations/us-central1/publishers/google/models/"
        "gemini-2.5-flash:countTokens",
    ),
    ("openai-responses:gpt-5-mini", "/v1/responses/input_tokens"),
    ("azure-responses:my-deployment", "/openai/v1/responses/input_tokens"),
]
MESSAGES = [sl.system("You are terse."), sl.user("Count the tokens of this question, please.")]


@pytest.mark.parametrize(("model", "path"), COUNTED)
async def test_the_providers_count_agrees_with_the_calls_usage(
    emulator: Emulator, model: str, path: str
) -> None:
    async with client_for(emulator) as client:
        counted = await client.count_tokens(model, MESSAGES)
        reply = await client.chat(model, MESSAGES, max_tokens=20)
    assert counted.input_tokens == reply.usage.prompt_tokens > 0
    assert not counted.estimated and counted.source == "provider" and counted.attempts == 1
    assert int(counted) == counted.input_tokens
    sent = emulator.requests[0]
    assert sent.path == path
    for absent in ("max_tokens", "stream", "store", "max_output_tokens", "generationConfig"):
        assert absent not in sent.body  # what a count does not take is left out
    assert client.costs.summary()["total"]["calls"] == 1  # a count is free: not booked


async def test_a_provider_without_a_count_endpoint_gets_a_flagged_estimate(
    emulator: Emulator,
) -> None:
    weather = sl.ToolSpec("weather", "The weather", {"type": "object", "properties": {}})
    async with client_for(emulator) as client:
        plain = await client.count_tokens("openai:gpt-4.1-mini", MESSAGES)
        with_tools = await client.count_tokens("openai:gpt-4.1-mini", MESSAGES, tools=[weather])
    assert plain.estimated and plain.source == "estimate" and plain.attempts == 0
    assert with_tools.input_tokens > plain.input_tokens > 0  # tools are part of the prompt
    assert not emulator.requests  # nothing was sent


async def test_gemini_counts_system_text_and_tools_in_a_whole_request(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        bare = await client.count_tokens("gemini:gemini-2.5-flash", [sl.user("hello")])
        whole = await client.count_tokens("gemini:gemini-2.5-flash", MESSAGES)
    assert emulator.requests[0].body == {
        "contents": [{"role": "user", "parts": [{"text": "hello"}]}]
    }
    inner = emulator.requests[1].body["generateContentRequest"]
    assert inner["model"] == "models/gemini-2.5-flash" and "systemInstruction" in inner
    assert whole.input_tokens > bare.input_tokens


async def test_a_count_is_retried_and_its_errors_are_typed(emulator: Emulator) -> None:
    emulator.push(Behavior(fault="rate_limit"))
    async with client_for(emulator) as client:
        counted = await client.count_tokens("anthropic:claude-sonnet-4-5", MESSAGES)
        emulator.push(Behavior(fault="auth"))
        with pytest.raises(sl.AuthenticationError):
            await client.count_tokens("anthropic:claude-sonnet-4-5", MESSAGES)
    assert counted.attempts == 2


async def test_the_fake_counts_what_it_books() -> None:
    fake = sl.FakeProvider()
    async with sl.Client(sl.Settings(), providers={"fake": fake}) as client:
        counted = await client.count_tokens("fake:x", MESSAGES)
        reply = await client.chat("fake:x", MESSAGES)
    assert counted.input_tokens == reply.usage.prompt_tokens and not counted.estimated


def test_the_sync_client_counts() -> None:
    with sl.SyncClient(sl.Settings(), providers={"fake": sl.FakeProvider()}) as client:
        assert client.count_tokens("fake:x", [sl.user("four words right here")]).input_tokens > 0


async def test_bad_input_is_refused_before_anything_is_sent(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(sl.InvalidRequestError):
            await client.count_tokens("anthropic:claude-sonnet-4-5", [])
    assert not emulator.requests


# ------------------------------------------------------------------ recorded


def _sent(server: Replay) -> tuple[str, Any]:
    ((path, body),) = server.seen
    return path, body


@pytest.mark.parametrize("replay", ["TestGoogle__test_count_tokens__0"], indirect=True)
async def test_recorded_gemini_count(replay: Replay) -> None:
    async with sl.Client(settings_for(replay)) as client:
        counted = await client.count_tokens(
            "gemini:gemini-embedding-2-preview", [sl.user("Hello, world!")]
        )
    path, body = _sent(replay)
    assert path == "/v1beta/models/gemini-embedding-2-preview:countTokens"
    assert body == replay.record["request"]["body"]  # the very body Google accepted
    assert counted.input_tokens == 5 and not counted.estimated


@pytest.mark.parametrize(
    "replay", ["test_google_vertexai_count_tokens_forwards_native_tools__0"], indirect=True
)
async def test_recorded_vertex_count_with_a_native_tool(replay: Replay) -> None:
    async with sl.Client(settings_for(replay)) as client:
        counted = await client.count_tokens(
            "vertex:gemini-2.5-flash",
            [sl.system("You are a helpful chatbot."), sl.user("What is the capital of France?")],
            extra={"tools": [{"googleSearch": {}}]},
        )
    path, body = _sent(replay)
    assert path.endswith("/models/gemini-2.5-flash:countTokens")
    recorded = dict(replay.record["request"]["body"])
    assert recorded.pop("generationConfig") == {}  # pydantic-ai sends an empty one
    # and a role on the system instruction, which Vertex ignores there
    assert recorded["systemInstruction"].pop("role") == "user"
    assert body == recorded
    assert counted.input_tokens == 13


@pytest.mark.parametrize("replay", ["test_anthropic_cache_count_tokens__0"], indirect=True)
async def test_recorded_anthropic_count(replay: Replay) -> None:
    recorded = replay.record["request"]["body"]
    text = recorded["messages"][0]["content"][0]["text"]
    async with sl.Client(settings_for(replay)) as client:
        counted = await client.count_tokens(
            "anthropic:claude-sonnet-4-5", [sl.system(recorded["system"]), sl.user(text)]
        )
    path, body = _sent(replay)
    assert path == "/v1/messages/count_tokens"
    assert body["model"] == recorded["model"] and body["system"] == recorded["system"]
    content = body["messages"][0]["content"]  # a plain string: the same to the API
    assert (content if isinstance(content, str) else content[0]["text"]) == text
    assert counted.input_tokens == 1114


@pytest.mark.parametrize("replay", ["test_responses_count_tokens__0"], indirect=True)
async def test_recorded_responses_count(replay: Replay) -> None:
    recorded = replay.record["request"]["body"]
    async with sl.Client(settings_for(replay)) as client:
        counted = await client.count_tokens(
            "openai-responses:gpt-4.1-mini",
            [sl.system(recorded["instructions"]), sl.user("")],
        )
    path, body = _sent(replay)
    assert path == "/v1/responses/input_tokens"
    assert body["instructions"] == recorded["instructions"] and body["model"] == "gpt-4.1-mini"
    assert counted.input_tokens == 16


ERRORS = [
    ("test_anthropic_count_tokens_error__0", "anthropic:claude-does-not-exist", "hello"),
    ("TestGoogle__test_count_tokens_error__0", "gemini:nonexistent-model", "Hello, world!"),
]


@pytest.mark.parametrize(("replay", "model", "text"), ERRORS, indirect=["replay"])
async def test_recorded_count_errors(replay: Replay, model: str, text: str) -> None:
    async with sl.Client(settings_for(replay)) as client:
        with pytest.raises(sl.NotFoundError) as caught:
            await client.count_tokens(model, [sl.user(text)])
    assert caught.value.status == 404 and len(replay.seen) == 1


@pytest.mark.parametrize(
    ("replay", "says"),
    [("TestGoogle__test_count_tokens__0", "unexpected shape")],
    indirect=["replay"],
)
async def test_a_count_reply_without_its_count_is_a_typed_error(replay: Replay, says: str) -> None:
    replay.record = {**replay.record, "body": {"promptTokensDetails": []}}  # no totalTokens
    async with sl.Client(settings_for(replay)) as client:
        with pytest.raises(sl.InvalidResponseError, match=says):
            await client.count_tokens("gemini:gemini-2.5-flash", [sl.user("x")])


async def test_a_failed_count_leaves_the_window_to_the_provider() -> None:
    # the count is refused (an auth fault scripted for it): the call is sent all the same
    fake = sl.FakeProvider([sl.FakeFault("authentication"), sl.FakeReply("sent")])
    settings = sl.Settings(models={"fake:m": {"context_window": 5}})
    async with sl.Client(settings, providers={"fake": fake}) as client:
        reply = await client.chat("fake:m", [sl.user("a prompt well above five tokens, surely")])
    assert reply.text == "sent" and len(fake.requests) == 2
    assert [r.count for r in fake.requests] == [True, False]
