"""Extended thinking and the reasoning options, end to end: a tool loop with thinking
on keeps each turn's signed thinking block, which the emulator (like Anthropic)
requires; the options map per provider or fail with a typed error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.emulator import Behavior, Emulator
from steadyllm.providers.anthropic.dialect import Dialect as AnthropicDialect
from steadyllm.providers.anthropic.encode import encode_body as anthropic_body
from steadyllm.providers.openai.dialect import Dialect as OpenAIDialect
from steadyllm.providers.openai.encode import encode_body as openai_body

MODEL = "anthropic:claude-sonnet-4-5"


@sl.tool
def lookup(city: str) -> str:
    """The weather in a city."""
    return f"{city}: 11C"


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


def two_tool_turns_then_text(emulator: Emulator) -> None:
    emulator.push(
        Behavior(tool_calls=[{"name": "lookup", "arguments": {"city": "Lyon"}}]),
        Behavior(tool_calls=[{"name": "lookup", "arguments": {"city": "Nice"}}]),
        Behavior(text="Lyon and Nice: 11C"),
    )


def assistant_turns(emulator: Emulator) -> list[list[dict[str, Any]]]:
    """The assistant turns of the last request the emulator saw."""
    return [
        m["content"] for m in emulator.requests[-1].body["messages"] if m["role"] == "assistant"
    ]


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_a_tool_loop_with_extended_thinking_keeps_every_turns_signed_thinking(
    emulator: Emulator, streamed: bool
) -> None:
    two_tool_turns_then_text(emulator)
    options: dict[str, Any] = {"tools": [lookup], "thinking_budget": 2048, "max_tokens": 4096}
    async with sl.Client(emulator.settings()) as client:
        if streamed:
            async with client.stream_with_tools(MODEL, [sl.user("Weather?")], **options) as s:
                kinds = {type(e) async for e in s}
            result = s.result.response
            assert {sl.ReasoningDelta, sl.PartDone} <= kinds
        else:
            result = (
                await client.chat_with_tools(MODEL, [sl.user("Weather?")], **options)
            ).response
    assert result.text == "Lyon and Nice: 11C" and result.reasoning.startswith("The user asks")
    assert len(emulator.requests) == 3
    assert emulator.requests[0].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    turns = assistant_turns(emulator)
    assert len(turns) == 2
    for turn in turns:  # each tool turn went back starting with its signed thinking
        assert turn[0]["type"] == "thinking" and turn[0]["signature"]
        assert turn[-1]["type"] == "tool_use"
    (thinking,) = [p for p in result.parts if isinstance(p, sl.ThinkingPart)]
    assert thinking.signature and thinking.text == result.reasoning


async def test_an_assistant_tool_turn_without_its_thinking_is_refused(emulator: Emulator) -> None:
    emulator.push(Behavior(tool_calls=[{"name": "lookup", "arguments": {"city": "Lyon"}}]))
    async with sl.Client(emulator.settings(), retry=sl.RetryPolicy(max_retries=0)) as client:
        options: dict[str, Any] = {
            "tools": [lookup.spec],
            "thinking_budget": 2048,
            "max_tokens": 4096,
        }
        first = await client.chat(MODEL, [sl.user("Weather?")], **options)
        results = [sl.tool_result(c.id, "11C") for c in first.tool_calls]
        kept = [sl.user("Weather?"), first.message, *results]
        assert (await client.chat(MODEL, kept, **options)).finish_reason == "stop"
        dropped = [sl.user("Weather?"), sl.assistant(first.text, first.tool_calls), *results]
        with pytest.raises(sl.InvalidRequestError, match="must start with a thinking block"):
            await client.chat(MODEL, dropped, **options)
        (signed,) = [p for p in first.parts if isinstance(p, sl.ThinkingPart)]
        forged = sl.Message(
            "assistant", (replace(signed, text="I made this up"),), tuple(first.tool_calls)
        )
        with pytest.raises(sl.InvalidRequestError, match="Invalid `signature`"):
            await client.chat(MODEL, [sl.user("Weather?"), forged, *results], **options)


async def test_the_emulator_checks_the_thinking_configuration(emulator: Emulator) -> None:
    async with sl.Client(emulator.settings(), retry=sl.RetryPolicy(max_retries=0)) as client:
        bad = {"thinking": {"type": "enabled", "budget_tokens": 100}}
        with pytest.raises(sl.InvalidRequestError, match="greater than or equal to 1024"):
            await client.chat(MODEL, [sl.user("x")], extra=bad)
        big = {"thinking": {"type": "enabled", "budget_tokens": 9000}}
        with pytest.raises(sl.InvalidRequestError, match="must be greater than"):
            await client.chat(MODEL, [sl.user("x")], max_tokens=4096, extra=big)


def anthropic_request(**fields: Any) -> Request:
    return Request(
        provider="anthropic", model="claude-sonnet-4-5", messages=[sl.user("x")], **fields
    )


def test_thinking_budget_becomes_anthropics_thinking_and_its_rules_are_checked_before_sending() -> (
    None
):
    body = anthropic_body(
        anthropic_request(thinking_budget=2048, max_tokens=4096), AnthropicDialect()
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"thinking_budget": 2048}, "must be more than thinking_budget"),  # default max_tokens 1024
        (
            {
                "thinking_budget": 2048,
                "max_tokens": 4096,
                "response_format": {"type": "json_object"},
            },
            "structured output",
        ),
        (
            {
                "thinking_budget": 2048,
                "max_tokens": 4096,
                "tools": [sl.ToolSpec("f")],
                "tool_choice": "required",
            },
            "forced tool_choice",
        ),
        ({"reasoning_effort": "high"}, "thinking_budget=N"),
        # both: the effort is refused, not silently dropped beside the budget
        (
            {"reasoning_effort": "high", "thinking_budget": 2048, "max_tokens": 4096},
            "not a reasoning",
        ),
    ]
    for fields, message in cases:
        with pytest.raises(sl.InvalidRequestError, match=message):
            anthropic_body(anthropic_request(**fields), AnthropicDialect(default_max_tokens=1024))
    sampled = anthropic_request(thinking_budget=2048, max_tokens=4096, temperature=0.2)
    with pytest.raises(sl.InvalidRequestError, match="no temperature"):
        anthropic_body(sampled, AnthropicDialect(version="2023-06-01"))


def test_reasoning_effort_is_sent_to_chat_completions_and_a_thinking_budget_refused() -> None:
    def request(**fields: Any) -> Request:
        return Request(provider="openai", model="o4-mini", messages=[sl.user("x")], **fields)

    assert (
        openai_body(request(reasoning_effort="low"), OpenAIDialect())["reasoning_effort"] == "low"
    )
    assert "reasoning_effort" not in openai_body(request(), OpenAIDialect())
    with pytest.raises(sl.InvalidRequestError, match="reasoning_effort='low'"):
        openai_body(request(thinking_budget=2048), OpenAIDialect())
    ignoring = OpenAIDialect(provider="ollama", ignored=frozenset({"reasoning_effort"}))
    with pytest.raises(sl.InvalidRequestError, match="ignores 'reasoning_effort'"):
        openai_body(request(reasoning_effort="low"), ignoring)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"reasoning_effort": "max"}, "is not one of"),
        ({"thinking_budget": 512}, "at least 1024"),
        ({"thinking_budget": True}, "whole number"),
        ({"thinking_budget": 2048, "max_tokens": 2048}, "must be more than"),
    ],
)
async def test_bad_reasoning_options_fail_before_anything_is_sent(
    options: dict[str, Any], message: str
) -> None:
    async with sl.Client(sl.Settings.load(env={}, dotenv=False, config_file=False)) as client:
        with pytest.raises(sl.InvalidRequestError, match=message):
            await client.chat("fake:m", [sl.user("x")], **options)


async def test_the_reasoning_options_are_part_of_the_cache_key(emulator: Emulator) -> None:
    async with sl.Client(emulator.settings(enable_cache=True)) as client:
        plain = await client.chat(MODEL, [sl.user("same")], max_tokens=4096)
        thought = await client.chat(MODEL, [sl.user("same")], max_tokens=4096, thinking_budget=2048)
        again = await client.chat(MODEL, [sl.user("same")], max_tokens=4096, thinking_budget=2048)
    assert not plain.cached and not thought.cached and again.cached
    assert again.message == thought.message  # the signed thinking came back from the cache
    assert json.dumps(emulator.requests[-1].body["thinking"]) == json.dumps(
        {"type": "enabled", "budget_tokens": 2048}
    )


async def test_a_cached_stream_replays_every_part_of_the_reply(emulator: Emulator) -> None:
    options: dict[str, Any] = {"max_tokens": 4096, "thinking_budget": 2048}
    async with sl.Client(emulator.settings(enable_cache=True)) as client:
        replies = []
        for _ in range(2):
            async with client.stream(MODEL, [sl.user("think, then answer")], **options) as s:
                kinds = {type(e) async for e in s}
            replies.append((s.response, kinds))
    (first, _), (again, kinds) = replies
    assert again.cached and len(emulator.requests) == 1
    assert again.message == first.message and again.reasoning == first.reasoning
    assert {sl.ReasoningDelta, sl.PartDone, sl.TextDelta} <= kinds
    (thinking,) = [p for p in again.parts if isinstance(p, sl.ThinkingPart)]
    assert thinking.signature
