"""The official openai and anthropic SDKs against the emulator: if they parse
everything it sends, the emulator speaks the real protocols."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest

from steadyllm.emulator import Behavior, Emulator

# The official SDKs import their resources and build pydantic models on first use,
# on the event loop; the blocking guard checks steadyllm, not them.
pytestmark = pytest.mark.third_party_blocking

TOOL_CALLS = [
    {"name": "current_weather", "arguments": {"city": "Lyon"}},
    {"name": "current_weather", "arguments": {"city": "Nice"}},
]
OPENAI_TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "current_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
ANTHROPIC_TOOLS: Any = [
    {
        "name": "current_weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


def arguments(calls: Any) -> list[Any]:
    return [json.loads(c.function.arguments) for c in calls or ()]


def openai_client(emu: Emulator) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=emu.openai_base_url, api_key="sk-sdk-test", max_retries=0)


async def test_openai_sdk_completion(emulator: Emulator) -> None:
    emulator.push(
        Behavior(
            usage={
                "prompt_tokens": 182,
                "completion_tokens": 17,
                "cached_tokens": 128,
                "reasoning_tokens": 4,
            }
        )
    )
    async with openai_client(emulator) as client:
        r = await client.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "Is it raining?"}]
        )
    assert r.choices[0].message.content == "Is it raining?"
    assert r.choices[0].finish_reason == "stop" and r.object == "chat.completion"
    assert r.usage is not None and r.usage.total_tokens == 199
    assert (
        r.usage.prompt_tokens_details is not None
        and r.usage.prompt_tokens_details.cached_tokens == 128
    )
    assert r.usage.completion_tokens_details is not None
    assert r.usage.completion_tokens_details.reasoning_tokens == 4
    assert r._request_id and r._request_id.startswith("req_")


async def test_openai_sdk_stream_with_usage(emulator: Emulator) -> None:
    async with openai_client(emulator) as client:
        stream = await client.chat.completions.create(
            model="gpt-4.1-mini",
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text, finish, usage = "", None, None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage:
                usage = chunk.usage
    assert text == "one two three" and finish == "stop"
    assert usage is not None and usage.completion_tokens > 0


async def test_openai_sdk_tools_streaming_and_not(emulator: Emulator) -> None:
    emulator.push(Behavior(tool_calls=TOOL_CALLS), Behavior(tool_calls=TOOL_CALLS))
    async with openai_client(emulator) as client:
        r = await client.chat.completions.create(
            model="gpt-4.1-mini",
            messages=[{"role": "user", "content": "weather"}],
            tools=OPENAI_TOOLS,
        )
        assert arguments(r.choices[0].message.tool_calls) == [{"city": "Lyon"}, {"city": "Nice"}]
        assert r.choices[0].finish_reason == "tool_calls"
        async with client.chat.completions.stream(
            model="gpt-4.1-mini",
            messages=[{"role": "user", "content": "weather"}],
            tools=OPENAI_TOOLS,
        ) as stream:
            final = await stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls or []
    assert arguments(streamed) == [{"city": "Lyon"}, {"city": "Nice"}]
    assert all(c.id.startswith("call_") for c in streamed)


async def test_openai_sdk_parses_emulated_errors(emulator: Emulator) -> None:
    emulator.push(
        Behavior(fault="rate_limit", retry_after_ms=1500),
        Behavior(fault="context_length"),
        Behavior(fault="quota"),
    )
    async with openai_client(emulator) as client:
        messages: Any = [{"role": "user", "content": "x"}]
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="m", messages=messages)
        assert limited.value.code == "rate_limit_exceeded"
        assert limited.value.response.headers["retry-after-ms"] == "1500"
        with pytest.raises(openai.BadRequestError) as too_long:
            await client.chat.completions.create(model="m", messages=messages)
        assert too_long.value.code == "context_length_exceeded"
        with pytest.raises(openai.RateLimitError) as quota:
            await client.chat.completions.create(model="m", messages=messages)
        assert quota.value.code == "insufficient_quota"


async def test_azure_sdk_classic_deployment_and_stream(emulator: Emulator) -> None:
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=emulator.azure_endpoint,
        api_version="2024-10-21",
        api_key="azure-key",
        max_retries=0,
    ) as client:
        r = await client.chat.completions.create(
            model="my-deploy", messages=[{"role": "user", "content": "hi"}]
        )
        stream = await client.chat.completions.create(
            model="my-deploy", messages=[{"role": "user", "content": "a b"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert r.choices[0].message.content == "hi" and text == "a b"
    assert emulator.requests[0].path == "/openai/deployments/my-deploy/chat/completions"
    assert emulator.requests[0].query == {"api-version": "2024-10-21"}
    assert emulator.requests[0].headers["api-key"] == "azure-key"


def anthropic_client(emu: Emulator) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=emu.anthropic_base_url, api_key="sk-ant-sdk", max_retries=0
    )


async def test_anthropic_sdk_message_with_cache_usage(emulator: Emulator) -> None:
    emulator.push(
        Behavior(usage={"prompt_tokens": 576, "cached_tokens": 512, "completion_tokens": 18})
    )
    async with anthropic_client(emulator) as client:
        m = await client.messages.create(
            model="claude-emulated",
            max_tokens=100,
            system="brief",
            messages=[{"role": "user", "content": "Is it raining?"}],
        )
    assert m.content[0].type == "text" and m.content[0].text == "Is it raining?"
    assert m.stop_reason == "end_turn"
    assert (m.usage.input_tokens, m.usage.cache_read_input_tokens, m.usage.output_tokens) == (
        64,
        512,
        18,
    )
    assert emulator.requests[0].headers["anthropic-version"]


async def test_anthropic_sdk_stream_text_and_tools(emulator: Emulator) -> None:
    emulator.push(Behavior(text="Checking.", tool_calls=TOOL_CALLS))
    async with (
        anthropic_client(emulator) as client,
        client.messages.stream(
            model="claude-emulated",
            max_tokens=100,
            tools=ANTHROPIC_TOOLS,
            messages=[{"role": "user", "content": "weather"}],
        ) as stream,
    ):
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert text == "Checking."
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [b.input for b in uses] == [{"city": "Lyon"}, {"city": "Nice"}]
    assert final.stop_reason == "tool_use" and final.usage.output_tokens > 0


async def test_anthropic_sdk_parses_emulated_errors(emulator: Emulator) -> None:
    emulator.push(
        Behavior(fault="overloaded"),
        Behavior(fault="rate_limit"),
        Behavior(fault="error_event", after_chunks=1),
    )
    async with anthropic_client(emulator) as client:
        messages: Any = [{"role": "user", "content": "x"}]
        with pytest.raises(anthropic.APIStatusError) as overloaded:
            await client.messages.create(model="c", max_tokens=10, messages=messages)
        assert overloaded.value.status_code == 529
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(model="c", max_tokens=10, messages=messages)
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            await drain(client.messages.stream(model="c", max_tokens=10, messages=messages))


async def drain(manager: Any) -> None:
    async with manager as stream:
        async for _ in stream:
            pass


async def test_anthropic_sdk_reads_emulated_thinking_and_sends_it_back(emulator: Emulator) -> None:
    emulator.push(Behavior(tool_calls=TOOL_CALLS[:1]), Behavior(text="Sunny."))
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    question: Any = {"role": "user", "content": "weather"}
    async with (
        anthropic_client(emulator) as client,
        client.messages.stream(
            model="claude-emulated",
            max_tokens=4096,
            thinking=thinking,
            tools=ANTHROPIC_TOOLS,
            messages=[question],
        ) as stream,
    ):
        first = await stream.get_final_message()
        assert first.content[0].type == "thinking" and first.content[0].signature
        assert first.content[-1].type == "tool_use"
        use = first.content[-1]
        answer: Any = {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "11C"}],
        }
        turn: Any = {"role": "assistant", "content": [b.model_dump() for b in first.content]}
        done = await client.messages.create(
            model="claude-emulated",
            max_tokens=4096,
            thinking=thinking,
            tools=ANTHROPIC_TOOLS,
            messages=[question, turn, answer],
        )
    assert done.content[-1].type == "text" and done.content[-1].text == "Sunny."


# ------------------------------------------------------------------ Responses API

RESPONSES_TOOLS: Any = [
    {
        "type": "function",
        "name": "current_weather",
        "strict": False,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


async def test_openai_sdk_responses_create_and_stream(emulator: Emulator) -> None:
    async with openai_client(emulator) as sdk:
        reply = await sdk.responses.create(
            model="gpt-4.1", instructions="Be brief.", input="Hello there", max_output_tokens=30
        )
        assert reply.output_text == "Hello there" and reply.status == "completed"
        assert reply.usage is not None and reply.usage.input_tokens > 0
        async with sdk.responses.stream(model="gpt-4.1", input="stream these words") as stream:
            deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
            final = await stream.get_final_response()
        assert "".join(deltas) == "stream these words" and final.output_text == "stream these words"


async def test_openai_sdk_responses_function_calls_and_reasoning(emulator: Emulator) -> None:
    async with openai_client(emulator) as sdk:
        emulator.push(Behavior(tool_calls=TOOL_CALLS), Behavior(tool_calls=TOOL_CALLS))
        reply = await sdk.responses.create(
            model="o4-mini",
            input="Weather?",
            tools=RESPONSES_TOOLS,
            store=False,
            include=["reasoning.encrypted_content"],
            reasoning={"summary": "auto"},
        )
        calls = [item for item in reply.output if item.type == "function_call"]
        assert [json.loads(c.arguments) for c in calls] == [{"city": "Lyon"}, {"city": "Nice"}]
        reasoning = [item for item in reply.output if item.type == "reasoning"]
        assert reasoning and reasoning[0].encrypted_content and reasoning[0].summary
        async with sdk.responses.stream(
            model="o4-mini", input="Weather?", tools=RESPONSES_TOOLS
        ) as s:
            final = await s.get_final_response()
        assert [json.loads(i.arguments) for i in final.output if i.type == "function_call"] == [
            {"city": "Lyon"},
            {"city": "Nice"},
        ]
        history: Any = [{"role": "user", "content": "Weather?"}, *reply.output]
        history += [
            {"type": "function_call_output", "call_id": c.call_id, "output": "20C"} for c in calls
        ]
        second = await sdk.responses.create(
            model="o4-mini", input=history, tools=RESPONSES_TOOLS, store=False
        )
        assert second.status == "completed"  # the emulator accepted the SDK's second turn


async def test_openai_sdk_responses_structured_output(emulator: Emulator) -> None:
    from pydantic import BaseModel

    class Echo(BaseModel):
        echo: str

    async with openai_client(emulator) as sdk:
        parsed = await sdk.responses.parse(model="gpt-4.1", input="Lyon", text_format=Echo)
        assert parsed.output_parsed == Echo(echo="Lyon")


async def test_openai_sdk_responses_errors(emulator: Emulator) -> None:
    async with openai_client(emulator) as sdk:
        emulator.push(Behavior(fault="rate_limit"))
        with pytest.raises(openai.RateLimitError):
            await sdk.responses.create(model="gpt-4.1", input="x")
        with pytest.raises(openai.BadRequestError, match="Unknown parameter"):
            await sdk.responses.create(model="gpt-4.1", input="x", extra_body={"verbose": True})


# ------------------------------------------------------------------ Gemini


#: google-genai subclasses aiohttp's ClientSession, which aiohttp warns about.
GENAI_WARNING = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)


def genai_client(emu: Emulator) -> Any:
    from google import genai

    options = genai.types.HttpOptions(base_url=emu.url)
    return genai.Client(api_key="gemini-sdk-test", http_options=options)


@GENAI_WARNING
async def test_google_genai_generate_and_stream(emulator: Emulator) -> None:
    sdk = genai_client(emulator)
    reply = await sdk.aio.models.generate_content(
        model="gemini-2.0-flash",
        contents="Hello there",
        config={"system_instruction": "Be brief.", "max_output_tokens": 30},
    )
    assert reply.text == "Hello there"
    assert reply.usage_metadata.prompt_token_count > 0
    pieces = [
        chunk.text
        async for chunk in await sdk.aio.models.generate_content_stream(
            model="gemini-2.0-flash", contents="stream these words"
        )
    ]
    assert len(pieces) > 1 and "".join(p or "" for p in pieces) == "stream these words"
    assert emulator.requests[0].headers["x-goog-api-key"] == "gemini-sdk-test"


@GENAI_WARNING
async def test_google_genai_function_calling_with_signatures(emulator: Emulator) -> None:
    from google.genai import types

    sdk = genai_client(emulator)
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="current_weather",
                parameters_json_schema={
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                },
            )
        ]
    )
    emulator.push(Behavior(tool_calls=TOOL_CALLS))
    config = types.GenerateContentConfig(
        tools=[tool], thinking_config=types.ThinkingConfig(include_thoughts=True)
    )
    first = await sdk.aio.models.generate_content(
        model="gemini-3-pro-preview", contents="Weather?", config=config
    )
    calls = first.function_calls
    assert [c.args for c in calls] == [{"city": "Lyon"}, {"city": "Nice"}]
    assert all(p.thought_signature for p in first.candidates[0].content.parts if p.function_call)
    answers = [
        types.Part.from_function_response(name=c.name, response={"result": "20C"}) for c in calls
    ]
    history = [
        types.Content(role="user", parts=[types.Part.from_text(text="Weather?")]),
        first.candidates[0].content,
        types.Content(role="user", parts=answers),
    ]
    second = await sdk.aio.models.generate_content(
        model="gemini-3-pro-preview", contents=history, config=config
    )
    assert second.candidates[0].finish_reason == types.FinishReason.STOP  # accepted


@GENAI_WARNING
async def test_google_genai_structured_output_and_errors(emulator: Emulator) -> None:
    from google.genai import errors
    from pydantic import BaseModel

    class Echo(BaseModel):
        echo: str

    sdk = genai_client(emulator)
    parsed = await sdk.aio.models.generate_content(
        model="gemini-2.0-flash",
        contents="Lyon",
        config={"response_mime_type": "application/json", "response_schema": Echo},
    )
    assert parsed.parsed == Echo(echo="Lyon")
    emulator.push(Behavior(fault="rate_limit"))
    with pytest.raises(errors.ClientError) as caught:
        await sdk.aio.models.generate_content(model="gemini-2.0-flash", contents="x")
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"


async def test_openai_sdk_embeddings_in_both_encodings(emulator: Emulator) -> None:
    from steadyllm.providers.fake import fake_vector

    sdk = openai_client(emulator)
    try:
        packed = await sdk.embeddings.create(  # the SDK asks for base64, unpacks it itself
            model="text-embedding-3-small", input=["alpha", "beta"], dimensions=6
        )
        plain = await sdk.embeddings.create(
            model="text-embedding-3-small", input="gamma", encoding_format="float"
        )
        with pytest.raises(openai.BadRequestError):
            await sdk.embeddings.create(model="text-embedding-3-small", input=[""])
    finally:
        await sdk.close()
    assert [d.embedding for d in packed.data] == [
        fake_vector(t, 6).tolist() for t in ("alpha", "beta")
    ]
    assert packed.usage.prompt_tokens == 3 and packed.model == "text-embedding-3-small"
    assert len(plain.data[0].embedding) == 1536
    assert emulator.requests[0].body["encoding_format"] == "base64"


@GENAI_WARNING
async def test_google_genai_embed_content(emulator: Emulator) -> None:
    from steadyllm.providers.fake import fake_vector

    sdk = genai_client(emulator)
    try:
        reply = await sdk.aio.models.embed_content(
            model="gemini-embedding-001",
            contents=["alpha", "beta"],
            config={"output_dimensionality": 5, "task_type": "RETRIEVAL_DOCUMENT"},
        )
    finally:
        await sdk.aio.aclose()
    assert [e.values for e in reply.embeddings] == [
        pytest.approx(fake_vector(t, 5).tolist()) for t in ("alpha", "beta")
    ]
    sent = emulator.requests[0]
    assert sent.path.endswith("/models/gemini-embedding-001:batchEmbedContents")
    assert sent.body["requests"][0]["taskType"] == "RETRIEVAL_DOCUMENT"
