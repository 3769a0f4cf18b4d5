"""Gemini and Vertex AI end to end over loopback HTTP against the emulator, which
enforces the API's rules (unknown fields, roles, function responses that answer the
calls one for one, thought signatures on thinking models' function calls); and the
codec's edges on byte fixtures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.emulator import Behavior, Emulator
from steadyllm.providers.gemini import decode
from steadyllm.providers.gemini.dialect import Dialect
from steadyllm.providers.gemini.encode import encode_body
from steadyllm.providers.gemini.stream import StreamDecoder

from .test_e2e_providers import client_for, emulator
from .wire import assemble, run_stream

__all__ = ["emulator"]  # the fixture, shared with the provider end-to-end tests

CALLS = [
    {"name": "weather", "arguments": {"city": "Paris"}},
    {"name": "weather", "arguments": {"city": "Lyon"}},
]
DIALECT = Dialect()


def weather(city: str) -> str:
    """The weather in a city."""
    return f"20C in {city}"


class Echo(BaseModel):
    echo: str


@pytest.mark.parametrize(
    ("model", "path", "auth"),
    [
        ("gemini:gemini-2.0-flash", "/v1beta/models/gemini-2.0-flash", "x-goog-api-key"),
        (
            "vertex:gemini-2.0-flash",
            "/v1/projects/emulator-project/locations/us-central1/publishers/google/models/"
            "gemini-2.0-flash",
            "authorization",
        ),
    ],
)
async def test_chat_and_stream_on_both_apis(
    emulator: Emulator, model: str, path: str, auth: str
) -> None:
    async with client_for(emulator) as client:
        reply = await client.chat(
            model, [sl.system("Be brief."), sl.user("hello")], max_tokens=30, temperature=0.3
        )
        async with client.stream(model, [sl.user("stream these words")]) as stream:
            deltas = [e.text async for e in stream if isinstance(e, sl.TextDelta)]
    assert reply.text == "hello" and reply.finish_reason == "stop"
    assert reply.usage.cost_usd is not None and reply.usage.cost_usd > 0  # genai-prices
    assert len(deltas) > 1 and "".join(deltas) == "stream these words"
    assert not stream.response.cost_estimated
    first, second = emulator.requests
    assert first.path == path + ":generateContent" and auth in first.headers
    assert "key" not in first.query  # the key never travels in the URL
    assert second.path == path + ":streamGenerateContent" and second.query == {"alt": "sse"}
    assert first.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert first.body["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 30}


@pytest.mark.parametrize("streamed", [False, True])
async def test_parallel_calls_on_a_thinking_model_over_two_turns(
    emulator: Emulator, streamed: bool
) -> None:
    emulator.push(Behavior(tool_calls=CALLS), Behavior(text="Both are 20C."))
    tools, messages = [sl.tool(weather)], [sl.user("Paris and Lyon?")]
    async with client_for(emulator) as client:
        if streamed:
            async with client.stream_with_tools(
                "gemini:gemini-3-pro-preview", messages, tools=tools, reasoning_summary="auto"
            ) as stream:
                _ = [e async for e in stream]
            result = stream.result
        else:
            result = await client.chat_with_tools(
                "gemini:gemini-3-pro-preview", messages, tools=tools, reasoning_summary="auto"
            )
    assert result.text == "Both are 20C." and result.iterations == 2
    assert [e.result for e in result.executions] == ["20C in Paris", "20C in Lyon"]
    second = emulator.requests[1].body
    model_turn, answers = second["contents"][1], second["contents"][2]
    assert model_turn["parts"][0]["thought"] is True  # the thought summary goes back
    calls = [p for p in model_turn["parts"] if "functionCall" in p]
    assert len(calls) == 2 and all(p["thoughtSignature"] for p in calls)
    assert [p["functionResponse"]["name"] for p in answers["parts"]] == ["weather", "weather"]
    assert result.usage.reasoning_tokens == 48  # both turns' thinking, billed as output


async def test_a_call_without_its_signature_is_refused_by_a_thinking_model(
    emulator: Emulator,
) -> None:
    emulator.push(Behavior(tool_calls=CALLS[:1]))
    async with client_for(emulator) as client:
        reply = await client.chat("gemini:gemini-2.5-flash", [sl.user("x")], tools=[WEATHER])
        call = reply.tool_calls[0]
        unsigned = sl.ToolCall(call.id, call.name, call.arguments)
        history = [
            sl.user("x"),
            sl.assistant("", [unsigned]),
            sl.tool_result(call.id, "20C"),
        ]
        with pytest.raises(sl.InvalidRequestError, match="missing a thought_signature"):
            await client.chat("gemini:gemini-2.5-flash", history, tools=[WEATHER])
        history[1] = reply.message
        answered = await client.chat("gemini:gemini-2.5-flash", history, tools=[WEATHER])
    assert answered.finish_reason == "stop"


WEATHER = sl.ToolSpec(
    "weather", "The weather", {"type": "object", "properties": {"city": {"type": "string"}}}
)


async def test_structured_output_and_options(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        parsed = await client.chat_json("gemini:gemini-2.0-flash", [sl.user("Lyon")], schema=Echo)
        await client.chat(
            "gemini:gemini-2.5-flash",
            [sl.user("x")],
            stop=["END"],
            seed=7,
            top_p=0.5,
            thinking_budget=2048,
            tools=[WEATHER],
            tool_choice="weather",
        )
    assert parsed == Echo(echo="Lyon")
    config = emulator.requests[0].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["echo"]
    sent = emulator.requests[1].body
    assert sent["generationConfig"] == {
        "topP": 0.5,
        "seed": 7,
        "stopSequences": ["END"],
        "thinkingConfig": {"thinkingBudget": 2048},
    }
    assert sent["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}
    }


async def test_errors_retries_and_refusals(emulator: Emulator) -> None:
    emulator.push(Behavior(fault="rate_limit"), Behavior(text="after the wait"))
    async with client_for(emulator) as client:
        reply = await client.chat("gemini:gemini-2.0-flash", [sl.user("x")])
        assert reply.text == "after the wait" and reply.attempts == 2
        emulator.push(Behavior(fault="auth"))
        with pytest.raises(sl.AuthenticationError, match="GEMINI_API_KEY"):
            await client.chat("gemini:gemini-2.0-flash", [sl.user("x")])
        emulator.push(Behavior(fault="error_event", after_chunks=1, message="internal", times=3))
        with pytest.raises(sl.ServerError, match="internal"):
            async with client.stream("gemini:gemini-2.0-flash", [sl.user("a b c d")]) as s:
                _ = [e async for e in s]
        with pytest.raises(sl.InvalidRequestError, match="no user identifier"):
            await client.chat("gemini:gemini-2.0-flash", [sl.user("x")], user="u1")
        with pytest.raises(sl.InvalidRequestError, match="Unknown name"):
            await client.chat("gemini:gemini-2.0-flash", [sl.user("x")], extra={"verbose": 1})


async def test_a_missing_key_or_project_is_named() -> None:
    bare = sl.Settings.load(env={}, dotenv=False, config_file=False)
    async with sl.Client(bare) as client:
        with pytest.raises(sl.ConfigError, match="GEMINI_API_KEY"):
            await client.chat("gemini:gemini-2.0-flash", [sl.user("x")])
        with pytest.raises(sl.ConfigError, match="GOOGLE_CLOUD_PROJECT"):
            await client.chat("vertex:gemini-2.0-flash", [sl.user("x")])
    google = sl.Settings.load(env={"GOOGLE_API_KEY": "AIza-from-google-var"}, dotenv=False)
    assert google.google_api_key is not None


async def test_a_rotating_vertex_token_is_fetched_again_when_refused() -> None:
    """A token the server no longer takes (401) is fetched again and the call sent once
    more; until then one fetch serves every call."""
    import time

    now = [time.time()]
    issued: list[str] = []
    async with Emulator(api_keys=["not-a-token"], now=lambda: now[0]) as strict:

        def fetch() -> sl.Token:
            token, _ = strict.issue_token(3600)
            issued.append(token)
            return sl.Token(token, time.time() + 3600)  # the client's view: still valid

        async with sl.Client(strict.settings(vertex_access_token=fetch)) as client:
            await client.chat("vertex:gemini-2.0-flash", [sl.user("x")])
            await client.chat("vertex:gemini-2.0-flash", [sl.user("y")])
            assert len(issued) == 1
            now[0] += 7200  # the server's clock: the token has expired there
            reply = await client.chat("vertex:gemini-2.0-flash", [sl.user("z")])
    assert reply.text == "z" and len(issued) == 2
    assert [r.headers["authorization"][7:] for r in strict.requests] == [
        issued[0],
        issued[0],
        issued[0],
        issued[1],
    ]


# ------------------------------------------------------------------ codec edges


def reply(**candidate: Any) -> bytes:
    return json.dumps({"candidates": [{"content": {"parts": []}, **candidate}]}).encode()


@pytest.mark.parametrize(
    ("raw", "finish"),
    [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("OTHER", "unknown"),
        ("SOMETHING_NEW", "unknown"),
    ],
)
def test_finish_reasons(raw: str, finish: str) -> None:
    request = Request("gemini", "m", [sl.user("x")])
    ratings = [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}]
    got = decode.decode_response(
        request, 200, {}, reply(finishReason=raw, safetyRatings=ratings), DIALECT
    )
    assert got.finish_reason == finish
    assert got.content_filter[0].category == "HARM_CATEGORY_HARASSMENT"
    assert got.content_filter[0].filtered and got.content_filter[0].severity == "high"


def test_a_blocked_prompt_is_a_content_filter_error() -> None:
    blocked = json.dumps({"promptFeedback": {"blockReason": "SAFETY"}}).encode()
    with pytest.raises(sl.ContentFilterError, match="blocked the prompt"):
        decode.decode_response(Request("gemini", "m", [sl.user("x")]), 200, {}, blocked, DIALECT)
    data = b"data: " + blocked + b"\n\n"
    with pytest.raises(sl.ContentFilterError):
        run_stream(
            StreamDecoder(Request("gemini", "m", [sl.user("x")], stream=True), DIALECT, {}), data
        )


def test_code_execution_parts_are_kept_and_sent_back_to_gemini_only() -> None:
    parts = [
        {"executableCode": {"language": "PYTHON", "code": "print(2+2)"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "4"}},
        {"text": "It is 4."},
    ]
    body = json.dumps({"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}]})
    got = decode.decode_response(
        Request("gemini", "m", [sl.user("x")]), 200, {}, body.encode(), DIALECT
    )
    assert [type(p).__name__ for p in got.parts] == ["ServerToolPart", "ServerToolPart", "TextPart"]
    history = [sl.user("2+2?"), got.message, sl.user("thanks")]
    sent = encode_body(Request("gemini", "m", history), DIALECT)
    assert sent["contents"][1]["parts"] == parts
    from steadyllm.providers.anthropic.dialect import Dialect as AnthropicDialect
    from steadyllm.providers.anthropic.encode import encode_body as anthropic_body

    to_claude = anthropic_body(Request("anthropic", "c", history, max_tokens=5), AnthropicDialect())
    assert "executableCode" not in json.dumps(to_claude)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"data: {oops\n\n", sl.StreamInterruptedError),
        (b"data: [1]\n\n", sl.StreamInterruptedError),
        (
            b'data: {"candidates": [{"content": {"parts": [{"text": "a"}]}}]}\n\n',
            sl.StreamInterruptedError,
        ),
        (
            b'data: {"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}}'
            b"\n\n",
            sl.RateLimitError,
        ),
    ],
)
def test_broken_streams(data: bytes, error: type[sl.LLMError]) -> None:
    with pytest.raises(error):
        run_stream(
            StreamDecoder(Request("gemini", "m", [sl.user("x")], stream=True), DIALECT, {}), data
        )


def test_usage_counts_thinking_as_output_and_tool_prompts_as_input() -> None:
    usage = {
        "promptTokenCount": 100,
        "toolUsePromptTokenCount": 20,
        "candidatesTokenCount": 10,
        "thoughtsTokenCount": 30,
        "cachedContentTokenCount": 64,
        "totalTokenCount": 160,
    }
    body = json.dumps(
        {"candidates": [{"content": {"parts": [{"text": "x"}]}}], "usageMetadata": usage}
    )
    got = decode.decode_response(
        Request("gemini", "m", [sl.user("x")]), 200, {}, body.encode(), DIALECT
    )
    assert (got.usage.prompt_tokens, got.usage.completion_tokens, got.usage.total_tokens) == (
        120,
        40,
        160,
    )
    assert (got.usage.cached_tokens, got.usage.reasoning_tokens) == (64, 30)


def test_inputs_encode_as_gemini_parts() -> None:
    history = [
        sl.user(
            "Look",
            sl.image(data=b"\x89PNG", media_type="image/png"),
            sl.image(url="https://x/cat.webp"),
            sl.image(url="data:image/gif;base64,R0lG"),
            sl.document(data=b"%PDF", title="a.pdf"),
            sl.document(url="gs://bucket/b.pdf"),
            sl.document(text="notes"),
        ),
    ]
    sent = encode_body(Request("gemini", "m", history, reasoning_effort="none"), DIALECT)
    parts = sent["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}}
    assert parts[2] == {"fileData": {"mimeType": "image/webp", "fileUri": "https://x/cat.webp"}}
    assert parts[3] == {"inlineData": {"mimeType": "image/gif", "data": "R0lG"}}
    assert parts[4]["inlineData"]["mimeType"] == "application/pdf"
    assert parts[5] == {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/b.pdf"}}
    assert parts[6] == {"text": "notes"}
    assert sent["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    leveled = encode_body(Request("gemini", "m", history, reasoning_effort="xhigh"), DIALECT)
    assert leveled["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "high"}
    with pytest.raises(sl.InvalidRequestError, match="not both"):
        encode_body(
            Request("gemini", "m", history, reasoning_effort="low", thinking_budget=2048), DIALECT
        )


def test_stream_and_whole_reply_keep_the_same_parts() -> None:
    parts = [
        {"text": "Think", "thought": True},
        {"text": "ing.", "thought": True, "thoughtSignature": "c2ln"},
        {"text": "Answer"},
    ]
    whole = json.dumps({"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}]})
    chunks = b"".join(
        b"data: "
        + json.dumps(
            {
                "candidates": [
                    {"content": {"parts": [p]}, **({"finishReason": "STOP"} if i == 2 else {})}
                ]
            }
        ).encode()
        + b"\n\n"
        for i, p in enumerate(parts)
    )
    request = Request("gemini", "m", [sl.user("x")])
    a = decode.decode_response(request, 200, {}, whole.encode(), DIALECT)
    b = assemble(
        run_stream(
            StreamDecoder(Request("gemini", "m", [sl.user("x")], stream=True), DIALECT, {}), chunks
        )
    )
    assert a.message == b.message and a.reasoning == b.reasoning == "Thinking."
    (thought, text) = a.parts
    assert isinstance(thought, sl.ThinkingPart) and thought.item is not None
    assert thought.item["gemini"] == {
        "text": "Thinking.",
        "thought": True,
        "thoughtSignature": "c2ln",
    }
    assert isinstance(text, sl.TextPart) and text.text == "Answer"


def private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


async def test_application_default_credentials_from_a_service_account(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vertex with no VERTEX_ACCESS_TOKEN: google-auth reads the service account file
    GOOGLE_APPLICATION_CREDENTIALS names, signs a JWT with its key and trades it at its
    ``token_uri`` (the emulator's OAuth endpoint) for a bearer token, in a worker thread."""
    import asyncio

    pytest.importorskip("google.auth")
    pem = await asyncio.to_thread(private_key_pem)  # key generation is slow: off the loop
    async with Emulator(api_keys=["no-key-is-accepted"]) as strict:
        account = {
            "type": "service_account",
            "project_id": "emulator-project",
            "private_key_id": "k1",
            "private_key": pem,
            "client_email": "steadyllm@emulator-project.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": f"{strict.url}/_emulator/oauth2/token",
        }
        path = tmp_path / "service-account.json"
        path.write_text(json.dumps(account), "utf-8")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        async with sl.Client(strict.settings(vertex_access_token=None)) as client:
            first = await client.chat("vertex:gemini-2.0-flash", [sl.user("adc")])
            await client.chat("vertex:gemini-2.0-flash", [sl.user("again")])
    assert first.text == "adc"
    tokens = {r.headers["authorization"] for r in strict.requests}
    assert len(tokens) == 1 and next(iter(tokens)).startswith("Bearer emu-token-")


def test_vertex_without_google_auth_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from steadyllm.providers.gemini.adc import adc_token_provider

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "google.auth" else real(name, *a),
    )
    with pytest.raises(sl.ConfigError, match=r"steadyllm\[vertex\]"):
        adc_token_provider()
