"""The OpenAI Responses API end to end over loopback HTTP against the emulator,
which enforces the API's rules on input (unknown parameters, reasoning items and
their encrypted content, function call outputs that answer a call): every public
call works on ``openai-responses:`` and ``azure-responses:``, second turns
included, and a fallback chain may mix it with Chat Completions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import steadyllm as sl
from steadyllm.emulator import Behavior, Emulator

from .test_e2e_providers import FAST_RETRY, client_for, emulator

__all__ = ["emulator"]  # the fixture, shared with the provider end-to-end tests

CALL = {"name": "weather", "arguments": {"city": "Paris"}}


def weather(city: str) -> str:
    """The weather in a city."""
    return f"20C in {city}"


class Capital(BaseModel):
    echo: str


@pytest.mark.parametrize(
    ("model", "path", "auth"),
    [
        ("openai-responses:gpt-4.1", "/v1/responses", "authorization"),
        ("azure-responses:my-deployment", "/openai/v1/responses", "api-key"),
    ],
)
async def test_chat_and_stream_on_both_routes(
    emulator: Emulator, model: str, path: str, auth: str
) -> None:
    async with client_for(emulator) as client:
        reply = await client.chat(model, [sl.system("Be brief."), sl.user("hello")], max_tokens=40)
        async with client.stream(model, [sl.user("stream me please")]) as stream:
            deltas = [e.text async for e in stream if isinstance(e, sl.TextDelta)]
    assert reply.text == "hello" and reply.finish_reason == "stop"
    assert reply.provider == model.split(":")[0]
    assert reply.response_id and reply.response_id.startswith("resp_")
    assert reply.usage.prompt_tokens > 0
    if model.startswith("openai-responses"):  # an Azure deployment name has no list price
        assert reply.usage.cost_usd is not None and reply.usage.cost_usd > 0
    assert len(deltas) > 1 and "".join(deltas) == "stream me please"
    assert stream.response.response_id and stream.response.usage.completion_tokens > 0
    first, second = emulator.requests
    assert first.path == path and auth in first.headers
    assert first.body["instructions"] == "Be brief."
    assert first.body["input"] == [{"role": "user", "content": "hello"}]
    assert first.body["max_output_tokens"] == 40 and first.body["store"] is False
    assert "include" not in first.body  # gpt-4.1 does not reason: no encrypted content
    assert second.body["stream"] is True


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_tool_loop_keeps_the_reasoning_across_turns(
    emulator: Emulator, streamed: bool
) -> None:
    emulator.push(Behavior(tool_calls=[CALL]), Behavior(text="It is 20C."))
    tools = [sl.tool(weather)]
    messages = [sl.user("Weather in Paris?")]
    async with client_for(emulator) as client:
        if streamed:
            async with client.stream_with_tools(
                "openai-responses:gpt-5", messages, tools=tools, reasoning_summary="auto"
            ) as stream:
                _ = [e async for e in stream]
            result = stream.result
        else:
            result = await client.chat_with_tools(
                "openai-responses:gpt-5", messages, tools=tools, reasoning_summary="auto"
            )
    assert result.text == "It is 20C." and result.iterations == 2
    assert result.executions[0].result == "20C in Paris"
    first, second = (r.body for r in emulator.requests)
    assert first["include"] == ["reasoning.encrypted_content"]
    assert first["reasoning"] == {"summary": "auto"}
    kinds = [item.get("type") or item.get("role") for item in second["input"]]
    assert kinds == ["user", "reasoning", "assistant", "function_call", "function_call_output"]
    reasoning = second["input"][1]
    assert reasoning["encrypted_content"] and reasoning["summary"]  # verbatim, as received
    assert second["input"][4]["output"] == "20C in Paris"
    assert result.usage.reasoning_tokens == 32  # both turns counted


async def test_the_emulator_refuses_a_reasoning_item_without_its_content(
    emulator: Emulator,
) -> None:
    emulator.push(Behavior(tool_calls=[CALL]))
    async with client_for(emulator) as client:
        reply = await client.chat("openai-responses:o4-mini", [sl.user("x")], tools=[WEATHER])
        thinking = next(p for p in reply.parts if isinstance(p, sl.ThinkingPart))
        assert thinking.item is not None
        stripped = dict(thinking.item, encrypted_content="tampered")
        history = [
            sl.user("x"),
            sl.Message("assistant", (sl.ThinkingPart("", item=stripped),), tuple(reply.tool_calls)),
            sl.tool_result(reply.tool_calls[0].id, "20C"),
        ]
        with pytest.raises(sl.InvalidRequestError, match="could not be verified"):
            await client.chat("openai-responses:o4-mini", history, tools=[WEATHER])
        # steadyllm refuses such a history itself; sent raw, the emulator refuses it too
        orphan = [{"type": "function_call_output", "call_id": "call_nowhere", "output": "20C"}]
        with pytest.raises(sl.InvalidRequestError, match="No tool call found"):
            await client.chat("openai-responses:o4-mini", [sl.user("x")], extra={"input": orphan})


WEATHER = sl.ToolSpec(
    "weather", "The weather", {"type": "object", "properties": {"city": {"type": "string"}}}
)


async def test_chat_json_uses_text_format(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        parsed = await client.chat_json(
            "openai-responses:gpt-4.1", [sl.user("Paris")], schema=Capital
        )
    assert parsed == Capital(echo="Paris")
    fmt = emulator.requests[0].body["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["properties"]["echo"]


async def test_a_fallback_chain_mixes_both_apis(emulator: Emulator) -> None:
    emulator.push(
        Behavior(fault="status", status=503, times=3), Behavior(text="from chat completions")
    )
    chains = {"openai-responses:gpt-4.1": ["openai:gpt-4.1-mini"]}
    async with client_for(emulator, fallbacks=chains) as client:
        reply = await client.chat("openai-responses:gpt-4.1", [sl.user("x")])
    assert reply.text == "from chat completions" and reply.fallback is not None
    assert [r.path for r in emulator.requests][-1] == "/v1/chat/completions"
    assert {r.path for r in emulator.requests[:-1]} == {"/v1/responses"}


async def test_the_cache_budgets_and_limits_apply(emulator: Emulator, tmp_path: Path) -> None:
    settings = emulator.settings(enable_cache=True, budget_usd=1.0)
    async with sl.Client(settings, retry=FAST_RETRY) as client:
        first = await client.chat("openai-responses:gpt-4.1", [sl.user("same")])
        again = await client.chat("openai-responses:gpt-4.1", [sl.user("same")])
        spent = client.costs.summary()["total"]["cost_usd"]
    assert not first.cached and again.cached and len(emulator.requests) == 1
    assert spent == pytest.approx(first.usage.cost_usd)


async def test_retries_and_in_stream_errors_are_typed(emulator: Emulator) -> None:
    emulator.push(Behavior(fault="rate_limit"), Behavior(text="after the wait"))
    async with client_for(emulator) as client:
        reply = await client.chat("openai-responses:gpt-4.1", [sl.user("x")])
        assert reply.text == "after the wait" and reply.attempts == 2
        emulator.push(
            Behavior(
                fault="error_event",
                after_chunks=1,
                error_type="server_error",
                message="The server had an error",
                times=3,
            )
        )
        with pytest.raises(sl.ServerError, match="The server had an error"):
            async with client.stream("openai-responses:gpt-4.1", [sl.user("a b c d")]) as s:
                _ = [e async for e in s]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stop": ["END"]}, "takes no stop sequences"),
        ({"seed": 3}, "takes no seed"),
        ({"thinking_budget": 2048}, "takes no thinking budget"),
        ({"extra": {"n": 2}}, "one reply per call"),
    ],
)
async def test_options_the_api_has_no_field_for_are_refused_before_sending(
    emulator: Emulator, options: dict[str, Any], message: str
) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(sl.InvalidRequestError, match=message):
            await client.chat("openai-responses:gpt-5", [sl.user("x")], **options)
    assert emulator.requests == []


async def test_reasoning_summaries_are_a_responses_option_only(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(sl.InvalidRequestError, match="openai-responses:o3"):
            await client.chat("openai:o3", [sl.user("x")], reasoning_summary="auto")
        with pytest.raises(sl.InvalidRequestError, match="reasoning summaries are an OpenAI"):
            await client.chat("anthropic:claude", [sl.user("x")], reasoning_summary="auto")
        with pytest.raises(sl.InvalidRequestError, match="reasoning_summary='short'"):
            await client.chat("openai-responses:o3", [sl.user("x")], reasoning_summary="short")  # type: ignore[arg-type]
    assert emulator.requests == []


async def test_what_the_server_refuses_comes_back_typed_and_unretried(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(sl.InvalidRequestError, match="Unknown parameter: 'verbose'"):
            await client.chat("openai-responses:gpt-4.1", [sl.user("x")], extra={"verbose": 1})
        with pytest.raises(sl.InvalidRequestError, match="Encrypted content is not supported"):
            await client.chat(
                "openai-responses:gpt-4.1",
                [sl.user("x")],
                extra={"include": ["reasoning.encrypted_content"]},
            )
        strict = sl.ToolSpec("w", "", {"type": "object", "properties": {}}, strict=True)
        with pytest.raises(sl.InvalidRequestError, match="additionalProperties"):
            await client.chat("openai-responses:gpt-4.1", [sl.user("x")], tools=[strict])
    assert len(emulator.requests) == 3


async def test_built_in_tools_ride_in_extra_beside_function_tools(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        await client.chat(
            "openai-responses:gpt-4.1",
            [sl.user("x")],
            tools=[WEATHER],
            extra={"tools": [{"type": "web_search"}]},
        )
    tools = emulator.requests[0].body["tools"]
    assert [t["type"] for t in tools] == ["web_search", "function"]
    assert tools[1]["strict"] is False  # as Chat Completions treats a loose schema


async def test_previous_response_id_is_an_opt_in(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        first = await client.chat("openai-responses:gpt-5", [sl.user("x")])
        await client.chat(
            "openai-responses:gpt-5",
            [sl.user("and then?")],
            extra={"previous_response_id": first.response_id},
        )
    sent = emulator.requests[1].body
    assert sent["previous_response_id"] == first.response_id
    assert "store" not in sent and "include" not in sent  # the server keeps the state


async def test_the_flow_step_runs_on_it(emulator: Emulator, tmp_path: Path) -> None:
    recorder = sl.SQLiteRecorder(tmp_path / "runs.db")
    config = {"model": "openai-responses:gpt-4.1", "prompt": "Paris", "max_tokens": 10}
    async with sl.Client(emulator.settings()) as client:
        result = await sl.run_llm_call("f", "s", config, recorder, client=client, run_id="r1")
    assert result.ok and result.text == "Paris"
    assert emulator.requests[0].path == "/v1/responses"
