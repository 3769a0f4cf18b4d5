"""Every provider end to end over real loopback HTTP against the emulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

import steadyllm as sl
from steadyllm.emulator import Behavior, Emulator

FAST_RETRY = sl.RetryPolicy(max_retries=2, base_delay_ms=10, max_delay_ms=20)
WEATHER = sl.ToolSpec(
    "current_weather",
    "Current conditions",
    {"type": "object", "properties": {"city": {"type": "string"}}},
)


@dataclass(frozen=True)
class Target:
    name: str
    model: str
    settings: dict[str, Any]
    path: str
    auth_header: str


TARGETS = [
    Target("openai", "openai:gpt-4.1-mini", {}, "/v1/chat/completions", "authorization"),
    Target(
        "azure", "azure:my-deploy", {}, "/openai/deployments/my-deploy/chat/completions", "api-key"
    ),
    Target(
        "azure-v1",
        "azure:my-deploy",
        {"azure_openai_api_version": "v1"},
        "/openai/v1/chat/completions",
        "api-key",
    ),
    Target("anthropic", "anthropic:claude-sonnet-4-5", {}, "/v1/messages", "x-api-key"),
    Target(
        "anthropic-2026",
        "anthropic:claude-sonnet-4-5",
        {"anthropic_api_version": "2026-10-21"},
        "/v1/messages",
        "authorization",
    ),
    Target("vllm", "vllm:meta-llama/Llama-3-8B", {}, "/v1/chat/completions", "authorization"),
    Target("ollama", "ollama:llama3:8b", {}, "/v1/chat/completions", ""),
    Target(
        "openrouter", "openrouter:anthropic/claude-3.5", {}, "/v1/chat/completions", "authorization"
    ),
    Target("llamacpp", "llamacpp:local", {}, "/v1/chat/completions", ""),
    Target("lmstudio", "lmstudio:qwen", {}, "/v1/chat/completions", ""),
    Target("compatible", "compatible:my-model", {}, "/v1/chat/completions", "authorization"),
]
CORE = [t for t in TARGETS if t.name in ("openai", "azure", "anthropic", "ollama")]


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


def client_for(emu: Emulator, **extra: Any) -> sl.Client:
    return sl.Client(emu.settings(**extra), retry=FAST_RETRY)


async def stream_text(
    client: sl.Client, model: str, **options: Any
) -> tuple[sl.Response, list[sl.StreamEvent]]:
    async with client.stream(model, [sl.user("stream me please")], **options) as s:
        events = [e async for e in s]
    return s.response, events


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
async def test_chat_and_stream_on_every_provider(emulator: Emulator, target: Target) -> None:
    async with client_for(emulator, **target.settings) as client:
        r = await client.chat(
            target.model, [sl.system("Be brief."), sl.user("Hello over the wire")], max_tokens=50
        )
        assert r.text == "Hello over the wire" and r.finish_reason == "stop"
        assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
        assert r.request_id and r.request_id.startswith("req_") and r.attempts == 1
        streamed, events = await stream_text(client, target.model)
    assert streamed.text == "stream me please" and streamed.finish_reason == "stop"
    assert streamed.usage.total_tokens > 0  # include_usage was sent automatically
    assert sum(isinstance(e, sl.TextDelta) for e in events) == 3
    sent = emulator.requests[0]
    assert sent.path == target.path
    if target.auth_header:
        assert sent.headers.get(target.auth_header)
    assert target.model.split(":", 1)[1] in json.dumps(sent.body) or target.name == "azure"
    if target.name.startswith("anthropic"):
        assert sent.body["system"] == "Be brief." and sent.body["max_tokens"] == 50
    else:
        assert sent.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert emulator.requests[1].body["stream"] is True


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_tool_calls_on_every_provider(
    emulator: Emulator, target: Target, stream: bool
) -> None:
    emulator.push(
        Behavior(
            tool_calls=[
                {"name": "current_weather", "arguments": {"city": "Lyon"}},
                {"name": "current_weather", "arguments": {"city": 'Nice, "Côte d\'Azur"'}},
            ]
        )
    )
    async with client_for(emulator, **target.settings) as client:
        messages = [sl.user("Weather in Lyon and Nice?")]
        if stream:
            async with client.stream(target.model, messages, tools=[WEATHER]) as s:
                r = await s.final_response()
        else:
            r = await client.chat(target.model, messages, tools=[WEATHER])
        assert r.finish_reason == "tool_calls"
        assert [c.parsed_arguments() for c in r.tool_calls] == [
            {"city": "Lyon"},
            {"city": 'Nice, "Côte d\'Azur"'},
        ]
        assert all(c.id and c.name == "current_weather" for c in r.tool_calls)
        follow_up = [*messages, r.message, *(sl.tool_result(c.id, "sunny") for c in r.tool_calls)]
        done = await client.chat(target.model, follow_up, tools=[WEATHER])
    assert done.finish_reason == "stop"
    assert emulator.requests[0].body["tools"]


@pytest.mark.parametrize("target", [TARGETS[0], TARGETS[3]], ids=lambda t: t.name)
async def test_json_mode(emulator: Emulator, target: Target) -> None:
    async with client_for(emulator) as client:
        r = await client.chat(
            target.model, [sl.user("hi")], response_format={"type": "json_object"}
        )
        assert json.loads(r.text) == {"echo": "hi"}
        async with client.stream(
            target.model, [sl.user("yo")], response_format={"type": "json_object"}
        ) as s:
            assert json.loads((await s.final_response()).text) == {"echo": "yo"}


# ------------------------------------------------------------------ the fault matrix


@dataclass(frozen=True)
class Case:
    name: str
    script: tuple[Behavior, ...]
    error: type[sl.LLMError] | None  # None: the call succeeds
    requests: int  # how many requests reach the emulator
    streams_only: bool = False
    options: tuple[tuple[str, Any], ...] = ()


CASES = [
    Case("500 then ok", (Behavior(fault="status", status=500),), None, 2),
    Case("429 then ok", (Behavior(fault="rate_limit", retry_after_ms=20),), None, 2),
    Case("overloaded then ok", (Behavior(fault="overloaded"),), None, 2),
    Case("html 502 then ok", (Behavior(fault="html"),), None, 2),
    Case(
        "500 x3 exhausts retries",
        (Behavior(fault="status", status=500, times=3),),
        sl.ServerError,
        3,
    ),
    Case(
        "x-should-retry false",
        (Behavior(fault="status", status=500, should_retry=False),),
        sl.ServerError,
        1,
    ),
    Case("quota", (Behavior(fault="quota"),), sl.QuotaExceededError, 1),
    Case("context length", (Behavior(fault="context_length"),), sl.ContextLengthError, 1),
    Case("auth", (Behavior(fault="auth"),), sl.AuthenticationError, 1),
    Case("404", (Behavior(fault="status", status=404),), sl.NotFoundError, 1),
    Case(
        "retry-after past the deadline",
        (Behavior(fault="rate_limit", retry_after=30),),
        sl.RateLimitError,
        1,
        options=(("timeout_ms", 5_000),),
    ),
    Case(
        "hang",
        (Behavior(fault="hang"),),
        sl.LLMTimeoutError,
        1,
        options=(("timeout_ms", 300), ("max_retries", 0)),
    ),
    Case("drop before content, then ok", (Behavior(fault="drop", after_chunks=0),), None, 2, True),
    Case(
        "error event before content, then ok",
        (Behavior(fault="error_event", after_chunks=0),),
        None,
        2,
        True,
    ),
    Case(
        "drop mid-stream",
        (Behavior(fault="drop", after_chunks=1),),
        sl.StreamInterruptedError,
        1,
        True,
    ),
    Case(
        "malformed mid-stream",
        (Behavior(fault="malformed", after_chunks=1),),
        sl.StreamInterruptedError,
        1,
        True,
    ),
    Case(
        "no [DONE] and no finish",
        (Behavior(fault="drop", after_chunks=3, no_done=True),),
        sl.StreamInterruptedError,
        1,
        True,
    ),
]


MATRIX = [
    (case, stream) for case in CASES for stream in (False, True) if stream or not case.streams_only
]  # a mid-stream fault needs a stream


@pytest.mark.parametrize("target", CORE, ids=lambda t: t.name)
@pytest.mark.parametrize(
    ("case", "stream"), MATRIX, ids=[f"{c.name}-{'stream' if s else 'complete'}" for c, s in MATRIX]
)
async def test_fault_matrix(emulator: Emulator, target: Target, stream: bool, case: Case) -> None:
    emulator.push(*case.script)
    options = dict(case.options)
    async with client_for(emulator, **target.settings) as client:

        async def call() -> sl.Response:
            if stream:
                return (await stream_text(client, target.model, **options))[0]
            return await client.chat(target.model, [sl.user("stream me please")], **options)

        if case.error is None:
            response = await call()
            assert response.text == "stream me please" and response.attempts == case.requests
        else:
            with pytest.raises(case.error) as info:
                await call()
            assert info.value.attempt == case.requests
            if case.error is sl.StreamInterruptedError:
                assert info.value.partial is not None
                assert info.value.partial.text.startswith("stream")
    assert len(emulator.requests) == case.requests


@pytest.mark.parametrize("target", CORE, ids=lambda t: t.name)
async def test_in_band_error_after_content_is_not_retried(
    emulator: Emulator, target: Target
) -> None:
    emulator.push(Behavior(fault="error_event", after_chunks=1, error_type="overloaded_error"))
    async with client_for(emulator) as client:
        with pytest.raises(sl.LLMError) as info:
            await stream_text(client, target.model)
    assert info.value.kind in ("overloaded", "server_error")
    assert info.value.partial is not None and info.value.partial.text == "stream "
    assert len(emulator.requests) == 1


async def test_content_filter_per_provider(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        emulator.push(Behavior(fault="content_filter"))
        with pytest.raises(sl.ContentFilterError):
            await client.chat("azure:dep", [sl.user("x")])
        # Anthropic's answer is its own stop reason, a refusal, not a filter.
        for model, finish in (("openai:gpt-4o", "content_filter"), ("anthropic:claude", "refusal")):
            emulator.push(Behavior(fault="content_filter", text=""))
            r = await client.chat(model, [sl.user("x")])
            assert r.finish_reason == finish


async def test_stream_timeouts(emulator: Emulator) -> None:
    async with client_for(
        emulator, first_token_timeout_ms=200, stream_idle_timeout_ms=300
    ) as client:
        emulator.push(Behavior(fault="hang", hang_ms=5_000))
        with pytest.raises(sl.LLMTimeoutError, match=r"no first token within 0\.2s"):
            await stream_text(client, "openai:gpt", max_retries=0)
        for model in ("openai:gpt", "anthropic:claude"):
            # keep-alive comments (and Anthropic pings) during the stall do not reset the idle clock
            emulator.push(Behavior(fault="stall", after_chunks=2, stall_ms=5_000, comments=True))
            with pytest.raises(sl.LLMTimeoutError, match=r"no stream event for 0\.3s") as info:
                await stream_text(client, model)
            assert info.value.partial is not None and info.value.partial.text == "stream me "


async def test_connection_refused_is_a_connection_error() -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        openai_api_key="sk-x-123456",
        openai_base_url=f"http://127.0.0.1:{port}/v1",
    )
    async with sl.Client(settings, retry=FAST_RETRY) as client:
        with pytest.raises(sl.LLMConnectionError, match="cannot connect") as info:
            await client.chat("openai:gpt", [sl.user("x")])
    assert info.value.attempt == 3 and info.value.retryable


async def test_a_thousand_abandoned_streams_leak_no_connection(emulator: Emulator) -> None:
    emulator.push(Behavior(text=" ".join(["word"] * 50), times=1000))
    async with client_for(emulator) as client:
        for _ in range(1000):
            async with client.stream("openai:gpt", [sl.user("x")]) as s:
                async for event in s:
                    if isinstance(event, sl.TextDelta):
                        break
        transport = client._provider("openai").transport  # type: ignore[attr-defined]
        assert transport.busy_connections == 0
        assert transport.open_connections <= transport.max_connections
        # and a normal call still works on the same pool
        assert (await client.chat("openai:gpt", [sl.user("still fine")])).text == "still fine"


async def test_connections_are_reused(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        for _ in range(20):
            await client.chat("openai:gpt", [sl.user("x")])
            await stream_text(client, "openai:gpt")
        transport = client._provider("openai").transport  # type: ignore[attr-defined]
        assert transport.open_connections == 1 and transport.busy_connections == 0


async def test_emulator_enforces_rate_limits_and_the_limiter_learns_them(
    emulator: Emulator,
) -> None:
    async with Emulator(rpm=3) as limited:
        async with client_for(limited) as client:
            for _ in range(3):
                r = await client.chat("openai:gpt", [sl.user("x")])
            assert r.rate_limit is not None and r.rate_limit.requests_remaining == 0
            # The limiter adopted the server's limit from the headers: the fourth call is
            # held locally (its wait exceeds the deadline) and never becomes a 429.
            assert await client.predicted_wait("openai:gpt", [sl.user("x")]) == pytest.approx(
                20.5, abs=1
            )
            with pytest.raises(sl.RateLimitError, match="would wait") as local:
                await client.chat("openai:gpt", [sl.user("x")], timeout_ms=2_000)
            assert local.value.retry_after is not None and 15 < local.value.retry_after <= 22
            assert limited.rate_limited == 0
            # Another model has not learned the shared key's state yet: the server says 429.
            with pytest.raises(sl.RateLimitError) as server:
                await client.chat("anthropic:claude", [sl.user("x")], timeout_ms=2_000)
            assert server.value.status == 429 and server.value.rate_limit is not None
        assert limited.rate_limited == 1


async def test_missing_settings_are_named(emulator: Emulator) -> None:
    empty = sl.Client(sl.Settings.load(env={}, dotenv=False))
    with pytest.raises(sl.ConfigError, match="OPENAI_API_KEY"):
        await empty.chat("openai:gpt", [sl.user("x")])
    with pytest.raises(sl.ConfigError, match="ANTHROPIC_API_KEY"):
        await empty.chat("anthropic:claude", [sl.user("x")])
    with pytest.raises(sl.ConfigError, match="AZURE_OPENAI_ENDPOINT"):
        await empty.chat("azure:dep", [sl.user("x")])
    only_endpoint = sl.Client(
        sl.Settings.load(env={}, dotenv=False, azure_openai_endpoint=emulator.url)
    )
    needs = "AZURE_OPENAI_API_KEY, AZURE_OPENAI_AD_TOKEN, or AZURE_OPENAI_AUTH=entra"
    with pytest.raises(sl.ConfigError, match=needs):
        await only_endpoint.chat("azure:dep", [sl.user("x")])
    bad_version = sl.Client(
        sl.Settings.load(
            env={},
            dotenv=False,
            anthropic_api_key="sk-ant-1234567",
            anthropic_api_version="2024-01-01",
        )
    )
    with pytest.raises(sl.ConfigError, match="ANTHROPIC_API_VERSION"):
        await bad_version.chat("anthropic:claude", [sl.user("x")])
    with pytest.raises(sl.ConfigError, match="COMPATIBLE_BASE_URL"):
        await empty.chat("compatible:m", [sl.user("x")])


async def test_ollama_refuses_options_it_would_ignore(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(sl.InvalidRequestError, match="ollama ignores 'user'"):
            await client.chat("ollama:llama3", [sl.user("x")], user="someone")
    assert emulator.requests == []


async def test_the_emulator_checks_what_real_apis_check(emulator: Emulator) -> None:
    async with client_for(emulator, anthropic_api_version="2026-10-21") as client:
        # steadyllm refuses before sending; the emulator would have answered 400 too
        with pytest.raises(sl.InvalidRequestError, match="does not accept temperature"):
            await client.chat("anthropic:claude", [sl.user("x")], temperature=0.5)
    async with Emulator(api_keys=["right-key-123"]) as strict, client_for(strict) as client:
        with pytest.raises(sl.AuthenticationError, match="check OPENAI_API_KEY"):
            await client.chat("openai:gpt", [sl.user("x")])
